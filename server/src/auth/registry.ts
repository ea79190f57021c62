/**
 * The one place an Authenticator is chosen, from the configuration's `auth`:
 *   - `token` (default): a fixed table of tokens (`tokens:`, CELLPIPE_TOKENS) plus, unless
 *     `homeToken: false`, the generated `$CELLPIPE_HOME/token` standing for the OS user (admin);
 *   - `jupyterhub`: Cellpipe as a JupyterHub service (hub-authenticator.ts), configured from the
 *     `jupyterhub:` section and the JUPYTERHUB_* environment the Hub gives services.
 */
import { ensureHomeToken, osUserName } from './home-token.js';
import type { Authenticator } from './authenticator.js';
import { HubAuthenticator, HubConfigSchema, type HubConfigInput } from './hub-authenticator.js';
import { TokenAuthenticator, type TokenEntry } from './token-authenticator.js';

export const AUTHENTICATOR_NAMES = ['token', 'jupyterhub'] as const;
export type AuthenticatorName = (typeof AUTHENTICATOR_NAMES)[number];

/** What the registry reads of the server configuration. */
export interface AuthSettings {
  auth: AuthenticatorName;
  home: string;
  basePath: string;
  tokens: readonly TokenEntry[];
  homeToken: boolean;
  jupyterhub?: Partial<HubConfigInput>;
}

export class AuthConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthConfigError';
  }
}

/** The `jupyterhub` section's environment variables, by field, for error messages. */
export const HUB_ENV: Record<string, string> = {
  apiUrl: 'JUPYTERHUB_API_URL',
  apiToken: 'JUPYTERHUB_API_TOKEN',
  serviceName: 'JUPYTERHUB_SERVICE_NAME',
  clientId: 'JUPYTERHUB_CLIENT_ID',
  oauthCallbackUrl: 'JUPYTERHUB_OAUTH_CALLBACK_URL',
  baseUrl: 'JUPYTERHUB_BASE_URL',
  host: 'JUPYTERHUB_HOST',
  cacheSeconds: 'CELLPIPE_HUB_CACHE_SECONDS',
};

export interface BuiltAuthenticator {
  authenticator: Authenticator;
  /** The home token (the OS user's admin token), when token auth generated one. */
  token?: string;
}

export function createAuthenticator(settings: AuthSettings): BuiltAuthenticator {
  if (settings.auth === 'jupyterhub') {
    const parsed = HubConfigSchema.safeParse(settings.jupyterhub ?? {});
    if (!parsed.success) {
      const lines = parsed.error.issues.map((i) => {
        const field = String(i.path[0] ?? '');
        const env = HUB_ENV[field];
        return `  jupyterhub.${field}${env ? ` (${env})` : ''}: ${i.message}`;
      });
      throw new AuthConfigError(`auth: jupyterhub needs its Hub settings:\n${lines.join('\n')}`);
    }
    return { authenticator: new HubAuthenticator(parsed.data, { basePath: settings.basePath }) };
  }
  const entries: TokenEntry[] = [...settings.tokens];
  let token: string | undefined;
  if (settings.homeToken) {
    token = ensureHomeToken(settings.home);
    entries.push({ token, user: osUserName(), admin: true });
  }
  if (entries.length === 0) {
    throw new AuthConfigError('no tokens configured and homeToken is false: nobody could use this server');
  }
  return { authenticator: new TokenAuthenticator(entries), token };
}
