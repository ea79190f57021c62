/**
 * Teams and what they change over HTTP, with token auth (the groups come from the tokens' config):
 * shared visibility of a team's jobs (read, never change), who sees the inventory's holders, the
 * audit log of every state-changing call, and the server mounted under a base path.
 */
import Database from 'better-sqlite3';
import request from 'supertest';
import { AuditListSchema, InventorySchema, JobListSchema, type Job } from '@cellpipe/schema';
import { Teams, type TeamsConfigInput } from '../src/auth/teams.js';
import { TokenAuthenticator } from '../src/auth/token-authenticator.js';
import { Access } from '../src/http/access.js';
import type { InventoryHolders } from '../src/http/inventory-view.js';
import { SqliteAuditLog } from '../src/store/audit-store.js';
import { migrate } from '../src/store/sqlite-store.js';
import { SqliteUserDirectory } from '../src/store/user-directory.js';
import { startApp, type TestApp } from './http-helpers.js';
import { request as jobRequest, waitForJob } from './jobs-fixtures.js';

const TOKEN = (user: string) => `${user}-token-0001`;
const as = (user: string) => ({ Authorization: `Bearer ${TOKEN(user)}` });
const USERS = [
  { user: 'alice', groups: ['vision'] },
  { user: 'bob', groups: ['nlp'] },
  { user: 'dave', groups: ['vision'] },
  { user: 'erin', groups: [] },
  { user: 'root', groups: [], admin: true },
];
const TEAMS: TeamsConfigInput = {
  vision: { groups: ['vision'], visibility: 'team' },
  nlp: { groups: ['nlp'], users: ['erin'] },
};

interface Setup {
  t: TestApp;
  audit: SqliteAuditLog;
}

async function setup(
  options: { inventoryHolders?: InventoryHolders; basePath?: string; gpus?: string } = {},
): Promise<Setup> {
  const db = new Database(':memory:');
  migrate(db);
  const directory = new SqliteUserDirectory(db);
  const teams = new Teams(TEAMS, directory);
  const audit = new SqliteAuditLog(db);
  const t = await startApp(
    {
      authenticator: new TokenAuthenticator(
        USERS.map((u) => ({ token: TOKEN(u.user), user: u.user, admin: u.admin ?? false, groups: u.groups })),
      ),
      access: new Access(teams),
      audit,
      onPrincipal: (p) => directory.record(p),
      ...(options.inventoryHolders ? { inventoryHolders: options.inventoryHolders } : {}),
      ...(options.basePath ? { basePath: options.basePath } : {}),
    },
    { gpus: options.gpus ?? '', teamOf: (owner) => teams.primaryOfUser(owner) },
  );
  // Every user has called once: the directory knows their groups (as it would after any request).
  for (const u of USERS)
    await request(t.app)
      .get(`${options.basePath ?? ''}/api/me`)
      .set(as(u.user))
      .expect(200);
  return { t, audit };
}

const quick = jobRequest([{ name: 'work', code: 'print("done")' }]);

async function submit(t: TestApp, user: string, body: object = quick): Promise<Job> {
  const res = await request(t.app).post('/api/jobs').set(as(user)).send(body).expect(201);
  return res.body as Job;
}

describe('teams with shared visibility', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup();
  });
  afterAll(() => s.t.cleanup());

  test("a job records its owner's team; teammates list and read it, nobody else does", async () => {
    const alices = await submit(s.t, 'alice');
    const bobs = await submit(s.t, 'bob');
    const erins = await submit(s.t, 'erin');
    expect(alices.team).toBe('vision');
    expect(bobs.team).toBe('nlp');
    // erin is in nlp by name; nlp does not share.
    expect(erins.team).toBe('nlp');
    await waitForJob(s.t.service, alices.id);

    const listOf = async (user: string) =>
      JobListSchema.parse((await request(s.t.app).get('/api/jobs').set(as(user)).expect(200)).body).items.map(
        (j) => j.id,
      );
    expect(await listOf('dave')).toEqual([alices.id]);
    expect(await listOf('alice')).toEqual([alices.id]);
    expect((await listOf('bob')).sort()).toEqual([bobs.id]);
    expect(await listOf('erin')).toEqual([erins.id]);
    expect((await listOf('root')).sort()).toEqual([alices.id, bobs.id, erins.id].sort());

    await request(s.t.app).get(`/api/jobs/${alices.id}`).set(as('dave')).expect(200);
    await request(s.t.app).get(`/api/jobs/${alices.id}/tasks/work/logs`).set(as('dave')).expect(200);
    await request(s.t.app).get(`/api/jobs?user=alice`).set(as('dave')).expect(200);
    // A teammate may not change it: 403 (they can see it), while strangers get 404.
    const cancel = await request(s.t.app).post(`/api/jobs/${alices.id}/cancel`).set(as('dave')).send({}).expect(403);
    expect(cancel.body.error.message).toBe(
      'job ' + alices.id + ' belongs to alice: only its owner or an admin can cancel it',
    );
    await request(s.t.app).delete(`/api/jobs/${alices.id}`).set(as('dave')).expect(403);
    await request(s.t.app).post(`/api/jobs/${alices.id}/tasks/work/cancel`).set(as('dave')).send({}).expect(403);
    await request(s.t.app).post(`/api/jobs/${alices.id}/tasks/work/cancel`).set(as('bob')).send({}).expect(404);
    await request(s.t.app).post(`/api/jobs/${alices.id}/cancel`).set(as('bob')).send({}).expect(404);
    await request(s.t.app).get(`/api/jobs/${bobs.id}`).set(as('erin')).expect(404);
    await request(s.t.app).get(`/api/jobs?user=bob`).set(as('erin')).expect(403);
    // A re-run would be alice's job: a teammate may not start one (planning it is reading).
    await request(s.t.app).post(`/api/jobs/${alices.id}/rerun`).set(as('dave')).send({ mode: 'all' }).expect(403);
    await request(s.t.app).post(`/api/jobs/${alices.id}/rerun-changes`).set(as('dave')).send(quick).expect(403);
    await request(s.t.app).post(`/api/jobs/${alices.id}/rerun-plan`).set(as('dave')).send(quick).expect(200);
    const rerun = await request(s.t.app)
      .post(`/api/jobs/${alices.id}/rerun`)
      .set(as('alice'))
      .send({ mode: 'all' })
      .expect(201);
    expect(rerun.body).toMatchObject({ owner: 'alice', team: 'vision', parentJobId: alices.id });
  });

  test("/api/me names the caller's groups and teams", async () => {
    const me = await request(s.t.app).get('/api/me').set(as('erin')).expect(200);
    expect(me.body).toEqual({ user: 'erin', admin: false, groups: [], teams: ['nlp'] });
  });

  test('every state-changing call is audited with user, action, target and result; only admins read it', async () => {
    const job = await submit(s.t, 'bob');
    await request(s.t.app).post(`/api/jobs/${job.id}/cancel`).set(as('alice')).send({}).expect(404);
    await request(s.t.app).post('/api/jobs').set(as('bob')).send({ nope: 1 }).expect(400);
    await request(s.t.app).post('/api/jobs').send({}).expect(401);
    // Reads are not audited.
    await request(s.t.app).get(`/api/jobs/${job.id}`).set(as('bob')).expect(200);

    await request(s.t.app).get('/api/audit').set(as('bob')).expect(403);
    const all = AuditListSchema.parse((await request(s.t.app).get('/api/audit').set(as('root')).expect(200)).body);
    const [unauth, invalid, denied, submitted] = all.items;
    expect(submitted).toMatchObject({
      user: 'bob',
      action: 'POST /api/jobs',
      target: `/api/jobs -> /api/jobs/${job.id}`,
      status: 201,
      result: 'ok',
    });
    expect(denied).toMatchObject({
      user: 'alice',
      action: 'POST /api/jobs/:id/cancel',
      target: `/api/jobs/${job.id}/cancel`,
      status: 404,
      result: 'denied',
      message: `job ${job.id} not found`,
    });
    expect(invalid).toMatchObject({ user: 'bob', action: 'POST /api/jobs', status: 400, result: 'failed' });
    expect(unauth).toMatchObject({ action: 'POST /api/jobs', status: 401, result: 'denied' });
    expect(unauth!.user).toBeUndefined();
    expect(all.items.some((e) => e.action.startsWith('GET'))).toBe(false);

    // Filters and pages.
    const bobs = AuditListSchema.parse(
      (await request(s.t.app).get('/api/audit?user=bob&limit=1').set(as('root')).expect(200)).body,
    );
    expect(bobs.items).toHaveLength(1);
    expect(bobs.items[0]!.id).toBe(invalid!.id);
    const next = AuditListSchema.parse(
      (await request(s.t.app).get(`/api/audit?user=bob&limit=1&cursor=${bobs.nextCursor}`).set(as('root')).expect(200))
        .body,
    );
    expect(next.items[0]!.id).toBe(submitted!.id);
    const cancels = AuditListSchema.parse(
      (await request(s.t.app).get('/api/audit?action=cancel&result=denied').set(as('root')).expect(200)).body,
    );
    expect(cancels.items.every((e) => e.action.includes('cancel') && e.result === 'denied')).toBe(true);
    await request(s.t.app).get('/api/audit?cursor=garbage').set(as('root')).expect(400);
  });
});

describe("who sees the inventory's holders", () => {
  const holding = jobRequest([{ name: 'hold', code: 'import time\ntime.sleep(60)', resources: { gpu: 1 } }]);

  async function holders(s: Setup, viewer: string): Promise<{ user: string; hidden?: boolean; jobId: string }[]> {
    const inv = InventorySchema.parse((await request(s.t.app).get('/api/inventory').set(as(viewer)).expect(200)).body);
    return inv.resources.find((r) => r.resource === 'nvidia.com/gpu')!.holders;
  }

  async function withHolders(mode: InventoryHolders, check: (s: Setup, ids: Record<string, string>) => Promise<void>) {
    const s = await setup({ inventoryHolders: mode, gpus: 'gpu:3' });
    try {
      const ids: Record<string, string> = {};
      for (const user of ['alice', 'bob', 'dave']) {
        const job = await submit(s.t, user, holding);
        ids[user] = job.id;
        await waitForJob(s.t.service, job.id, (j) => j.tasks[0]!.state === 'running');
      }
      await check(s, ids);
      for (const id of Object.values(ids))
        await request(s.t.app).post(`/api/jobs/${id}/cancel`).set(as('root')).send({});
      for (const id of Object.values(ids)) await waitForJob(s.t.service, id);
    } finally {
      await s.t.cleanup();
    }
  }

  test(
    'all (default): every holder by name, to everyone',
    () =>
      withHolders('all', async (s) => {
        expect((await holders(s, 'erin')).map((h) => h.user).sort()).toEqual(['alice', 'bob', 'dave']);
      }),
    120_000,
  );

  test(
    "team: names within the caller's teams, others withheld; admins see all",
    () =>
      withHolders('team', async (s, ids) => {
        const seenByAlice = await holders(s, 'alice');
        expect(
          seenByAlice
            .filter((h) => !h.hidden)
            .map((h) => h.user)
            .sort(),
        ).toEqual(['alice', 'dave']);
        expect(seenByAlice.filter((h) => h.hidden)).toEqual([
          expect.objectContaining({ user: 'another team', jobId: '', task: '', count: 1 }),
        ]);
        expect(JSON.stringify(seenByAlice)).not.toContain(ids.bob);
        expect((await holders(s, 'root')).map((h) => h.user).sort()).toEqual(['alice', 'bob', 'dave']);
      }),
    120_000,
  );

  test(
    "anonymous: only one's own",
    () =>
      withHolders('anonymous', async (s) => {
        const seen = await holders(s, 'dave');
        expect(seen.filter((h) => !h.hidden).map((h) => h.user)).toEqual(['dave']);
        expect(seen.filter((h) => h.hidden).map((h) => h.user)).toEqual(['another user', 'another user']);
      }),
    120_000,
  );
});

test('under a base path everything is mounted there, and nothing at the root', async () => {
  const s = await setup({ basePath: '/services/cellpipe' });
  try {
    await request(s.t.app).get('/services/cellpipe/healthz').expect(200);
    const me = await request(s.t.app).get('/services/cellpipe/api/me').set(as('alice')).expect(200);
    expect(me.body.user).toBe('alice');
    await request(s.t.app).get('/api/me').set(as('alice')).expect(404);
    await request(s.t.app).get('/healthz').expect(404);
    // The browser page of a token server without a browser login: 401 like any other request.
    await request(s.t.app).get('/services/cellpipe/').set('Accept', 'text/html').expect(401);
    const page = await request(s.t.app).get('/services/cellpipe/').set(as('alice')).expect(200);
    expect(page.text).toContain('Signed in as <b>alice</b>');
  } finally {
    await s.t.cleanup();
  }
});
