/**
 * The orchestrator decides what runs when: it walks each job's DAG, applies the failure policy,
 * retries, timeouts and parallelism limits, and hands attempts to the executor.
 *
 * Every state change goes through `commit`, which persists it in one store transaction and only then
 * updates memory and announces it. Memory is therefore never ahead of the database, and a restarted
 * server resumes from exactly what was announced.
 */
import type { EventEmitter } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  effectiveTask,
  isTerminalJobState,
  isTerminalTaskState,
  RESULT_NAME_MAX,
  RESULT_STRING_MAX,
  parseDuration,
  type JobSummary,
  type Task,
  type TaskError,
  type TaskRun,
  type TaskState,
} from '@cellpipe/schema';
import { systemClock, type Clock } from '../clock.js';
import type { CancelRequest, Executor, ExecutorEvent, LaunchSpec, StopReason } from '../executors/executor.js';
import type { AttemptRecord, Change, JobRecord, Store, TaskRecord, Transition } from '../store/store.js';
import type { JobLayout } from '../store/layout.js';
import { taskCounts, toSummary, toTaskRun } from '../store/views.js';
import { DEFAULT_LIMITS, type Limits } from '../limits.js';
import { mintAttemptToken } from '../auth/attempt-token.js';
import { gpuNeed, type Need } from '../gpu/allocator.js';
import { GpuUsage, type GpuLimits, type Holder } from '../gpu/fair-share.js';
import { StorageFullError, isStorageFull } from '../store/errors.js';
import { removeTree } from '../store/remove-tree.js';
import { appendLog } from './log-file.js';
import { attemptUsage, capError, capResults, capWarnings, parseRunnerResult } from './result.js';

export interface OrchestratorEvents {
  job: [JobSummary];
  task: [{ jobId: string; task: TaskRun }];
}

export interface OrchestratorOptions {
  store: Store;
  executor: Executor;
  layout: JobLayout;
  events: EventEmitter<OrchestratorEvents>;
  /** Default: the system clock. */
  clock?: Clock;
  maxParallelPerUser?: number;
  /** How many GPUs and MIG slices one user's or one team's tasks may hold at once (gpu/fair-share.ts). */
  gpuLimits?: GpuLimits;
  retryBackoffMs?: number;
  /** Problems the orchestrator waits out by itself (a full disk); default console.warn. */
  warn?: (message: string) => void;
  /**
   * Called inside the transaction that stores a job's end, with the job and its tasks as ended: what it
   * writes (the notification outbox) commits with the end or not at all. It must not throw for
   * anything but the store refusing (a full disk), which makes the end wait like any other write.
   */
  onJobEnd?: (job: JobRecord, tasks: TaskRecord[]) => void;
  /** What one attempt may put into the store (default: limits.ts). */
  limits?: Pick<
    Limits,
    'errorBytes' | 'resultBytes' | 'artifactsPerTask' | 'logBytesPerAttempt' | 'resultsPerTask' | 'resultsBytes'
  >;
}

/** A failed executor call (cancel, reattach) is tried again after 1 s, 2 s, 4 s ... at most a minute. */
const EXECUTOR_RETRY_MS = 1000;
const EXECUTOR_RETRY_MAX_MS = 60_000;
/** While the disk is full, stored work is tried again this often (doubling up to the maximum). */
const STALL_RETRY_MS = 1000;
const STALL_RETRY_MAX_MS = 30_000;
/**
 * Longest stretch of stepping jobs (launching their tasks means files and store writes) before
 * requests, executor events and the scheduler get a turn; the rest is stepped on the next turn.
 */
const STEP_SLICE_MS = 50;

const unsuccessful = (s: TaskState): boolean => isTerminalTaskState(s) && s !== 'succeeded';
/** `job.error` of a job being cancelled; any other error on a non-terminal job means it is failing. */
export const CANCELLED_MARK = 'cancelled';

interface Inflight {
  attempt: number;
  record: AttemptRecord;
  /** Why the orchestrator asked the executor to stop it (cancelled, timeout). */
  stopReason?: StopReason;
  /** Cancels the attempt's timeout. */
  disarm?: () => void;
  /**
   * False after a restart until the executor follows the attempt again (a reattach that threw is
   * retried); a stop asked for meanwhile is sent once it does.
   */
  followed: boolean;
  /** A cancel request is on its way to the executor or waits for its retry. */
  stopping: boolean;
  /** Failed executor calls in a row (cancel or reattach), for the retry backoff. */
  failures: number;
  /** Cancels a pending retry of an executor call. */
  retry?: () => void;
}

interface ActiveJob {
  job: JobRecord;
  /** Load order: jobs are stepped oldest first. */
  seq: number;
  tasks: Map<string, TaskRecord>;
  specs: Map<string, Task>;
  inflight: Map<string, Inflight>;
  /** Cancel functions of the job's armed timers (job timeout, retry wake-ups). */
  timers: Set<() => void>;
  /** When the earliest armed retry wake-up fires. */
  wakeAt?: number;
  /** Set while the job is being cancelled or failed as a whole. */
  abort?: { cancel: boolean; message: string; taskReason: StopReason };
}

/** Collects one atomic change; reads see its own pending writes. */
class Batch {
  readonly tasks = new Map<string, TaskRecord>();
  readonly attempts: AttemptRecord[] = [];
  readonly transitions: Transition[] = [];
  job?: Partial<JobRecord>;
  constructor(
    private readonly aj: ActiveJob,
    readonly now: string,
  ) {}

  get(name: string): TaskRecord {
    return this.tasks.get(name) ?? this.aj.tasks.get(name)!;
  }

  task(name: string, patch: Partial<TaskRecord>, note?: string): TaskRecord {
    const before = this.get(name);
    const next: TaskRecord = { ...before, ...patch };
    for (const k of Object.keys(patch) as (keyof TaskRecord)[]) if (patch[k] === undefined) delete next[k];
    if (patch.state && patch.state !== before.state) {
      const t: Transition = { jobId: this.aj.job.id, task: name, from: before.state, to: patch.state, at: this.now };
      if (note) t.note = note;
      this.transitions.push(t);
    }
    this.tasks.set(name, next);
    return next;
  }

  jobPatch(patch: Partial<JobRecord>, note?: string): void {
    const state = this.job?.state ?? this.aj.job.state;
    if (patch.state && patch.state !== state) {
      const t: Transition = { jobId: this.aj.job.id, task: null, from: state, to: patch.state, at: this.now };
      if (note) t.note = note;
      this.transitions.push(t);
    }
    this.job = { ...this.job, ...patch };
  }
}

/** The files under `dir`, relative and sorted: the first `max`, and how many more there are. */
function listFiles(dir: string, max: number): { files: string[]; omitted: number } {
  const out: string[] = [];
  const walk = (d: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(relative(dir, p).split('\\').join('/'));
    }
  };
  walk(dir);
  out.sort();
  return { files: out.slice(0, max), omitted: Math.max(0, out.length - max) };
}

/**
 * An executor's time, but never before the server handed the attempt over: Kubernetes reports
 * container times in whole seconds, which can fall just before that moment.
 */
function notBefore(time: string, earliest: string): string {
  return Date.parse(time) < Date.parse(earliest) ? earliest : time;
}

export class Orchestrator {
  private readonly jobs = new Map<string, ActiveJob>();
  private loaded = 0;
  /**
   * The jobs the next pass steps: only those something happened to (added, an event, a wake-up), so
   * a pass costs what changed, not every active job.
   */
  private readonly dirty = new Set<ActiveJob>();
  /**
   * Jobs holding a queued task back for a limit other jobs share (maxParallelPerUser, gpuLimits):
   * stepped again whenever an attempt ends and frees its share.
   */
  private readonly blocked = new Set<ActiveJob>();
  /** In-flight attempts by owner (maxParallelPerUser). */
  private readonly inflightByOwner = new Map<string, number>();
  private scheduled = false;
  private closed = false;
  private readonly store: Store;
  private readonly executor: Executor;
  private readonly layout: JobLayout;
  private readonly events: EventEmitter<OrchestratorEvents>;
  private readonly maxPerUser: number;
  private readonly gpuLimits: GpuLimits | undefined;
  /** The GPUs each user's and team's in-flight attempts hold (kept only with gpuLimits). */
  private readonly gpuUsage = new GpuUsage();
  private readonly backoffMs: number;
  private readonly clock: Clock;
  private readonly limits: Pick<
    Limits,
    'errorBytes' | 'resultBytes' | 'artifactsPerTask' | 'logBytesPerAttempt' | 'resultsPerTask' | 'resultsBytes'
  >;
  private readonly warn: (message: string) => void;
  private readonly onJobEnd: OrchestratorOptions['onJobEnd'];
  /**
   * Work that could not be stored because the disk is full, in arrival order. It runs again, in
   * order, until it can; later events wait behind it, so nothing is lost, reordered or crashes.
   */
  private readonly stalled: (() => void)[] = [];
  private stallRetry?: () => void;
  private stallDelay = STALL_RETRY_MS;

  constructor(o: OrchestratorOptions) {
    this.clock = o.clock ?? systemClock;
    this.store = o.store;
    this.executor = o.executor;
    this.layout = o.layout;
    this.events = o.events;
    this.maxPerUser = o.maxParallelPerUser ?? Number.POSITIVE_INFINITY;
    this.gpuLimits = o.gpuLimits && !o.gpuLimits.empty ? o.gpuLimits : undefined;
    this.backoffMs = o.retryBackoffMs ?? 1000;
    this.limits = o.limits ?? DEFAULT_LIMITS;
    this.warn = o.warn ?? ((message) => console.warn(`cellpipe: ${message}`));
    this.onJobEnd = o.onJobEnd;
  }

  // ---- a full disk -------------------------------------------------------------------------------

  /** Runs work that stores changes; on a full disk keeps it to run again once space is back. */
  private guard(fn: () => void): void {
    if (this.stalled.length) {
      this.stalled.push(fn);
      return;
    }
    try {
      fn();
    } catch (err) {
      if (!isStorageFull(err)) throw err;
      this.stall(err, fn);
    }
  }

  private stall(err: unknown, fn?: () => void): void {
    if (!this.stalled.length && !this.stallRetry) {
      const where = err instanceof StorageFullError ? err.path : ((err as Error).message ?? String(err));
      this.warn(`the disk is full (${where}): job changes wait until space is freed`);
    }
    if (fn) this.stalled.push(fn);
    if (this.stallRetry || this.closed) return;
    this.stallRetry = this.clock.after(this.stallDelay, () => {
      this.stallRetry = undefined;
      this.retryStalled();
    });
  }

  private retryStalled(): void {
    while (this.stalled.length) {
      try {
        this.stalled[0]!();
      } catch (err) {
        if (!isStorageFull(err)) {
          this.stalled.shift();
          throw err;
        }
        this.stallDelay = Math.min(this.stallDelay * 2, STALL_RETRY_MAX_MS);
        this.stall(err);
        return;
      }
      this.stalled.shift();
    }
    if (this.stallDelay !== STALL_RETRY_MS) this.warn('there is space on the disk again: jobs go on');
    this.stallDelay = STALL_RETRY_MS;
    this.schedule();
  }

  private isoNow(): string {
    return new Date(this.clock.now()).toISOString();
  }

  private cancelRequest(aj: ActiveJob, name: string, inf: Inflight): CancelRequest {
    return {
      jobId: aj.job.id,
      taskName: name,
      taskId: `${aj.job.id}.${name}`,
      attempt: inf.attempt,
      reason: inf.stopReason ?? 'cancelled',
    };
  }

  /** Tasks of an active job as held in memory (same as the store). */
  isActive(jobId: string): boolean {
    return this.jobs.has(jobId);
  }

  private load(job: JobRecord, tasks: TaskRecord[]): ActiveJob {
    const aj: ActiveJob = {
      job,
      tasks: new Map(tasks.map((t) => [t.name, t])),
      specs: new Map(job.pipeline.spec.tasks.map((t) => [t.name, t])),
      seq: this.loaded++,
      inflight: new Map(),
      timers: new Set(),
    };
    if (job.error) {
      aj.abort = {
        cancel: job.error === CANCELLED_MARK,
        message: job.error,
        taskReason: job.error === CANCELLED_MARK ? 'cancelled' : 'aborted',
      };
    }
    this.jobs.set(job.id, aj);
    return aj;
  }

  /** A freshly stored job: announce it and start scheduling it. */
  add(job: JobRecord, tasks: TaskRecord[]): void {
    const aj = this.load(job, tasks);
    this.events.emit('job', toSummary(aj.job, taskCounts(aj.tasks.values())));
    this.armJobTimeout(aj);
    this.schedule(aj);
  }

  /** Restart recovery: reload unfinished jobs and follow (or start) their open attempts. */
  async recover(): Promise<void> {
    for (const id of this.store.activeJobIds()) {
      const job = this.store.getJob(id);
      if (job) this.load(job, this.store.getTasks(id));
    }
    for (const att of this.store.openAttempts()) {
      const aj = this.jobs.get(att.jobId);
      if (!aj?.tasks.has(att.task)) continue;
      const inf: Inflight = { attempt: att.attempt, record: att, followed: false, stopping: false, failures: 0 };
      // A cancel of this one task that was still on its way goes on once the attempt is followed again.
      if (aj.tasks.get(att.task)?.stopping?.reason === 'cancelled') {
        inf.stopReason = 'cancelled';
        inf.stopping = true;
      }
      this.setInflight(aj, att.task, inf);
      this.holdGpus(aj, att.task);
      await this.reattach(aj, att.task, inf);
    }
    for (const aj of this.jobs.values()) {
      this.armJobTimeout(aj);
      if (aj.abort) this.abort(aj, aj.abort);
    }
    this.schedule();
  }

  /**
   * Follow an attempt a previous server process handed over. Only a definite 'not-found' ends it; an
   * executor that cannot tell (it threw) is asked again later, and meanwhile the attempt stays open so
   * nothing starts a second one. Never rejects.
   */
  private async reattach(aj: ActiveJob, name: string, inf: Inflight): Promise<void> {
    try {
      await this.follow(aj, name, inf);
    } catch {
      if (!this.isCurrent(aj, name, inf)) return;
      this.retryLater(inf, () => {
        // reattach handles its own failures; the catch only satisfies the type of a timer callback.
        this.reattach(aj, name, inf).catch(() => undefined);
      });
    }
  }

  private async follow(aj: ActiveJob, name: string, inf: Inflight): Promise<void> {
    const att = inf.record;
    const spec = this.launchSpec(aj, name, att.attempt);
    const report = (e: ExecutorEvent): void => this.onEvent(aj.job.id, name, att.attempt, e);
    const found = await this.executor.reattach(spec, att.state === 'running' ? att.handle : null, report);
    if (!this.isCurrent(aj, name, inf)) return;
    inf.failures = 0;
    inf.followed = true;
    if (found === 'not-found') {
      if (att.state === 'running') {
        report({
          type: 'exited',
          error: { reason: 'lost', message: 'the task disappeared while the server was down' },
        });
      } else {
        // Persisted as handed over, never spawned: it is safe (and necessary) to start it now, with
        // a new token (only the old one's hash was kept).
        const { token, hash } = mintAttemptToken();
        this.commit(aj, (b) => b.attempts.push({ ...inf.record, tokenHash: hash }));
        spec.dataToken = token;
        this.executor.start(spec, report).catch((err: unknown) => this.startFailed(aj.job.id, name, att.attempt, err));
      }
      return;
    }
    // A task its queue stopped (requeued) is not running: its timeout is armed when it runs again.
    if (att.state === 'running' && att.startedAt && aj.tasks.get(name)?.state === 'running')
      this.armTaskTimeout(aj, name, inf, Date.parse(att.startedAt));
    if (inf.stopReason) this.sendStop(aj, name, inf);
  }

  /** True while `inf` is still the attempt the orchestrator follows for this task. */
  private isCurrent(aj: ActiveJob, name: string, inf: Inflight): boolean {
    return !this.closed && this.jobs.get(aj.job.id) === aj && aj.inflight.get(name) === inf;
  }

  /** Arms the next try of a failed executor call; returns when it is due. */
  private retryLater(inf: Inflight, fn: () => void): number {
    const delay = Math.min(EXECUTOR_RETRY_MS * 2 ** inf.failures, EXECUTOR_RETRY_MAX_MS);
    inf.failures++;
    inf.retry?.();
    inf.retry = this.clock.after(delay, () => {
      inf.retry = undefined;
      fn();
    });
    return this.clock.now() + delay;
  }

  /**
   * Ask the executor to stop an attempt (cancel, timeout, the job stopping) until it confirms: a
   * request that fails is retried with backoff, and the task shows the pending stop meanwhile.
   */
  private stop(aj: ActiveJob, name: string, inf: Inflight, reason: StopReason, by?: string): void {
    inf.stopReason ??= reason;
    if (inf.stopping) return;
    inf.stopping = true;
    const stopReason = inf.stopReason;
    if (aj.tasks.get(name)?.stopping?.reason !== stopReason) {
      this.commit(aj, (b) => b.task(name, { stopping: { reason: stopReason, since: b.now, by } }));
    }
    if (inf.followed) this.sendStop(aj, name, inf);
  }

  private sendStop(aj: ActiveJob, name: string, inf: Inflight): void {
    if (!this.isCurrent(aj, name, inf)) return;
    this.executor.cancel(this.cancelRequest(aj, name, inf)).then(
      () => {
        inf.failures = 0;
      },
      (err: unknown) => {
        if (!this.isCurrent(aj, name, inf)) return;
        const retryAt = this.retryLater(inf, () => this.sendStop(aj, name, inf));
        const error = err instanceof Error ? err.message : String(err);
        this.guard(() =>
          this.commit(aj, (b) => {
            const stopping = b.get(name).stopping;
            if (stopping) b.task(name, { stopping: { ...stopping, error, retryAt: new Date(retryAt).toISOString() } });
          }),
        );
      },
    );
  }

  /** Cancel a job: pending tasks are cancelled now, running ones are killed. */
  cancel(jobId: string): boolean {
    const aj = this.jobs.get(jobId);
    if (!aj) return false;
    if (!aj.abort) this.abort(aj, { cancel: true, message: CANCELLED_MARK, taskReason: 'cancelled' });
    return true;
  }

  /**
   * Cancel one task of an active job: a running attempt is stopped through the executor like any
   * other stop, one not started yet ends now. Its downstream is then skipped as after any task that
   * did not succeed, and the job's failure policy decides about the rest. 'ended': the task already
   * finished; a task already being stopped is left as it is.
   */
  cancelTask(jobId: string, name: string, by: string): 'ok' | 'not-found' | 'ended' {
    const aj = this.jobs.get(jobId);
    const t = aj?.tasks.get(name);
    if (!aj || !t) return aj ? 'not-found' : 'ended';
    if (isTerminalTaskState(t.state)) return 'ended';
    if (aj.abort) return 'ok';
    const inf = aj.inflight.get(name);
    if (inf) {
      this.stop(aj, name, inf, 'cancelled', by);
      return 'ok';
    }
    this.commit(aj, (b) =>
      b.task(name, {
        state: 'cancelled',
        finishedAt: b.now,
        notBefore: undefined,
        waitingReason: undefined,
        error: cancelledBy(by),
      }),
    );
    this.afterFailure(aj, name);
    this.schedule(aj);
    return 'ok';
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const aj of this.jobs.values()) {
      for (const disarm of aj.timers) disarm();
      for (const inf of aj.inflight.values()) {
        inf.disarm?.();
        inf.retry?.();
      }
    }
    this.jobs.clear();
    this.dirty.clear();
    this.blocked.clear();
    this.inflightByOwner.clear();
  }

  // ---- the one place state changes ---------------------------------------------------------------

  private commit(aj: ActiveJob, fn: (b: Batch) => void): void {
    const b = new Batch(aj, this.isoNow());
    fn(b);
    if (!b.tasks.size && !b.job && !b.attempts.length) return;
    const change: Change = {
      tasks: [...b.tasks.values()].map((task) => ({ jobId: aj.job.id, task })),
      attempts: b.attempts,
      transitions: b.transitions,
    };
    if (b.job) change.job = { id: aj.job.id, ...b.job };
    const ended = b.job?.state !== undefined && isTerminalJobState(b.job.state) && !isTerminalJobState(aj.job.state);
    if (ended && this.onJobEnd) {
      const onJobEnd = this.onJobEnd;
      const job: JobRecord = { ...aj.job, ...b.job };
      for (const k of Object.keys(b.job!) as (keyof JobRecord)[]) if (b.job![k] === undefined) delete job[k];
      const tasks = [...aj.tasks.values()].map((t) => b.tasks.get(t.name) ?? t);
      this.store.transaction(() => {
        this.store.apply(change);
        onJobEnd(job, tasks);
      });
    } else {
      this.store.apply(change);
    }
    for (const [name, t] of b.tasks) aj.tasks.set(name, t);
    for (const a of b.attempts) {
      const inf = aj.inflight.get(a.task);
      if (inf && inf.attempt === a.attempt) inf.record = a;
    }
    if (b.job) {
      aj.job = { ...aj.job, ...b.job };
      for (const k of Object.keys(b.job) as (keyof JobRecord)[]) if (b.job[k] === undefined) delete aj.job[k];
    }
    for (const t of b.tasks.values()) this.events.emit('task', { jobId: aj.job.id, task: toTaskRun(t) });
    this.events.emit('job', toSummary(aj.job, taskCounts(aj.tasks.values())));
  }

  // ---- scheduling ----------------------------------------------------------------------------

  /** Step `aj` (default: every active job) on the next turn of the event loop. */
  private schedule(aj?: ActiveJob): void {
    if (aj) this.dirty.add(aj);
    else for (const each of this.jobs.values()) this.dirty.add(each);
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => this.pass());
  }

  private pass(): void {
    this.scheduled = false;
    if (this.closed) return;
    const jobs = [...this.dirty].sort((a, b) => a.seq - b.seq);
    this.dirty.clear();
    const started = performance.now();
    for (let i = 0; i < jobs.length; i++) {
      const aj = jobs[i]!;
      if (this.jobs.get(aj.job.id) !== aj) continue;
      try {
        this.step(aj);
      } catch (err) {
        // step() works from what is stored, so running it again later is safe (retryStalled steps every job).
        if (!isStorageFull(err)) throw err;
        this.stall(err);
        return;
      }
      if (i + 1 < jobs.length && performance.now() - started > STEP_SLICE_MS) {
        for (const rest of jobs.slice(i + 1)) this.schedule(rest);
        return;
      }
    }
  }

  private setInflight(aj: ActiveJob, name: string, inf: Inflight): void {
    if (!aj.inflight.has(name))
      this.inflightByOwner.set(aj.job.owner, (this.inflightByOwner.get(aj.job.owner) ?? 0) + 1);
    aj.inflight.set(name, inf);
  }

  private deleteInflight(aj: ActiveJob, name: string): void {
    if (!aj.inflight.delete(name)) return;
    const n = (this.inflightByOwner.get(aj.job.owner) ?? 1) - 1;
    if (n > 0) this.inflightByOwner.set(aj.job.owner, n);
    else this.inflightByOwner.delete(aj.job.owner);
  }

  private step(aj: ActiveJob): void {
    this.blocked.delete(aj);
    // Resolve pending tasks: skipped when an upstream did not succeed, queued when all did.
    this.commit(aj, (b) => {
      let changed = true;
      while (changed) {
        changed = false;
        for (const name of aj.tasks.keys()) {
          const t = b.get(name);
          if (t.state !== 'pending') continue;
          const deps = t.dependsOn.map((d) => b.get(d));
          const bad = deps.find((d) => d && unsuccessful(d.state));
          if (aj.abort) {
            b.task(name, {
              state: 'cancelled',
              finishedAt: b.now,
              error: { message: this.abortText(aj), reason: aj.abort.taskReason },
            });
            changed = true;
          } else if (bad) {
            b.task(name, {
              state: 'skipped',
              finishedAt: b.now,
              error: {
                message: `upstream task '${bad.name}' ${bad.state === 'skipped' ? 'was skipped' : bad.state === 'cancelled' ? 'was cancelled' : 'failed'}`,
                reason: 'upstream',
              },
            });
            changed = true;
          } else if (deps.every((d) => d?.state === 'succeeded')) {
            b.task(name, { state: 'queued', queuedAt: b.now });
            changed = true;
          }
        }
      }
    });
    if (aj.abort) {
      this.commit(aj, (b) => {
        for (const name of aj.tasks.keys()) {
          const t = b.get(name);
          if (t.state === 'queued' && !aj.inflight.has(name)) {
            b.task(name, {
              state: 'cancelled',
              finishedAt: b.now,
              notBefore: undefined,
              waitingReason: undefined,
              error: { message: this.abortText(aj), reason: aj.abort!.taskReason },
            });
          }
        }
      });
    } else {
      const maxParallel = aj.job.pipeline.spec.maxParallel ?? Number.POSITIVE_INFINITY;
      const now = this.clock.now();
      let wake = Number.POSITIVE_INFINITY;
      for (const [name, t] of aj.tasks) {
        if (t.state !== 'queued' || aj.inflight.has(name)) continue;
        if (t.notBefore && Date.parse(t.notBefore) > now) {
          wake = Math.min(wake, Date.parse(t.notBefore));
          continue;
        }
        if (aj.inflight.size >= maxParallel) break;
        if ((this.inflightByOwner.get(aj.job.owner) ?? 0) >= this.maxPerUser) {
          this.blocked.add(aj);
          break;
        }
        if (!this.withinGpuShare(aj, name)) {
          if (aj.tasks.get(name)?.state === 'queued') this.blocked.add(aj);
          continue;
        }
        this.launch(aj, name);
      }
      // A retry waiting out its backoff (also one restored after a restart) needs a wake-up.
      // (Timers and the wall clock may disagree: a timer may fire a little early, so the wake-up
      // is forgotten when it fires, and the next step arms another one if the backoff is not over.)
      if (wake !== Number.POSITIVE_INFINITY && (aj.wakeAt === undefined || wake < aj.wakeAt)) {
        aj.wakeAt = wake;
        const disarm = this.clock.after(wake - now + 1, () => {
          aj.timers.delete(disarm);
          if (aj.wakeAt === wake) aj.wakeAt = undefined;
          this.schedule(aj);
        });
        aj.timers.add(disarm);
      }
    }
    this.maybeFinish(aj);
  }

  // ---- fair use of GPUs (gpuLimits) -------------------------------------------------------------

  private gpuNeedOf(aj: ActiveJob, name: string): Need | undefined {
    return gpuNeed(effectiveTask(aj.job.pipeline, aj.specs.get(name)!).resources);
  }

  /** Whose share a job's GPUs count toward: its owner's, and the team it recorded at submit. */
  private holderOf(aj: ActiveJob): Holder {
    return aj.job.team === undefined ? { owner: aj.job.owner } : { owner: aj.job.owner, team: aj.job.team };
  }

  private holdGpus(aj: ActiveJob, name: string): void {
    if (this.gpuLimits) this.gpuUsage.hold(`${aj.job.id}/${name}`, this.holderOf(aj), this.gpuNeedOf(aj, name));
  }

  /**
   * Whether a queued task's GPUs fit its owner's and team's share now. When not, the task keeps
   * waiting with the reason, nothing is handed to the executor; a task asking for more than a whole
   * share fails at once (unschedulable), as the executors fail what no device could ever hold.
   */
  private withinGpuShare(aj: ActiveJob, name: string): boolean {
    if (!this.gpuLimits) return true;
    const verdict = this.gpuLimits.check(this.holderOf(aj), this.gpuNeedOf(aj, name), this.gpuUsage);
    if (verdict.ok) return true;
    if ('never' in verdict) {
      this.commit(aj, (b) =>
        b.task(name, {
          state: 'failed',
          finishedAt: b.now,
          waitingReason: undefined,
          error: { message: verdict.never, reason: 'unschedulable' },
        }),
      );
      this.afterFailure(aj, name);
      return false;
    }
    if (aj.tasks.get(name)?.waitingReason !== verdict.wait)
      this.commit(aj, (b) => b.task(name, { waitingReason: verdict.wait }));
    return false;
  }

  /** A task failed for good or a user cancelled it alone: with fail-fast the whole job stops. */
  private afterFailure(aj: ActiveJob, name: string): void {
    if (aj.job.pipeline.spec.failurePolicy !== 'fail-fast' || aj.abort) return;
    const what = aj.tasks.get(name)?.state === 'cancelled' ? 'was cancelled' : 'failed';
    this.guard(() => {
      if (!aj.abort)
        this.abort(aj, { cancel: false, message: `task '${name}' ${what} (fail-fast)`, taskReason: 'aborted' });
    });
  }

  private abortText(aj: ActiveJob): string {
    return aj.abort?.cancel ? 'the job was cancelled' : `the job stopped: ${aj.abort?.message ?? ''}`;
  }

  private maybeFinish(aj: ActiveJob): void {
    if (aj.inflight.size) return;
    const tasks = [...aj.tasks.values()];
    if (!tasks.every((t) => isTerminalTaskState(t.state))) return;
    const named = (state: TaskState, what: string): string | undefined => {
      const names = tasks.filter((t) => t.state === state).map((t) => t.name);
      return names.length
        ? `${names.length} task${names.length > 1 ? 's' : ''} ${what}: ${names.join(', ')}`
        : undefined;
    };
    // Without a job-wide stop, a cancelled task is one a user cancelled alone: its job did not succeed.
    const lost = aj.abort
      ? []
      : [named('failed', 'failed'), named('cancelled', 'cancelled')].filter((e): e is string => e !== undefined);
    const state = aj.abort?.cancel ? 'cancelled' : lost.length || aj.abort ? 'failed' : 'succeeded';
    let error: string | undefined;
    if (aj.abort?.cancel) error = 'cancelled';
    else if (aj.abort) error = aj.abort.message;
    else if (lost.length) error = lost.join('; ');
    this.commit(aj, (b) => b.jobPatch({ state, finishedAt: b.now, error }, 'finished'));
    for (const disarm of aj.timers) disarm();
    this.jobs.delete(aj.job.id);
    this.dirty.delete(aj);
    this.blocked.delete(aj);
    // The executor reports its own trouble; a rejection that slipped through must not end the server.
    this.executor.jobEnded?.(aj.job.id).catch(() => undefined);
  }

  // ---- attempts ------------------------------------------------------------------------------

  private launchSpec(aj: ActiveJob, name: string, attempt: number): LaunchSpec {
    const task = aj.specs.get(name)!;
    const eff = effectiveTask(aj.job.pipeline, task);
    const dir = this.layout.attemptDir(aj.job.id, name, attempt);
    const taskJsonPath = join(dir, 'task.json');
    let payload: string;
    try {
      payload = readFileSync(taskJsonPath, 'utf8');
    } catch {
      payload = '';
    }
    const spec: LaunchSpec = {
      jobId: aj.job.id,
      taskName: name,
      taskId: `${aj.job.id}.${name}`,
      attempt,
      owner: aj.job.owner,
      resources: eff.resources,
      env: eff.env,
      taskDir: dir,
      payload: { 'task.json': payload },
      logPath: this.layout.logPath(aj.job.id, name, attempt),
      resultPath: this.layout.resultPath(aj.job.id, name, attempt),
      artifactRoot: this.layout.artifactRoot(aj.job.id),
      workDir: this.workDir(aj.job.id, name),
    };
    if (eff.image) spec.image = eff.image;
    if (eff.timeoutMs !== undefined) spec.timeoutMs = eff.timeoutMs;
    if (aj.job.team) spec.team = aj.job.team;
    return spec;
  }

  /** The folder the job's tasks share: the one it was submitted with, else a folder of its own. */
  private workDir(jobId: string, task: string): string {
    const base = this.store.taskBase(jobId, task) as { workDir?: unknown } | undefined;
    return typeof base?.workDir === 'string' ? base.workDir : this.layout.workDir(jobId);
  }

  /** Write the attempt's task.json from the task's frozen base. */
  private prepareAttempt(aj: ActiveJob, name: string, attempt: number): void {
    const id = aj.job.id;
    const base = this.store.taskBase(id, name);
    if (typeof base !== 'object' || base === null) throw new Error(`the job has no frozen code for task '${name}'`);
    const dir = this.layout.attemptDir(id, name, attempt);
    mkdirSync(dir, { recursive: true });
    // A retry starts from a clean output folder so nothing of a failed attempt is mistaken for output.
    removeTree(this.layout.outputDir(id, name));
    mkdirSync(this.layout.filesDir(id, name), { recursive: true });
    mkdirSync(join(this.layout.outputDir(id, name), 'vars'), { recursive: true });
    const workDir = this.workDir(id, name);
    if (workDir === this.layout.workDir(id)) mkdirSync(workDir, { recursive: true });
    const taskJson = {
      ...base,
      jobId: id,
      taskId: `${id}.${name}`,
      taskName: name,
      attempt,
      artifactRoot: this.layout.artifactRoot(id),
      outputDir: this.layout.outputDir(id, name),
      resultPath: this.layout.resultPath(id, name, attempt),
      notebookPath: this.layout.notebookPath(id, name, attempt),
      workDir,
      upstream: upstreamOf(aj.specs, name),
      resultLimits: {
        count: this.limits.resultsPerTask,
        bytes: this.limits.resultsBytes,
        nameChars: RESULT_NAME_MAX,
        stringChars: RESULT_STRING_MAX,
      },
      // The runner cuts its error text to what the store keeps and keeps result.json under what is read.
      limits: { errorBytes: this.limits.errorBytes, resultBytes: this.limits.resultBytes },
      usage: this.executor.containerPerAttempt ? 'container' : 'process',
    };
    writeFileSync(join(dir, 'task.json'), JSON.stringify(taskJson, null, 2));
  }

  private launch(aj: ActiveJob, name: string): void {
    const t = aj.tasks.get(name)!;
    const attempt = t.attempt + 1;
    try {
      this.prepareAttempt(aj, name, attempt);
    } catch (err) {
      // A full disk is waited out (the attempt is prepared again later), not a reason to fail the task.
      if (isStorageFull(err)) throw new StorageFullError(this.layout.attemptDir(aj.job.id, name, attempt));
      const message = `could not prepare the task: ${err instanceof Error ? err.message : String(err)}`;
      this.commit(aj, (b) =>
        b.task(name, { state: 'failed', attempt, finishedAt: b.now, error: { message, reason: 'prepare' } }),
      );
      return this.schedule(aj);
    }
    const { token, hash } = mintAttemptToken();
    const record: AttemptRecord = {
      jobId: aj.job.id,
      task: name,
      attempt,
      state: 'starting',
      handle: null,
      createdAt: this.isoNow(),
      tokenHash: hash,
    };
    const inf: Inflight = { attempt, record, followed: true, stopping: false, failures: 0 };
    // Persisted as 'starting' BEFORE the executor sees it: after a crash it is either found or started, never twice.
    this.commit(aj, (b) => {
      b.attempts.push(record);
      b.task(name, { attempt, notBefore: undefined, waitingReason: undefined });
      if (aj.job.state === 'pending') b.jobPatch({ state: 'running', startedAt: b.now }, 'first task started');
    });
    this.setInflight(aj, name, inf);
    this.holdGpus(aj, name);
    const spec = this.launchSpec(aj, name, attempt);
    spec.dataToken = token;
    this.executor
      .start(spec, (e) => this.onEvent(aj.job.id, name, attempt, e))
      .catch((err: unknown) => this.startFailed(aj.job.id, name, attempt, err));
  }

  private startFailed(jobId: string, name: string, attempt: number, err: unknown): void {
    const message = `the executor could not start the task: ${err instanceof Error ? err.message : String(err)}`;
    this.onEvent(jobId, name, attempt, { type: 'exited', error: { message, reason: 'executor' } });
  }

  private onEvent(jobId: string, name: string, attempt: number, e: ExecutorEvent): void {
    if (e.type === 'log') {
      // Executors without direct file output: the log file is the single place logs live. Not stored
      // in the database, so a full disk does not hold it back (what cannot be written is lost).
      appendLog(this.layout.logPath(jobId, name, attempt), e.chunk, this.limits.logBytesPerAttempt);
      return;
    }
    this.guard(() => this.handleEvent(jobId, name, attempt, e));
  }

  private handleEvent(jobId: string, name: string, attempt: number, e: Exclude<ExecutorEvent, { type: 'log' }>): void {
    const aj = this.jobs.get(jobId);
    const inf = aj?.inflight.get(name);
    if (!aj || !inf || inf.attempt !== attempt) return;
    if (e.type === 'waiting') {
      if (aj.tasks.get(name)?.waitingReason !== e.reason)
        this.commit(aj, (b) => b.task(name, { waitingReason: e.reason }));
      return;
    }
    if (e.type === 'requeued') {
      this.onRequeued(aj, name, inf, e.reason);
      return;
    }
    if (e.type === 'running') {
      // The executor's own time when it has one; else the first report (a reattached attempt keeps it).
      const startedAt = e.startedAt
        ? notBefore(e.startedAt, inf.record.createdAt)
        : (inf.record.startedAt ?? this.isoNow());
      this.commit(aj, (b) => {
        b.attempts.push({ ...inf.record, state: 'running', handle: e.handle, startedAt });
        const patch: Partial<TaskRecord> = {
          state: 'running',
          startedAt,
          waitingReason: undefined,
          placement: e.placement,
        };
        b.task(name, patch, `attempt ${attempt}`);
      });
      this.armTaskTimeout(aj, name, inf, Date.parse(startedAt));
      return;
    }
    this.onExit(aj, name, inf, e);
  }

  /**
   * The cluster's queue stopped the running attempt and queued it again (a Kueue preemption): the
   * task waits again, with the same attempt (no retry is used), its timeout paused until it runs.
   * Reported again for an attempt already waiting (after a restart), it only updates the reason.
   */
  private onRequeued(aj: ActiveJob, name: string, inf: Inflight, reason: string): void {
    inf.disarm?.();
    inf.disarm = undefined;
    const t = aj.tasks.get(name)!;
    if (t.state !== 'running') {
      if (t.waitingReason !== reason) this.commit(aj, (b) => b.task(name, { waitingReason: reason }));
      return;
    }
    // The attempt is not running: its next start is its own (for the timeout and the duration).
    const { startedAt: _ran, ...attempt } = inf.record;
    this.commit(aj, (b) => {
      b.attempts.push(attempt);
      b.task(
        name,
        {
          state: 'queued',
          queuedAt: b.now,
          waitingReason: reason,
          requeues: (t.requeues ?? 0) + 1,
          startedAt: undefined,
          placement: undefined,
        },
        `requeued: ${reason}`,
      );
    });
  }

  private armTaskTimeout(aj: ActiveJob, name: string, inf: Inflight, startedMs: number): void {
    const eff = effectiveTask(aj.job.pipeline, aj.specs.get(name)!);
    if (eff.timeoutMs === undefined) return;
    inf.disarm?.();
    inf.disarm = this.clock.after(startedMs + eff.timeoutMs - this.clock.now(), () =>
      this.guard(() => {
        if (this.isCurrent(aj, name, inf)) this.stop(aj, name, inf, 'timeout');
      }),
    );
  }

  private armJobTimeout(aj: ActiveJob): void {
    const timeout = aj.job.pipeline.spec.timeout;
    if (!timeout || aj.abort) return;
    const ms = parseDuration(timeout);
    const start = Date.parse(aj.job.startedAt ?? aj.job.createdAt);
    const disarm = this.clock.after(start + ms - this.clock.now(), () =>
      this.guard(() => {
        if (this.jobs.get(aj.job.id) !== aj || aj.abort) return;
        this.abort(aj, { cancel: false, message: `the job exceeded its timeout of ${timeout}`, taskReason: 'timeout' });
      }),
    );
    aj.timers.add(disarm);
  }

  /** Stop a whole job (cancel, fail-fast, job timeout). Persisted first so a restart finishes the abort. */
  private abort(aj: ActiveJob, abort: NonNullable<ActiveJob['abort']>): void {
    // Stored before memory changes: when the store refuses (a full disk), the abort is not half done.
    if (aj.job.error !== abort.message) this.commit(aj, (b) => b.jobPatch({ error: abort.message }));
    aj.abort = abort;
    for (const [name, inf] of aj.inflight) this.stop(aj, name, inf, abort.taskReason);
    this.schedule(aj);
  }

  private onExit(aj: ActiveJob, name: string, inf: Inflight, e: Extract<ExecutorEvent, { type: 'exited' }>): void {
    inf.disarm?.();
    inf.retry?.();
    const spec = aj.specs.get(name)!;
    const eff = effectiveTask(aj.job.pipeline, spec);
    const result = parseRunnerResult(e.result);
    // When it ended and began: the executor's times when it knows them (a container's status), else
    // when the server learnt of them.
    const now = new Date(this.clock.now());
    const ended = e.finishedAt ? new Date(e.finishedAt) : now;
    const started = e.startedAt ? notBefore(e.startedAt, inf.record.createdAt) : inf.record.startedAt;
    const startedMs = started ? Date.parse(started) : undefined;
    const durationMs = result?.durationMs ?? (startedMs !== undefined ? ended.getTime() - startedMs : undefined);
    // result.json is the truth; executors that cannot read it (no shared volume) only have the exit code.
    const succeeded = result
      ? result.status === 'succeeded' && (e.exitCode === undefined || e.exitCode === 0)
      : e.exitCode === 0 && !e.error && !inf.stopReason;
    const exitCode = e.exitCode ?? (result ? (result.status === 'succeeded' ? 0 : 1) : undefined);
    // Its end revokes its data token.
    const { tokenHash: _revoked, ...open } = inf.record;
    const attemptRec: AttemptRecord = { ...open, state: 'finished', finishedAt: ended.toISOString() };
    if (e.startedAt) attemptRec.startedAt = started;
    if (exitCode !== undefined) attemptRec.exitCode = exitCode;
    const usage = attemptUsage(e.usage, result?.usage);
    if (usage) attemptRec.usage = usage;

    let next: Partial<TaskRecord>;
    let retrying = false;
    if (succeeded) {
      const listed = listFiles(this.layout.filesDir(aj.job.id, name), this.limits.artifactsPerTask);
      next = {
        state: 'succeeded',
        error: undefined,
        outputs: result?.outputs ?? spec.outputs,
        artifacts: listed.files,
        artifactsOmitted: listed.omitted || undefined,
      };
    } else {
      let error: TaskError;
      const stop = inf.stopReason;
      if (stop === 'timeout') {
        error = {
          message:
            eff.timeoutMs !== undefined && aj.abort?.taskReason !== 'timeout'
              ? `the task exceeded its timeout of ${spec.timeout ?? aj.job.pipeline.spec.defaults?.timeout}`
              : this.abortText(aj),
          reason: 'timeout',
        };
      } else if (stop) {
        error = aj.abort
          ? { message: this.abortText(aj), reason: stop }
          : cancelledBy(aj.tasks.get(name)?.stopping?.by);
      } else if (e.error?.reason === 'oom') {
        // The kernel's word wins: what the runner saw of it (a MemoryError, a dead child) stays as detail.
        error = { ...result?.error, message: e.error.message, reason: 'oom' };
      } else if (result?.error) {
        error = { ...result.error, reason: result.error.reason ?? 'error' };
      } else if (e.error) {
        error = { message: e.error.message, reason: e.error.reason };
      } else {
        error = { message: `the task exited with code ${exitCode ?? 'unknown'}`, reason: 'exit' };
      }
      // Written by user code (or passed on from the cluster): bounded before it reaches the store.
      error = capError(error, this.limits.errorBytes);
      attemptRec.reason = error.reason ?? 'error';
      const cancelled = stop === 'cancelled' || stop === 'aborted';
      retrying = !cancelled && !aj.abort && error.reason !== 'unschedulable' && inf.attempt < eff.retries + 1;
      if (retrying) {
        const delay = this.backoffMs * 2 ** (inf.attempt - 1);
        next = {
          state: 'queued',
          error,
          notBefore: new Date(now.getTime() + delay).toISOString(),
          placement: undefined,
        };
      } else {
        next = { state: cancelled ? 'cancelled' : 'failed', error };
      }
    }
    // The warnings and results of this attempt replace the previous attempt's.
    const warnings = result?.warnings ? [...result.warnings] : [];
    if (result?.results && Object.keys(result.results).length) {
      const capped = capResults(result.results, this.limits);
      attemptRec.results = capped.results;
      next.results = capped.results;
      if (capped.dropped) warnings.push(capped.dropped);
    } else {
      next.results = undefined;
    }
    next.warnings = warnings.length ? capWarnings(warnings, this.limits.errorBytes) : undefined;
    next.stopping = undefined;
    next.usage = usage;
    if (!retrying) next.finishedAt = ended.toISOString();
    if (e.startedAt && !retrying) next.startedAt = started;
    if (durationMs !== undefined) next.durationMs = durationMs;
    if (exitCode !== undefined) next.exitCode = exitCode;
    this.commit(aj, (b) => {
      b.attempts.push(attemptRec);
      b.task(name, next, `attempt ${inf.attempt} ${attemptRec.reason ?? 'ok'}`);
    });
    // Only once the end is stored: on a full disk the whole exit is handled again later.
    this.deleteInflight(aj, name);
    this.gpuUsage.release(`${aj.job.id}/${name}`);
    if (next.state === 'failed' || (next.state === 'cancelled' && !aj.abort)) this.afterFailure(aj, name);
    // Its share is free again: the jobs waiting for one look again.
    for (const other of this.blocked) this.dirty.add(other);
    this.schedule(aj);
  }
}

/** The error of a task a user cancelled alone. */
function cancelledBy(by: string | undefined): TaskError {
  return by
    ? { message: `the task was cancelled by ${by}`, reason: 'cancelled', by }
    : { message: 'the task was cancelled', reason: 'cancelled' };
}

/** Every task `name` depends on, directly or not, sorted. */
function upstreamOf(specs: ReadonlyMap<string, { dependsOn: readonly string[] }>, name: string): string[] {
  const seen = new Set<string>();
  const todo = [...(specs.get(name)?.dependsOn ?? [])];
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    if (seen.has(next)) continue;
    seen.add(next);
    todo.push(...(specs.get(next)?.dependsOn ?? []));
  }
  return [...seen].sort();
}
