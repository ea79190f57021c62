/**
 * The Hub authenticator's own rules with the Hub replaced by a function (the real Hub is in
 * jupyterhub.test.ts): how long answers are kept, that concurrent checks of one token ask once, the
 * cache's bound, a Hub that cannot be asked (503, never 401), and the configuration from JUPYTERHUB_*.
 */
import { AccessDeniedError, AuthUnavailableError } from '../src/auth/authenticator.js';
import { HubAuthenticator, MAX_CACHED_TOKENS } from '../src/auth/hub-authenticator.js';
import { createAuthenticator } from '../src/auth/registry.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../src/config.js';
import { startServer } from '../src/main.js';

const SCOPE = 'access:services!service=cellpipe';

function fakeHub(answer: (token: string) => { status: number; body?: unknown } | Error) {
  const asked: string[] = [];
  const fetch = (async (_url: string | URL | Request, init?: RequestInit) => {
    const token = String(new Headers(init?.headers).get('authorization')).replace(/^token /, '');
    asked.push(token);
    const a = answer(token);
    if (a instanceof Error) throw a;
    return new Response(a.body === undefined ? '' : JSON.stringify(a.body), { status: a.status });
  }) as typeof globalThis.fetch;
  return { fetch, asked };
}

const user = (name: string, scopes = [SCOPE]) => ({
  status: 200,
  body: { kind: 'user', name, admin: false, groups: ['g'], scopes },
});

function authenticator(fetch: typeof globalThis.fetch, now: () => number, cacheSeconds = 30) {
  return new HubAuthenticator(
    { apiUrl: 'http://hub.invalid/hub/api', apiToken: 'service-secret', cacheSeconds },
    { basePath: '/services/cellpipe', fetch, now },
  );
}

test('answers are kept for cacheSeconds, then the Hub is asked again', async () => {
  let t = 0;
  let scopes = [SCOPE];
  const hub = fakeHub(() => user('alice', scopes));
  const a = authenticator(hub.fetch, () => t, 30);
  expect(await a.identify('tok')).toEqual({ user: 'alice', admin: false, groups: ['g'] });
  scopes = [];
  t = 29_999;
  expect(await a.identify('tok')).toMatchObject({ user: 'alice' });
  expect(hub.asked).toHaveLength(1);
  t = 30_000;
  await expect(a.identify('tok')).rejects.toThrow(AccessDeniedError);
  expect(hub.asked).toHaveLength(2);
});

test('concurrent checks of one token ask the Hub once; unknown tokens are null', async () => {
  const hub = fakeHub((token) => (token === 'good' ? user('bob') : { status: 403 }));
  const a = authenticator(hub.fetch, () => 0);
  const results = await Promise.all([a.identify('good'), a.identify('good'), a.identify('good')]);
  expect(results.map((r) => r?.user)).toEqual(['bob', 'bob', 'bob']);
  expect(hub.asked).toEqual(['good']);
  expect(await a.identify('bad')).toBeNull();
  expect(await a.authenticate({ headers: {} })).toBeNull();
});

test('the cache holds at most MAX_CACHED_TOKENS answers, dropping the oldest', async () => {
  const hub = fakeHub((token) => user(token));
  const a = authenticator(hub.fetch, () => 0);
  for (let i = 0; i <= MAX_CACHED_TOKENS; i++) await a.identify(`t${i}`);
  hub.asked.length = 0;
  await a.identify(`t${MAX_CACHED_TOKENS}`);
  expect(hub.asked).toEqual([]);
  await a.identify('t0');
  expect(hub.asked).toEqual(['t0']);
});

test('a Hub that cannot be asked is "unavailable" (503), not "who are you" (401)', async () => {
  const down = authenticator(fakeHub(() => new Error('ECONNREFUSED')).fetch, () => 0);
  await expect(down.identify('x')).rejects.toThrow(AuthUnavailableError);
  const broken = authenticator(fakeHub(() => ({ status: 502 })).fetch, () => 0);
  await expect(broken.identify('x')).rejects.toThrow(/answered 502/);
  const service = authenticator(
    fakeHub(() => ({ status: 200, body: { kind: 'service', name: 'x', scopes: [SCOPE] } })).fetch,
    () => 0,
  );
  await expect(service.identify('x')).rejects.toThrow(/service "x" cannot use Cellpipe/);
});

test('cookie writes need the XSRF header', async () => {
  const hub = fakeHub(() => user('alice'));
  const a = authenticator(hub.fetch, () => 0);
  const login = a.browserLogin;
  const cookies = (
    login as unknown as { cookies: { sign(v: string): string; xsrfFor(t: string): string; session: string } }
  ).cookies;
  const cookie = `${cookies.session}=${encodeURIComponent(cookies.sign('tok'))}`;
  expect(await a.authenticate({ method: 'GET', headers: { cookie } })).toMatchObject({ user: 'alice' });
  await expect(a.authenticate({ method: 'POST', headers: { cookie } })).rejects.toThrow(/X-XSRFToken/);
  await expect(a.authenticate({ method: 'POST', headers: { cookie, 'x-xsrftoken': 'wrong' } })).rejects.toThrow(
    AccessDeniedError,
  );
  expect(
    await a.authenticate({ method: 'POST', headers: { cookie, 'x-xsrftoken': cookies.xsrfFor('tok') } }),
  ).toMatchObject({ user: 'alice' });
  // A cookie not signed by this service is no session at all.
  expect(await a.authenticate({ method: 'GET', headers: { cookie: `${cookies.session}=tok.forged` } })).toBeNull();
});

describe('configuration', () => {
  test('JUPYTERHUB_* fill the hub section and the base path, only for auth: jupyterhub', () => {
    const env = {
      CELLPIPE_AUTH: 'jupyterhub',
      JUPYTERHUB_API_URL: 'http://hub:8081/hub/api',
      JUPYTERHUB_API_TOKEN: 'service-secret-1',
      JUPYTERHUB_SERVICE_NAME: 'pipes',
      JUPYTERHUB_SERVICE_PREFIX: '/jhub/services/pipes/',
      CELLPIPE_HUB_CACHE_SECONDS: '5',
    };
    const config = loadConfig({ env: { ...env, CELLPIPE_HOME: '/tmp/x' } });
    expect(config.basePath).toBe('/jhub/services/pipes');
    expect(config.jupyterhub).toMatchObject({
      apiUrl: 'http://hub:8081/hub/api',
      apiToken: 'service-secret-1',
      serviceName: 'pipes',
      cacheSeconds: 5,
    });
    // A user's terminal has JUPYTERHUB_* of its own: without auth: jupyterhub they change nothing.
    const { CELLPIPE_AUTH: _a, ...userEnv } = env;
    const plain = loadConfig({ env: { ...userEnv, CELLPIPE_HOME: '/tmp/x' } });
    expect(plain.basePath).toBe('/');
    expect(plain.jupyterhub).toBeUndefined();
  });

  test('missing Hub settings are named with their variables', () => {
    const config = loadConfig({ env: { CELLPIPE_AUTH: 'jupyterhub', CELLPIPE_HOME: '/tmp/x' } });
    expect(config.basePath).toBe('/services/cellpipe');
    expect(() => createAuthenticator(config)).toThrow(
      /jupyterhub\.apiUrl \(JUPYTERHUB_API_URL\): .*\n {2}jupyterhub\.apiToken \(JUPYTERHUB_API_TOKEN\)/,
    );
    expect(() =>
      loadConfig({ env: { CELLPIPE_AUTH: 'jupyterhub', CELLPIPE_HUB_CACHE_SECONDS: '9000', CELLPIPE_HOME: '/tmp/x' } }),
    ).toThrow(/CELLPIPE_HUB_CACHE_SECONDS: Too big/);
  });

  test('on the local executor, a Hub service needs local.runAs: every Hub user is another user', async () => {
    const home = mkdtempSync(join(tmpdir(), 'cellpipe-hub-unit-'));
    try {
      const err = await startServer({
        home,
        port: 0,
        gpus: '',
        auth: 'jupyterhub',
        jupyterhub: { apiUrl: 'http://127.0.0.1:1/hub/api', apiToken: 'service-secret-1' },
      }).then(
        () => new Error('started'),
        (e: unknown) => e as Error,
      );
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toMatch(/with every Hub user granted the service any task could read the others'/);
      expect(err.message).toContain('local.runAs');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
