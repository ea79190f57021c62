/** Token authentication: the table, CELLPIPE_TOKENS parsing and the embedded home token. */
import { mkdtempSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractToken } from '../src/auth/authenticator.js';
import { ensureHomeToken, readHomeToken } from '../src/auth/home-token.js';
import { parseTokenList, TokenAuthenticator } from '../src/auth/token-authenticator.js';

describe('TokenAuthenticator', () => {
  const a = new TokenAuthenticator([
    { token: 'alice-secret-1', user: 'alice', admin: false },
    { token: 'root-secret-22', user: 'root', admin: true },
  ]);

  test('maps tokens to principals from either header scheme', () => {
    expect(a.authenticate({ headers: { authorization: 'Bearer alice-secret-1' } })).toEqual({
      user: 'alice',
      admin: false,
      groups: [],
    });
    expect(a.authenticate({ headers: { authorization: 'token root-secret-22' } })).toEqual({
      user: 'root',
      admin: true,
      groups: [],
    });
  });

  test('refuses missing, wrong, prefixed and malformed credentials', () => {
    expect(a.authenticate({ headers: {} })).toBeNull();
    expect(a.authenticate({ headers: { authorization: 'Bearer alice-secret-' } })).toBeNull();
    expect(a.authenticate({ headers: { authorization: 'Bearer alice-secret-12' } })).toBeNull();
    expect(a.authenticate({ headers: { authorization: 'Basic YWxpY2U6eA==' } })).toBeNull();
    expect(a.authenticate({ headers: { authorization: 'Bearer alice-secret-1 extra' } })).toBeNull();
  });

  test('a query token counts only when the route passes it, and never overrides a header', () => {
    expect(a.authenticate({ headers: {}, queryToken: 'alice-secret-1' })).toEqual({
      user: 'alice',
      admin: false,
      groups: [],
    });
    expect(extractToken({ headers: { authorization: 'Bearer x' }, queryToken: 'alice-secret-1' })).toBe('x');
  });
});

describe('CELLPIPE_TOKENS', () => {
  test('token=user and token=user:admin', () => {
    expect(parseTokenList('tok-alice-1=alice, tok-bob-22=bob:admin')).toEqual([
      { token: 'tok-alice-1', user: 'alice', admin: false },
      { token: 'tok-bob-22', user: 'bob', admin: true },
    ]);
  });

  test('errors name the entry, never the token', () => {
    expect(() => parseTokenList('tok-alice-1=alice,secretsecret')).toThrow(
      'CELLPIPE_TOKENS: entry 2 must look like token=user or token=user:admin',
    );
    expect(() => parseTokenList('tok-alice-1=alice:boss')).toThrow(
      'CELLPIPE_TOKENS: entry 1: the role after ":" must be "admin" or "user"',
    );
    expect(() => parseTokenList('short=alice')).toThrow(
      'CELLPIPE_TOKENS: entry 1: tokens must be at least 8 characters',
    );
    expect(() => parseTokenList('tok-alice-1=al ice')).toThrow(
      'CELLPIPE_TOKENS: entry 1 has an invalid user name "al ice"',
    );
  });
});

describe('home token', () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'cellpipe-auth-'));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  test('is created once, private to its owner, and reused', () => {
    expect(readHomeToken(home)).toBeUndefined();
    const token = ensureHomeToken(home);
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(join(home, 'token')).mode & 0o777).toBe(0o600);
    expect(ensureHomeToken(home)).toBe(token);
    expect(readHomeToken(home)).toBe(token);
  });

  test('a readable token file is tightened to 0600', () => {
    writeFileSync(join(home, 'token'), 'preexisting-token\n');
    chmodSync(join(home, 'token'), 0o644);
    expect(ensureHomeToken(home)).toBe('preexisting-token');
    expect(statSync(join(home, 'token')).mode & 0o777).toBe(0o600);
  });
});
