/**
 * Cellpipe as a JupyterHub service, against a real JupyterHub (from PyPI, in the project venv) with
 * configurable-http-proxy (npm) and the dummy authenticator: who may call (401, 403 naming the
 * scope), what each user reaches (their own jobs, logs, files and events; a shared team's jobs
 * read-only; an admin everything), the CLI through the Hub's proxy and from a single-user
 * server's environment, revocation within the documented cache time, the audit log, and the start
 * of the browser login. The browser parts (the OAuth login to the end, the JupyterLab extension)
 * are in ui-tests/hub/.
 * @slow (npm test runs it; npm run test:fast leaves it out)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { AuditListSchema, ErrorBodySchema, JobListSchema, JobSchema, type JobSummary } from '@cellpipe/schema';
import { hubSkipReason, startHub, type Hub } from '../../testbed/hub/hub.js';
import { taggedNotebook } from './jobs-fixtures.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const cli = join(root, 'server/dist/cli.js');
const run = promisify(execFile);

let work: string;
let hub: Hub;
const tokens: Record<string, string> = {};

const CACHE_SECONDS = 2;
const skipReason = hubSkipReason();
if (skipReason) console.log(`skipping the JupyterHub tests: ${skipReason}`);
const hubDescribe = skipReason ? describe.skip : describe;

beforeAll(async () => {
  if (skipReason) return;
  work = mkdtempSync(join(tmpdir(), 'cellpipe-hub-'));
  hub = await startHub({
    root,
    work,
    users: { alice: ['cellpipe', 'vision'], bob: ['cellpipe'], dave: ['cellpipe', 'vision'], carol: [] },
    admins: ['admin'],
    cacheSeconds: CACHE_SECONDS,
    cellpipeConfig: { teams: { vision: { groups: ['vision'], visibility: 'team' } } },
  });
  for (const user of ['alice', 'bob', 'carol', 'dave', 'admin']) tokens[user] = await hub.token(user);
}, 300_000);

afterAll(async () => {
  await hub?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

/** A request to the service through the Hub's proxy, as `user` (or with no token). */
async function call(user: string | null, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (user) headers.set('Authorization', `token ${tokens[user]}`);
  return fetch(`${hub.serviceUrl}${path}`, { ...init, headers, redirect: 'manual' });
}

/** The message of an error reply. */
async function errorMessage(res: Response): Promise<string> {
  return ErrorBodySchema.parse(await res.json()).error.message;
}

async function json<T>(user: string, path: string, parse: (v: unknown) => T): Promise<T> {
  const res = await call(user, path);
  expect(res.status).toBe(200);
  return parse(await res.json());
}

/** Runs the CLI with an environment of its own (nothing of this process's CELLPIPE_* or JUPYTERHUB_*). */
async function cellpipe(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('CELLPIPE_') && !k.startsWith('JUPYTERHUB_')),
  );
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, ...args], {
      env: { ...clean, CELLPIPE_HOME: join(work, 'cli-home'), ...env },
    });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

function notebookFile(name: string, code: string): string {
  const path = join(work, name);
  writeFileSync(path, JSON.stringify(taggedNotebook([{ source: code, tags: ['task:work'] }])));
  return path;
}

const WORK_CODE = (who: string) =>
  `import os, pwd\nprint("log line of ${who}, run by", pwd.getpwuid(os.getuid()).pw_name)\n` +
  `open(os.path.join(os.environ["CELLPIPE_OUTPUT_DIR"], "secret.txt"), "w").write("${who}'s data")\n`;

hubDescribe('who may call', () => {
  test('no token or an unknown one: 401; a Hub user without the access scope: 403 naming it', async () => {
    const none = await call(null, '/api/me');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toContain('Bearer');
    const unknown = await fetch(`${hub.serviceUrl}/api/me`, { headers: { Authorization: 'token not-a-hub-token' } });
    expect(unknown.status).toBe(401);

    const carol = await call('carol', '/api/me');
    expect(carol.status).toBe(403);
    expect(await errorMessage(carol)).toContain('access:services!service=cellpipe');

    // A token alice made with fewer scopes than she holds: the scope is the token's, not the user's.
    const narrow = await hub.token('alice', ['read:users:name!user']);
    const res = await fetch(`${hub.serviceUrl}/api/me`, { headers: { Authorization: `token ${narrow}` } });
    expect(res.status).toBe(403);
    expect(await errorMessage(res)).toContain('lacks the scope access:services!service=cellpipe');
  });

  test('identity is the Hub user, admins are Hub admins, groups map to teams', async () => {
    expect(await (await call('alice', '/api/me')).json()).toEqual({
      user: 'alice',
      admin: false,
      groups: ['cellpipe', 'vision'],
      teams: ['vision'],
    });
    expect(await (await call('bob', '/api/me')).json()).toMatchObject({ user: 'bob', admin: false, teams: [] });
    expect(await (await call('admin', '/api/me')).json()).toMatchObject({ user: 'admin', admin: true });
  });

  test('a browser without a session is sent to the Hub to log in, with a state cookie scoped to the service', async () => {
    const page = await fetch(`${hub.serviceUrl}/api/jobs`, { headers: { Accept: 'text/html' }, redirect: 'manual' });
    expect(page.status).toBe(302);
    const location = new URL(page.headers.get('location')!, hub.proxyUrl);
    expect(location.pathname).toBe('/hub/api/oauth2/authorize');
    expect(location.searchParams.get('client_id')).toBe('service-cellpipe');
    expect(location.searchParams.get('redirect_uri')).toBe('/services/cellpipe/oauth_callback');
    expect(location.searchParams.get('code_challenge_method')).toBe('S256');
    const cookie = page.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^service-cellpipe-oauth-state=/);
    expect(cookie).toContain('Path=/services/cellpipe');
    expect(cookie).toContain('HttpOnly');
    // The Hub itself sends a browser without a Hub session on to its login page.
    const authorize = await fetch(location, { redirect: 'manual' });
    expect(authorize.status).toBe(302);
    expect(authorize.headers.get('location')).toMatch(/\/hub\/login\?next=/);

    // A callback whose state is not this browser's is refused, and the refusal is audited.
    const forged = await fetch(`${hub.serviceUrl}/oauth_callback?code=x&state=forged`, {
      headers: { Cookie: cookie.split(';')[0]! },
    });
    expect(forged.status).toBe(400);
    expect(await errorMessage(forged)).toContain('OAuth state does not match');
    // An API client (no text/html) gets 401, never a redirect.
    expect((await fetch(`${hub.serviceUrl}/api/jobs`, { redirect: 'manual' })).status).toBe(401);
  });
});

hubDescribe('isolation between users', () => {
  let alicesJob: JobSummary;
  let bobsJob: JobSummary;

  beforeAll(async () => {
    // Scripts and the CLI: a Hub token in CELLPIPE_TOKEN, CELLPIPE_URL at the service through the proxy.
    const a = await cellpipe(['run', notebookFile('alice.ipynb', WORK_CODE('alice'))], {
      CELLPIPE_URL: hub.serviceUrl,
      CELLPIPE_TOKEN: tokens.alice!,
    });
    expect(a).toMatchObject({ code: 0 });
    const b = await cellpipe(['run', notebookFile('bob.ipynb', WORK_CODE('bob'))], {
      CELLPIPE_URL: hub.serviceUrl,
      CELLPIPE_TOKEN: tokens.bob!,
    });
    expect(b).toMatchObject({ code: 0 });
    const mine = (user: string) => json(user, '/api/jobs', (v) => JobListSchema.parse(v).items);
    alicesJob = (await mine('alice'))[0]!;
    bobsJob = (await mine('bob'))[0]!;
  }, 180_000);

  test('jobs carry their owner and the team they count toward', () => {
    expect(alicesJob).toMatchObject({ owner: 'alice', team: 'vision', state: 'succeeded' });
    expect(bobsJob).toMatchObject({ owner: 'bob', state: 'succeeded' });
    expect(bobsJob.team).toBeUndefined();
  });

  test("bob neither lists nor reaches alice's job, its log, files or events: 404", async () => {
    const list = await json('bob', '/api/jobs', (v) => JobListSchema.parse(v));
    expect(list.items.map((j) => j.id)).toEqual([bobsJob.id]);
    const id = alicesJob.id;
    for (const path of [
      `/api/jobs/${id}`,
      `/api/jobs/${id}/tasks/work/logs`,
      `/api/jobs/${id}/tasks/work/notebook`,
      `/api/jobs/${id}/tasks/work/result`,
      `/api/jobs/${id}/tasks/work/artifacts/secret.txt`,
      `/api/events?job=${id}`,
    ]) {
      const res = await call('bob', path);
      expect([path, res.status]).toEqual([path, 404]);
      expect(await res.text()).not.toContain("alice's data");
    }
    for (const [method, path] of [
      ['POST', `/api/jobs/${id}/cancel`],
      ['POST', `/api/jobs/${id}/rerun`],
      ['DELETE', `/api/jobs/${id}`],
    ] as const) {
      const res = await call('bob', path, {
        method,
        body: method === 'POST' ? '{}' : undefined,
        headers: { 'Content-Type': 'application/json' },
      });
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
    // Asking for alice's jobs by name is refused outright.
    expect((await call('bob', '/api/jobs?user=alice')).status).toBe(403);
  });

  test('alice reads her own log and files; the event stream of each user carries only their jobs', async () => {
    const log = await call('alice', `/api/jobs/${alicesJob.id}/tasks/work/logs`);
    // Her task ran as her own OS account.
    expect(await log.text()).toContain(`log line of alice, run by ${hub.accounts.alice}`);
    const file = await call('alice', `/api/jobs/${alicesJob.id}/tasks/work/artifacts/secret.txt`);
    expect(await file.text()).toBe("alice's data");

    const seen = { alice: new Set<string>(), bob: new Set<string>() };
    const streams = (['alice', 'bob'] as const).map(async (user) => {
      const abort = new AbortController();
      const res = await call(user, '/api/events', { signal: abort.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buffered = '';
      return {
        abort,
        pump: (async () => {
          try {
            for (;;) {
              const { value, done } = await reader.read();
              if (done) return;
              buffered += decoder.decode(value, { stream: true });
              for (const m of buffered.matchAll(/"(?:jobId|id)":"([a-z0-9]+)"/g)) seen[user].add(m[1]!);
            }
          } catch {
            // aborted
          }
        })(),
      };
    });
    const open = await Promise.all(streams);
    const rerun = await call('alice', `/api/jobs/${alicesJob.id}/rerun`, {
      method: 'POST',
      body: JSON.stringify({ mode: 'all' }),
      headers: { 'Content-Type': 'application/json' },
    });
    expect(rerun.status).toBe(201);
    const again = JobSchema.parse(await rerun.json());
    // Wait on alice's own stream until her new job is in it, then look at bob's.
    const deadline = Date.now() + 60_000;
    while (!seen.alice.has(again.id) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(seen.alice.has(again.id)).toBe(true);
    expect(seen.bob.has(again.id)).toBe(false);
    for (const s of open) s.abort.abort();
    await Promise.all(open.map((s) => s.pump));
  });

  test("a team with shared visibility sees (but cannot change) its members' jobs; others stay hidden", async () => {
    const list = await json('dave', '/api/jobs', (v) => JobListSchema.parse(v).items.map((j) => j.owner));
    expect(list).toContain('alice');
    expect(list).not.toContain('bob');
    expect((await call('dave', `/api/jobs/${alicesJob.id}/tasks/work/logs`)).status).toBe(200);
    const cancel = await call('dave', `/api/jobs/${alicesJob.id}/cancel`, { method: 'POST', body: '{}' });
    expect(cancel.status).toBe(403);
    expect(await errorMessage(cancel)).toContain('belongs to alice');
    expect((await call('dave', `/api/jobs/${bobsJob.id}`)).status).toBe(404);
  });

  test("an admin lists and reads everyone's jobs", async () => {
    const owners = await json('admin', '/api/jobs', (v) => JobListSchema.parse(v).items.map((j) => j.owner));
    expect(owners).toEqual(expect.arrayContaining(['alice', 'bob']));
    expect((await call('admin', `/api/jobs/${bobsJob.id}/tasks/work/artifacts/secret.txt`)).status).toBe(200);
  });

  test("inside a user's JupyterLab server the CLI finds the service from the Hub's environment", async () => {
    // What the Hub gives a single-user server: its API and the server's own token (with the
    // service's access and read scopes, as c.Spawner.server_token_scopes grants them).
    const serverToken = await hub.token('alice', [
      'access:services!service=cellpipe',
      'read:services!service=cellpipe',
    ]);
    const jobs = await cellpipe(['jobs', '--json'], {
      JUPYTERHUB_API_URL: hub.hubApiUrl,
      JUPYTERHUB_API_TOKEN: serverToken,
    });
    expect(jobs.code).toBe(0);
    expect(JobListSchema.parse(JSON.parse(jobs.out)).items.every((j) => j.owner === 'alice')).toBe(true);
  });

  test('the audit log names who changed what, and only admins read it', async () => {
    expect((await call('alice', '/api/audit')).status).toBe(403);
    const audit = await json('admin', '/api/audit?limit=1000', (v) => AuditListSchema.parse(v).items);
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ user: 'alice', action: 'POST /api/jobs', result: 'ok', status: 201 }),
        expect.objectContaining({
          user: 'bob',
          action: 'POST /api/jobs/:id/cancel',
          target: `/services/cellpipe/api/jobs/${alicesJob.id}/cancel`,
          result: 'denied',
          status: 404,
        }),
        expect.objectContaining({
          user: 'dave',
          action: 'POST /api/jobs/:id/cancel',
          result: 'denied',
          status: 403,
          message: expect.stringContaining('belongs to alice'),
        }),
        expect.objectContaining({ action: 'login', result: 'denied', status: 400 }),
      ]),
    );
    const cliAudit = await cellpipe(['audit', '--user', 'bob', '--action', 'cancel'], {
      CELLPIPE_URL: hub.serviceUrl,
      CELLPIPE_TOKEN: tokens.admin!,
    });
    expect(cliAudit.code).toBe(0);
    expect(cliAudit.out).toMatch(/bob +POST \/api\/jobs\/:id\/cancel .*denied 404/);
  });
});

hubDescribe('revocation', () => {
  test(`taking the scope away in the Hub refuses a token within the cache time (${CACHE_SECONDS} s)`, async () => {
    expect((await call('bob', '/api/me')).status).toBe(200);
    // The answer cached by that call is at most CACHE_SECONDS old from here on.
    const cachedBy = Date.now();
    await hub.removeFromGroup('cellpipe', 'bob');
    const bound = Math.max(cachedBy, Date.now()) + CACHE_SECONDS * 1000;
    // Every request sent after the bound must be refused; requests before it may still pass.
    const answers: { sent: number; status: number }[] = [];
    const hardLimit = Date.now() + 120_000;
    while (answers.filter((a) => a.sent > bound).length < 2 && Date.now() < hardLimit) {
      const sent = Date.now();
      answers.push({ sent, status: (await call('bob', '/api/me')).status });
      await new Promise((r) => setTimeout(r, 200));
    }
    const late = answers.filter((a) => a.sent > bound);
    expect(late.length).toBeGreaterThanOrEqual(2);
    expect(late.map((a) => a.status)).toEqual(late.map(() => 403));
    await hub.addToGroup('cellpipe', 'bob');
  }, 180_000);
});
