/**
 * Notifications of a job's end through the real parts: targets created over the HTTP API, jobs run by
 * the local executor on python3, the outbox written by the orchestrator's end-of-job transaction in
 * SQLite, and deliveries to real HTTP receivers started by the tests (a webhook and a Slack
 * stand-in): the exact payload and its signature, the Slack message within Block Kit's limits, which
 * rule sends what, retries of a dead endpoint that never touch the job, and who may use which target.
 */
import { jest } from '@jest/globals';
import { createHmac } from 'node:crypto';
import request from 'supertest';
import {
  DeliveryListSchema,
  JobEndEventSchema,
  TargetListSchema,
  TargetSchema,
  TargetWithSecretSchema,
  type Delivery,
  type Job,
} from '@cellpipe/schema';
import { jobEndEvent } from '../src/notifications/event.js';
import { jobLink } from '../src/links.js';
import { auth, startApp, type TestApp } from './http-helpers.js';
import { request as pipelineRequest, taskOf, until, waitForJob } from './jobs-fixtures.js';
import { startReceiver, type Receiver } from './receiver.js';
import { SlackWebhookMessageSchema } from './slack-block-kit.js';

jest.setTimeout(180_000);

const LAB = 'https://hub.example.org/hub/user-redirect';

let h: TestApp;
let receiver: Receiver;
beforeAll(async () => {
  h = await startApp({ jobLink: (id) => jobLink(LAB, id) }, {}, { labUrl: LAB });
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  await h.cleanup();
});
beforeEach(() => {
  receiver.received.length = 0;
  receiver.answer = () => ({ status: 200, body: 'ok' });
});

async function createTarget(who: 'alice' | 'bob' | 'root', body: Record<string, unknown>) {
  const res = await request(h.app).post('/api/notifications/targets').set(auth(who)).send(body);
  expect(res.status).toBe(201);
  return TargetWithSecretSchema.parse(res.body);
}

async function deliveries(jobId: string, who: 'alice' | 'bob' | 'root' = 'alice'): Promise<Delivery[]> {
  const res = await request(h.app).get(`/api/jobs/${jobId}/notifications`).set(auth(who)).expect(200);
  return DeliveryListSchema.parse(res.body).items;
}

/** Until every delivery of the job has settled (delivered or failed). */
async function settled(app: TestApp, jobId: string): Promise<Delivery[]> {
  let items: Delivery[] = [];
  await until(
    () => {
      items = app.notifications.deliveries(jobId);
      return items.length > 0 && items.every((d) => d.state !== 'pending');
    },
    `the deliveries of ${jobId}`,
    90_000,
  );
  return items;
}

const TASKS = [
  { name: 'prep', code: 'import cellpipe\ncellpipe.report(rows=120)\nx = 1', outputs: ['x'] },
  {
    name: 'fit',
    code: 'import cellpipe\ncellpipe.report(accuracy=0.5)\nraise ValueError("no convergence")',
    dependsOn: ['prep'],
    inputs: ['x'],
  },
];

async function submit(body: Record<string, unknown>, who: 'alice' | 'bob' | 'root' = 'alice'): Promise<Job> {
  const res = await request(h.app).post('/api/jobs').set(auth(who)).send(body);
  expect(res.status).toBe(201);
  return waitForJob(h.service, (res.body as Job).id);
}

describe('a webhook', () => {
  test('the receiver gets the exact event of the job end, signed with the secret given once; once', async () => {
    const target = await createTarget('alice', {
      name: 'ci',
      kind: 'webhook',
      url: `${receiver.url}/hook/private-part`,
    });
    expect(target.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.stringify(target)).not.toContain('private-part');
    const shown = TargetSchema.strict().parse(
      (await request(h.app).get(`/api/notifications/targets/${target.id}`).set(auth('alice')).expect(200)).body,
    );
    expect(shown).toMatchObject({
      name: 'ci',
      kind: 'webhook',
      scope: 'user',
      owner: 'alice',
      host: `127.0.0.1:${receiver.port}`,
      signed: true,
    });

    // The pipeline and the run both name it: one delivery.
    const req = pipelineRequest(TASKS, { notify: [{ on: 'failure', targets: ['ci'] }] });
    const job = await submit({ ...req, notify: [{ on: 'always', targets: ['ci'] }] });
    expect(job.state).toBe('failed');
    const [got] = await receiver.waitFor(1);
    expect(got!.method).toBe('POST');
    expect(got!.path).toBe('/hook/private-part');

    const ts = String(got!.headers['x-cellpipe-timestamp']);
    const hmac = createHmac('sha256', target.secret!).update(`${ts}.${got!.body}`).digest('hex');
    expect(got!.headers['x-cellpipe-signature']).toBe(`sha256=${hmac}`);
    expect(got!.headers['idempotency-key']).toBe(`${job.id}.ci`);

    // Exactly the event of the stored job's end, byte for byte.
    const stored = h.service.store.getJob(job.id)!;
    const expected = jobEndEvent(stored, h.service.store.getTasks(job.id), {
      key: `${job.id}.ci`,
      link: jobLink(LAB, job.id),
    });
    expect(got!.body).toBe(JSON.stringify(expected));
    const event = JobEndEventSchema.parse(JSON.parse(got!.body));
    expect(event).toMatchObject({
      type: 'job.finished',
      id: `${job.id}.ci`,
      job: { id: job.id, state: 'failed', owner: 'alice', error: '1 task failed: fit', finishedAt: stored.finishedAt },
      tasks: { total: 2, succeeded: 1, failed: 1, other: 0 },
      failedTask: { name: 'fit', error: { message: 'ValueError: no convergence', ename: 'ValueError', cell: 2 } },
      results: { prep: { rows: 120 }, fit: { accuracy: 0.5 } },
      link: `${LAB}/lab?cellpipe-job=${job.id}`,
    });

    const [d] = await settled(h, job.id);
    expect(d).toMatchObject({
      target: 'ci',
      kind: 'webhook',
      on: 'failure',
      state: 'delivered',
      idempotencyKey: `${job.id}.ci`,
    });
    expect(d!.attempts).toEqual([expect.objectContaining({ attempt: 1, statusCode: 200 })]);
    expect(await deliveries(job.id)).toEqual([d]);
    await h.notifications.idle();
    expect(receiver.received).toHaveLength(1);
  });

  test('on: success, failure or always decide what is sent; a cancelled job counts only for always', async () => {
    for (const on of ['success', 'failure', 'always']) {
      await createTarget('alice', { name: `on-${on}`, kind: 'webhook', url: `${receiver.url}/${on}` });
    }
    const notify = ['success', 'failure', 'always'].map((on) => ({ on, targets: [`on-${on}`] }));
    const ok = await submit({ ...pipelineRequest([{ name: 'a', code: 'pass' }]), notify });
    const bad = await submit({ ...pipelineRequest([{ name: 'a', code: '1/0' }]), notify });
    const slow = await request(h.app)
      .post('/api/jobs')
      .set(auth('alice'))
      .send({ ...pipelineRequest([{ name: 'a', code: 'import time\ntime.sleep(60)' }]), notify })
      .expect(201);
    await waitForJob(h.service, (slow.body as Job).id, (j) => j.tasks[0]!.state === 'running');
    await request(h.app)
      .post(`/api/jobs/${(slow.body as Job).id}/cancel`)
      .set(auth('alice'))
      .expect(200);
    const cancelled = await waitForJob(h.service, (slow.body as Job).id);
    for (const job of [ok, bad, cancelled]) await settled(h, job.id);
    const sent = (id: string) =>
      receiver.received
        .filter((r) => r.headers['idempotency-key']!.toString().startsWith(`${id}.`))
        .map((r) => r.path)
        .sort();
    expect(sent(ok.id)).toEqual(['/always', '/success']);
    expect(sent(bad.id)).toEqual(['/always', '/failure']);
    expect(sent(cancelled.id)).toEqual(['/always']);
  });

  test('per run of a saved pipeline and per schedule, on top of the pipeline', async () => {
    await createTarget('alice', { name: 'runs', kind: 'webhook', url: `${receiver.url}/runs` });
    await createTarget('alice', { name: 'sched', kind: 'webhook', url: `${receiver.url}/sched` });
    const req = pipelineRequest([{ name: 'a', code: 'pass' }]);
    await h.scheduling.pipelines.save('alice', {
      pipeline: { ...req.pipeline!, metadata: { name: 'notified' } },
      files: req.files!,
    });
    const run = await request(h.app)
      .post('/api/pipelines/notified/versions/latest/run')
      .set(auth('alice'))
      .send({ notify: [{ on: 'success', targets: ['runs'] }] })
      .expect(201);
    const ran = await waitForJob(h.service, (run.body as Job).id);
    expect(ran.notify).toEqual([{ on: 'success', targets: ['runs'] }]);
    const schedule = await request(h.app)
      .post('/api/schedules')
      .set(auth('alice'))
      .send({ name: 'often', pipeline: 'notified', every: '2s', notify: [{ on: 'always', targets: ['sched'] }] })
      .expect(201);
    await receiver.waitFor(2);
    await request(h.app)
      .post(`/api/schedules/${(schedule.body as { id: string }).id}/pause`)
      .set(auth('alice'))
      .expect(200);
    const fired = receiver.received.find((r) => r.path === '/sched')!;
    const event = JobEndEventSchema.parse(JSON.parse(fired.body));
    expect(event.job.scheduleId).toBe((schedule.body as { id: string }).id);
    expect(receiver.received.some((r) => r.path === '/runs' && r.headers['idempotency-key'] === `${ran.id}.runs`)).toBe(
      true,
    );
  });
});

test('a Slack target gets a Block Kit message: outcome, duration, the failing task with its error and cell, results, link', async () => {
  await createTarget('alice', { name: 'team', kind: 'slack', url: `${receiver.url}/services/T0/B0/xyz` });
  const job = await submit({ ...pipelineRequest(TASKS), notify: [{ on: 'failure', targets: ['team'] }] });
  const [got] = await receiver.waitFor(1);
  expect(got!.headers).not.toHaveProperty('x-cellpipe-signature');
  const message = SlackWebhookMessageSchema.parse(JSON.parse(got!.body));
  const text = JSON.stringify(message.blocks);
  expect(message.text).toBe(`Cellpipe: ${job.name} failed`);
  expect(text).toContain('*Failed task:* `fit` (cell 2)');
  expect(text).toContain('ValueError: no convergence');
  expect(text).toContain('*prep.rows*\\n120');
  expect(text).toContain(`"url":"${LAB}/lab?cellpipe-job=${job.id}"`);
});

describe('delivery that keeps its promise', () => {
  test('a dead endpoint: retried with growing waits, the job untouched, each attempt visible, given up in bounded time', async () => {
    const firstDelayMs = 100;
    const dead = await startApp({}, {}, { retry: { firstDelayMs, maxDelayMs: 400, giveUpAfterMs: 2500 } });
    try {
      // A port nothing listens on.
      const closed = await startReceiver();
      await closed.close();
      const { body } = await request(dead.app)
        .post('/api/notifications/targets')
        .set(auth('alice'))
        .send({ name: 'gone', kind: 'webhook', url: `${closed.url}/hook` })
        .expect(201);
      const submitted = await dead.service.submit('alice', {
        ...pipelineRequest([{ name: 'a', code: 'pass' }]),
        notify: [{ on: 'always', targets: ['gone'] }],
      });
      const job = await waitForJob(dead.service, submitted.id);
      expect(job.state).toBe('succeeded');
      expect(job.error).toBeUndefined();
      expect((body as { id: string }).id).toBeDefined();

      // While it is being retried: the attempts so far and when the next one is due.
      await until(() => (dead.notifications.deliveries(job.id)[0]?.attempts.length ?? 0) >= 2, 'two attempts');
      const [pending] = dead.notifications.deliveries(job.id);
      if (pending!.state === 'pending')
        expect(Date.parse(pending!.nextAttemptAt!)).toBeGreaterThan(Date.parse(pending!.attempts.at(-1)!.at));
      expect(pending!.attempts[0]!.error).toMatch(/ECONNREFUSED/);
      expect(pending!.attempts[0]!.statusCode).toBeUndefined();

      const [d] = await settled(dead, job.id);
      expect(d!.state).toBe('failed');
      expect(d!.error).toMatch(new RegExp(`^gave up after ${d!.attempts.length} attempts: .*ECONNREFUSED`));
      expect(d!.attempts.length).toBeGreaterThanOrEqual(4);
      // Each wait at least the backoff (100, 200, 400, 400 ms ...): never sooner.
      const starts = d!.attempts.map((a) => Date.parse(a.at));
      starts.slice(1).forEach((at, i) => {
        const waited = at - (starts[i]! + d!.attempts[i]!.durationMs);
        expect(waited).toBeGreaterThanOrEqual(Math.min(400, firstDelayMs * 2 ** i) - 5);
      });
      // The job did not change while its notification was retried.
      expect(dead.service.get(job.id)).toEqual(job);
    } finally {
      await dead.cleanup();
    }
  });

  test('a 4xx refusal fails at once; a 503 with Retry-After is tried again and then delivered', async () => {
    await createTarget('alice', { name: 'refuses', kind: 'webhook', url: `${receiver.url}/refuses` });
    await createTarget('alice', { name: 'busy', kind: 'webhook', url: `${receiver.url}/busy` });
    let busy = 0;
    receiver.answer = (r) =>
      r.path === '/refuses'
        ? { status: 410, body: 'channel archived' }
        : busy++ === 0
          ? { status: 503, body: 'later', headers: { 'retry-after': '1' } }
          : { status: 204 };
    const job = await submit({
      ...pipelineRequest([{ name: 'a', code: 'pass' }]),
      notify: [{ targets: ['refuses', 'busy'] }],
    });
    const items = await settled(h, job.id);
    const refused = items.find((d) => d.target === 'refuses')!;
    expect(refused).toMatchObject({ state: 'failed', error: 'HTTP 410 Gone: channel archived' });
    expect(refused.attempts).toHaveLength(1);
    const later = items.find((d) => d.target === 'busy')!;
    expect(later.state).toBe('delivered');
    expect(later.attempts.map((a) => a.statusCode)).toEqual([503, 204]);
    // Retry-After said one second, more than the backoff.
    expect(Date.parse(later.attempts[1]!.at) - Date.parse(later.attempts[0]!.at)).toBeGreaterThanOrEqual(1000);
  });
});

describe("nobody reads or uses another user's target", () => {
  test("list, show, change, delete, test: only one's own and site-wide; never a URL", async () => {
    const mine = await createTarget('alice', {
      name: 'alice-private',
      kind: 'slack',
      url: `${receiver.url}/alice-secret-url`,
    });
    const site = await createTarget('root', {
      name: 'site-alerts',
      kind: 'slack',
      url: `${receiver.url}/site-secret-url`,
      scope: 'site',
    });
    const bobs = TargetListSchema.parse(
      (await request(h.app).get('/api/notifications/targets').set(auth('bob')).expect(200)).body,
    );
    expect(bobs.items.map((t) => t.name)).toEqual(['site-alerts']);
    expect(bobs.items[0]).toMatchObject({ scope: 'site', host: `127.0.0.1:${receiver.port}` });
    for (const who of ['alice', 'bob', 'root'] as const) {
      const all = await request(h.app).get('/api/notifications/targets').set(auth(who)).expect(200);
      expect(JSON.stringify(all.body)).not.toMatch(/secret-url/);
    }
    for (const ref of [mine.id, 'alice-private']) {
      await request(h.app).get(`/api/notifications/targets/${ref}`).set(auth('bob')).expect(404);
      await request(h.app)
        .patch(`/api/notifications/targets/${ref}`)
        .set(auth('bob'))
        .send({ url: 'https://evil.example.org/' })
        .expect(404);
      await request(h.app).post(`/api/notifications/targets/${ref}/test`).set(auth('bob')).expect(404);
      await request(h.app).delete(`/api/notifications/targets/${ref}`).set(auth('bob')).expect(404);
    }
    await request(h.app).get('/api/notifications/targets?user=alice').set(auth('bob')).expect(403);
    // Site-wide: everyone may use it, only admins change it.
    await request(h.app)
      .patch(`/api/notifications/targets/${site.id}`)
      .set(auth('bob'))
      .send({ description: 'x' })
      .expect(404);
    await request(h.app).delete('/api/notifications/targets/site-alerts').set(auth('bob')).expect(404);
    const refused = await request(h.app)
      .post('/api/notifications/targets')
      .set(auth('bob'))
      .send({ name: 'mine-too', kind: 'slack', url: 'https://hooks.slack.com/x', scope: 'site' })
      .expect(400);
    expect(refused.body.error.details).toEqual([{ path: 'scope', message: 'only admins create site-wide targets' }]);
  });

  test("a run of bob's naming alice's target is refused, naming the field; the site-wide one is his to use", async () => {
    const res = await request(h.app)
      .post('/api/jobs')
      .set(auth('bob'))
      .send({
        ...pipelineRequest([{ name: 'a', code: 'pass' }]),
        notify: [{ on: 'always', targets: ['site-alerts', 'alice-private'] }],
      })
      .expect(400);
    expect(res.body.error.details[0]).toEqual({
      path: 'notify.0.targets.1',
      message:
        "no notification target 'alice-private' (yours or site-wide): define it with `cellpipe notify add alice-private`",
    });
    const inSpec = await request(h.app)
      .post('/api/jobs')
      .set(auth('bob'))
      .send(pipelineRequest([{ name: 'a', code: 'pass' }], { notify: [{ on: 'always', targets: ['alice-private'] }] }))
      .expect(400);
    expect(inSpec.body.error.details[0].path).toBe('pipeline.spec.notify.0.targets.0');
    receiver.received.length = 0;
    const job = await submit(
      { ...pipelineRequest([{ name: 'a', code: 'pass' }]), notify: [{ targets: ['site-alerts'] }] },
      'bob',
    );
    const [d] = await settled(h, job.id);
    expect(d).toMatchObject({ target: 'site-alerts', state: 'delivered' });
    expect(receiver.received.map((r) => r.path)).toEqual(['/site-secret-url']);
    // Bob sees his job's deliveries; Alice does not see Bob's job at all.
    await request(h.app).get(`/api/jobs/${job.id}/notifications`).set(auth('alice')).expect(404);
    expect(await deliveries(job.id, 'bob')).toHaveLength(1);
  });

  test('a target that went away between the run and its end: the delivery says so', async () => {
    await createTarget('alice', { name: 'short-lived', kind: 'webhook', url: `${receiver.url}/x` });
    const res = await request(h.app)
      .post('/api/jobs')
      .set(auth('alice'))
      .send({
        ...pipelineRequest([{ name: 'a', code: 'import time\ntime.sleep(1)' }]),
        notify: [{ targets: ['short-lived'] }],
      })
      .expect(201);
    await request(h.app).delete('/api/notifications/targets/short-lived').set(auth('alice')).expect(204);
    const job = await waitForJob(h.service, (res.body as Job).id);
    expect(taskOf(job, 'a').state).toBe('succeeded');
    const [d] = await settled(h, job.id);
    expect(d).toMatchObject({
      state: 'failed',
      error: "no notification target 'short-lived' for alice (yours or site-wide)",
    });
  });
});

test('user targets may not reach private networks unless an admin set them up (notifications.privateNetworks: admins)', async () => {
  const guarded = await startApp({}, {}, { privateNetworks: 'admins' });
  try {
    for (const [who, name] of [
      ['alice', 'local-alice'],
      ['root', 'local-root'],
    ] as const) {
      await request(guarded.app)
        .post('/api/notifications/targets')
        .set(auth(who))
        .send({ name, kind: 'webhook', url: `${receiver.url}/${name}` })
        .expect(201);
    }
    const a = await guarded.service.submit('alice', {
      ...pipelineRequest([{ name: 'a', code: 'pass' }]),
      notify: [{ on: 'always', targets: ['local-alice'] }],
    });
    const r = await guarded.service.submit('root', {
      ...pipelineRequest([{ name: 'a', code: 'pass' }]),
      notify: [{ on: 'always', targets: ['local-root'] }],
    });
    await waitForJob(guarded.service, a.id);
    await waitForJob(guarded.service, r.id);
    const [refused] = await settled(guarded, a.id);
    expect(refused).toMatchObject({
      state: 'failed',
      error:
        '127.0.0.1 resolves to 127.0.0.1, inside a private network: only targets an admin set up may reach those (notifications.privateNetworks)',
    });
    expect((await settled(guarded, r.id))[0]!.state).toBe('delivered');
    expect(receiver.received.map((x) => x.path)).toEqual(['/local-root']);
  } finally {
    await guarded.cleanup();
  }
});

test('the service URL of a job redirects to the monitor on it in JupyterLab', async () => {
  const res = await request(h.app).get('/jobs/abc123def').expect(302);
  expect(res.headers.location).toBe(`${LAB}/lab?cellpipe-job=abc123def`);
  await request(h.app).get('/jobs/..%2Fetc').expect(400);
});
