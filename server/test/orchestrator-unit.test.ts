/**
 * The orchestrator on its own: a scripted executor, a clock moved by hand, an in-memory SQLite store.
 * What it decides (order, retries and their backoff, timeouts, stopping and finding attempts again)
 * is checked without a process or a timer of the machine. orchestrator.test.ts runs the same engine
 * against real runner processes.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { effectiveTask, PipelineSchema, type Pipeline, type PipelineInput, type Resources } from '@cellpipe/schema';
import type { Clock } from '../src/clock.js';
import type {
  AttemptHandle,
  CancelRequest,
  Executor,
  ExecutorEvent,
  LaunchSpec,
  ReportFn,
} from '../src/executors/executor.js';
import { GpuLimits } from '../src/gpu/fair-share.js';
import { Orchestrator, type OrchestratorEvents, type OrchestratorOptions } from '../src/orchestrator/orchestrator.js';
import { JobLayout } from '../src/store/layout.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import type { JobRecord, TaskRecord } from '../src/store/store.js';

const DAY = 86_400_000;

/** Timers fire only when the test moves time forward, in due order. */
class FakeClock implements Clock {
  private t = Date.parse('2026-01-01T00:00:00Z');
  private timers: { due: number; fn: () => void; seq: number }[] = [];
  private seq = 0;
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { due: this.t + Math.max(0, ms), fn, seq: this.seq++ };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }
  /** Moves time forward, firing every timer that falls due (and those they arm), then lets the engine settle. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.due <= end).sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.due;
      next.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

/** Lets promise callbacks and the orchestrator's setImmediate scheduling run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

interface Started {
  spec: LaunchSpec;
  report: ReportFn;
}

/** An executor the test drives: it records every call and reports only what the test tells it to. */
class ScriptedExecutor implements Executor {
  readonly name = 'scripted';
  readonly starts: Started[] = [];
  readonly cancels: CancelRequest[] = [];
  readonly reattaches: { spec: LaunchSpec; handle: AttemptHandle | null }[] = [];
  /** Answers cancel calls in order; once used up, cancel resolves. */
  cancelAnswers: (Error | 'ok')[] = [];
  /** Answers reattach calls in order; once used up, reattach says 'following'. */
  reattachAnswers: (Error | 'following' | 'not-found')[] = [];
  private readonly followers = new Map<string, ReportFn>();

  inventory = async () => ({ executor: this.name, resources: [] });
  async start(spec: LaunchSpec, report: ReportFn): Promise<void> {
    this.starts.push({ spec, report });
    this.followers.set(`${spec.taskName}#${spec.attempt}`, report);
  }
  async cancel(request: CancelRequest): Promise<void> {
    this.cancels.push(request);
    const answer = this.cancelAnswers.shift() ?? 'ok';
    if (answer instanceof Error) throw answer;
  }
  async reattach(spec: LaunchSpec, handle: AttemptHandle | null, report: ReportFn): Promise<'following' | 'not-found'> {
    this.reattaches.push({ spec, handle });
    const answer = this.reattachAnswers.shift() ?? 'following';
    if (answer instanceof Error) throw answer;
    if (answer === 'following') this.followers.set(`${spec.taskName}#${spec.attempt}`, report);
    return answer;
  }
  async close(): Promise<void> {}

  /** Reports an event for a task's attempt (the latest one when none is named). */
  emit(task: string, event: ExecutorEvent, attempt?: number): void {
    const n = attempt ?? Math.max(...this.starts.filter((s) => s.spec.taskName === task).map((s) => s.spec.attempt));
    const report = this.followers.get(`${task}#${n}`);
    if (!report) throw new Error(`nobody follows ${task} attempt ${n}`);
    report(event);
  }
  run(task: string, attempt?: number): void {
    this.emit(task, { type: 'running', handle: { task, attempt: attempt ?? 0 } }, attempt);
  }
  exit(task: string, exitCode: number, attempt?: number): void {
    this.emit(task, { type: 'exited', exitCode }, attempt);
  }
  startedNames(): string[] {
    return this.starts.map((s) => `${s.spec.taskName}#${s.spec.attempt}`);
  }
}

let home: string;
let store: SqliteStore;
let clock: FakeClock;
let executor: ScriptedExecutor;
let orchestrator: Orchestrator;
let seq = 0;

function makeOrchestrator(options: Partial<OrchestratorOptions> = {}): Orchestrator {
  return new Orchestrator({
    store,
    executor,
    layout: new JobLayout(home),
    events: new EventEmitter<OrchestratorEvents>(),
    clock,
    retryBackoffMs: 1000,
    ...options,
  });
}

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'cellpipe-orch-unit-'));
  store = new SqliteStore(':memory:');
  clock = new FakeClock();
  executor = new ScriptedExecutor();
  orchestrator = makeOrchestrator();
});
afterEach(async () => {
  await orchestrator.close();
  store.close();
  rmSync(home, { recursive: true, force: true });
});

type TaskSpec = { name: string; dependsOn?: string[]; retries?: number; timeout?: string; resources?: Resources };

/** Stores a job as JobService.submit would and hands it to the orchestrator (alice's, without a team, by default). */
function submitNow(
  tasks: TaskSpec[],
  spec: Partial<PipelineInput['spec']> = {},
  who: Partial<Pick<JobRecord, 'owner' | 'team'>> = {},
): string {
  const pipeline: Pipeline = PipelineSchema.parse({
    apiVersion: 'cellpipe.io/v1',
    kind: 'Pipeline',
    metadata: { name: 'unit' },
    spec: { ...spec, tasks: tasks.map((t) => ({ ...t, source: { kind: 'script', path: `${t.name}.py` } })) },
  });
  const id = `job${String(++seq).padStart(4, '0')}`;
  const job: JobRecord = {
    id,
    name: 'unit',
    owner: 'alice',
    state: 'pending',
    executor: executor.name,
    createdAt: new Date(clock.now()).toISOString(),
    pipeline,
    parameters: {},
    ...who,
  };
  const records: TaskRecord[] = pipeline.spec.tasks.map((t) => ({
    name: t.name,
    state: 'pending',
    dependsOn: t.dependsOn,
    resources: {},
    attempt: 0,
    maxAttempts: effectiveTask(pipeline, t).retries + 1,
    outputs: [],
    artifacts: [],
  }));
  store.insertJob(job, records, new Map(records.map((t) => [t.name, { kind: 'script' }])));
  orchestrator.add(job, records);
  return id;
}

/** submitNow, then lets the engine settle. */
async function submit(...args: Parameters<typeof submitNow>): Promise<string> {
  const id = submitNow(...args);
  await settle();
  return id;
}

const task = (jobId: string, name: string): TaskRecord => store.getTasks(jobId).find((t) => t.name === name)!;
const jobState = (jobId: string): string => store.getJob(jobId)!.state;

test('runs tasks in dependency order: a dependent starts only once its upstream succeeded', async () => {
  const id = await submit([{ name: 'a' }, { name: 'b', dependsOn: ['a'] }, { name: 'c' }]);
  expect(executor.startedNames().sort()).toEqual(['a#1', 'c#1']);
  executor.run('a');
  executor.exit('a', 0);
  await settle();
  expect(executor.startedNames()).toContain('b#1');
  executor.run('b');
  executor.exit('b', 0);
  executor.run('c');
  executor.exit('c', 0);
  await settle();
  expect(jobState(id)).toBe('succeeded');
});

test('retries wait out an exponential backoff on the clock', async () => {
  const id = await submit([{ name: 'flaky', retries: 2 }]);
  executor.run('flaky');
  executor.exit('flaky', 1);
  await settle();
  expect(task(id, 'flaky')).toMatchObject({ state: 'queued', attempt: 1 });
  await clock.advance(999);
  expect(executor.startedNames()).toEqual(['flaky#1']);
  await clock.advance(2);
  expect(executor.startedNames()).toEqual(['flaky#1', 'flaky#2']);
  executor.run('flaky');
  executor.exit('flaky', 1);
  await settle();
  await clock.advance(1999);
  expect(executor.startedNames()).toHaveLength(2);
  await clock.advance(2);
  expect(executor.startedNames()).toEqual(['flaky#1', 'flaky#2', 'flaky#3']);
  executor.run('flaky');
  executor.exit('flaky', 0);
  await settle();
  expect(task(id, 'flaky')).toMatchObject({ state: 'succeeded', attempt: 3 });
});

test('a task timeout stops the attempt with reason timeout and fails the task', async () => {
  const id = await submit([{ name: 'slow', timeout: '90s' }]);
  executor.run('slow');
  await clock.advance(89_999);
  expect(executor.cancels).toEqual([]);
  await clock.advance(1);
  expect(executor.cancels).toEqual([
    { jobId: id, taskName: 'slow', taskId: `${id}.slow`, attempt: 1, reason: 'timeout' },
  ]);
  executor.emit('slow', { type: 'exited', error: { reason: 'timeout', message: 'killed' } });
  await settle();
  expect(task(id, 'slow')).toMatchObject({ state: 'failed', error: { reason: 'timeout' } });
  expect(task(id, 'slow').error?.message).toContain('90s');
});

test('timeouts longer than a Node timer can hold (25 days) fire on time, not at once', async () => {
  const id = await submit([{ name: 'long', timeout: '25d' }], { timeout: '30d' });
  executor.run('long');
  await clock.advance(DAY);
  expect(executor.cancels).toEqual([]);
  expect(jobState(id)).toBe('running');
  await clock.advance(24 * DAY);
  expect(executor.cancels.map((c) => c.reason)).toEqual(['timeout']);
});

describe('a cancel the executor cannot carry out at once (the API answers 503)', () => {
  test('is retried with backoff; the task shows the pending stop; it ends cancelled once the executor confirms', async () => {
    const id = await submit([{ name: 'gpu' }, { name: 'after', dependsOn: ['gpu'] }]);
    executor.run('gpu');
    executor.cancelAnswers = [new Error('Kubernetes API error 503'), new Error('Kubernetes API error 503')];
    orchestrator.cancel(id);
    await settle();
    expect(executor.cancels).toHaveLength(1);
    expect(task(id, 'gpu')).toMatchObject({
      state: 'running',
      stopping: { reason: 'cancelled', error: 'Kubernetes API error 503' },
    });
    expect(task(id, 'after').state).toBe('cancelled');
    expect(jobState(id)).toBe('running');

    await clock.advance(1000);
    expect(executor.cancels).toHaveLength(2);
    await clock.advance(1999);
    expect(executor.cancels).toHaveLength(2);
    await clock.advance(1);
    expect(executor.cancels).toHaveLength(3);
    // The third request went through: no more are sent, and the executor reports the end.
    await clock.advance(60_000);
    expect(executor.cancels).toHaveLength(3);
    executor.emit('gpu', { type: 'exited', error: { reason: 'cancelled', message: 'the attempt was cancelled' } });
    await settle();
    expect(task(id, 'gpu')).toMatchObject({ state: 'cancelled', error: { reason: 'cancelled' } });
    expect(task(id, 'gpu').stopping).toBeUndefined();
    expect(jobState(id)).toBe('cancelled');
  });

  test('an attempt that ends by itself meanwhile stops the retries', async () => {
    const id = await submit([{ name: 'a', timeout: '1m' }]);
    executor.run('a');
    executor.cancelAnswers = [new Error('unreachable')];
    await clock.advance(60_000);
    expect(executor.cancels.map((c) => c.reason)).toEqual(['timeout']);
    executor.exit('a', 0);
    await settle();
    await clock.advance(120_000);
    expect(executor.cancels).toHaveLength(1);
    expect(task(id, 'a').stopping).toBeUndefined();
  });
});

describe('restart recovery', () => {
  async function restartWithRunning(): Promise<string> {
    const id = await submit([{ name: 'train' }, { name: 'report', dependsOn: ['train'] }]);
    executor.run('train');
    await settle();
    await orchestrator.close();
    executor = new ScriptedExecutor();
    orchestrator = makeOrchestrator();
    return id;
  }

  test('a reattach that throws keeps the attempt open and is retried; nothing starts twice', async () => {
    const id = await restartWithRunning();
    executor.reattachAnswers = [new Error('connect ECONNREFUSED'), new Error('timeout'), 'following'];
    await orchestrator.recover();
    await settle();
    expect(executor.reattaches).toHaveLength(1);
    expect(task(id, 'train')).toMatchObject({ state: 'running', attempt: 1 });
    expect(store.attempts(id, 'train').map((a) => a.state)).toEqual(['running']);
    await clock.advance(1000);
    expect(executor.reattaches).toHaveLength(2);
    await clock.advance(2000);
    expect(executor.reattaches).toHaveLength(3);
    expect(executor.reattaches[2]?.handle).toEqual({ task: 'train', attempt: 0 });
    // Found still running, and followed to its end: no second attempt was ever started.
    executor.exit('train', 0, 1);
    await settle();
    expect(executor.starts.map((s) => s.spec.taskName)).toEqual(['report']);
    expect(task(id, 'train')).toMatchObject({ state: 'succeeded', attempt: 1 });
  });

  test('only a definite not-found ends a running attempt, as lost', async () => {
    const id = await restartWithRunning();
    executor.reattachAnswers = ['not-found'];
    await orchestrator.recover();
    await settle();
    expect(task(id, 'train')).toMatchObject({ state: 'failed', error: { reason: 'lost' } });
  });

  test('a cancel during a reattach that keeps failing is sent once the attempt is found', async () => {
    const id = await restartWithRunning();
    executor.reattachAnswers = [new Error('timeout')];
    await orchestrator.recover();
    orchestrator.cancel(id);
    await settle();
    expect(executor.cancels).toEqual([]);
    expect(task(id, 'train').stopping).toMatchObject({ reason: 'cancelled' });
    await clock.advance(1000);
    expect(executor.cancels.map((c) => c.reason)).toEqual(['cancelled']);
  });
});

test('a cancel of one task the executor had not confirmed before a restart is sent again, and ends it only', async () => {
  const id = await submit([{ name: 'train' }, { name: 'report', dependsOn: ['train'] }, { name: 'side' }]);
  executor.run('train');
  executor.cancelAnswers = [new Error('Kubernetes API error 503')];
  expect(orchestrator.cancelTask(id, 'train', 'alice')).toBe('ok');
  await settle();
  expect(task(id, 'train').stopping).toMatchObject({ reason: 'cancelled', by: 'alice' });
  await orchestrator.close();
  executor = new ScriptedExecutor();
  orchestrator = makeOrchestrator();
  await orchestrator.recover();
  await settle();
  expect(executor.cancels.map((c) => [c.taskName, c.reason])).toEqual([['train', 'cancelled']]);
  executor.emit('train', { type: 'exited', error: { reason: 'cancelled', message: 'the attempt was cancelled' } }, 1);
  await settle();
  expect(task(id, 'train')).toMatchObject({ state: 'cancelled', error: { reason: 'cancelled', by: 'alice' } });
  expect(task(id, 'report').state).toBe('skipped');
  // The job goes on: the independent task runs and the job then ends failed, naming the cancelled task.
  executor.exit('side', 0, 1);
  await settle();
  expect(store.getJob(id)).toMatchObject({ state: 'failed', error: '1 task cancelled: train' });
});

describe('a requeue (the cluster queue preempted the running attempt)', () => {
  test('the task waits again with the same attempt, no retry used, and runs to success', async () => {
    const id = await submit([{ name: 'train', retries: 0 }]);
    executor.run('train');
    await settle();
    executor.emit('train', { type: 'requeued', reason: 'preempted by Kueue: another queue took back its quota' });
    await settle();
    expect(task(id, 'train')).toMatchObject({
      state: 'queued',
      attempt: 1,
      requeues: 1,
      waitingReason: 'preempted by Kueue: another queue took back its quota',
    });
    expect(task(id, 'train').startedAt).toBeUndefined();
    expect(
      store
        .transitions(id)
        .filter((t) => t.task === 'train')
        .map((t) => [t.to, t.note]),
    ).toContainEqual(['queued', 'requeued: preempted by Kueue: another queue took back its quota']);
    // The executor's later waiting reasons replace it; the attempt is still the one in flight.
    executor.emit('train', { type: 'waiting', reason: 'waiting in Kueue LocalQueue team-a: no quota' });
    await settle();
    expect(task(id, 'train').waitingReason).toBe('waiting in Kueue LocalQueue team-a: no quota');
    expect(executor.startedNames()).toEqual(['train#1']);
    executor.run('train');
    executor.exit('train', 0);
    await settle();
    expect(task(id, 'train')).toMatchObject({ state: 'succeeded', attempt: 1, requeues: 1 });
    expect(task(id, 'train').waitingReason).toBeUndefined();
    expect(executor.startedNames()).toEqual(['train#1']);
    expect(jobState(id)).toBe('succeeded');
  });

  test('the task timeout pauses while it waits and counts again from its next start', async () => {
    const id = await submit([{ name: 'slow', timeout: '90s' }]);
    executor.run('slow');
    await clock.advance(60_000);
    executor.emit('slow', { type: 'requeued', reason: 'preempted' });
    await clock.advance(60_000);
    expect(executor.cancels).toEqual([]);
    executor.run('slow');
    await settle();
    await clock.advance(89_999);
    expect(executor.cancels).toEqual([]);
    await clock.advance(1);
    expect(executor.cancels.map((c) => c.reason)).toEqual(['timeout']);
    expect(task(id, 'slow').state).toBe('running');
  });

  test('reported again after a restart, it neither counts twice nor arms the timeout', async () => {
    const id = await submit([{ name: 'slow', timeout: '90s' }]);
    executor.run('slow');
    await settle();
    executor.emit('slow', { type: 'requeued', reason: 'preempted' });
    await settle();
    await orchestrator.close();
    executor = new ScriptedExecutor();
    orchestrator = makeOrchestrator();
    await orchestrator.recover();
    await settle();
    executor.emit('slow', { type: 'requeued', reason: 'preempted (seen again)' }, 1);
    await clock.advance(120_000);
    expect(task(id, 'slow')).toMatchObject({ state: 'queued', requeues: 1, waitingReason: 'preempted (seen again)' });
    expect(executor.cancels).toEqual([]);
  });
});

describe('GPU limits (gpuLimits): checked before anything is handed to the executor', () => {
  const gpu = { gpu: 1 };

  test("a task over its owner's share waits with the reason; another user's does not", async () => {
    orchestrator = makeOrchestrator({ gpuLimits: new GpuLimits({ user: { gpu: 1 } }) });
    const a = await submit([{ name: 'one', resources: gpu }, { name: 'two', resources: gpu }, { name: 'cpu' }]);
    const b = await submit([{ name: 'three', resources: gpu }], {}, { owner: 'bob' });
    expect(executor.startedNames().sort()).toEqual(['cpu#1', 'one#1', 'three#1']);
    expect(task(a, 'two')).toMatchObject({
      state: 'queued',
      attempt: 0,
      waitingReason: 'waiting: user alice already uses 1 of 1 nvidia.com/gpu',
    });
    expect(task(b, 'three').state).toBe('queued');
    executor.run('one');
    executor.exit('one', 0);
    await settle();
    expect(executor.startedNames()).toContain('two#1');
    expect(task(a, 'two').waitingReason).toBeUndefined();
  });

  test("a team's share counts every member's tasks by the team each job recorded", async () => {
    orchestrator = makeOrchestrator({
      gpuLimits: new GpuLimits({ team: { 'mig-3g.20gb': 2 }, teams: { vision: { 'mig-3g.20gb': 1 } } }),
    });
    const mig = { mig: '3g.20gb' };
    await submit([{ name: 'a', resources: mig }], {}, { owner: 'alice', team: 'vision' });
    const b = await submit([{ name: 'b', resources: mig }], {}, { owner: 'bob', team: 'vision' });
    await submit([{ name: 'c', resources: mig }], {}, { owner: 'carol', team: 'nlp' });
    await submit([{ name: 'd', resources: mig }], {}, { owner: 'dan', team: 'nlp' });
    expect(executor.startedNames().sort()).toEqual(['a#1', 'c#1', 'd#1']);
    expect(task(b, 'b').waitingReason).toBe('waiting: team vision already uses 1 of 1 nvidia.com/mig-3g.20gb');
  });

  test('a user-specific limit replaces the default for the kinds it names; several GPUs are counted as such', async () => {
    orchestrator = makeOrchestrator({
      gpuLimits: new GpuLimits({ user: { gpu: 1, 'mig-1g.10gb': 1 }, users: { alice: { gpu: 3 } } }),
    });
    const id = await submit([
      { name: 'two', resources: { gpu: 2 } },
      { name: 'more', resources: { gpu: 2 } },
      { name: 'slice', resources: { mig: '1g.10gb' } },
      { name: 'slice2', resources: { mig: '1g.10gb' } },
    ]);
    expect(executor.startedNames().sort()).toEqual(['slice#1', 'two#1']);
    expect(task(id, 'more').waitingReason).toBe(
      'waiting: user alice already uses 2 of 3 nvidia.com/gpu (this task needs 2)',
    );
    expect(task(id, 'slice2').waitingReason).toBe('waiting: user alice already uses 1 of 1 nvidia.com/mig-1g.10gb');
  });

  test('a task asking for more than a whole share fails at once, unschedulable, naming the limit', async () => {
    orchestrator = makeOrchestrator({ gpuLimits: new GpuLimits({ teams: { vision: { gpu: 2 } } }) });
    const id = await submit(
      [{ name: 'big', resources: { gpu: 4 } }],
      { failurePolicy: 'fail-fast' },
      { team: 'vision' },
    );
    expect(executor.starts).toEqual([]);
    expect(task(id, 'big')).toMatchObject({
      state: 'failed',
      attempt: 0,
      error: {
        reason: 'unschedulable',
        message: 'needs 4 nvidia.com/gpu but team vision may hold at most 2 at once (gpuLimits.teams.vision)',
      },
    });
    expect(jobState(id)).toBe('failed');
  });

  test('after a restart, attempts still in flight count again', async () => {
    const limits = new GpuLimits({ user: { gpu: 1 } });
    orchestrator = makeOrchestrator({ gpuLimits: limits });
    const id = await submit([
      { name: 'one', resources: gpu },
      { name: 'two', resources: gpu },
    ]);
    executor.run('one');
    await settle();
    await orchestrator.close();
    executor = new ScriptedExecutor();
    orchestrator = makeOrchestrator({ gpuLimits: limits });
    await orchestrator.recover();
    await settle();
    expect(executor.starts).toEqual([]);
    expect(task(id, 'two').waitingReason).toBe('waiting: user alice already uses 1 of 1 nvidia.com/gpu');
    executor.exit('one', 0, 1);
    await settle();
    expect(executor.startedNames()).toEqual(['two#1']);
  });
});

describe('a pass steps only the jobs something happened to', () => {
  test('a job held back by maxParallelPerUser starts when another job of its owner ends an attempt', async () => {
    orchestrator = makeOrchestrator({ maxParallelPerUser: 1 });
    const a = await submit([{ name: 'a' }]);
    const b = await submit([{ name: 'b' }]);
    const c = await submit([{ name: 'c' }], {}, { owner: 'bob' });
    expect(executor.startedNames().sort()).toEqual(['a#1', 'c#1']);
    expect(task(b, 'b').state).toBe('queued');
    // An event of bob's job frees none of alice's share.
    executor.run('c');
    executor.exit('c', 0);
    await settle();
    expect(executor.startedNames()).not.toContain('b#1');
    executor.run('a');
    executor.exit('a', 0);
    await settle();
    expect(executor.startedNames()).toContain('b#1');
    expect(jobState(a)).toBe('succeeded');
    expect(jobState(c)).toBe('succeeded');
  });

  test("a job waiting for its owner's GPU share starts when another job's attempt gives it back", async () => {
    orchestrator = makeOrchestrator({ gpuLimits: new GpuLimits({ user: { gpu: 1 } }) });
    await submit([{ name: 'first', resources: { gpu: 1 } }]);
    const later = await submit([{ name: 'second', resources: { gpu: 1 } }]);
    expect(executor.startedNames()).toEqual(['first#1']);
    expect(task(later, 'second').waitingReason).toBe('waiting: user alice already uses 1 of 1 nvidia.com/gpu');
    executor.run('first');
    executor.exit('first', 1);
    await settle();
    expect(executor.startedNames()).toEqual(['first#1', 'second#1']);
  });

  test('a burst of jobs is launched over several turns of the event loop, oldest first, none forgotten', async () => {
    // Each launch costs a few milliseconds (files, the store, the executor): far more than one turn's share.
    const start = executor.start.bind(executor);
    executor.start = async (spec, report) => {
      const until = performance.now() + 2;
      while (performance.now() < until);
      return start(spec, report);
    };
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push(submitNow([{ name: `t${i}` }]));
    let startedBeforeATurn = -1;
    setImmediate(() => (startedBeforeATurn = executor.starts.length));
    for (let i = 0; i < 200 && executor.starts.length < ids.length; i++) await settle();
    expect(startedBeforeATurn).toBeGreaterThanOrEqual(0);
    expect(startedBeforeATurn).toBeLessThan(ids.length);
    expect(executor.starts.map((s) => s.spec.jobId)).toEqual(ids);
  });
});
