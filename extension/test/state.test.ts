import type { Activity, Job, JobSummary, TaskRun } from '@cellpipe/schema';
import { trans } from './trans.js';
import {
  actionFromEvent,
  elapsedMs,
  EMPTY_STATE,
  formatDuration,
  jobsReducer,
  laterSummary,
  statusText,
  type JobsState,
} from '../src/jobs/state.js';

const counts = { pending: 0, queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0, skipped: 0 };

function summary(id: string, createdAt: string, state: JobSummary['state'] = 'pending'): JobSummary {
  return { id, name: `job-${id}`, owner: 'ada', state, executor: 'local', createdAt, taskCounts: { ...counts } };
}

function task(name: string, state: TaskRun['state'], dependsOn: string[] = []): TaskRun {
  return { name, state, dependsOn, resources: {}, attempt: 0, maxAttempts: 1, outputs: [], artifacts: [] };
}

function job(s: JobSummary, tasks: TaskRun[]): Job {
  return {
    ...s,
    parameters: {},
    tasks,
    pipeline: {
      apiVersion: 'cellpipe.io/v1',
      kind: 'Pipeline',
      metadata: { name: s.name },
      spec: { setupCells: [], parameters: {}, defaults: {}, failurePolicy: 'continue', tasks: [] },
    },
  };
}

const ids = (s: JobsState): string[] => s.jobs.map((j) => j.id);

describe('jobsReducer', () => {
  it('given a list, keeps jobs newest first', () => {
    const s = jobsReducer(EMPTY_STATE, {
      type: 'list',
      jobs: [
        summary('aaaaaa1', '2026-01-01T00:00:00Z'),
        summary('aaaaaa3', '2026-01-03T00:00:00Z'),
        summary('aaaaaa2', '2026-01-02T00:00:00Z'),
      ],
    });
    expect(ids(s)).toEqual(['aaaaaa3', 'aaaaaa2', 'aaaaaa1']);
  });

  it('given a job event for a new job, inserts it at its place', () => {
    let s = jobsReducer(EMPTY_STATE, { type: 'list', jobs: [summary('aaaaaa1', '2026-01-01T00:00:00Z')] });
    s = jobsReducer(s, { type: 'job', job: summary('aaaaaa9', '2026-01-09T00:00:00Z') });
    expect(ids(s)).toEqual(['aaaaaa9', 'aaaaaa1']);
  });

  it('given a job event for a known job, replaces its summary and updates the loaded detail', () => {
    const first = summary('aaaaaa1', '2026-01-01T00:00:00Z', 'pending');
    let s = jobsReducer(EMPTY_STATE, { type: 'detail', job: job(first, [task('a', 'queued')]) });
    s = jobsReducer(s, { type: 'job', job: { ...first, state: 'running', startedAt: '2026-01-01T00:00:01Z' } });
    expect(s.jobs).toHaveLength(1);
    expect(s.jobs[0]?.state).toBe('running');
    expect(s.details['aaaaaa1']?.state).toBe('running');
    expect(s.details['aaaaaa1']?.tasks).toEqual([task('a', 'queued')]);
  });

  it('given a task event for a loaded job, replaces that task and recounts', () => {
    const s0 = jobsReducer(EMPTY_STATE, {
      type: 'detail',
      job: job(summary('aaaaaa1', '2026-01-01T00:00:00Z', 'running'), [
        task('a', 'running'),
        task('b', 'pending', ['a']),
      ]),
    });
    const s1 = jobsReducer(s0, {
      type: 'task',
      event: { jobId: 'aaaaaa1', task: { ...task('a', 'succeeded'), attempt: 1 } },
    });
    expect(s1.details['aaaaaa1']?.tasks.map((t) => [t.name, t.state])).toEqual([
      ['a', 'succeeded'],
      ['b', 'pending'],
    ]);
    expect(s1.jobs[0]?.taskCounts).toMatchObject({ succeeded: 1, pending: 1, running: 0 });
    // The state before is untouched (reducers never mutate).
    expect(s0.details['aaaaaa1']?.tasks[0]?.state).toBe('running');
  });

  it('given a task event for a job whose detail is not loaded, changes nothing', () => {
    const s0 = jobsReducer(EMPTY_STATE, { type: 'list', jobs: [summary('aaaaaa1', '2026-01-01T00:00:00Z')] });
    expect(jobsReducer(s0, { type: 'task', event: { jobId: 'aaaaaa1', task: task('a', 'running') } })).toBe(s0);
  });

  it('a re-listed page keeps jobs only known from events', () => {
    let s = jobsReducer(EMPTY_STATE, { type: 'job', job: summary('aaaaaa5', '2026-01-05T00:00:00Z') });
    s = jobsReducer(s, { type: 'list', jobs: [summary('aaaaaa1', '2026-01-01T00:00:00Z')] });
    expect(ids(s)).toEqual(['aaaaaa5', 'aaaaaa1']);
  });

  it('removes a deleted job and its detail', () => {
    let s = jobsReducer(EMPTY_STATE, { type: 'detail', job: job(summary('aaaaaa1', '2026-01-01T00:00:00Z'), []) });
    s = jobsReducer(s, { type: 'removed', id: 'aaaaaa1' });
    expect(s).toEqual(EMPTY_STATE);
  });
});

describe('actionFromEvent', () => {
  it('parses a job event', () => {
    const s = summary('aaaaaa1', '2026-01-01T00:00:00Z');
    expect(actionFromEvent('job', JSON.stringify(s))).toEqual({ type: 'job', job: s });
  });

  it('parses a task event', () => {
    const ev = { jobId: 'aaaaaa1', task: task('a', 'running') };
    expect(actionFromEvent('task', JSON.stringify(ev))).toEqual({ type: 'task', event: ev });
  });

  it.each<[string, string]>([
    ['job', '{not json'],
    ['job', JSON.stringify({ id: 'x' })],
    ['task', JSON.stringify({ jobId: 'aaaaaa1' })],
    ['ping', '{}'],
  ])('ignores %s event with bad data %s', (type, data) => {
    expect(actionFromEvent(type, data)).toBeUndefined();
  });
});

describe('status bar text', () => {
  it.each<[Activity | null, string]>([
    [null, 'Cellpipe'],
    [{ tasks: { running: 0, waiting: 0 }, jobs: { running: 0, pending: 0 } }, 'Cellpipe: idle'],
    // 43 jobs "running" while 4 tasks hold a slot: the text counts tasks, as the server does.
    [
      { tasks: { running: 4, waiting: 39 }, jobs: { running: 43, pending: 0 } },
      'Cellpipe: 4 tasks running, 39 waiting',
    ],
    [{ tasks: { running: 1, waiting: 0 }, jobs: { running: 1, pending: 0 } }, 'Cellpipe: 1 task running, 0 waiting'],
  ])('activity %j reads "%s"', (activity, text) => {
    expect(statusText(activity, trans)).toBe(text);
  });
});

describe('durations', () => {
  it.each<[number | undefined, string]>([
    [undefined, ''],
    [850, '850 ms'],
    [5_000, '5s'],
    [65_000, '1m 05s'],
    [2 * 3600_000 + 3 * 60_000, '2h 03m'],
  ])('formatDuration(%p) is "%s"', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('elapsed runs to now while not finished', () => {
    const start = '2026-01-01T00:00:00.000Z';
    expect(elapsedMs(start, undefined, Date.parse(start) + 1500)).toBe(1500);
    expect(elapsedMs(start, '2026-01-01T00:00:02.000Z', 0)).toBe(2000);
    expect(elapsedMs(undefined, undefined, 0)).toBeUndefined();
  });
});

describe('snapshots never move state back', () => {
  const s0 = summary('aaaaaa1', '2026-01-01T00:00:00Z', 'running');

  it('given a cancelled job from events, when the (older) cancel reply arrives, then it stays cancelled', () => {
    let s = jobsReducer(EMPTY_STATE, { type: 'detail', job: job(s0, [task('a', 'running')]) });
    s = jobsReducer(s, { type: 'task', event: { jobId: 'aaaaaa1', task: { ...task('a', 'cancelled'), attempt: 1 } } });
    s = jobsReducer(s, { type: 'job', job: { ...s0, state: 'cancelled' } });
    s = jobsReducer(s, { type: 'detail', job: job(s0, [{ ...task('a', 'running'), attempt: 1 }]) });
    expect(s.jobs[0]?.state).toBe('cancelled');
    expect(s.details['aaaaaa1']?.state).toBe('cancelled');
    expect(s.details['aaaaaa1']?.tasks[0]?.state).toBe('cancelled');
  });

  it('a later attempt wins over a finished earlier one (retries)', () => {
    let s = jobsReducer(EMPTY_STATE, { type: 'detail', job: job(s0, [{ ...task('a', 'failed'), attempt: 1 }]) });
    s = jobsReducer(s, { type: 'detail', job: job(s0, [{ ...task('a', 'running'), attempt: 2 }]) });
    expect(s.details['aaaaaa1']?.tasks[0]).toMatchObject({ state: 'running', attempt: 2 });
  });

  it('a list page with an older state does not revert a finished job', () => {
    let s = jobsReducer(EMPTY_STATE, { type: 'job', job: { ...s0, state: 'succeeded' } });
    s = jobsReducer(s, { type: 'list', jobs: [s0] });
    expect(s.jobs[0]?.state).toBe('succeeded');
  });

  it('a job event (which carries no parameters) keeps the parameters a list page brought', () => {
    const row = { ...s0, parameters: { lr: 0.2 } };
    expect(laterSummary(row, { ...s0, state: 'failed' })).toMatchObject({ state: 'failed', parameters: { lr: 0.2 } });
    expect(laterSummary({ ...row, state: 'failed' }, s0)).toMatchObject({ state: 'failed', parameters: { lr: 0.2 } });
    expect(laterSummary(row, { ...s0, parameters: { lr: 0.3 } }).parameters).toEqual({ lr: 0.3 });
  });
});
