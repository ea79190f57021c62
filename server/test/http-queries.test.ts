/**
 * The read-side queries a job list and an inventory panel need, against the real engine (SQLite file,
 * python3 tasks, declared GPUs): list filters, counts of running and waiting tasks, and who waits for
 * which GPU, also as a live event.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import request from 'supertest';
import { ActivitySchema, InventorySchema, JobListSchema, JobSchema, type Inventory } from '@cellpipe/schema';
import { request as pipelineRequest, waitForJob } from './jobs-fixtures.js';
import { auth, listen, SseStream, startApp, TOKENS, type TestApp } from './http-helpers.js';

jest.setTimeout(90_000);

let t: TestApp;
let flags: string;
beforeAll(async () => {
  t = await startApp({ heartbeatMs: 1000 }, { gpus: 'gpu:1' });
  flags = mkdtempSync(join(tmpdir(), 'cellpipe-flags-'));
});
afterAll(async () => {
  await t.cleanup();
  rmSync(flags, { recursive: true, force: true });
});

async function submit(who: 'alice' | 'bob' | 'root', body: object): Promise<string> {
  const res = await request(t.app).post('/api/jobs').set(auth(who)).send(body).expect(201);
  return JobSchema.parse(res.body).id;
}

/** Python that waits (bounded) until a file exists: a task that holds its GPU until the test lets go. */
const waitFor = (file: string): string =>
  `import os, time\nfor _ in range(1200):\n    if os.path.exists(${JSON.stringify(file)}):\n        break\n    time.sleep(0.05)\n`;

describe('GET /api/jobs filters', () => {
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    ids.ok = await submit('alice', pipelineRequest([{ name: 'a', code: 'pass\n' }], {}, { name: 'train-resnet' }));
    ids.bad = await submit(
      'alice',
      pipelineRequest([{ name: 'a', code: 'raise ValueError("no")\n' }], {}, { name: 'train-vit' }),
    );
    ids.other = await submit('alice', pipelineRequest([{ name: 'a', code: 'pass\n' }], {}, { name: 'evaluate' }));
    ids.bobs = await submit('bob', pipelineRequest([{ name: 'a', code: 'pass\n' }], {}, { name: 'train-bob' }));
    for (const id of Object.values(ids)) await waitForJob(t.service, id);
  });

  const list = async (who: 'alice' | 'root', qs: string) => {
    const page = JobListSchema.parse((await request(t.app).get(`/api/jobs${qs}`).set(auth(who)).expect(200)).body);
    return { ids: page.items.map((j) => j.id), total: page.total };
  };

  test('search words, several states and the owner combine; the total counts every page', async () => {
    expect(await list('alice', '?q=train')).toEqual({ ids: [ids.bad, ids.ok], total: 2 });
    expect(await list('alice', '?q=train&state=failed')).toEqual({ ids: [ids.bad], total: 1 });
    expect(await list('alice', '?state=succeeded,failed&limit=1')).toEqual({ ids: [ids.other], total: 3 });
    expect(await list('root', '?q=train')).toEqual({ ids: [ids.bobs, ids.bad, ids.ok], total: 3 });
    expect(await list('root', '?q=train&user=bob')).toEqual({ ids: [ids.bobs], total: 1 });
  });

  test('rows carry the run parameters, so runs of one pipeline can be told apart', async () => {
    const bob = await submit(
      'bob',
      pipelineRequest(
        [{ name: 'a', code: 'pass\n' }],
        { parameters: { lr: { default: 0.1 } } },
        {
          name: 'sweep',
          parameters: { lr: 0.5 },
        },
      ),
    );
    const page = JobListSchema.parse((await request(t.app).get('/api/jobs?q=sweep').set(auth('bob')).expect(200)).body);
    expect(page.items.map((j) => [j.id, j.parameters])).toEqual([[bob, { lr: 0.5 }]]);
    await waitForJob(t.service, bob);
  });

  test('creation time bounds: since is inclusive, until exclusive', async () => {
    const created = JobSchema.parse(
      (await request(t.app).get(`/api/jobs/${ids.other}`).set(auth('alice'))).body,
    ).createdAt;
    const since = encodeURIComponent(created);
    expect((await list('alice', `?since=${since}`)).ids).toEqual([ids.other]);
    expect((await list('alice', `?until=${since}`)).ids).toEqual([ids.bad, ids.ok]);
    expect((await list('alice', '?until=2000-01-01')).ids).toEqual([]);
  });

  test.each([
    ['?state=done', 'query.state.0'],
    ['?state=', 'query.state'],
    ['?since=yesterday', 'query.since'],
    ['?until=2024-13-45', 'query.until'],
    ['?limit=0', 'query.limit'],
  ])('a bad parameter %s is a 400 naming %s', async (qs, path) => {
    const res = await request(t.app).get(`/api/jobs${qs}`).set(auth('alice')).expect(400);
    expect(res.body.error.details.map((d: { path: string }) => d.path)).toEqual([path]);
  });
});

describe('who holds and who waits', () => {
  test('a task holding the only GPU and a task waiting for it show in the inventory, the activity counts and the live feed', async () => {
    const release = join(flags, 'release');
    const sse = await listen(t.app);
    const stream = new SseStream(`${sse.url}/api/events?inventory=1&token=${TOKENS.bob}`);
    try {
      await stream.ready;
      // Given alice's task holds the GPU until released, and bob's task asks for it
      const holder = await submit(
        'alice',
        pipelineRequest([{ name: 'hold', code: waitFor(release), resources: { gpu: 1 } }]),
      );
      await waitForJob(t.service, holder, (j) => j.tasks[0]?.state === 'running');
      const waiter = await submit('bob', pipelineRequest([{ name: 'wait', code: 'pass\n', resources: { gpu: 1 } }]));
      await waitForJob(t.service, waiter, (j) => Boolean(j.tasks[0]?.waitingReason));

      // Then the inventory names the holder and the waiting task with its reason
      const inventory = InventorySchema.parse((await request(t.app).get('/api/inventory').set(auth('bob'))).body);
      const gpu = inventory.resources.find((r) => r.resource === 'nvidia.com/gpu');
      expect(gpu).toMatchObject({ allocatable: 1, used: 1, free: 0 });
      expect(gpu?.holders).toEqual([
        expect.objectContaining({ user: 'alice', jobId: holder, task: 'hold', count: 1, since: expect.any(String) }),
      ]);
      expect(gpu?.waiting).toEqual([
        {
          user: 'bob',
          jobId: waiter,
          task: 'wait',
          count: 1,
          since: expect.any(String),
          reason: 'waiting for a free nvidia.com/gpu (0 of 1 free)',
        },
      ]);

      // And each user's activity counts tasks: bob's job reads "running" once its task was handed to the
      // executor, but the task itself still waits
      const activity = async (who: 'alice' | 'bob') =>
        ActivitySchema.parse((await request(t.app).get('/api/activity').set(auth(who)).expect(200)).body);
      expect(await activity('alice')).toEqual({ tasks: { running: 1, waiting: 0 }, jobs: { running: 1, pending: 0 } });
      expect(await activity('bob')).toEqual({ tasks: { running: 0, waiting: 1 }, jobs: { running: 1, pending: 0 } });

      // And bob's stream (which carries no event of alice's job) received the inventory with the waiter
      const inventories = (): Inventory[] =>
        stream.events.filter((e) => e.event === 'inventory').map((e) => InventorySchema.parse(e.data));
      await stream.until(
        () => inventories().some((i) => i.resources.some((r) => r.waiting?.some((w) => w.jobId === waiter))),
        'an inventory event with the waiting task',
      );
      expect(stream.events.some((e) => e.event === 'job' && (e.data as { id: string }).id === holder)).toBe(false);

      // When the holder lets go, the waiter runs and the feed says the GPU is free again
      writeFileSync(release, '');
      await waitForJob(t.service, holder);
      await waitForJob(t.service, waiter);
      await stream.until(() => {
        const last = inventories().at(-1);
        const r = last?.resources.find((x) => x.resource === 'nvidia.com/gpu');
        return r?.used === 0 && r.waiting?.length === 0;
      }, 'an inventory event with the GPU free and nobody waiting');
      expect(await activity('bob')).toEqual({ tasks: { running: 0, waiting: 0 }, jobs: { running: 0, pending: 0 } });
    } finally {
      if (!existsSync(release)) writeFileSync(release, '');
      stream.close();
      await sse.close();
    }
  });
});
