/**
 * The audit log's HTTP side: every state-changing call (POST, PUT, PATCH, DELETE) is written when
 * its response is sent, with the caller (absent when unauthenticated), the route as the action, the
 * path (and where a created thing lives) as the target, and the outcome; browser logins and logouts
 * are written by the login routes. Admins read it at GET /api/audit.
 */
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { AuditQuerySchema, type AuditResult } from '@cellpipe/schema';
import type { NewAuditEntry, SqliteAuditLog } from '../store/audit-store.js';
import { StoreError } from '../store/errors.js';
import { principal, principalIfAny } from './auth-middleware.js';
import { BadRequestError, ForbiddenError } from './errors.js';
import { input, validate } from './validate.js';

/** Where the audit log is written and read (the store's SqliteAuditLog). */
export type AuditLog = Pick<SqliteAuditLog, 'record' | 'list'>;

const MOUNT = 'cellpipeAuditMount';
const ERROR = 'cellpipeAuditError';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function auditResult(status: number): AuditResult {
  if (status < 400) return 'ok';
  return status === 401 || status === 403 || status === 404 ? 'denied' : 'failed';
}

/** Names the router a route belongs to, so the action reads "POST /api/jobs/:id/cancel". */
export function auditMount(path: string): RequestHandler {
  return (_req: Request, res: Response, next: NextFunction) => {
    res.locals[MOUNT] = path;
    next();
  };
}

/** The error handler notes why a call failed. */
export function noteAuditError(res: Response, message: string): void {
  res.locals[ERROR] = message;
}

/** Writes one entry per state-changing call once its response is sent. */
export function auditWrites(log: AuditLog, logError: (message: string, err: unknown) => void): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!UNSAFE.has(req.method)) {
      next();
      return;
    }
    // The path as the client sent it, without the base path or the query.
    const target = `${req.baseUrl}${req.path}`;
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      const mount = res.locals[MOUNT] as string | undefined;
      const action = `${req.method} ${mount !== undefined && route !== undefined ? `${mount}${route === '/' ? '' : route}` : target}`;
      const location = res.getHeader('location');
      const entry: NewAuditEntry = {
        at: new Date().toISOString(),
        action,
        target: res.statusCode === 201 && typeof location === 'string' ? `${target} -> ${location}` : target,
        status: res.statusCode,
        result: auditResult(res.statusCode),
      };
      const p = principalIfAny(res);
      if (p) entry.user = p.user;
      const message = res.locals[ERROR] as string | undefined;
      if (message !== undefined) entry.message = message;
      try {
        log.record(entry);
      } catch (err) {
        logError('cellpipe: could not write the audit log:', err);
      }
    });
    next();
  };
}

const Schemas = { list: { query: AuditQuerySchema } };

export function auditRouter(log: AuditLog): Router {
  const r = Router();
  r.get('/', validate(Schemas.list), (_req: Request, res: Response) => {
    if (!principal(res).admin) throw new ForbiddenError('only admins can read the audit log');
    const { query } = input(res, Schemas.list);
    try {
      res.json(log.list(query));
    } catch (err) {
      if (err instanceof StoreError && err.code === 'invalid-cursor')
        throw new BadRequestError(err.message, [{ path: 'query.cursor', message: err.message }]);
      throw err;
    }
  });
  return r;
}
