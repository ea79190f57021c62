/**
 * The authentication seam. The HTTP layer only knows this interface; token auth (standalone and
 * embedded) is one implementation, a JupyterHub authenticator can be another.
 */
import type { IncomingHttpHeaders } from 'node:http';

export interface Principal {
  user: string;
  admin: boolean;
}

export interface AuthRequest {
  headers: IncomingHttpHeaders;
  /** `?token=` where the route accepts it (EventSource cannot set headers). */
  queryToken?: string;
}

export interface Authenticator {
  /** The caller, or null when the request carries no valid credentials. */
  authenticate(req: AuthRequest): Promise<Principal | null> | Principal | null;
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
