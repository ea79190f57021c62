/**
 * Request validation: each route declares zod schemas for its params, query and body; `validate()`
 * parses them before the handler runs (ZodError → 400 with dotted field paths) and `input()` hands the
 * parsed, typed values to the handler.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { z } from 'zod';
import { invalidFromZod } from './errors.js';

export interface RouteSchemas {
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
}

type Out<S> = S extends z.ZodType ? z.output<S> : undefined;
export interface Parsed<S extends RouteSchemas> {
  params: Out<S['params']>;
  query: Out<S['query']>;
  body: Out<S['body']>;
}

const KEY = 'cellpipeInput';

export function validate<S extends RouteSchemas>(schemas: S): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const parsed: Record<string, unknown> = {};
    for (const part of ['params', 'query', 'body'] as const) {
      const schema = schemas[part];
      if (!schema) continue;
      // A missing JSON body arrives as undefined; validate it as an empty object so the error names fields.
      const value = part === 'body' ? (req.body ?? {}) : req[part];
      const r = schema.safeParse(value);
      if (!r.success) {
        next(invalidFromZod(r.error, part === 'body' ? [] : [part]));
        return;
      }
      parsed[part] = r.data;
    }
    res.locals[KEY] = parsed;
    next();
  };
}

/** The values `validate(schemas)` parsed for this request. */
export function input<S extends RouteSchemas>(res: Response, _schemas: S): Parsed<S> {
  // Set by validate() with these same schemas, so the shape is the schemas' output.
  return res.locals[KEY] as Parsed<S>;
}
