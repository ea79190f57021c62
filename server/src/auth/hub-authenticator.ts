/**
 * JupyterHub service authentication. Cellpipe runs as an externally managed Hub service; every
 * caller proves who they are with a Hub token, which is checked against the Hub
 * (`GET {apiUrl}/user`):
 *   - the extension's server-side proxy sends the single-user server's own JUPYTERHUB_API_TOKEN;
 *   - scripts and the CLI send a Hub API token (CELLPIPE_TOKEN);
 *   - a browser that logged in through the Hub's OAuth flow (hub-oauth.ts) sends its token in an
 *     httpOnly cookie; its writes must also carry the XSRF token.
 * The token's scopes must include `access:services!service=<name>` (or `access:services`), else 403
 * naming the scope. Identity is the Hub user name, Hub admins are Cellpipe admins, Hub groups are
 * the groups teams are made of.
 *
 * Answers are cached for `cacheSeconds` (default 30, at most 600) per token, at most
 * MAX_CACHED_TOKENS of them: a token revoked, or a scope or group removed, in the Hub keeps working
 * here for at most that long.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  AccessDeniedError,
  AuthUnavailableError,
  extractToken,
  type AuthRequest,
  type Authenticator,
  type BrowserLogin,
  type Principal,
} from './authenticator.js';
import { HubOAuth } from './hub-oauth.js';
import { readSession } from './session-cookies.js';

export const MAX_CACHED_TOKENS = 10_000;
const HUB_TIMEOUT_MS = 10_000;

export const HubConfigSchema = z
  .object({
    /** The Hub's REST API (JUPYTERHUB_API_URL), e.g. http://hub:8081/hub/api. */
    apiUrl: z.url({ message: 'must be the URL of the Hub API, e.g. http://127.0.0.1:8081/hub/api' }),
    /** This service's own token (JUPYTERHUB_API_TOKEN): the OAuth client secret. */
    apiToken: z.string().min(8, { message: "the service's Hub API token must be at least 8 characters" }),
    /** The service's name in the Hub (JUPYTERHUB_SERVICE_NAME). */
    serviceName: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, { message: 'not a JupyterHub service name' })
      .default('cellpipe'),
    /** OAuth client id (JUPYTERHUB_CLIENT_ID); default `service-<serviceName>`. */
    clientId: z.string().min(1).optional(),
    /** OAuth redirect URI as registered in the Hub (JUPYTERHUB_OAUTH_CALLBACK_URL); default `<prefix>oauth_callback`. */
    oauthCallbackUrl: z.string().min(1).optional(),
    /** The Hub's base URL (JUPYTERHUB_BASE_URL, default /): browsers log in at `<baseUrl>hub/api/oauth2/authorize`. */
    baseUrl: z.string().regex(/^\//, { message: 'must start with /' }).default('/'),
    /** Public origin of the Hub when the service is served from another one (JUPYTERHUB_HOST), else ''. */
    host: z.string().default(''),
    /** How long a token's answer is kept (seconds): the longest a revoked token keeps working here. */
    cacheSeconds: z.number().int().min(1).max(600).default(30),
  })
  .strict();
export type HubConfigInput = z.input<typeof HubConfigSchema>;
export type HubConfig = z.infer<typeof HubConfigSchema>;

/** The part of the Hub's `/user` model Cellpipe reads. */
const HubUserModel = z.object({
  kind: z.string().optional(),
  name: z.string(),
  admin: z.boolean().optional(),
  groups: z.array(z.string()).optional(),
  scopes: z.array(z.string()).optional(),
});

type Outcome = { principal: Principal } | { denied: string } | { invalid: true };

export interface HubAuthenticatorOptions {
  /** The server's base path (the service prefix, `/services/cellpipe/`). */
  basePath: string;
  /** Test clocks. */
  now?: () => number;
  fetch?: typeof fetch;
}

const digest = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export class HubAuthenticator implements Authenticator {
  readonly config: HubConfig;
  readonly browserLogin: BrowserLogin;
  readonly accessScope: string;
  private readonly cache = new Map<string, { expires: number; outcome: Outcome }>();
  private readonly inflight = new Map<string, Promise<Outcome>>();
  private readonly now: () => number;
  private readonly fetch: typeof fetch;
  private readonly oauth: HubOAuth;

  constructor(config: HubConfigInput, options: HubAuthenticatorOptions) {
    this.config = HubConfigSchema.parse(config);
    this.now = options.now ?? Date.now;
    this.fetch = options.fetch ?? fetch;
    this.accessScope = `access:services!service=${this.config.serviceName}`;
    this.oauth = new HubOAuth(this.config, options.basePath, this.fetch, (token) => this.identify(token));
    this.browserLogin = this.oauth;
  }

  get userUrl(): string {
    return `${this.config.apiUrl.replace(/\/+$/, '')}/user`;
  }

  async authenticate(req: AuthRequest): Promise<Principal | null> {
    const bearer = extractToken(req);
    if (bearer) return this.identify(bearer);
    const session = readSession(this.oauth.cookies, req.headers);
    if (!session) return null;
    const principal = await this.identify(session.token);
    // A cookie is sent by the browser whoever made the page: writes must prove they come from ours.
    if (principal && !isSafeMethod(req.method) && !session.xsrfMatches) {
      throw new AccessDeniedError(
        `a write authenticated by the session cookie needs the ${this.oauth.cookies.xsrfHeader} header (the value of the ${this.oauth.cookies.xsrf} cookie)`,
      );
    }
    return principal;
  }

  /** The Hub user behind a token: null when the Hub does not know it; throws when it may not use Cellpipe. */
  async identify(token: string): Promise<Principal | null> {
    const key = digest(token);
    const now = this.now();
    const hit = this.cache.get(key);
    let outcome: Outcome;
    if (hit && hit.expires > now) {
      outcome = hit.outcome;
    } else {
      let pending = this.inflight.get(key);
      if (!pending) {
        pending = this.askHub(token).finally(() => this.inflight.delete(key));
        this.inflight.set(key, pending);
      }
      outcome = await pending;
      this.remember(key, outcome);
    }
    if ('invalid' in outcome) return null;
    if ('denied' in outcome) throw new AccessDeniedError(outcome.denied);
    return { ...outcome.principal, groups: [...outcome.principal.groups] };
  }

  private remember(key: string, outcome: Outcome): void {
    this.cache.delete(key);
    if (this.cache.size >= MAX_CACHED_TOKENS) {
      const now = this.now();
      for (const [k, v] of this.cache) if (v.expires <= now) this.cache.delete(k);
      // Still full: drop the oldest (Map iterates in insertion order).
      while (this.cache.size >= MAX_CACHED_TOKENS) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(key, { expires: this.now() + this.config.cacheSeconds * 1000, outcome });
  }

  private async askHub(token: string): Promise<Outcome> {
    let res: Response;
    try {
      res = await this.fetch(this.userUrl, {
        headers: { Authorization: `token ${token}`, Accept: 'application/json' },
        signal: AbortSignal.timeout(HUB_TIMEOUT_MS),
      });
    } catch (err) {
      throw new AuthUnavailableError(`cannot reach the JupyterHub API at ${this.userUrl}: ${(err as Error).message}`);
    }
    // The Hub answers 403 for a token it does not know (and 401 without one).
    if (res.status === 401 || res.status === 403) return { invalid: true };
    if (!res.ok) throw new AuthUnavailableError(`the JupyterHub API at ${this.userUrl} answered ${res.status}`);
    const parsed = HubUserModel.safeParse(await res.json().catch(() => undefined));
    if (!parsed.success) throw new AuthUnavailableError(`the JupyterHub API at ${this.userUrl} sent no user model`);
    const model = parsed.data;
    if (model.kind !== undefined && model.kind !== 'user') {
      return { denied: `a token of the ${model.kind} "${model.name}" cannot use Cellpipe: use a Hub user's token` };
    }
    const scopes = model.scopes ?? [];
    if (!scopes.includes(this.accessScope) && !scopes.includes('access:services')) {
      return {
        denied: `the Hub token of ${model.name} lacks the scope ${this.accessScope}: ask the Hub's administrator to grant it (a role in load_roles, and c.Spawner.server_token_scopes for the token of a JupyterLab server)`,
      };
    }
    return { principal: { user: model.name, admin: model.admin === true, groups: model.groups ?? [] } };
  }
}

export function isSafeMethod(method: string | undefined): boolean {
  return method === undefined || method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}
