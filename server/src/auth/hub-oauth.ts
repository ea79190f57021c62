/**
 * The Hub's OAuth code flow for a browser that opens the service directly (a link in a
 * notification): a page view without a session is sent to the Hub's authorize URL with a fresh
 * `state` and a PKCE challenge (both kept in a short-lived httpOnly cookie); the Hub sends the
 * browser back to `<prefix>oauth_callback` with a code, which is exchanged (with the service's token
 * as the client secret) for a Hub token that becomes the session cookie.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import {
  AuthUnavailableError,
  LoginFailedError,
  type BrowserLogin,
  type LoginRedirect,
  type Principal,
  type SetCookie,
} from './authenticator.js';
import type { HubConfig } from './hub-authenticator.js';
import { SessionCookies, cookiesOf } from './session-cookies.js';

/** How long a login may take between leaving for the Hub and coming back (seconds). */
export const OAUTH_STATE_MAX_AGE_S = 600;

const StateCookie = z.object({ state: z.string(), verifier: z.string(), next: z.string() });
const TokenReply = z.object({ access_token: z.string().min(1), expires_in: z.number().optional() });

function joinPath(...parts: string[]): string {
  return parts.join('/').replace(/\/{2,}/g, '/');
}

export class HubOAuth implements BrowserLogin {
  readonly callbackPath = 'oauth_callback';
  readonly cookies: SessionCookies;
  readonly clientId: string;
  readonly redirectUri: string;
  readonly authorizeUrl: string;
  readonly tokenUrl: string;
  constructor(
    private readonly config: HubConfig,
    private readonly basePath: string,
    private readonly fetchFn: typeof fetch,
    /** Who a freshly issued token belongs to (the authenticator's check, cache included). */
    private readonly identify: (token: string) => Promise<Principal | null>,
  ) {
    this.clientId = config.clientId ?? `service-${config.serviceName}`;
    this.redirectUri = config.oauthCallbackUrl ?? joinPath(basePath, this.callbackPath);
    this.authorizeUrl = `${config.host.replace(/\/+$/, '')}${joinPath(config.baseUrl, 'hub/api/oauth2/authorize')}`;
    this.tokenUrl = `${config.apiUrl.replace(/\/+$/, '')}/oauth2/token`;
    this.cookies = new SessionCookies(this.clientId, config.apiToken);
  }

  /** A return path inside the service (anything else would make the callback an open redirect). */
  private safeNext(next: string): string {
    const base = this.basePath.endsWith('/') ? this.basePath : `${this.basePath}/`;
    return next.startsWith(base) && !next.startsWith('//') && !/[\\\r\n]/.test(next) ? next : base;
  }

  start(returnTo: string): LoginRedirect {
    const state = randomBytes(16).toString('base64url');
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const payload = JSON.stringify({ state, verifier, next: this.safeNext(returnTo) });
    const params = new URLSearchParams({
      client_id: this.clientId,
      redirect_uri: this.redirectUri,
      response_type: 'code',
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    return {
      location: `${this.authorizeUrl}?${params.toString()}`,
      cookies: [
        {
          name: this.cookies.state,
          value: this.cookies.sign(Buffer.from(payload).toString('base64url')),
          maxAge: OAUTH_STATE_MAX_AGE_S,
          httpOnly: true,
        },
      ],
    };
  }

  async finish(
    query: Record<string, unknown>,
    headers: IncomingHttpHeaders,
  ): Promise<LoginRedirect & { user: string }> {
    const raw = cookiesOf(headers)[this.cookies.state];
    const unsigned = raw ? this.cookies.unsign(raw) : undefined;
    let saved: z.infer<typeof StateCookie> | undefined;
    if (unsigned) {
      try {
        saved = StateCookie.parse(JSON.parse(Buffer.from(unsigned, 'base64url').toString('utf8')));
      } catch {
        saved = undefined;
      }
    }
    const restart = `open ${this.safeNext(this.basePath)} again to log in`;
    if (!saved)
      throw new LoginFailedError(`no login is in progress in this browser (or it took over 10 minutes): ${restart}`);
    if (typeof query.error === 'string') {
      throw new LoginFailedError(`the Hub refused the login: ${query.error}`);
    }
    const state = typeof query.state === 'string' ? query.state : '';
    const a = Buffer.from(state);
    const b = Buffer.from(saved.state);
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      throw new LoginFailedError(`the OAuth state does not match this browser's login: ${restart}`);
    }
    const code = typeof query.code === 'string' ? query.code : '';
    if (!code) throw new LoginFailedError(`the Hub sent no code: ${restart}`);

    const token = await this.exchange(code, saved.verifier);
    const principal = await this.identify(token);
    if (!principal) throw new LoginFailedError(`the Hub does not accept the token it just issued: ${restart}`);
    const session: SetCookie = { name: this.cookies.session, value: this.cookies.sign(token), httpOnly: true };
    const xsrf: SetCookie = { name: this.cookies.xsrf, value: this.cookies.xsrfFor(token), httpOnly: false };
    return {
      user: principal.user,
      location: saved.next,
      cookies: [{ name: this.cookies.state, value: '', maxAge: 0, httpOnly: true }, session, xsrf],
    };
  }

  logout(): SetCookie[] {
    return [this.cookies.session, this.cookies.xsrf, this.cookies.state].map((name) => ({
      name,
      value: '',
      maxAge: 0,
      httpOnly: name !== this.cookies.xsrf,
    }));
  }

  private async exchange(code: string, verifier: string): Promise<string> {
    const body = new URLSearchParams({
      client_id: this.clientId,
      client_secret: this.config.apiToken,
      grant_type: 'authorization_code',
      code,
      redirect_uri: this.redirectUri,
      code_verifier: verifier,
    });
    let res: Response;
    try {
      res = await this.fetchFn(this.tokenUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
        body,
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      throw new AuthUnavailableError(`cannot reach the JupyterHub API at ${this.tokenUrl}: ${(err as Error).message}`);
    }
    if (res.status >= 500) throw new AuthUnavailableError(`the JupyterHub token endpoint answered ${res.status}`);
    const reply = TokenReply.safeParse(await res.json().catch(() => undefined));
    if (!res.ok || !reply.success) {
      throw new LoginFailedError(`the Hub did not exchange the login code (HTTP ${res.status}): log in again`);
    }
    return reply.data.access_token;
  }
}
