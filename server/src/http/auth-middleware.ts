/** Authentication middleware: every /api request carries a principal or is refused with 401. */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Authenticator, Principal } from '../auth/authenticator.js';
import { UnauthorizedError } from './errors.js';

const KEY = 'cellpipePrincipal';

export function authenticate(
  authenticator: Authenticator,
  options: { allowQueryToken?: boolean } = {},
): RequestHandler {
  return async (req: Request, res: Response, next: NextFunction) => {
    const q = req.query.token;
    const queryToken = options.allowQueryToken && typeof q === 'string' ? q : undefined;
    const principal = await authenticator.authenticate({ headers: req.headers, queryToken });
    if (!principal) throw new UnauthorizedError();
    res.locals[KEY] = principal;
    next();
  };
}

export function principal(res: Response): Principal {
  const p = res.locals[KEY] as Principal | undefined;
  // Routes are mounted behind authenticate(); reaching here without one is a wiring bug.
  if (!p) throw new Error('route is missing the authenticate() middleware');
  return p;
}
