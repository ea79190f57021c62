/**
 * Authentication middleware: every /api request carries a principal or is refused. A browser page
 * view without credentials is sent through the authenticator's browser login (the Hub's OAuth flow)
 * when it has one; anything else gets 401. Valid credentials that may not use Cellpipe get 403 with
 * the authenticator's reason, and an identity provider that cannot be asked gets 503.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  AccessDeniedError,
  AuthUnavailableError,
  type Authenticator,
  type Principal,
  type SetCookie,
} from '../auth/authenticator.js';
import { ForbiddenError, HttpError, UnauthorizedError } from './errors.js';

const KEY = 'cellpipePrincipal';

export interface AuthenticateOptions {
  allowQueryToken?: boolean;
  /** Called with every authenticated caller (the user directory remembers their groups). */
  onPrincipal?: (p: Principal) => void;
  /** Where cookies live (the base path). */
  cookiePath?: string;
}

/** A top-level browser navigation: GET, no Authorization header, and HTML accepted. */
export function isPageView(req: Request): boolean {
  return (
    (req.method === 'GET' || req.method === 'HEAD') &&
    req.headers.authorization === undefined &&
    typeof req.headers.accept === 'string' &&
    req.headers.accept.includes('text/html')
  );
}

export function setCookies(req: Request, res: Response, cookies: readonly SetCookie[], path: string): void {
  // Behind the Hub's proxy the browser's scheme arrives as X-Forwarded-Proto.
  const secure = req.secure || req.headers['x-forwarded-proto'] === 'https';
  for (const c of cookies) {
    res.cookie(c.name, c.value, {
      path,
      httpOnly: c.httpOnly,
      sameSite: 'lax',
      secure,
      ...(c.maxAge !== undefined ? { maxAge: c.maxAge * 1000 } : {}),
    });
  }
}

export function authenticate(authenticator: Authenticator, options: AuthenticateOptions = {}): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const q = req.query.token;
    const queryToken = options.allowQueryToken && typeof q === 'string' ? q : undefined;
    let p: Principal | null;
    try {
      p = await authenticator.authenticate({ method: req.method, headers: req.headers, queryToken });
    } catch (err) {
      if (err instanceof AccessDeniedError) throw new ForbiddenError(err.message);
      if (err instanceof AuthUnavailableError) throw new HttpError(503, 'auth_unavailable', err.message);
      throw err;
    }
    if (!p) {
      const login = authenticator.browserLogin;
      if (login && isPageView(req) && queryToken === undefined) {
        const { location, cookies } = login.start(req.originalUrl);
        setCookies(req, res, cookies, options.cookiePath ?? '/');
        res.redirect(302, location);
        return;
      }
      throw new UnauthorizedError();
    }
    options.onPrincipal?.(p);
    res.locals[KEY] = p;
    next();
  };
}

export function principal(res: Response): Principal {
  const p = res.locals[KEY] as Principal | undefined;
  // Routes are mounted behind authenticate(); reaching here without one is a wiring bug.
  if (!p) throw new Error('route is missing the authenticate() middleware');
  return p;
}

/** The caller when the request was authenticated (the audit log asks after the fact). */
export function principalIfAny(res: Response): Principal | undefined {
  return res.locals[KEY] as Principal | undefined;
}
