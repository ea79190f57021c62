/**
 * Schedules across real crashes: `cellpipe serve` (server/dist, built by `npm run build`) with a
 * schedule firing every few seconds is SIGKILLed across a due slot and started again on the same
 * home. Exactly one job exists for that slot; a schedule paused before its slot never fires, across
 * the restart too. Real parts throughout: the CLI process, its SQLite file, python3 tasks.
 *
 * @slow (npm test runs it; npm run test:fast leaves it out)
 */
import { jest } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CellpipeClient } from '../src/client/api-client.js';
import { cliJs, kill, serve } from './serve-fixtures.js';
import { request } from './jobs-fixtures.js';

jest.setTimeout(180_000);

let home: string;
let server: ChildProcess | undefined;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'cellpipe-sched-restart-'));
});
afterEach(async () => {
  if (server && server.exitCode === null) await kill(server, 'SIGTERM');
  rmSync(home, { recursive: true, force: true });
});

const sleepUntil = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms - Date.now())));

async function jobsOf(client: CellpipeClient, scheduleId: string) {
  const list = await client.listJobs({ limit: 500 });
  return list.items.filter((j) => j.scheduleId === scheduleId);
}

test('kill -9 across a due slot: one job for that slot; a schedule paused before its slot never fires', async () => {
  expect(existsSync(cliJs)).toBe(true);
  let { child, client } = await serve(home);
  server = child;
  const req = request([{ name: 'tick', code: 'pass' }]);
  await client.savePipeline({ pipeline: { ...req.pipeline!, metadata: { name: 'ticker' } }, files: req.files! });
  // Catch-up all: the slot missed while the server was down fires however long the restart takes
  // (under skip, a restart slower than one interval would record it as missed instead).
  const every = await client.createSchedule({
    name: 'every4s',
    pipeline: 'ticker',
    every: '4s',
    concurrency: 'allow',
    catchup: 'all',
    maxCatchup: 100,
  });
  const paused = await client.createSchedule({ name: 'held', pipeline: 'ticker', every: '4s' });
  const held = await client.pauseSchedule(paused.id);
  expect(held.state).toBe('paused');
  expect(Date.parse(held.updatedAt)).toBeLessThan(Date.parse(paused.nextFires[0]!));

  // Let one slot fire normally, then kill the server just before the next one.
  await untilAsync(async () => (await jobsOf(client, every.id)).length > 0, 'the first fire');
  const next = Date.parse((await client.getSchedule(every.id)).nextFires[0]!);
  await sleepUntil(next - 800);
  await kill(child, 'SIGKILL');
  // What the dead server had fired: not yet this slot.
  const firedBefore = await readSlots();
  await sleepUntil(next + 500); // the slot passes while nothing runs

  ({ child, client } = await serve(home));
  server = child;
  const slot = new Date(next).toISOString();
  await untilAsync(
    async () => (await jobsOf(client, every.id)).some((j) => j.scheduleSlot === slot),
    'the missed slot to fire',
  );
  // A second crash right after that fire must not fire it again.
  await kill(child, 'SIGKILL');
  ({ child, client } = await serve(home));
  server = child;
  await untilAsync(
    async () => (await jobsOf(client, every.id)).some((j) => Date.parse(j.scheduleSlot!) > next),
    'a later slot',
  );

  const jobs = await jobsOf(client, every.id);
  expect(jobs.filter((j) => j.scheduleSlot === slot)).toHaveLength(1);
  // No slot anywhere has two jobs.
  const slots = jobs.map((j) => j.scheduleSlot);
  expect(new Set(slots).size).toBe(slots.length);
  expect(firedBefore.length).toBeGreaterThan(0);
  expect(firedBefore).not.toContain(slot);
  const history = await client.scheduleHistory(every.id, { limit: 500 });
  expect(history.items.filter((r) => r.slot === slot)).toEqual([
    expect.objectContaining({
      jobId: jobs.find((j) => j.scheduleSlot === slot)!.id,
      outcome: 'succeeded',
    }),
  ]);

  // The paused schedule stayed paused through both restarts and never fired.
  expect(await jobsOf(client, paused.id)).toEqual([]);
  expect(await client.getSchedule(paused.id)).toMatchObject({ state: 'paused', nextFires: [] });

  // Pause the ticking one, restart, wait past two of its slots: nothing more fires.
  await client.pauseSchedule(every.id);
  const count = (await jobsOf(client, every.id)).length;
  await kill(child, 'SIGKILL');
  ({ child, client } = await serve(home));
  server = child;
  await sleepUntil(Date.now() + 9_000);
  expect(await jobsOf(client, every.id)).toHaveLength(count);

  async function readSlots(): Promise<string[]> {
    // The server is down: read the history straight from its SQLite file.
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(home, 'cellpipe.db'), { readonly: true });
    try {
      const rows = db
        .prepare('SELECT slot FROM schedule_runs WHERE schedule_id = ? AND job_id IS NOT NULL')
        .all(every.id) as { slot: number }[];
      return rows.map((r) => new Date(r.slot).toISOString());
    } finally {
      db.close();
    }
  }
});

/** `until` for checks that need the API. */
async function untilAsync(check: () => Promise<boolean>, what: string, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
