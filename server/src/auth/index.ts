export type { Authenticator, AuthRequest, Principal } from './authenticator.js';
export { extractToken } from './authenticator.js';
export { TokenAuthenticator, parseTokenList } from './token-authenticator.js';
export type { TokenEntry } from './token-authenticator.js';
export { ensureHomeToken, readHomeToken, homeTokenPath, osUserName } from './home-token.js';
