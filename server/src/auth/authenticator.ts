/**
 * The authentication seam. The HTTP layer only knows this interface; the registry (registry.ts)
 * builds one implementation from the configuration: token auth (standalone and embedded), or the
 * JupyterHub service authenticator.
 */
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Who is calling: a user name, whether they administer Cellpipe, and the groups they belong to (Hub
 * groups, or the groups a token is given in the configuration). Teams are resolved from these by
 * teams.ts.
 */
export interface Principal {
  user: string;
  admin: boolean;
  groups: string[];
}

export interface AuthRequest {
  /** The HTTP method: cookie-authenticated writes need an XSRF check. */
  method?: string;
  headers: IncomingHttpHeaders;
  /** `?token=` where the route accepts it (EventSource cannot set headers). */
  queryToken?: string;
}

/**
 * The credentials are valid but do not allow using Cellpipe (a Hub token without the service's
 * access scope, a cookie write without its XSRF token): a 403 whose message says what is missing.
 */
export class AccessDeniedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AccessDeniedError';
  }
}

/** The identity provider cannot be asked right now (the Hub is down): a 503, never a 401. */
export class AuthUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthUnavailableError';
  }
}

/** A browser login that cannot finish (state mismatch, no code, a refused exchange): a 400 saying how to start again. */
export class LoginFailedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LoginFailedError';
  }
}

export interface SetCookie {
  name: string;
  value: string;
  /** Seconds; 0 deletes the cookie. Absent: a session cookie. */
  maxAge?: number;
  httpOnly: boolean;
}

export interface LoginRedirect {
  location: string;
  cookies: SetCookie[];
}

/**
 * A browser login (the Hub's OAuth code flow): where a page view without a session is sent, and
 * the callback that ends the flow. Paths are relative to the server's base path.
 */
export interface BrowserLogin {
  /** Path of the callback route, relative to the base path (`oauth_callback`). */
  readonly callbackPath: string;
  /** Start a login that comes back to `returnTo` (a path under the base path). */
  start(returnTo: string): LoginRedirect;
  /** Finish it: check the state against its cookie, exchange the code, set the session. */
  finish(query: Record<string, unknown>, headers: IncomingHttpHeaders): Promise<LoginRedirect & { user: string }>;
  /** Cookies that end the session. */
  logout(): SetCookie[];
}

export interface Authenticator {
  /**
   * The caller, or null when the request carries no valid credentials (401). Throws
   * AccessDeniedError (403) or AuthUnavailableError (503).
   */
  authenticate(req: AuthRequest): Promise<Principal | null> | Principal | null;
  /** Present when browsers can log in by being sent somewhere (JupyterHub OAuth). */
  readonly browserLogin?: BrowserLogin;
}

/** `Authorization: Bearer <t>` or `Authorization: token <t>`, else the query token. */
export function extractToken(req: AuthRequest): string | undefined {
  const header = req.headers.authorization;
  if (typeof header === 'string') {
    const m = /^(?:bearer|token)\s+(\S+)\s*$/i.exec(header);
    if (m) return m[1];
    return undefined;
  }
  return req.queryToken || undefined;
}
