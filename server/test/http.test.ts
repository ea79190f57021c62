/**
 * The HTTP API against the real engine: a JobService on a SQLite file in a temp home running real
 * python3 tasks, driven through the router with supertest.
 */
import { jest } from '@jest/globals';
import request from 'supertest';
import { InventorySchema, JobListSchema, JobSchema, type JobSummary, type TaskEvent } from '@cellpipe/schema';
import { request as pipelineRequest, waitForJob } from './jobs-fixtures.js';
import { TokenAuthenticator } from '../src/auth/token-authenticator.js';
import { createApp } from '../src/http/app.js';
import type { JobService } from '../src/jobs/job-service.js';
import { auth, listen, SseStream, startApp, TOKENS, type TestApp } from './http-helpers.js';

jest.setTimeout(60_000);

let t: TestApp;
beforeAll(async () => {
  t = await startApp({ heartbeatMs: 100 });
});
afterAll(async () => {
  await t.cleanup();
});

const UNAUTHORIZED = { error: { code: 'unauthorized', message: 'missing or invalid token' } };

async function submit(who: 'alice' | 'bob' | 'root', body: object): Promise<string> {
  const res = await request(t.app).post('/api/jobs').set(auth(who)).send(body).expect(201);
  return JobSchema.parse(res.body).id;
}

describe('auth', () => {
  test('health and metrics need no token', async () => {
    const res = await request(t.app).get('/healthz').expect(200);
    expect(res.body).toEqual({ ok: true, version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
  });

  test('missing or wrong token → 401 with WWW-Authenticate', async () => {
    const missing = await request(t.app).get('/api/me').expect(401);
    expect(missing.body).toEqual(UNAUTHORIZED);
    expect(missing.headers['www-authenticate']).toBe('Bearer realm="cellpipe"');
    const wrong = await request(t.app).get('/api/jobs').set('Authorization', 'Bearer not-a-token').expect(401);
    expect(wrong.body).toEqual(UNAUTHORIZED);
    // A query token is only for EventSource on /api/events.
    await request(t.app).get(`/api/me?token=${TOKENS.alice}`).expect(401);
    await request(t.app).post('/api/jobs').send({}).expect(401);
  });

  test('Bearer and token schemes identify the user', async () => {
    expect((await request(t.app).get('/api/me').set(auth('alice')).expect(200)).body).toEqual({
      user: 'alice',
      admin: false,
      groups: [],
      teams: [],
    });
    const res = await request(t.app).get('/api/me').set('Authorization', `token ${TOKENS.root}`).expect(200);
    expect(res.body).toEqual({ user: 'root', admin: true, groups: [], teams: [] });
  });
});

describe('submissions', () => {
  test('a bad field → 400 naming its path', async () => {
    const body = JSON.parse(JSON.stringify(pipelineRequest([{ name: 'a', code: 'pass\n' }])));
    body.pipeline.spec.tasks[0].resources = { gpu: 'two' };
    const res = await request(t.app).post('/api/jobs').set(auth('alice')).send(body).expect(400);
    expect(res.body).toEqual({
      error: {
        code: 'invalid',
        message: 'pipeline.spec.tasks.0.resources.gpu: Invalid input: expected number, received string',
        details: [
          { path: 'pipeline.spec.tasks.0.resources.gpu', message: 'Invalid input: expected number, received string' },
        ],
      },
    });
  });

  test('neither notebook nor pipeline → 400', async () => {
    const res = await request(t.app).post('/api/jobs').set(auth('alice')).send({ name: 'x' }).expect(400);
    expect(res.body).toEqual({
      error: {
        code: 'invalid',
        message: 'pipeline: send either a notebook to compile or a compiled pipeline',
        details: [{ path: 'pipeline', message: 'send either a notebook to compile or a compiled pipeline' }],
      },
    });
  });

  test('unknown fields and malformed JSON are rejected', async () => {
    const extra = await request(t.app)
      .post('/api/jobs')
      .set(auth('alice'))
      .send({ ...pipelineRequest([{ name: 'a', code: 'pass\n' }]), colour: 'red' });
    expect(extra.status).toBe(400);
    expect(extra.body.error.code).toBe('invalid');
    expect(extra.body.error.details).toEqual([{ path: '', message: expect.stringContaining('colour') }]);
    const bad = await request(t.app)
      .post('/api/jobs')
      .set(auth('alice'))
      .set('Content-Type', 'application/json')
      .send('{"pipeline":');
    expect(bad.status).toBe(400);
    expect(bad.body).toEqual({ error: { code: 'invalid_json', message: 'request body is not valid JSON' } });
  });

  test('a problem the engine finds (unknown parameter) → 400 with its path', async () => {
    const body = pipelineRequest([{ name: 'a', code: 'pass\n' }], {}, { parameters: { nope: 1 } });
    const res = await request(t.app).post('/api/jobs').set(auth('alice')).send(body).expect(400);
    expect(res.body.error.code).toBe('invalid');
    expect(res.body.error.details[0].path).toBe('parameters.nope');
  });

  test.each(['toString', 'constructor', 'hasOwnProperty'])(
    'an undeclared parameter named %s is unknown, not a built-in of JavaScript objects',
    async (name) => {
      const body = pipelineRequest([{ name: 'a', code: 'pass\n' }], {}, { parameters: { [name]: 1 } });
      const res = await request(t.app).post('/api/jobs').set(auth('alice')).send(body).expect(400);
      expect(res.body.error.details[0]).toMatchObject({ path: `parameters.${name}` });
      expect(res.body.error.message).toContain(`unknown parameter '${name}'`);
    },
  );

  test('a key named __proto__ anywhere in a body → 400 naming it, never dropped silently', async () => {
    const body = JSON.stringify(pipelineRequest([{ name: 'a', code: 'pass\n' }])).replace(
      /^\{/,
      '{"parameters": {"__proto__": {"polluted": true}},',
    );
    const res = await request(t.app)
      .post('/api/jobs')
      .set(auth('alice'))
      .set('Content-Type', 'application/json')
      .send(body)
      .expect(400);
    expect(res.body.error.details).toEqual([{ path: 'parameters.__proto__', message: "'__proto__' is reserved" }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('a body over the limit → 413', async () => {
    const small = await startApp({ bodyLimit: '1kb' });
    try {
      const body = pipelineRequest([{ name: 'a', code: `x = "${'y'.repeat(4000)}"\n` }]);
      const res = await request(small.app).post('/api/jobs').set(auth('alice')).send(body).expect(413);
      expect(res.body).toEqual({ error: { code: 'too_large', message: 'request body is too large (limit 1kb)' } });
    } finally {
      await small.cleanup();
    }
  });

  test('a notebook is compiled on the server; /api/compile reports without running', async () => {
    const nb = {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [
        {
          cell_type: 'code',
          id: 'a',
          metadata: { tags: ['task:hello'] },
          source: 'print("hi")',
          outputs: [],
          execution_count: null,
        },
      ],
    };
    const compiled = await request(t.app)
      .post('/api/compile')
      .set(auth('alice'))
      .send({ notebook: { path: 'n.ipynb', content: nb } })
      .expect(200);
    expect(compiled.body.pipeline.spec.tasks.map((x: { name: string }) => x.name)).toEqual(['hello']);
    const broken = { ...nb, cells: [{ ...nb.cells[0], metadata: { tags: ['task:hello', 'after:nowhere'] } }] };
    const res = await request(t.app)
      .post('/api/compile')
      .set(auth('alice'))
      .send({ notebook: { path: 'n.ipynb', content: broken } })
      .expect(200);
    expect(res.body.pipeline).toBeUndefined();
    expect(res.body.diagnostics).toEqual(
      expect.arrayContaining([expect.objectContaining({ severity: 'error', cell: 1 })]),
    );

    const id = await submit('alice', { notebook: { path: 'n.ipynb', content: nb } });
    const job = await waitForJob(t.service, id);
    expect(job.state).toBe('succeeded');
  });
});

describe('jobs and ownership', () => {
  let aliceJob: string;
  beforeAll(async () => {
    aliceJob = await submit('alice', pipelineRequest([{ name: 'a', code: 'print("hello from a")\n' }]));
    await waitForJob(t.service, aliceJob);
  });

  test('owner and admins read a job; another user gets 404', async () => {
    const own = await request(t.app).get(`/api/jobs/${aliceJob}`).set(auth('alice')).expect(200);
    expect(JobSchema.parse(own.body)).toMatchObject({ id: aliceJob, owner: 'alice', state: 'succeeded' });
    await request(t.app).get(`/api/jobs/${aliceJob}`).set(auth('root')).expect(200);
    const other = await request(t.app).get(`/api/jobs/${aliceJob}`).set(auth('bob')).expect(404);
    expect(other.body).toEqual({ error: { code: 'not_found', message: `job ${aliceJob} not found` } });
    for (const [method, path] of [
      ['post', `/api/jobs/${aliceJob}/cancel`],
      ['post', `/api/jobs/${aliceJob}/rerun`],
      ['delete', `/api/jobs/${aliceJob}`],
      ['get', `/api/jobs/${aliceJob}/tasks/a/logs`],
      ['get', `/api/jobs/${aliceJob}/tasks/a/notebook`],
    ] as const) {
      const res = await request(t.app)[method](path).set(auth('bob'));
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
  });

  test('malformed ids and unknown tasks', async () => {
    const res = await request(t.app).get('/api/jobs/NOT_AN_ID').set(auth('alice')).expect(400);
    expect(res.body).toEqual({
      error: {
        code: 'invalid',
        message: 'params.id: not a job id',
        details: [{ path: 'params.id', message: 'not a job id' }],
      },
    });
    const task = await request(t.app).get(`/api/jobs/${aliceJob}/tasks/zzz/logs`).set(auth('alice')).expect(404);
    expect(task.body).toEqual({ error: { code: 'not_found', message: `job ${aliceJob} has no task "zzz"` } });
    const route = await request(t.app).get('/api/nothing').set(auth('alice')).expect(404);
    expect(route.body).toEqual({ error: { code: 'not_found', message: 'no route for GET /api/nothing' } });
  });

  test('lists: users see their own jobs, admins everyone (and can filter)', async () => {
    const bobJob = await submit('bob', pipelineRequest([{ name: 'b', code: 'pass\n' }]));
    await waitForJob(t.service, bobJob);
    const ids = async (who: 'alice' | 'bob' | 'root', qs = '') =>
      JobListSchema.parse((await request(t.app).get(`/api/jobs${qs}`).set(auth(who)).expect(200)).body).items.map(
        (j) => j.id,
      );
    expect(await ids('alice')).toContain(aliceJob);
    expect(await ids('alice')).not.toContain(bobJob);
    expect(await ids('bob')).toEqual([bobJob]);
    expect(await ids('root')).toEqual(expect.arrayContaining([aliceJob, bobJob]));
    expect(await ids('root', '?user=bob')).toEqual([bobJob]);
    const forbidden = await request(t.app).get('/api/jobs?user=alice').set(auth('bob')).expect(403);
    expect(forbidden.body).toEqual({
      error: { code: 'forbidden', message: "only admins and teammates sharing their jobs can list other users' jobs" },
    });
    const badState = await request(t.app).get('/api/jobs?state=done').set(auth('alice')).expect(400);
    expect(badState.body.error.details[0].path).toBe('query.state.0');
  });

  test('pagination walks every job once, newest first', async () => {
    const mine: string[] = [];
    for (let i = 0; i < 3; i++)
      mine.push(await submit('root', pipelineRequest([{ name: 'p', code: 'pass\n' }], {}, { name: `page-${i}` })));
    await Promise.all(mine.map((id) => waitForJob(t.service, id)));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await request(t.app)
        .get(`/api/jobs?user=root&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
        .set(auth('root'))
        .expect(200);
      const page = JobListSchema.parse(res.body);
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(pages).toBe(2);
    expect(seen).toEqual([...mine].reverse());
    const bad = await request(t.app).get('/api/jobs?cursor=nonsense').set(auth('root')).expect(400);
    expect(bad.body).toEqual({
      error: {
        code: 'invalid',
        message: 'not a cursor from a previous page',
        details: [{ path: 'query.cursor', message: 'not a cursor from a previous page' }],
      },
    });
  });

  test('logs, executed notebook, result and artifacts', async () => {
    const id = await submit(
      'alice',
      pipelineRequest([
        {
          name: 'w',
          code: 'import os\nprint("line one")\nopen(os.path.join(os.environ["CELLPIPE_OUTPUT_DIR"], "out.txt"), "w").write("artifact!")\n',
        },
      ]),
    );
    await waitForJob(t.service, id);
    const logs = await request(t.app).get(`/api/jobs/${id}/tasks/w/logs`).set(auth('alice')).expect(200);
    expect(logs.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(logs.text).toContain('line one');
    const nb = await request(t.app).get(`/api/jobs/${id}/tasks/w/notebook`).set(auth('alice')).expect(200);
    expect(nb.headers['content-type']).toContain('application/x-ipynb+json');
    expect(JSON.parse(nb.text ?? String(nb.body))).toHaveProperty('cells');
    const result = await request(t.app).get(`/api/jobs/${id}/tasks/w/result`).set(auth('alice')).expect(200);
    expect(result.body.status).toBe('succeeded');
    const art = await request(t.app).get(`/api/jobs/${id}/tasks/w/artifacts/out.txt`).set(auth('alice')).expect(200);
    expect(art.text).toBe('artifact!');
    expect(art.headers['content-security-policy']).toContain('sandbox');
    await request(t.app).get(`/api/jobs/${id}/tasks/w/artifacts/missing.txt`).set(auth('alice')).expect(404);
    const escape = await request(t.app).get(`/api/jobs/${id}/tasks/w/artifacts/..%2F..%2Fjob.json`).set(auth('alice'));
    expect([400, 404]).toContain(escape.status);
  });

  test('followed logs stream until the task ends', async () => {
    const id = await submit(
      'alice',
      pipelineRequest([
        {
          name: 'slow',
          code: 'import time, sys\nprint("first", flush=True)\ntime.sleep(1.5)\nprint("second", flush=True)\n',
        },
      ]),
    );
    const res = await request(t.app).get(`/api/jobs/${id}/tasks/slow/logs?follow=1`).set(auth('alice')).expect(200);
    expect(res.text).toMatch(/first[\s\S]*second/);
    expect(t.service.get(id)?.tasks[0]?.state).toBe('succeeded');
  });

  test('cancel a running job, then delete it; deleting an unfinished job → 409', async () => {
    const id = await submit('alice', pipelineRequest([{ name: 'sleepy', code: 'import time\ntime.sleep(60)\n' }]));
    await waitForJob(t.service, id, (j) => j.tasks[0]?.state === 'running');
    const conflict = await request(t.app).delete(`/api/jobs/${id}`).set(auth('alice')).expect(409);
    expect(conflict.body.error.code).toBe('conflict');
    await request(t.app).post(`/api/jobs/${id}/cancel`).set(auth('alice')).expect(200);
    const job = await waitForJob(t.service, id);
    expect(job.state).toBe('cancelled');
    expect(job.tasks[0]?.state).toBe('cancelled');
    await request(t.app).delete(`/api/jobs/${id}`).set(auth('alice')).expect(204);
    await request(t.app).get(`/api/jobs/${id}`).set(auth('alice')).expect(404);
  });

  test('rerun of failed tasks reuses what succeeded', async () => {
    const id = await submit(
      'alice',
      pipelineRequest([
        { name: 'ok', code: 'x = 1\n', outputs: ['x'] },
        { name: 'bad', code: 'raise ValueError("boom")\n', dependsOn: ['ok'], inputs: ['x'] },
      ]),
    );
    const failed = await waitForJob(t.service, id);
    expect(failed.state).toBe('failed');
    const res = await request(t.app)
      .post(`/api/jobs/${id}/rerun`)
      .set(auth('alice'))
      .send({ mode: 'failed' })
      .expect(201);
    const rerun = JobSchema.parse(res.body);
    expect(rerun.parentJobId).toBe(id);
    expect(rerun.owner).toBe('alice');
    const done = await waitForJob(t.service, rerun.id);
    expect(done.tasks.find((x) => x.name === 'ok')).toMatchObject({ state: 'succeeded', reused: true });
    const badMode = await request(t.app)
      .post(`/api/jobs/${id}/rerun`)
      .set(auth('alice'))
      .send({ mode: 'some' })
      .expect(400);
    expect(badMode.body.error.details[0].path).toBe('mode');
  });

  test("an admin's re-run of another user's job stays that user's job, recorded as re-run by the admin", async () => {
    const id = await submit('alice', pipelineRequest([{ name: 'once', code: 'pass\n' }]));
    await waitForJob(t.service, id);
    const res = await request(t.app).post(`/api/jobs/${id}/rerun`).set(auth('root')).send({}).expect(201);
    const rerun = JobSchema.parse(res.body);
    expect(rerun).toMatchObject({ owner: 'alice', submittedBy: 'root', parentJobId: id });
    // The owner sees it (in the list and by id); the admin's own list does not claim it.
    const mine = await request(t.app).get('/api/jobs').set(auth('alice')).expect(200);
    expect(mine.body.items.find((j: { id: string }) => j.id === rerun.id)).toMatchObject({ submittedBy: 'root' });
    await request(t.app).get(`/api/jobs/${rerun.id}`).set(auth('alice')).expect(200);
    const roots = await request(t.app).get('/api/jobs?user=root').set(auth('root')).expect(200);
    expect(roots.body.items.map((j: { id: string }) => j.id)).not.toContain(rerun.id);
    // The owner's own re-run records nobody else.
    const own = await request(t.app).post(`/api/jobs/${id}/rerun`).set(auth('alice')).send({}).expect(201);
    expect(JobSchema.parse(own.body).submittedBy).toBeUndefined();
  });

  test('inventory', async () => {
    const res = await request(t.app).get('/api/inventory').set(auth('alice')).expect(200);
    expect(InventorySchema.parse(res.body).executor).toBe('local');
  });
});

describe('events', () => {
  test('SSE delivers a job’s changes in order, only to those who may see them', async () => {
    const srv = await listen(t.app);
    // EventSource cannot set headers: the token comes in the query.
    const alice = new SseStream(`${srv.url}/api/events?token=${TOKENS.alice}`);
    const bob = new SseStream(`${srv.url}/api/events`, auth('bob'));
    const root = new SseStream(`${srv.url}/api/events`, auth('root'));
    const anon = new SseStream(`${srv.url}/api/events`);
    try {
      await Promise.all([alice.ready, bob.ready, root.ready, anon.ready]);
      expect([alice.status, bob.status, root.status, anon.status]).toEqual([200, 200, 200, 401]);
      const id = await submit(
        'alice',
        pipelineRequest([
          { name: 'first', code: 'pass\n' },
          { name: 'second', code: 'pass\n', dependsOn: ['first'] },
        ]),
      );
      const finished = (s: SseStream) => () =>
        s.events.some(
          (e) => e.event === 'job' && (e.data as JobSummary).id === id && (e.data as JobSummary).state === 'succeeded',
        );
      await alice.until(finished(alice), 'job succeeded on alice’s stream');
      await root.until(finished(root), 'job succeeded on the admin’s stream');

      const mine = alice.events.filter(
        (e) => (e.event === 'job' ? (e.data as JobSummary).id : (e.data as TaskEvent).jobId) === id,
      );
      const taskStates = (name: string) =>
        mine
          .filter((e) => e.event === 'task' && (e.data as TaskEvent).task.name === name)
          .map((e) => (e.data as TaskEvent).task.state);
      // States only move forward, and the dependent task starts after its upstream finished.
      const order = ['pending', 'queued', 'running', 'succeeded'];
      for (const name of ['first', 'second']) {
        const states = taskStates(name);
        expect(states[states.length - 1]).toBe('succeeded');
        const ranks = states.map((s) => order.indexOf(s));
        expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
      }
      const idx = (pred: (e: (typeof mine)[number]) => boolean) => mine.findIndex(pred);
      const firstDone = idx(
        (e) =>
          e.event === 'task' &&
          (e.data as TaskEvent).task.name === 'first' &&
          (e.data as TaskEvent).task.state === 'succeeded',
      );
      const secondRuns = idx(
        (e) =>
          e.event === 'task' &&
          (e.data as TaskEvent).task.name === 'second' &&
          (e.data as TaskEvent).task.state === 'running',
      );
      expect(firstDone).toBeLessThan(secondRuns);
      const last = mine[mine.length - 1];
      expect(last?.event).toBe('job');
      expect((last?.data as JobSummary).state).toBe('succeeded');

      // Bob saw nothing of Alice's job, but the stream is alive (heartbeats).
      await bob.until(() => bob.comments > 0, 'a heartbeat');
      expect(bob.events).toEqual([]);

      // A stream filtered to a job starts with a snapshot of it.
      const snap = new SseStream(`${srv.url}/api/events?job=${id}`, auth('alice'));
      await snap.ready;
      await snap.until(() => snap.events.length >= 3, 'the snapshot');
      expect(snap.events.map((e) => e.event)).toEqual(['job', 'task', 'task']);
      expect((snap.events[0]?.data as JobSummary).state).toBe('succeeded');
      snap.close();
      const hidden = new SseStream(`${srv.url}/api/events?job=${id}`, auth('bob'));
      await hidden.ready;
      expect(hidden.status).toBe(404);
      hidden.close();
    } finally {
      for (const s of [alice, bob, root, anon]) s.close();
      await srv.close();
    }
  });

  test('closed streams leave no listeners behind', async () => {
    // A fresh app, so streams closing from other tests cannot move the count.
    const fresh = await startApp();
    const srv = await listen(fresh.app);
    const s = new SseStream(`${srv.url}/api/events`, auth('alice'));
    try {
      const before = fresh.service.events.listenerCount('task');
      await s.ready;
      await s.until(() => fresh.service.events.listenerCount('task') === before + 1, 'the listener');
      s.close();
      await s.until(() => fresh.service.events.listenerCount('task') === before, 'the listener to go', 5000);
    } finally {
      s.close();
      await srv.close();
      await fresh.cleanup();
    }
  });
});

describe('errors', () => {
  test('an unexpected failure → 500 without internals, logged; 4xx are not logged', async () => {
    const logged: string[] = [];
    // The one faked boundary: a service whose inventory breaks.
    const broken = Object.assign(Object.create(t.service) as JobService, {
      inventory: () => Promise.reject(new Error('disk on fire')),
    });
    const app = createApp({
      service: broken,
      authenticator: new TokenAuthenticator([{ token: TOKENS.alice, user: 'alice', admin: false }]),
      logError: (message) => logged.push(message),
      defaultMetrics: false,
    });
    const res = await request(app).get('/api/inventory').set(auth('alice')).expect(500);
    expect(res.body).toEqual({ error: { code: 'internal', message: 'internal server error' } });
    expect(logged).toEqual(['GET /api/inventory failed:']);
    await request(app).get('/api/jobs/zzzzzzzz').set(auth('alice')).expect(404);
    await request(app).get('/api/me').expect(401);
    expect(logged).toHaveLength(1);
  });
});

describe('metrics', () => {
  test('Prometheus text with job, task, submission, request and process metrics', async () => {
    await request(t.app).post('/api/jobs').set(auth('alice')).send({}).expect(400);
    const id = await submit('alice', pipelineRequest([{ name: 'm', code: 'pass\n' }]));
    await waitForJob(t.service, id);
    await request(t.app).get(`/api/jobs/${id}`).set(auth('alice')).expect(200);
    const res = await request(t.app).get('/metrics').expect(200);
    expect(res.headers['content-type']).toContain('text/plain');
    const text = res.text;
    const succeeded = Number(/^cellpipe_jobs\{state="succeeded"\} (\d+)$/m.exec(text)?.[1]);
    expect(succeeded).toBeGreaterThan(0);
    expect(text).toMatch(/^cellpipe_jobs\{state="running"\} \d+$/m);
    expect(text).toMatch(/^cellpipe_tasks\{state="succeeded"\} \d+$/m);
    expect(Number(/^cellpipe_job_submissions_total\{result="accepted"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(Number(/^cellpipe_job_submissions_total\{result="rejected"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(text).toMatch(
      /^cellpipe_http_request_duration_seconds_count\{method="GET",route="\/api\/jobs\/:id",status="200"\} \d+$/m,
    );
    expect(text).toMatch(/^process_cpu_user_seconds_total \d/m);
  });
});
