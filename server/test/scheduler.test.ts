/**
 * Scheduler rules on an injected clock, with real SQLite stores: time zones, both DST transitions,
 * pause/delete/update racing a due slot, restarts, downtime under each catch-up policy, concurrency
 * policies, max runs, end dates, auto-pause, retention, and the history every slot leaves.
 */
import type { CreateScheduleInput } from '@cellpipe/schema';
import { CreateScheduleRequestSchema } from '@cellpipe/schema';
import { ValidationError } from '../src/jobs/errors.js';
import { buildTrigger, nextSlots } from '../src/scheduler/trigger.js';
import { Bed, savePipeline } from './scheduler-fixtures.js';

let bed: Bed;
const OWNER = 'alice';

async function open(start: string, lateAfterMs?: number): Promise<Bed> {
  bed = new Bed(start, lateAfterMs);
  savePipeline(bed.pipelines, OWNER, 'nightly');
  await bed.start();
  return bed;
}

afterEach(async () => {
  await bed?.cleanup();
});

function create(input: Partial<CreateScheduleInput> & { cron?: string; every?: string }) {
  return bed.service.create(OWNER, CreateScheduleRequestSchema.parse({ name: 'sched', pipeline: 'nightly', ...input }));
}

const iso = (s: string): string => new Date(s).toISOString();
const history = (id: string) => bed.service.history(id, 100).items.reverse();

describe('time zones and DST (the written rule)', () => {
  const slots = (cron: string, timezone: string, from: string, n: number): string[] =>
    nextSlots(buildTrigger({ cron, timezone }, Date.parse(from)), Date.parse(from), n).map((t) =>
      new Date(t).toISOString(),
    );

  it.each([
    ['0 9 * * *', 'America/New_York', '2026-07-01T00:00:00Z', ['2026-07-01T13:00:00.000Z', '2026-07-02T13:00:00.000Z']],
    ['0 9 * * *', 'Asia/Kolkata', '2026-07-01T00:00:00Z', ['2026-07-01T03:30:00.000Z', '2026-07-02T03:30:00.000Z']],
    ['0 9 * * *', 'UTC', '2026-07-01T00:00:00Z', ['2026-07-01T09:00:00.000Z', '2026-07-02T09:00:00.000Z']],
    ['@daily', 'Australia/Sydney', '2026-07-01T00:00:00Z', ['2026-07-01T14:00:00.000Z', '2026-07-02T14:00:00.000Z']],
  ])('%s in %s', (cron, tz, from, expected) => {
    expect(slots(cron, tz, from, 2)).toEqual(expected);
  });

  it('a local time that does not exist (Europe/Berlin 2026-03-29 02:30) runs once at the next valid time', async () => {
    await open('2026-03-27T12:00:00Z');
    const s = await create({ cron: '30 2 * * *', timezone: 'Europe/Berlin', concurrency: 'allow' });
    expect(s.nextFires.slice(0, 3)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 02:30 does not exist: 03:00 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
    await bed.advanceTo('2026-03-30T12:00:00Z');
    expect(bed.jobs.slots(s.id)).toEqual(s.nextFires.slice(0, 3));
  });

  it('a local time that occurs twice (Europe/Berlin 2026-10-25 02:30) runs once, at its first occurrence', async () => {
    await open('2026-10-24T12:00:00Z');
    const s = await create({ cron: '30 2 * * *', timezone: 'Europe/Berlin', concurrency: 'allow' });
    await bed.advanceTo('2026-10-26T12:00:00Z');
    expect(bed.jobs.slots(s.id)).toEqual(['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
  });

  it('an hourly cron keeps one fire per real hour across both transitions', () => {
    expect(slots('30 * * * *', 'Europe/Berlin', '2026-10-24T23:00:00Z', 4)).toEqual([
      '2026-10-24T23:30:00.000Z', // 01:30 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T01:30:00.000Z', // 02:30 CET
      '2026-10-25T02:30:00.000Z', // 03:30 CET
    ]);
    expect(slots('30 * * * *', 'Europe/Berlin', '2026-03-29T00:00:00Z', 2)).toEqual([
      '2026-03-29T00:30:00.000Z', // 01:30 CET
      '2026-03-29T01:30:00.000Z', // 03:30 CEST (02:30 does not exist)
    ]);
  });

  it('asked in any order, a trigger answers as one asked for the first time', () => {
    const spec = {
      cron: '*/20 1-3 * * *',
      timezone: 'Europe/Berlin',
      startAt: '2026-10-24T00:10:00Z',
      endAt: '2026-10-25T03:00:00Z',
    };
    const base = Date.parse('2026-10-23T22:00:00Z');
    const reused = buildTrigger(spec, base);
    let seed = 7;
    for (let i = 0; i < 300; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      const at = base + (seed % (3 * 86_400_000));
      // Again from the same instant, from just past it, and from the slot found.
      for (const after of [at, at + 1, reused.next(at) ?? at])
        expect(reused.next(after)).toBe(buildTrigger(spec, base).next(after));
    }
  });

  it('two local times that land on one instant fire once', () => {
    // 02:00 and 02:30 do not exist on 2026-03-29: both would run at 03:00, which is also a slot.
    expect(slots('0,30 2-3 * * *', 'Europe/Berlin', '2026-03-28T23:00:00Z', 2)).toEqual([
      '2026-03-29T01:00:00.000Z',
      '2026-03-29T01:30:00.000Z',
    ]);
  });
});

describe('pause, delete and update against a due slot', () => {
  it('a schedule paused just before its slot does not fire, and its slot is recorded on resume', async () => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ cron: '0 * * * *' });
    await bed.advanceTo('2026-05-01T00:59:59.900Z');
    await bed.service.pause(s.id, OWNER);
    await bed.advanceTo('2026-05-01T02:30:00Z');
    expect(bed.jobs.slots(s.id)).toEqual([]);
    expect(bed.service.detail(s.id).nextFires).toEqual([]);
    // A restart while paused changes nothing.
    await bed.stop();
    await bed.start();
    await bed.advanceTo('2026-05-01T02:45:00Z');
    expect(bed.jobs.slots(s.id)).toEqual([]);
    await bed.service.resume(s.id, OWNER);
    await bed.advanceTo('2026-05-01T03:00:00Z');
    expect(bed.jobs.slots(s.id)).toEqual(['2026-05-01T03:00:00.000Z']);
    const rows = history(s.id);
    expect(rows[0]).toMatchObject({
      outcome: 'skipped',
      reason: 'paused',
      count: 2,
      slot: iso('2026-05-01T01:00Z'),
      lastSlot: iso('2026-05-01T02:00Z'),
    });
    expect(rows[1]).toMatchObject({ outcome: 'running', slot: iso('2026-05-01T03:00Z') });
  });

  it('resume can catch up the newest paused slot, or all of them up to maxCatchup', async () => {
    await open('2026-05-01T00:00:00Z');
    const a = await create({ name: 'a', cron: '0 * * * *' });
    const b = await create({ name: 'b', cron: '0 * * * *', maxCatchup: 2, concurrency: 'allow' });
    await bed.service.pause(a.id, OWNER);
    await bed.service.pause(b.id, OWNER);
    await bed.advanceTo('2026-05-01T04:30:00Z');
    await bed.service.resume(a.id, OWNER, 'latest');
    await bed.service.resume(b.id, OWNER, 'all');
    expect(bed.jobs.slots(a.id)).toEqual([iso('2026-05-01T04:00Z')]);
    expect(bed.jobs.slots(b.id)).toEqual([iso('2026-05-01T03:00Z'), iso('2026-05-01T04:00Z')]);
    expect(history(b.id)[0]).toMatchObject({ reason: 'paused', count: 2 });
  });

  it('a deleted schedule never fires, even from a timer armed before the delete', async () => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ cron: '0 * * * *' });
    await bed.advanceTo('2026-05-01T00:59:00Z');
    await bed.service.delete(s.id);
    await bed.advanceTo('2026-05-01T03:00:00Z');
    expect(bed.jobs.slots(s.id)).toEqual([]);
    expect(bed.schedules.get(s.id)).toBeUndefined();
  });

  it('an update in place moves the slots: the old next slot never fires, the new ones do', async () => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ cron: '0 3 * * *', timezone: 'UTC', parameters: { lr: 0.5 }, concurrency: 'allow' });
    await bed.advanceTo('2026-05-01T02:00:00Z');
    const updated = await bed.service.update(
      s.id,
      { cron: '30 4 * * *', timezone: 'Europe/Berlin', parameters: { lr: 0.7 } },
      OWNER,
    );
    expect(updated.revision).toBe(s.revision + 1);
    expect(updated.nextFires[0]).toBe('2026-05-01T02:30:00.000Z'); // 04:30 CEST
    await bed.advanceTo('2026-05-02T12:00:00Z');
    expect(bed.jobs.slots(s.id)).toEqual(['2026-05-01T02:30:00.000Z', '2026-05-02T02:30:00.000Z']);
    const job = [...bed.jobs.jobs.values()][0]!;
    expect(job.parameters).toEqual({ lr: 0.7 });
  });

  it('a change that lands between the decision and the commit wins: the old decision fires nothing', async () => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ cron: '0 * * * *' });
    bed.jobs.beforeCommit = () => {
      bed.jobs.beforeCommit = undefined;
      // A pause written straight to the store at the worst moment.
      bed.store.transaction(() => {
        const cur = bed.schedules.get(s.id)!;
        bed.schedules.save({ ...cur, state: 'paused', stateReason: 'paused by bob', revision: cur.revision + 1 });
      });
    };
    await bed.advanceTo('2026-05-01T01:30:00Z');
    expect(bed.jobs.slots(s.id)).toEqual([]);
    expect(bed.store.listJobs({ limit: 10 }).items).toEqual([]);
    expect(history(s.id)).toEqual([]);
  });

  it('an edit that lands between the decision and the commit is the one that fires', async () => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ cron: '0 * * * *', parameters: { lr: 0.5 } });
    bed.jobs.beforeCommit = () => {
      bed.jobs.beforeCommit = undefined;
      bed.store.transaction(() => {
        const cur = bed.schedules.get(s.id)!;
        bed.schedules.save({ ...cur, spec: { ...cur.spec, parameters: { lr: 0.9 } }, revision: cur.revision + 1 });
      });
    };
    await bed.advanceTo('2026-05-01T01:30:00Z');
    const jobs = bed.store.listJobs({ limit: 10 }).items;
    expect(jobs.map((j) => [j.scheduleSlot, j.parameters])).toEqual([[iso('2026-05-01T01:00Z'), { lr: 0.9 }]]);
  });
});

describe('restarts', () => {
  it('a crash inside the fire transaction leaves nothing, and the restart fires the slot exactly once', async () => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ cron: '0 * * * *' });
    bed.jobs.beforeInsert = () => bed.crash();
    await bed.advanceTo('2026-05-01T01:00:00Z');
    expect(bed.store.listJobs({ limit: 10 }).items).toEqual([]);
    expect(bed.schedules.get(s.id)!.cursor).toBeLessThan(Date.parse('2026-05-01T01:00:00Z'));
    await bed.stop();
    bed.jobs.beforeInsert = undefined;
    bed.jump('2026-05-01T01:00:20Z');
    await bed.start();
    await bed.stop();
    await bed.start();
    await bed.advanceTo('2026-05-01T01:30:00Z');
    expect(bed.jobs.slots(s.id)).toEqual([iso('2026-05-01T01:00Z')]);
    expect(bed.store.listJobs({ limit: 10 }).items.map((j) => j.scheduleSlot)).toEqual([iso('2026-05-01T01:00Z')]);
    expect(history(s.id)).toEqual([expect.objectContaining({ outcome: 'running', message: 'fired 20 s late' })]);
  });

  it('a restart after a fire never fires that slot again; the store refuses a second fire of a slot', async () => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ cron: '0 * * * *' });
    await bed.advanceTo('2026-05-01T01:00:00Z');
    await bed.stop();
    await bed.start();
    await bed.advanceTo('2026-05-01T01:10:00Z');
    expect(bed.jobs.slots(s.id)).toEqual([iso('2026-05-01T01:00Z')]);
    const slot = Date.parse('2026-05-01T01:00:00Z');
    expect(() =>
      bed.schedules.addRun({ scheduleId: s.id, slot, lastSlot: slot, count: 1, jobId: 'zzzzzzzz', outcome: 'running' }),
    ).toThrow(/UNIQUE/);
  });

  it.each([
    ['skip', ['2026-05-01T02:00:00.000Z'], [{ reason: 'missed', count: 3 }]],
    ['latest', ['2026-05-01T02:00:00.000Z', '2026-05-04T02:00:00.000Z'], [{ reason: 'missed', count: 2 }]],
    [
      'all',
      ['2026-05-01T02:00:00.000Z', '2026-05-03T02:00:00.000Z', '2026-05-04T02:00:00.000Z'],
      [{ reason: 'catchup-limit', count: 1 }],
    ],
  ] as const)('downtime over three slots with catch-up %s', async (catchup, fired, skipped) => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ cron: '0 2 * * *', catchup, maxCatchup: 2, concurrency: 'allow' });
    await bed.advanceTo('2026-05-01T12:00:00Z');
    await bed.stop();
    bed.jump('2026-05-04T12:00:00Z'); // 02:00 on the 2nd, 3rd and 4th passed while down, the newest 10 h ago
    await bed.start();
    expect(bed.jobs.slots(s.id)).toEqual(fired);
    expect(history(s.id).filter((r) => r.outcome === 'skipped')).toEqual([
      expect.objectContaining({ ...skipped[0], slot: iso('2026-05-02T02:00Z') }),
    ]);
    await bed.advanceTo('2026-05-05T03:00:00Z');
    expect(bed.jobs.slots(s.id)).toEqual([...fired, '2026-05-05T02:00:00.000Z']);
  });

  it('the newest slot within lateAfter still runs after a short downtime; older ones count as missed', async () => {
    await open('2026-05-01T00:00:00Z', 3_600_000);
    const s = await create({ cron: '*/10 * * * *' });
    await bed.advanceTo('2026-05-01T00:05:00Z');
    await bed.stop();
    bed.jump('2026-05-01T00:35:00Z');
    await bed.start();
    expect(bed.jobs.slots(s.id)).toEqual([iso('2026-05-01T00:30Z')]);
    expect(history(s.id)[0]).toMatchObject({
      reason: 'missed',
      count: 2,
      slot: iso('2026-05-01T00:10Z'),
      lastSlot: iso('2026-05-01T00:20Z'),
    });
  });
});

describe('policies and limits', () => {
  it.each(['allow', 'forbid', 'replace'] as const)(
    'concurrency %s while the previous run is still going',
    async (concurrency) => {
      await open('2026-05-01T00:00:00Z');
      const s = await create({ every: '1m', concurrency });
      await bed.advanceTo('2026-05-01T00:01:00Z');
      const [first] = bed.jobs.running(s.id);
      expect(first).toBeDefined();
      await bed.advanceTo('2026-05-01T00:02:00Z');
      const all = [...bed.jobs.jobs.values()].filter((j) => j.scheduleId === s.id);
      if (concurrency === 'allow') {
        expect(bed.jobs.running(s.id)).toHaveLength(2);
      } else if (concurrency === 'forbid') {
        expect(all).toHaveLength(1);
        expect(history(s.id)[1]).toMatchObject({
          outcome: 'skipped',
          reason: 'concurrency',
          slot: iso('2026-05-01T00:02Z'),
        });
      } else {
        expect(all).toHaveLength(2);
        expect(bed.jobs.get(first!.id)!.state).toBe('cancelled');
        expect(bed.jobs.running(s.id).map((j) => j.scheduleSlot)).toEqual([iso('2026-05-01T00:02Z')]);
        expect(history(s.id)[0]).toMatchObject({
          outcome: 'cancelled',
          message: expect.stringMatching(/^replaced by job /),
        });
      }
    },
  );

  it('max runs: the schedule ends after its last run', async () => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ every: '1h', maxRuns: 2, concurrency: 'allow' });
    expect(s.nextFires).toHaveLength(2);
    await bed.advanceTo('2026-05-01T05:00:00Z');
    expect(bed.jobs.slots(s.id)).toHaveLength(2);
    const after = bed.service.detail(s.id);
    expect(after).toMatchObject({ state: 'ended', runs: 2, nextFires: [] });
    expect(after.stateReason).toMatch(/maxRuns 2/);
  });

  it('max runs lowered below the runs made: the next slot does not run and the schedule ends', async () => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ every: '1h', maxRuns: 5, concurrency: 'allow' });
    await bed.advanceTo('2026-05-01T03:30:00Z');
    await bed.service.update(s.id, { maxRuns: 2 }, OWNER);
    await bed.advanceTo('2026-05-01T06:00:00Z');
    expect(bed.jobs.slots(s.id)).toHaveLength(3);
    expect(history(s.id)[3]).toMatchObject({ outcome: 'skipped', reason: 'max-runs', slot: iso('2026-05-01T04:00Z') });
    expect(bed.service.detail(s.id)).toMatchObject({ state: 'ended', nextFires: [] });
  });

  it('end date: no slot after endAt fires and the schedule ends', async () => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ cron: '0 * * * *', endAt: '2026-05-01T02:00:00Z', concurrency: 'allow' });
    expect(s.nextFires).toEqual([iso('2026-05-01T01:00Z'), iso('2026-05-01T02:00Z')]);
    await bed.advanceTo('2026-05-01T06:00:00Z');
    expect(bed.jobs.slots(s.id)).toEqual([iso('2026-05-01T01:00Z'), iso('2026-05-01T02:00Z')]);
    expect(bed.service.detail(s.id)).toMatchObject({ state: 'ended', stateReason: expect.stringMatching(/endAt/) });
  });

  it('start date: nothing fires before startAt; intervals count from it', async () => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ every: '30m', startAt: '2026-05-01T03:10:00Z' });
    expect(s.nextFires.slice(0, 2)).toEqual([iso('2026-05-01T03:10Z'), iso('2026-05-01T03:40Z')]);
    await bed.advanceTo('2026-05-01T03:00:00Z');
    expect(bed.jobs.slots(s.id)).toEqual([]);
  });

  it('pauses itself after N failed runs in a row, saying why; a success resets the count', async () => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ every: '1h', pauseAfterFailures: 2 });
    const endNext = async (at: string, state: 'succeeded' | 'failed') => {
      await bed.advanceTo(at);
      const [job] = bed.jobs.running(s.id);
      bed.jobs.end(job!.id, state, state === 'failed' ? 'task train failed' : undefined);
      await bed.advanceTo(at);
      return job!.id;
    };
    await endNext('2026-05-01T01:00:00Z', 'failed');
    await endNext('2026-05-01T02:00:00Z', 'succeeded');
    await endNext('2026-05-01T03:00:00Z', 'failed');
    expect(bed.service.detail(s.id).state).toBe('active');
    const last = await endNext('2026-05-01T04:00:00Z', 'failed');
    const paused = bed.service.detail(s.id);
    expect(paused.state).toBe('paused');
    expect(paused.stateReason).toBe(
      `paused after 2 failed runs in a row (last: job ${last} failed: task train failed)`,
    );
    await bed.advanceTo('2026-05-01T08:00:00Z');
    expect(bed.jobs.slots(s.id)).toHaveLength(4);
  });

  it('retention keeps the newest N succeeded and M failed runs and deletes older jobs', async () => {
    await open('2026-05-01T00:00:00Z');
    const s = await create({ every: '1h', keepSucceeded: 2, keepFailed: 1 });
    const outcomes = ['succeeded', 'failed', 'succeeded', 'succeeded', 'failed', 'succeeded'] as const;
    for (const [i, outcome] of outcomes.entries()) {
      await bed.advanceTo(Date.parse('2026-05-01T00:00:00Z') + (i + 1) * 3_600_000);
      bed.jobs.end(bed.jobs.running(s.id)[0]!.id, outcome);
      await bed.advanceTo(bed.clock.now());
    }
    const runs = history(s.id);
    const kept = runs.filter((r) => !r.pruned).map((r) => r.outcome);
    expect(kept).toEqual(['succeeded', 'failed', 'succeeded']);
    expect(runs.filter((r) => r.pruned)).toHaveLength(3);
    const stored = bed.store
      .listJobs({ limit: 50 })
      .items.map((j) => j.id)
      .sort();
    expect(stored).toEqual(
      runs
        .filter((r) => !r.pruned)
        .map((r) => r.jobId)
        .sort(),
    );
  });

  it('a pinned version runs that version; latest follows new versions at fire time', async () => {
    await open('2026-05-01T00:00:00Z');
    const pinned = await create({ name: 'pinned', every: '1h', version: 1, concurrency: 'allow' });
    const latest = await create({ name: 'latest', every: '1h', concurrency: 'allow' });
    savePipeline(bed.pipelines, OWNER, 'nightly', 'x = lr * 3');
    await bed.advanceTo('2026-05-01T01:00:00Z');
    const versionOf = (id: string) =>
      [...bed.jobs.jobs.values()].find((j) => j.scheduleId === id)!.pipelineRef!.version;
    expect(versionOf(pinned.id)).toBe(1);
    expect(versionOf(latest.id)).toBe(2);
  });
});

describe('bad input names the field', () => {
  beforeEach(async () => {
    await open('2026-05-01T00:00:00Z');
  });

  it.each([
    [{ cron: '61 * * * *' }, 'cron', /minute/],
    [{ cron: '0 0 * * * *' }, 'cron', /5 fields/],
    [{ cron: '0 0 31 2 *' }, 'cron', /never fires/],
    [{ cron: '0 * * * *', every: '1h' }, 'every', /either cron or every/],
    [{}, 'cron', /cron expression or an interval/],
    [{ every: '1h', startAt: '2026-06-02T00:00:00Z', endAt: '2026-06-01T00:00:00Z' }, 'endAt', /must be after startAt/],
    [{ every: '1h', endAt: '2026-04-01T00:00:00Z' }, 'endAt', /in the past/],
    [{ every: '1h', version: 9 }, 'version', /has no version 9 \(versions 1 to 1\)/],
    [{ every: '1h', pipeline: 'nope' }, 'pipeline', /no saved pipeline 'nope'/],
    [{ every: '1h', parameters: { lr: 'fast' } }, 'parameters.lr', /must be of type number/],
  ])('%j → %s', async (input, path, message) => {
    const err = await create(input).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).path).toBe(path);
    expect((err as ValidationError).message).toMatch(message);
  });

  it.each([
    [{ maxRuns: 0 }, 'maxRuns', 'maxRuns must be at least 1'],
    [{ timezone: 'Mars/Olympus' }, 'timezone', 'unknown IANA time zone'],
  ])('%j is refused by the request schema', (input, path, message) => {
    const r = CreateScheduleRequestSchema.safeParse({ name: 's', pipeline: 'nightly', every: '1h', ...input });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]).toMatchObject({ path: [path], message });
  });
});
