/**
 * HTTP error classes and the one place that maps any thrown error to a status and an ErrorBody.
 * Handlers throw; they never write error responses themselves.
 */
import type { ErrorBody, ErrorDetail } from '@cellpipe/schema';
import { ZodError } from 'zod';
import { ConflictError, NotFoundError, TooLargeError, ValidationError } from '../jobs/errors.js';
import { StoreError } from '../store/errors.js';
import { isStorageFull } from '../store/errors.js';

export type { ErrorDetail };

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    /** Extra response headers (WWW-Authenticate on 401). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export class BadRequestError extends HttpError {
  constructor(message: string, details?: ErrorDetail[]) {
    super(400, 'invalid', message, details);
  }
}

export class UnauthorizedError extends HttpError {
  constructor(message = 'missing or invalid token') {
    super(401, 'unauthorized', message, undefined, { 'WWW-Authenticate': 'Bearer realm="cellpipe"' });
  }
}

export class ForbiddenError extends HttpError {
  constructor(message: string) {
    super(403, 'forbidden', message);
  }
}

export class HttpNotFoundError extends HttpError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

export function dottedPath(path: readonly PropertyKey[]): string {
  return path.map((p) => String(p)).join('.');
}

/** ZodError → one detail per issue, paths prefixed with where the value came from (query, params). */
export function zodDetails(err: ZodError, prefix: string[] = []): ErrorDetail[] {
  return err.issues.map((issue) => ({ path: dottedPath([...prefix, ...issue.path]), message: issue.message }));
}

export function invalidFromZod(err: ZodError, prefix: string[] = []): BadRequestError {
  const details = zodDetails(err, prefix);
  const first = details[0];
  const message = first ? (first.path ? `${first.path}: ${first.message}` : first.message) : 'invalid request';
  return new BadRequestError(message, details);
}

/** Errors from body-parser carry `type` and `status`. */
interface BodyParserError {
  type: string;
  status?: number;
  limit?: number;
}

function isBodyParserError(err: unknown): err is BodyParserError {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { type?: unknown }).type === 'string' &&
    typeof (err as { status?: unknown }).status === 'number'
  );
}

export interface MappedError {
  status: number;
  body: ErrorBody;
  headers?: Record<string, string>;
}

/** Map anything thrown by a handler or middleware to a response. */
export function mapError(err: unknown, bodyLimit?: string): MappedError {
  if (err instanceof HttpError) {
    return {
      status: err.status,
      body: {
        error: { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) },
      },
      headers: err.headers,
    };
  }
  if (err instanceof ZodError) {
    const e = invalidFromZod(err);
    return mapError(e);
  }
  if (err instanceof ValidationError) {
    const details: ErrorDetail[] = err.issues.map((i) => ({ ...i, path: dottedPath(i.path) }));
    return { status: 400, body: { error: { code: 'invalid', message: err.message, details } } };
  }
  if (isStorageFull(err)) {
    return {
      status: 507,
      body: {
        error: {
          code: 'insufficient_storage',
          message:
            "the server's disk is full, so nothing new can be stored; jobs resume once space is freed (ask the server's administrator)",
        },
      },
    };
  }
  if (err instanceof TooLargeError) {
    const details: ErrorDetail[] = [{ path: dottedPath(err.path), message: err.message }];
    return { status: 413, body: { error: { code: 'too_large', message: err.message, details } } };
  }
  if (err instanceof NotFoundError) {
    return { status: 404, body: { error: { code: 'not_found', message: err.message } } };
  }
  if (err instanceof ConflictError) {
    return { status: 409, body: { error: { code: 'conflict', message: err.message } } };
  }
  if (err instanceof StoreError && err.code === 'duplicate-name') {
    const details: ErrorDetail[] = err.field ? [{ path: err.field, message: err.message }] : [];
    return { status: 409, body: { error: { code: 'conflict', message: err.message, details } } };
  }
  if (isBodyParserError(err)) {
    if (err.type === 'entity.too.large') {
      const limit = bodyLimit ? ` (limit ${bodyLimit})` : '';
      return { status: 413, body: { error: { code: 'too_large', message: `request body is too large${limit}` } } };
    }
    if (err.type === 'entity.parse.failed') {
      return { status: 400, body: { error: { code: 'invalid_json', message: 'request body is not valid JSON' } } };
    }
    if (err.status && err.status >= 400 && err.status < 500) {
      return {
        status: err.status,
        body: { error: { code: 'bad_request', message: (err as unknown as Error).message } },
      };
    }
  }
  return { status: 500, body: { error: { code: 'internal', message: 'internal server error' } } };
}
