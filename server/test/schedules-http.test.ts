/**
 * /api/schedules through the real HTTP app: whole error bodies naming the field, ownership, update in
 * place, pause/resume, preview from the scheduler's function, and a schedule firing a real job.
 */
import { jest } from '@jest/globals';
import request from 'supertest';
import { ScheduleDetailSchema, ScheduleHistorySchema } from '@cellpipe/schema';
import { auth, startApp, type TestApp } from './http-helpers.js';
import { request as pipelineRequest, waitForJob } from './jobs-fixtures.js';

jest.setTimeout(120_000);

let t: TestApp;
beforeEach(async () => {
  t = await startApp();
  const req = pipelineRequest([{ name: 'train', code: 'print(lr)' }], {
    parameters: { lr: { default: 0.1, type: 'number' } },
  });
  const saved = await request(t.app)
    .post('/api/pipelines')
    .set(auth('alice'))
    .send({ pipeline: { ...req.pipeline, metadata: { name: 'nightly' } }, files: req.files });
  expect(saved.status).toBe(201);
});
afterEach(async () => {
  await t.cleanup();
});

const create = (body: Record<string, unknown>, who: 'alice' | 'bob' = 'alice') =>
  request(t.app)
    .post('/api/schedules')
    .set(auth(who))
    .send({ name: 'n1', pipeline: 'nightly', ...body });

describe('/api/schedules', () => {
  it.each([
    [{ cron: '61 * * * *' }, 'cron', "cron '61 * * * *': Invalid value for minute: 61"],
    [{ cron: '0 0 * * * *' }, 'cron', expect.stringContaining('must have 5 fields')],
    [{ cron: '0 2 * * *', timezone: 'Europe/Atlantis' }, 'timezone', 'timezone: unknown IANA time zone'],
    [
      { every: '1h', startAt: '2030-01-02T00:00:00Z', endAt: '2030-01-01T00:00:00Z' },
      'endAt',
      'endAt (2030-01-01T00:00:00Z) must be after startAt (2030-01-02T00:00:00Z)',
    ],
    [{ every: '1h', maxRuns: 0 }, 'maxRuns', 'maxRuns: maxRuns must be at least 1'],
    [{ every: '1h', version: 4 }, 'version', "pipeline 'nightly' has no version 4 (versions 1 to 1)"],
    [{ every: '1h', startAt: 'tomorrow' }, 'startAt', 'startAt: must be an ISO 8601 time with a Z or offset'],
  ])('%j is refused naming %s', async (body, path, message) => {
    const res = await create(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'invalid', message, details: [expect.objectContaining({ path })] });
  });

  it('shows the next fires from the scheduler, updates in place, pauses and resumes', async () => {
    const res = await create({ cron: '30 2 * * *', timezone: 'Europe/Berlin', parameters: { lr: 0.5 } });
    expect(res.status).toBe(201);
    const s = ScheduleDetailSchema.parse(res.body);
    expect(s).toMatchObject({
      state: 'active',
      owner: 'alice',
      version: 'latest',
      concurrency: 'forbid',
      catchup: 'skip',
    });
    expect(s.nextFires).toHaveLength(5);
    const preview = await request(t.app)
      .post('/api/schedules/preview')
      .set(auth('alice'))
      .send({ cron: '30 2 * * *', timezone: 'Europe/Berlin' });
    expect(preview.body.fires).toEqual(s.nextFires);

    const updated = await request(t.app)
      .patch(`/api/schedules/${s.id}`)
      .set(auth('alice'))
      .send({ cron: '0 6 * * 1', timezone: 'Asia/Tokyo', maxRuns: 3 });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      id: s.id,
      cron: '0 6 * * 1',
      timezone: 'Asia/Tokyo',
      maxRuns: 3,
      revision: s.revision + 1,
    });
    expect(updated.body.nextFires).toHaveLength(3);
    for (const f of updated.body.nextFires as string[]) {
      // 06:00 on a Monday in Tokyo is 21:00 UTC on Sunday.
      expect(new Date(f).getUTCDay()).toBe(0);
      expect(f.slice(11, 16)).toBe('21:00');
    }
    const cleared = await request(t.app).patch('/api/schedules/n1').set(auth('alice')).send({ maxRuns: null });
    expect(cleared.body.maxRuns).toBeUndefined();

    const paused = await request(t.app).post(`/api/schedules/${s.id}/pause`).set(auth('alice'));
    expect(paused.body).toMatchObject({ state: 'paused', stateReason: 'paused by alice', nextFires: [] });
    const resumed = await request(t.app).post('/api/schedules/n1/resume').set(auth('alice')).send({});
    expect(resumed.body).toMatchObject({ state: 'active', stateReason: 'resumed by alice' });
    expect(resumed.body.nextFires).toHaveLength(5);
  });

  it("spec.schedule declares the pipeline's schedule: created on save, updated in place by later saves", async () => {
    const req = pipelineRequest([{ name: 'train', code: 'print(1)' }]);
    const withSchedule = (cron: string) => ({
      pipeline: {
        ...req.pipeline!,
        metadata: { name: 'declared' },
        spec: { ...req.pipeline!.spec, schedule: { cron, timezone: 'Europe/Berlin', paused: false } },
      },
      files: req.files,
    });
    const first = await request(t.app).post('/api/pipelines').set(auth('alice')).send(withSchedule('0 6 * * *'));
    expect(first.body.schedule).toMatchObject({ name: 'declared', action: 'created' });
    const again = await request(t.app).post('/api/pipelines').set(auth('alice')).send(withSchedule('0 6 * * *'));
    expect(again.body).toMatchObject({ created: false, schedule: { id: first.body.schedule.id, action: 'unchanged' } });
    const moved = await request(t.app).post('/api/pipelines').set(auth('alice')).send(withSchedule('0 7 * * *'));
    expect(moved.body).toMatchObject({ created: true, schedule: { id: first.body.schedule.id, action: 'updated' } });
    const s = (await request(t.app).get('/api/schedules/declared').set(auth('alice'))).body;
    expect(s).toMatchObject({ pipeline: 'declared', version: 'latest', cron: '0 7 * * *', timezone: 'Europe/Berlin' });
  });

  it("keeps users apart: another user's schedule is not found", async () => {
    const s = (await create({ every: '1h' })).body;
    for (const [method, path] of [
      ['get', `/api/schedules/${s.id}`],
      ['patch', `/api/schedules/${s.id}`],
      ['post', `/api/schedules/${s.id}/pause`],
      ['delete', `/api/schedules/${s.id}`],
      ['get', `/api/schedules/${s.id}/history`],
    ] as const) {
      const res = await request(t.app)[method](path).set(auth('bob')).send({});
      expect(res.status).toBe(404);
    }
    expect((await request(t.app).get('/api/schedules').set(auth('bob'))).body.items).toEqual([]);
    expect((await request(t.app).get('/api/schedules').set(auth('root'))).body.items).toHaveLength(1);
    // Bob has no pipeline 'nightly': his own namespace.
    const bobs = await create({ every: '1h' }, 'bob');
    expect(bobs.body.error.details[0].path).toBe('pipeline');
    const again = await create({ every: '1h' });
    expect(again.status).toBe(409);
    expect(again.body.error.details).toEqual([{ path: 'name', message: "you already have a schedule named 'n1'" }]);
    // A rename onto a name the owner already uses is the same conflict.
    const other = ScheduleDetailSchema.parse((await create({ every: '2h', name: 'n2' })).body);
    const renamed = await request(t.app).patch(`/api/schedules/${other.id}`).set(auth('alice')).send({ name: 'n1' });
    expect(renamed.status).toBe(409);
    expect(renamed.body.error.details[0].path).toBe('name');
  });

  it('fires a real job on its interval, recorded in the history with its slot; pause stops it', async () => {
    const s = ScheduleDetailSchema.parse((await create({ every: '1s', parameters: { lr: 0.25 } })).body);
    const job = await new Promise<{ id: string; scheduleSlot?: string }>((resolve) => {
      const on = (j: { id: string; scheduleId?: string; scheduleSlot?: string }) => {
        if (j.scheduleId === s.id) {
          t.service.events.off('job', on);
          resolve(j);
        }
      };
      t.service.events.on('job', on);
    });
    const done = await waitForJob(t.service, job.id);
    expect(done).toMatchObject({ state: 'succeeded', scheduleId: s.id, parameters: { lr: 0.25 } });
    expect(done.pipelineRef).toMatchObject({ name: 'nightly', version: 1 });
    await request(t.app).post(`/api/schedules/${s.id}/pause`).set(auth('alice'));
    await t.scheduling.scheduler.idle();
    const page = ScheduleHistorySchema.parse(
      (await request(t.app).get(`/api/schedules/${s.id}/history`).set(auth('alice'))).body,
    );
    const fired = page.items.find((r) => r.jobId === job.id)!;
    expect(fired).toMatchObject({ slot: job.scheduleSlot, version: 1, outcome: 'succeeded' });
    const deleted = await request(t.app).delete(`/api/schedules/${s.id}`).set(auth('alice'));
    expect(deleted.status).toBe(204);
    expect(t.service.get(job.id)?.scheduleId).toBe(s.id);
  });
});
