/**
 * Refuses a JSON body that has a key named `__proto__` anywhere, with a 400 naming the field. The
 * schemas drop such a key without a word (it would replace an object's prototype), so a parameter,
 * an environment variable or a file of that name would be lost silently otherwise.
 */
import type { NextFunction, Request, Response } from 'express';
import { RESERVED_NAME } from '@cellpipe/schema';
import { BadRequestError, dottedPath } from './errors.js';

/** The path of the first key named `__proto__` in a parsed JSON value, or undefined. Iterative: depth is bounded elsewhere. */
export function reservedKeyPath(value: unknown): (string | number)[] | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length) {
    const { value: v, path } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (Array.isArray(v)) {
      v.forEach((item, i) => stack.push({ value: item, path: [...path, i] }));
      continue;
    }
    if (Object.hasOwn(v, RESERVED_NAME)) return [...path, RESERVED_NAME];
    for (const [k, item] of Object.entries(v)) {
      if (typeof item === 'object' && item !== null) stack.push({ value: item, path: [...path, k] });
    }
  }
  return undefined;
}

export function reservedKeyGuard() {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const path = reservedKeyPath(req.body);
    if (path) {
      const field = dottedPath(path);
      const message = `${field}: '${RESERVED_NAME}' is reserved and cannot be a name`;
      throw new BadRequestError(message, [{ path: field, message: `'${RESERVED_NAME}' is reserved` }]);
    }
    next();
  };
}
