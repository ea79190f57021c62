/**
 * The cookies of a browser session with the Hub service, all scoped to the service's prefix:
 *   - `<clientId>-session` (httpOnly): the Hub OAuth token, signed so a cookie planted by another
 *     page of the same origin is ignored;
 *   - `<clientId>-xsrf` (readable by the page): an HMAC of that token; a cookie-authenticated write
 *     must echo it in the `X-XSRFToken` header, which a foreign page cannot do;
 *   - `<clientId>-oauth-state` (httpOnly, 10 minutes): the state, PKCE verifier and return path of a
 *     login in progress, compared at the callback.
 * The signing key is derived from the service's own Hub token, so sessions survive a restart and
 * every replica of the service agrees on them.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { parse as parseCookies } from 'cookie';
import { sign, unsign } from 'cookie-signature';

export class SessionCookies {
  readonly session: string;
  readonly xsrf: string;
  readonly state: string;
  readonly xsrfHeader = 'X-XSRFToken';
  private readonly key: Buffer;

  constructor(clientId: string, secret: string) {
    this.session = `${clientId}-session`;
    this.xsrf = `${clientId}-xsrf`;
    this.state = `${clientId}-oauth-state`;
    this.key = createHmac('sha256', secret).update('cellpipe session cookies').digest();
  }

  sign(value: string): string {
    return sign(value, this.key);
  }

  unsign(value: string): string | undefined {
    const v = unsign(value, this.key);
    return v === false ? undefined : v;
  }

  /** The XSRF token that goes with a session token. */
  xsrfFor(token: string): string {
    return createHmac('sha256', this.key).update(`xsrf:${token}`).digest('base64url');
  }
}

export function cookiesOf(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  const header = headers.cookie;
  return typeof header === 'string' ? parseCookies(header) : {};
}

/** The session's token, when its cookie is there and signed by us, and whether the request carries its XSRF token. */
export function readSession(
  cookies: SessionCookies,
  headers: IncomingHttpHeaders,
): { token: string; xsrfMatches: boolean } | undefined {
  const raw = cookiesOf(headers)[cookies.session];
  const token = raw ? cookies.unsign(raw) : undefined;
  if (!token) return undefined;
  const sent = headers[cookies.xsrfHeader.toLowerCase()];
  const expected = Buffer.from(cookies.xsrfFor(token));
  const given = Buffer.from(typeof sent === 'string' ? sent : '');
  return { token, xsrfMatches: given.length === expected.length && timingSafeEqual(given, expected) };
}
