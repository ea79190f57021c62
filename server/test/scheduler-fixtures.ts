/**
 * The scheduler on a hand-moved clock: real SQLite stores in a temp home, real freezing of the
 * pipeline, and a job service fake at the boundary whose jobs end when a test says so.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job, JobState, JobSummary, SubmitJobRequest } from '@cellpipe/schema';
import { freezeJob } from '../src/jobs/freeze.js';
import { newJobId, type SubmitExtra } from '../src/jobs/job-service.js';
import { bundleHash, normalizeBundle } from '../src/pipelines/bundle.js';
import type { Clock } from '../src/clock.js';
import { ScheduleService } from '../src/scheduler/schedule-service.js';
import { Scheduler, type ScheduledJobs } from '../src/scheduler/scheduler.js';
import { SqlitePipelineStore } from '../src/store/pipeline-store.js';
import { SqliteScheduleStore } from '../src/store/schedule-store.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { request } from './jobs-fixtures.js';

interface Timer {
  at: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  private timers: Timer[] = [];
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((t) => t !== timer);
    };
  }
  /** The earliest timer due by `until`, removed. */
  takeDue(until: number): Timer | undefined {
    const due = this.timers.filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
    if (due) this.timers = this.timers.filter((t) => t !== due);
    return due;
  }
}

/** Jobs stored in the real store (inside the scheduler's transaction); they end when a test ends them. */
export class FakeJobs implements ScheduledJobs {
  readonly events = new EventEmitter<{ job: [JobSummary] }>();
  readonly jobs = new Map<string, Job>();
  /** Called after inTransaction and before the job row: throwing there is a crash mid-transaction. */
  beforeInsert?: () => void;
  /** Called before the transaction (after the decision): a change made here races the fire. */
  beforeCommit?: () => void;

  constructor(
    private readonly store: SqliteStore,
    private readonly transaction: <T>(fn: () => T) => T,
  ) {}

  async submit(owner: string, req: SubmitJobRequest, extra: SubmitExtra): Promise<Job> {
    const frozen = freezeJob(req);
    const id = newJobId();
    this.beforeCommit?.();
    const record = {
      id,
      name: frozen.pipeline.metadata.name,
      owner,
      state: 'pending' as JobState,
      executor: 'fake',
      createdAt: new Date().toISOString(),
      pipeline: frozen.pipeline,
      parameters: frozen.parameters,
      ...(extra.scheduleId ? { scheduleId: extra.scheduleId } : {}),
      ...(extra.scheduleSlot ? { scheduleSlot: extra.scheduleSlot } : {}),
      ...(extra.pipelineRef ? { pipelineRef: extra.pipelineRef } : {}),
    };
    this.transaction(() => {
      extra.inTransaction?.(id);
      this.beforeInsert?.();
      this.store.insertJob(record, []);
    });
    const { pipeline: _p, ...summary } = record;
    const job = { ...summary, pipeline: frozen.pipeline, taskCounts: {}, tasks: [] } as unknown as Job;
    this.jobs.set(id, job);
    this.events.emit('job', { ...summary, taskCounts: {} } as unknown as JobSummary);
    return job;
  }

  get(id: string): Job | undefined {
    return this.jobs.get(id);
  }

  /** End a job as the orchestrator would announce it. */
  end(id: string, state: 'succeeded' | 'failed' | 'cancelled', error?: string): void {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`no job ${id}`);
    job.state = state;
    if (error) job.error = error;
    this.store.apply({ job: { id, state, ...(error ? { error } : {}) } });
    const { pipeline: _p, tasks: _t, ...summary } = job as Job & { tasks: unknown };
    this.events.emit('job', summary as unknown as JobSummary);
  }

  async cancel(id: string): Promise<Job> {
    const job = this.jobs.get(id);
    if (!job) throw new Error(`no job ${id}`);
    if (job.state === 'pending' || job.state === 'running') this.end(id, 'cancelled');
    return job;
  }

  async remove(id: string): Promise<void> {
    this.jobs.delete(id);
    this.store.deleteJob(id);
  }

  /** Jobs of a schedule by slot, oldest first. */
  slots(scheduleId: string): string[] {
    return [...this.jobs.values()]
      .filter((j) => j.scheduleId === scheduleId)
      .map((j) => j.scheduleSlot!)
      .sort();
  }

  running(scheduleId: string): Job[] {
    return [...this.jobs.values()].filter(
      (j) => j.scheduleId === scheduleId && !['succeeded', 'failed', 'cancelled'].includes(j.state),
    );
  }
}

/** A pipeline of one task with a parameter, saved as version 1 of `name` for `owner`. */
export function savePipeline(store: SqlitePipelineStore, owner: string, name: string, code = 'x = lr * 2'): number {
  const req = request([{ name: 'train', code }], { parameters: { lr: { default: 0.1, type: 'number' } } });
  const pipeline = { ...req.pipeline!, metadata: { name } };
  const bundle = normalizeBundle(pipeline, req.files!);
  return store.saveVersion(owner, name, {
    hash: bundleHash(bundle),
    author: owner,
    createdAt: new Date().toISOString(),
    message: '',
    tasks: ['train'],
    bundle,
  }).version.version;
}

export class Bed {
  readonly home = mkdtempSync(join(tmpdir(), 'cellpipe-sched-'));
  readonly store = new SqliteStore(join(this.home, 'cellpipe.db'));
  readonly pipelines = new SqlitePipelineStore(this.store.db);
  readonly schedules = new SqliteScheduleStore(this.store.db);
  /** Set by crash(): the process is gone, so nothing more reaches the store. */
  private dead = false;
  readonly transaction = <T>(fn: () => T): T => {
    if (this.dead) throw new Error('the process is dead');
    return this.store.transaction(fn);
  };
  readonly jobs = new FakeJobs(this.store, this.transaction);
  readonly clock: FakeClock;
  readonly logged: unknown[] = [];
  scheduler!: Scheduler;
  service!: ScheduleService;

  constructor(
    start: string,
    private readonly lateAfterMs?: number,
  ) {
    this.clock = new FakeClock(Date.parse(start));
  }

  /** (Re)start the scheduler on the same stores: a server restart. */
  async start(): Promise<void> {
    this.scheduler = new Scheduler({
      schedules: this.schedules,
      pipelines: this.pipelines,
      jobs: this.jobs,
      transaction: this.transaction,
      clock: this.clock,
      log: (m, e) => this.logged.push([m, e]),
      ...(this.lateAfterMs !== undefined ? { lateAfterMs: this.lateAfterMs } : {}),
    });
    this.service = new ScheduleService({
      schedules: this.schedules,
      pipelines: this.pipelines,
      scheduler: this.scheduler,
      transaction: this.transaction,
      clock: this.clock,
    });
    await this.scheduler.start();
    // Slots due at start fire from a timer armed for now.
    await this.advanceTo(this.clock.t);
  }

  /** The process dies where it stands: the transaction in progress rolls back, nothing else is written. */
  crash(): never {
    this.dead = true;
    throw new Error('killed');
  }

  /** The server goes down: timers stop, nothing more is decided. */
  async stop(): Promise<void> {
    await this.scheduler.close();
    this.dead = false;
  }

  private async settle(): Promise<void> {
    // Work queued by work (a plan that ends a schedule) lands on the queue after what we awaited.
    for (let i = 0; i < 5; i++) await this.scheduler.idle();
  }

  /** Move the clock to `to`, running every timer that falls due on the way, in order. */
  async advanceTo(to: string | number): Promise<void> {
    const target = typeof to === 'number' ? to : Date.parse(to);
    for (;;) {
      const timer = this.clock.takeDue(target);
      if (!timer) break;
      this.clock.t = Math.max(this.clock.t, timer.at);
      timer.fn();
      await this.settle();
    }
    this.clock.t = Math.max(this.clock.t, target);
    await this.settle();
  }

  /** Move time while the server is down (no timers run). */
  jump(to: string): void {
    this.clock.t = Date.parse(to);
    while (this.clock.takeDue(Infinity));
  }

  async cleanup(): Promise<void> {
    await this.scheduler?.close();
    this.store.close();
    rmSync(this.home, { recursive: true, force: true });
  }
}
