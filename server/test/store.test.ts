/** The SQLite store on a real database file. */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PipelineSchema } from '@cellpipe/schema';
import { StoreError } from '../src/store/errors.js';
import { migrate, SqliteStore } from '../src/store/sqlite-store.js';
import { MIGRATIONS } from '../src/store/migrations.js';
import type { JobRecord, TaskRecord } from '../src/store/store.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cellpipe-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const pipeline = PipelineSchema.parse({
  apiVersion: 'cellpipe.io/v1',
  kind: 'Pipeline',
  metadata: { name: 'p' },
  spec: { tasks: [{ name: 'a', source: { kind: 'script', path: 'a.py' } }] },
});

function job(id: string, owner: string, state: JobRecord['state'] = 'pending'): JobRecord {
  return {
    id,
    name: 'p',
    owner,
    state,
    executor: 'local',
    createdAt: new Date().toISOString(),
    pipeline,
    parameters: { lr: 0.1 },
  };
}
const task = (name: string): TaskRecord => ({
  name,
  state: 'pending',
  dependsOn: [],
  resources: {},
  attempt: 0,
  maxAttempts: 1,
  outputs: [],
  artifacts: [],
});

test('migrations run once, in order, and are recorded; WAL is on', () => {
  const file = join(dir, 'cellpipe.db');
  const store = new SqliteStore(file);
  expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
  store.close();
  const db = new Database(file);
  expect(migrate(db)).toEqual([]);
  const next = MIGRATIONS.length + 1;
  expect(migrate(db, [...MIGRATIONS, { version: next, name: 'extra', sql: 'CREATE TABLE extra (x INTEGER)' }])).toEqual(
    [next],
  );
  const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
  expect(rows).toEqual([
    ...MIGRATIONS.map((m) => ({ version: m.version, name: m.name })),
    { version: next, name: 'extra' },
  ]);
  db.close();
});

test('jobs, tasks, attempts and transitions round-trip and survive reopening', () => {
  const file = join(dir, 'cellpipe.db');
  let store = new SqliteStore(file);
  store.insertJob(
    job('job0001', 'alice'),
    [task('a'), task('b')],
    new Map([['a', { cells: [{ index: 0, source: 'x = 1' }] }]]),
  );
  store.apply({
    job: { id: 'job0001', state: 'running', startedAt: '2026-01-01T00:00:00.000Z' },
    tasks: [{ jobId: 'job0001', task: { ...task('b'), state: 'running', attempt: 1, placement: 'local' } }],
    attempts: [
      {
        jobId: 'job0001',
        task: 'b',
        attempt: 1,
        state: 'running',
        handle: { pid: 12, startTime: 34, devices: '' },
        createdAt: 'x',
      },
    ],
    transitions: [{ jobId: 'job0001', task: 'b', from: 'queued', to: 'running', at: 'y', note: 'attempt 1' }],
  });
  store.close();
  store = new SqliteStore(file);
  expect(store.getJob('job0001')).toMatchObject({
    state: 'running',
    owner: 'alice',
    parameters: { lr: 0.1 },
    pipeline,
  });
  expect(store.taskBase('job0001', 'a')).toEqual({ cells: [{ index: 0, source: 'x = 1' }] });
  expect(store.taskBase('job0001', 'b')).toBeUndefined();
  // Task order is the pipeline's, even after updates.
  expect(store.getTasks('job0001').map((t) => [t.name, t.state, t.placement])).toEqual([
    ['a', 'pending', undefined],
    ['b', 'running', 'local'],
  ]);
  expect(store.openAttempts()).toEqual([
    {
      jobId: 'job0001',
      task: 'b',
      attempt: 1,
      state: 'running',
      handle: { pid: 12, startTime: 34, devices: '' },
      createdAt: 'x',
    },
  ]);
  expect(store.activeJobIds()).toEqual(['job0001']);
  expect(store.transitions('job0001').map((t) => `${t.task ?? 'job'}:${t.from ?? ''}>${t.to}`)).toEqual([
    'job:>pending',
    'b:queued>running',
  ]);
  store.apply({ job: { id: 'job0001', state: 'succeeded', error: undefined } });
  expect(store.activeJobIds()).toEqual([]);
  store.deleteJob('job0001');
  expect(store.getJob('job0001')).toBeUndefined();
  expect(store.getTasks('job0001')).toEqual([]);
  expect(store.attempts('job0001')).toEqual([]);
  store.close();
});

test('lists newest first with cursor pagination and owner/state filters', () => {
  const store = new SqliteStore(join(dir, 'cellpipe.db'));
  for (let i = 0; i < 7; i++)
    store.insertJob(job(`job000${i}`, i % 2 ? 'bob' : 'alice', i === 3 ? 'failed' : 'pending'), [task('a')]);
  const page1 = store.listJobs({ limit: 3 });
  expect(page1.items.map((j) => j.id)).toEqual(['job0006', 'job0005', 'job0004']);
  expect(page1.items[0]!.taskCounts).toEqual({ pending: 1 });
  expect(page1.items[0]!.parameters).toEqual({ lr: 0.1 });
  const page2 = store.listJobs({ limit: 3, cursor: page1.nextCursor! });
  expect(page2.items.map((j) => j.id)).toEqual(['job0003', 'job0002', 'job0001']);
  const page3 = store.listJobs({ limit: 3, cursor: page2.nextCursor! });
  expect(page3.items.map((j) => j.id)).toEqual(['job0000']);
  expect(page3.nextCursor).toBeUndefined();
  expect(() => store.listJobs({ limit: 3, cursor: 'garbage' })).toThrow(StoreError);
  expect(store.listJobs({ limit: 10, owner: 'bob' }).items.map((j) => j.id)).toEqual(['job0005', 'job0003', 'job0001']);
  expect(store.listJobs({ limit: 10, owner: 'bob', state: 'failed' }).items.map((j) => j.id)).toEqual(['job0003']);
  store.close();
});

test('filters by several states, words of the name, id or owner, and creation time; counts all matches', () => {
  const store = new SqliteStore(join(dir, 'cellpipe.db'));
  const rows: [string, string, string, JobRecord['state'], string][] = [
    ['job0001', 'train-resnet', 'alice', 'succeeded', '2024-05-01T10:00:00.000Z'],
    ['job0002', 'train-vit', 'bob', 'failed', '2024-05-02T10:00:00.000Z'],
    ['job0003', 'eval_50%', 'alice', 'running', '2024-05-03T10:00:00.000Z'],
    ['job0004', 'evalX50', 'carol', 'pending', '2024-05-04T10:00:00.000Z'],
  ];
  for (const [id, name, owner, state, createdAt] of rows) {
    store.insertJob({ ...job(id, owner, state), name, createdAt }, [task('a')]);
  }
  const ids = (q: Omit<Parameters<SqliteStore['listJobs']>[0], 'limit'>) => {
    const page = store.listJobs({ limit: 10, ...q });
    return { ids: page.items.map((j) => j.id), total: page.total };
  };
  expect(ids({ states: ['running', 'pending'] })).toEqual({ ids: ['job0004', 'job0003'], total: 2 });
  expect(ids({ search: 'TRAIN' })).toEqual({ ids: ['job0002', 'job0001'], total: 2 });
  expect(ids({ search: 'train alice' })).toEqual({ ids: ['job0001'], total: 1 });
  expect(ids({ search: '0003' })).toEqual({ ids: ['job0003'], total: 1 });
  // % and _ are the characters typed, not LIKE wildcards.
  expect(ids({ search: '50%' })).toEqual({ ids: ['job0003'], total: 1 });
  expect(ids({ search: 'eval_' })).toEqual({ ids: ['job0003'], total: 1 });
  expect(ids({ createdFrom: '2024-05-02T00:00:00.000Z', createdBefore: '2024-05-04T00:00:00.000Z' })).toEqual({
    ids: ['job0003', 'job0002'],
    total: 2,
  });
  // The total counts every page, not just this one.
  const first = store.listJobs({ limit: 1, owner: 'alice' });
  expect({ ids: first.items.map((j) => j.id), total: first.total }).toEqual({ ids: ['job0003'], total: 2 });
  expect(store.listJobs({ limit: 1, owner: 'alice', cursor: first.nextCursor! }).total).toBe(2);
  store.close();
});

test('counts the tasks and jobs of unfinished jobs, and lists queued tasks oldest job first', () => {
  const store = new SqliteStore(join(dir, 'cellpipe.db'));
  const queued = (name: string, extra: Partial<TaskRecord> = {}): TaskRecord => ({
    ...task(name),
    state: 'queued',
    ...extra,
  });
  store.insertJob(job('job0001', 'alice', 'running'), [
    { ...task('a'), state: 'running' },
    queued('b', { resources: { gpu: 1 }, waitingReason: 'waiting for a free nvidia.com/gpu (0 of 1 free)' }),
  ]);
  store.insertJob(job('job0002', 'bob', 'pending'), [queued('c'), task('d')]);
  store.insertJob(job('job0003', 'alice', 'succeeded'), [{ ...task('e'), state: 'succeeded' }, queued('f')]);
  expect(store.activeTaskCounts()).toEqual({ running: 1, queued: 2, pending: 1 });
  expect(store.activeTaskCounts('alice')).toEqual({ running: 1, queued: 1 });
  expect(store.activeJobCounts()).toEqual({ running: 1, pending: 1 });
  expect(store.activeJobCounts('carol')).toEqual({});
  expect(store.queuedTasks().map((q) => `${q.jobId}/${q.owner}/${q.task.name}`)).toEqual([
    'job0001/alice/b',
    'job0002/bob/c',
  ]);
  expect(store.queuedTasks()[0]!.task.waitingReason).toBe('waiting for a free nvidia.com/gpu (0 of 1 free)');
  store.close();
});

test('a failing change is rolled back as a whole', () => {
  const store = new SqliteStore(join(dir, 'cellpipe.db'));
  store.insertJob(job('job0001', 'alice'), [task('a')]);
  expect(() =>
    store.apply({
      tasks: [{ jobId: 'job0001', task: { ...task('a'), state: 'running' } }],
      // Unknown job: violates the foreign key, so the task update above must not stick either.
      attempts: [{ jobId: 'nojob', task: 'a', attempt: 1, state: 'starting', handle: null, createdAt: 'x' }],
    }),
  ).toThrow();
  expect(store.getTasks('job0001')[0]!.state).toBe('pending');
  store.close();
});

describe('state counts (what /metrics reads)', () => {
  const JOB_STATES = ['pending', 'running', 'succeeded', 'failed', 'cancelled'] as const;
  const TASK_STATES = ['pending', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped'] as const;

  /** The truth, counted row by row. */
  function counted(store: SqliteStore): { jobs: Record<string, number>; tasks: Record<string, number> } {
    const count = (table: string): Record<string, number> =>
      Object.fromEntries(
        (
          store.db.prepare(`SELECT state, count(*) AS n FROM ${table} GROUP BY state`).all() as {
            state: string;
            n: number;
          }[]
        ).map((r) => [r.state, r.n]),
      );
    return { jobs: count('jobs'), tasks: count('tasks') };
  }
  const nonZero = (c: Partial<Record<string, number>>): Record<string, number> =>
    Object.fromEntries(Object.entries(c).filter(([, n]) => n)) as Record<string, number>;

  test('follow every insert, change of state and deletion, in the same transaction', () => {
    const store = new SqliteStore(join(dir, 'cellpipe.db'));
    let seed = 7;
    const rand = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) {
      const op = rand(10);
      if (op < 4 || ids.length === 0) {
        const id = `job${String(i).padStart(4, '0')}`;
        store.insertJob(job(id, 'alice'), [task('a'), task('b')]);
        ids.push(id);
      } else if (op < 9) {
        const id = ids[rand(ids.length)]!;
        store.apply({
          job: { id, state: JOB_STATES[rand(JOB_STATES.length)]! },
          tasks: [{ jobId: id, task: { ...task(rand(2) ? 'a' : 'b'), state: TASK_STATES[rand(TASK_STATES.length)]! } }],
        });
      } else {
        store.deleteJob(ids.splice(rand(ids.length), 1)[0]!);
      }
      if (i % 50 === 0) expect(nonZero(store.stateCounts().tasks)).toEqual(counted(store).tasks);
    }
    const counts = store.stateCounts();
    expect(nonZero(counts.jobs)).toEqual(counted(store).jobs);
    expect(nonZero(counts.tasks)).toEqual(counted(store).tasks);
    store.close();
  });

  test('a database from before the counts gets them from its existing rows', () => {
    const file = join(dir, 'cellpipe.db');
    const store = new SqliteStore(file);
    store.insertJob(job('job0001', 'alice', 'succeeded'), [task('a'), task('b')]);
    store.insertJob(job('job0002', 'bob', 'failed'), [task('a')]);
    // As the database was before migration 6.
    store.db.exec(`DROP TABLE state_counts;
      DROP TRIGGER jobs_count_insert; DROP TRIGGER jobs_count_delete; DROP TRIGGER jobs_count_update;
      DROP TRIGGER tasks_count_insert; DROP TRIGGER tasks_count_delete; DROP TRIGGER tasks_count_update;
      DELETE FROM schema_migrations WHERE version = 6;`);
    store.close();
    const again = new SqliteStore(file);
    expect(again.stateCounts()).toEqual({ jobs: { succeeded: 1, failed: 1 }, tasks: { pending: 3 } });
    again.close();
  });
});
