/**
 * Token authentication for standalone and embedded servers: a fixed table of tokens, each naming a
 * user, whether they are an admin, and their groups (which teams.ts maps to teams). Lookups compare digests in constant time and always walk the
 * whole table, so response timing says nothing about how much of a token matched.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { AuthRequest, Authenticator, Principal } from './authenticator.js';
import { extractToken } from './authenticator.js';

export interface TokenEntry {
  token: string;
  user: string;
  admin: boolean;
  /** Groups of the user (the configuration's stand-in for Hub groups). */
  groups?: string[];
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

export class TokenAuthenticator implements Authenticator {
  private readonly entries: { digest: Buffer; principal: Principal }[];

  constructor(tokens: readonly TokenEntry[]) {
    this.entries = tokens.map((t) => ({
      digest: digest(t.token),
      principal: { user: t.user, admin: t.admin, groups: [...(t.groups ?? [])] },
    }));
  }

  get size(): number {
    return this.entries.length;
  }

  lookup(token: string): Principal | null {
    const d = digest(token);
    let found: Principal | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(d, entry.digest) && !found) found = entry.principal;
    }
    return found ? { ...found, groups: [...found.groups] } : null;
  }

  authenticate(req: AuthRequest): Principal | null {
    const token = extractToken(req);
    return token ? this.lookup(token) : null;
  }
}

const USER_RE = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,127}$/;

/**
 * Parse `CELLPIPE_TOKENS`: comma-separated `token=user` or `token=user:admin`.
 * Throws with the offending entry's position (never echoing the token itself).
 */
export function parseTokenList(text: string, source = 'CELLPIPE_TOKENS'): TokenEntry[] {
  const entries: TokenEntry[] = [];
  const parts = text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  parts.forEach((part, i) => {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`${source}: entry ${i + 1} must look like token=user or token=user:admin`);
    const token = part.slice(0, eq);
    const rest = part.slice(eq + 1);
    const [user = '', role, ...extra] = rest.split(':');
    if (!USER_RE.test(user)) throw new Error(`${source}: entry ${i + 1} has an invalid user name "${user}"`);
    if (extra.length > 0 || (role !== undefined && role !== 'admin' && role !== 'user')) {
      throw new Error(`${source}: entry ${i + 1}: the role after ":" must be "admin" or "user"`);
    }
    if (token.length < 8) throw new Error(`${source}: entry ${i + 1}: tokens must be at least 8 characters`);
    entries.push({ token, user, admin: role === 'admin' });
  });
  return entries;
}

export const USER_NAME_PATTERN = USER_RE;
