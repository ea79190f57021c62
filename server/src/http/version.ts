/** The server package's version, read once from its package.json (same relative path from src/ and dist/). */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function serverVersion(): string {
  if (cached === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
        version?: unknown;
      };
      cached = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
    } catch {
      cached = '0.0.0';
    }
  }
  return cached;
}
