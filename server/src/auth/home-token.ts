/**
 * The embedded server's token: generated once, stored in `$CELLPIPE_HOME/token` readable only by its
 * owner, and used by the local CLI and the JupyterLab extension of the same OS user.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';

export function homeTokenPath(home: string): string {
  return join(home, 'token');
}

/** Read the home token, or undefined when there is none yet. */
export function readHomeToken(home: string): string | undefined {
  try {
    const text = readFileSync(homeTokenPath(home), 'utf8').trim();
    return text.length > 0 ? text : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Read the home token, creating it (mode 0600) when missing; tightens a too-open mode. */
export function ensureHomeToken(home: string): string {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const path = homeTokenPath(home);
  const existing = readHomeToken(home);
  if (existing) {
    if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    return existing;
  }
  const token = randomBytes(32).toString('hex');
  try {
    // 'wx': never overwrite a token another process created a moment ago.
    writeFileSync(path, token + '\n', { mode: 0o600, flag: 'wx' });
    return token;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      const raced = readHomeToken(home);
      if (raced) return raced;
    }
    throw err;
  }
}

/** The OS user the embedded token stands for. */
export function osUserName(): string {
  try {
    return userInfo().username || process.env.USER || 'user';
  } catch {
    return process.env.USER || 'user';
  }
}
