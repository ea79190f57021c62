/**
 * The scheduler: fires each active schedule's slots as jobs, beside the orchestrator (it only
 * submits jobs through the job service, like the API does).
 *
 * Correct by construction rather than by timing:
 * - In memory there is only a queue of "look at schedule X at time T". Every decision re-reads the
 *   schedule from the store, and the store write that carries it (a fired slot with its job, or a
 *   slot recorded as not run, and the cursor past it) runs in one transaction that checks the
 *   schedule is still active, at the revision the decision was made on, and not yet past that slot.
 *   A pause, delete or edit therefore wins over any fire decided before it, before or after a restart.
 * - A fired slot is a history row keyed by (schedule, slot) under a unique index, created in the same
 *   transaction as its job, so no crash or race can fire one slot twice or fire without a job.
 * - Every slot leaves a history row: fired (with its job and, later, the job's outcome) or not run
 *   with the reason (paused, concurrency, missed, catchup-limit, max-runs, ended, error).
 */
import {
  TERMINAL_JOB_STATES,
  type CatchupPolicy,
  type Job,
  type JobState,
  type JobSummary,
  type SkipReason,
  type SubmitJobRequest,
} from '@cellpipe/schema';
import { NotFoundError, ValidationError } from '../jobs/errors.js';
import type { SubmitExtra } from '../jobs/job-service.js';
import { runRequest } from '../pipelines/pipeline-service.js';
import type { PipelineStore } from '../store/pipeline-store.js';
import type { ScheduleRecord, ScheduleStore } from '../store/schedule-store.js';
import { systemClock, type Clock } from '../clock.js';
import { MinHeap } from './heap.js';
import { buildTrigger, countSlots, nextSlots, type Trigger } from './trigger.js';

/** What the scheduler needs of the job service. */
export interface ScheduledJobs {
  readonly events: {
    on(event: 'job', listener: (job: JobSummary) => void): unknown;
    off(event: 'job', listener: (job: JobSummary) => void): unknown;
  };
  submit(owner: string, request: SubmitJobRequest, extra: SubmitExtra): Promise<Job>;
  get(id: string): Job | undefined;
  cancel(id: string): Promise<Job>;
  remove(id: string): Promise<void>;
}

export interface SchedulerOptions {
  schedules: ScheduleStore;
  pipelines: PipelineStore;
  jobs: ScheduledJobs;
  /** The shared store's transaction (schedules, runs and jobs commit together). */
  transaction: <T>(fn: () => T) => T;
  clock?: Clock;
  /**
   * A slot first looked at more than this long after its time was missed (the server was down or
   * stalled) and goes by the catch-up policy; a later one still runs, late (default 1 hour).
   */
  lateAfterMs?: number;
  log?: (message: string, err?: unknown) => void;
}

/** How the slots that are due are judged. */
interface Judgement {
  /** Reason recorded for slots that do not run. */
  reason: Extract<SkipReason, 'missed' | 'paused'>;
  policy: CatchupPolicy;
  /** How late the newest slot may be and still run on time. */
  graceMs: number;
}

/** The decision was made on a schedule that has changed since: decide again. */
class StaleDecision extends Error {
  constructor() {
    super('the schedule changed while a slot was being decided');
    this.name = 'StaleDecision';
  }
}

const TERMINAL: ReadonlySet<JobState> = new Set(TERMINAL_JOB_STATES);
/** At most this many missed slots are counted one by one; the count of a longer gap says "more than". */
const COUNT_CAP = 10_000;
/** Longest stretch of back-to-back fires before requests and job events get a turn. */
const BURST_SLICE_MS = 200;
/** The timer never sleeps longer than this, so a changed wall clock is noticed. */
const MAX_SLEEP_MS = 60_000;

const iso = (ms: number): string => new Date(ms).toISOString();

function lateness(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m} min` : `${Math.round(m / 60)} h`;
}

export class Scheduler {
  private readonly schedules: ScheduleStore;
  private readonly pipelines: PipelineStore;
  private readonly jobs: ScheduledJobs;
  private readonly transaction: <T>(fn: () => T) => T;
  private readonly clock: Clock;
  private readonly lateAfterMs: number;
  private readonly log: (message: string, err?: unknown) => void;
  private readonly heap = new MinHeap();
  /** Built triggers by schedule, valid for one revision (every change of the spec bumps it). */
  private readonly triggers = new Map<string, { revision: number; trigger: Trigger }>();
  /** The one live heap entry of each schedule (older entries are skipped when popped). */
  private readonly nextAt = new Map<string, number>();
  /** Schedules whose last decision failed unexpectedly: not looked at again before this time. */
  private readonly backoff = new Map<string, { until: number; failures: number }>();
  private cancelTimer: (() => void) | undefined;
  private timerAt = Infinity;
  private queue: Promise<void> = Promise.resolve();
  private started = false;
  private closed = false;
  private readonly onJob = (job: JobSummary): void => {
    if (job.scheduleId && TERMINAL.has(job.state)) {
      this.exclusive(() => this.finish(job.id, job.state, job.error)).catch((err: unknown) =>
        this.log(`cellpipe scheduler: could not record the end of job ${job.id}`, err),
      );
    }
  };

  constructor(options: SchedulerOptions) {
    this.schedules = options.schedules;
    this.pipelines = options.pipelines;
    this.jobs = options.jobs;
    this.transaction = options.transaction;
    this.clock = options.clock ?? systemClock;
    this.lateAfterMs = options.lateAfterMs ?? 3_600_000;
    this.log = options.log ?? ((message, err) => console.error(message, err ?? ''));
  }

  /** Settle runs whose jobs ended while the server was down, then plan every active schedule. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.jobs.events.on('job', this.onJob);
    await this.exclusive(async () => {
      for (const run of this.schedules.runningRuns()) {
        const job = run.jobId ? this.jobs.get(run.jobId) : undefined;
        if (!job) this.schedules.setOutcome(run.id, 'cancelled', 'the job no longer exists');
        else if (TERMINAL.has(job.state)) await this.finish(job.id, job.state, job.error);
      }
      for (const rec of this.schedules.active()) this.plan(rec);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.jobs.events.off('job', this.onJob);
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    await this.queue;
  }

  /** Resolves once everything queued so far has been done (tests, shutdown). */
  idle(): Promise<void> {
    return this.queue;
  }

  /**
   * Run `fn` alone: scheduler work and the API's changes to schedules take turns, so a change
   * never interleaves with a decision (the store's checks would catch it anyway).
   */
  exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** The trigger of a schedule (its spec was validated when saved); reused while its revision stands. */
  trigger(rec: ScheduleRecord): Trigger {
    const cached = this.triggers.get(rec.id);
    if (cached && cached.revision === rec.revision) return cached.trigger;
    const trigger = buildTrigger(rec.spec, Date.parse(rec.createdAt));
    this.triggers.set(rec.id, { revision: rec.revision, trigger });
    return trigger;
  }

  /** The next fire times of a schedule, as the scheduler will fire them: none unless active. */
  nextFires(rec: ScheduleRecord, count: number): number[] {
    if (rec.state !== 'active') return [];
    const left = rec.spec.maxRuns !== undefined ? Math.max(0, rec.spec.maxRuns - rec.runs) : count;
    return nextSlots(this.trigger(rec), Math.max(rec.cursor, this.clock.now()), Math.min(count, left));
  }

  /** Re-read a schedule after a change (created, edited, paused, resumed, deleted) and plan it again. */
  refresh(id: string): void {
    const rec = this.schedules.get(id);
    if (rec) this.plan(rec);
    else {
      this.nextAt.delete(id);
      this.triggers.delete(id);
    }
  }

  /** Decide the slots of `id` that are due now, as the timer would (before an edit; inside exclusive()). */
  settle(id: string): Promise<void> {
    return this.decide(id, this.timerJudgement(id));
  }

  /**
   * After a resume: the slots that passed while it was paused are recorded as not run, except, when
   * asked, the newest one (`latest`) or up to maxCatchup of them (`all`). Inside exclusive().
   */
  catchUpAfterResume(id: string, catchUp: Extract<CatchupPolicy, 'latest' | 'all'> | undefined): Promise<void> {
    return this.decide(id, { reason: 'paused', policy: catchUp ?? 'skip', graceMs: 0 });
  }

  private timerJudgement(id: string): Judgement {
    const rec = this.schedules.get(id);
    return { reason: 'missed', policy: rec?.spec.catchup ?? 'skip', graceMs: this.lateAfterMs };
  }

  // ---- the timer ---------------------------------------------------------------------------------

  private plan(rec: ScheduleRecord): void {
    if (this.closed) return;
    if (rec.state !== 'active') {
      this.nextAt.delete(rec.id);
      return;
    }
    const slot = this.trigger(rec).next(rec.cursor);
    const next = slot === null ? null : Math.max(slot, this.backoff.get(rec.id)?.until ?? -Infinity);
    if (next === null) {
      // Past its end: nothing will ever fire again.
      this.nextAt.delete(rec.id);
      this.exclusive(() => this.end(rec.id, rec.revision)).catch((err: unknown) =>
        this.log(`cellpipe scheduler: could not end schedule ${rec.id}`, err),
      );
      return;
    }
    if (this.nextAt.get(rec.id) === next) return;
    this.nextAt.set(rec.id, next);
    this.heap.push({ at: next, id: rec.id });
    if (next < this.timerAt) this.arm();
  }

  private arm(): void {
    if (this.closed) return;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    this.timerAt = Infinity;
    const top = this.heap.peek();
    if (!top) return;
    const delay = Math.max(0, Math.min(top.at - this.clock.now(), MAX_SLEEP_MS));
    this.timerAt = top.at;
    this.cancelTimer = this.clock.after(delay, () => this.tick());
  }

  private tick(): void {
    this.cancelTimer = undefined;
    this.timerAt = Infinity;
    if (this.closed) return;
    const now = this.clock.now();
    const due: string[] = [];
    for (let top = this.heap.peek(); top && top.at <= now; top = this.heap.peek()) {
      this.heap.pop();
      if (this.nextAt.get(top.id) !== top.at) continue;
      this.nextAt.delete(top.id);
      due.push(top.id);
    }
    if (due.length) {
      this.exclusive(async () => {
        let slice = performance.now();
        for (const id of due) {
          await this.processNow(id);
          // A burst of fires goes first (starting their tasks can wait a moment), but never holds
          // requests and job events back for more than a slice.
          if (performance.now() - slice > BURST_SLICE_MS) {
            await new Promise<void>((r) => setImmediate(r));
            slice = performance.now();
          }
        }
      }).catch((err: unknown) => this.log('cellpipe scheduler: could not fire due schedules', err));
    }
    this.arm();
  }

  private async processNow(id: string): Promise<void> {
    try {
      await this.decide(id, this.timerJudgement(id));
      this.backoff.delete(id);
    } catch (err) {
      // Something outside the rules broke (the store, the disk): try again later, backing off.
      const failures = (this.backoff.get(id)?.failures ?? 0) + 1;
      const delay = Math.min(1000 * 2 ** (failures - 1), 300_000);
      this.backoff.set(id, { until: this.clock.now() + delay, failures });
      this.log(`cellpipe scheduler: schedule ${id} could not be decided (next try in ${delay / 1000} s)`, err);
      this.refresh(id);
    }
  }

  // ---- deciding ----------------------------------------------------------------------------------

  /** Decide every due slot of one schedule, then plan its next look. */
  private async decide(id: string, judgement: Judgement): Promise<void> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const rec = this.schedules.get(id);
      if (!rec || rec.state !== 'active') {
        this.nextAt.delete(id);
        return;
      }
      try {
        await this.decideDue(rec, judgement);
      } catch (err) {
        if (err instanceof StaleDecision) continue;
        throw err;
      } finally {
        const after = this.schedules.get(id);
        if (after) this.plan(after);
        else this.nextAt.delete(id);
      }
      return;
    }
  }

  private async decideDue(rec: ScheduleRecord, judgement: Judgement): Promise<void> {
    const now = this.clock.now();
    const trigger = this.trigger(rec);
    const first = trigger.next(rec.cursor);
    if (first === null || first > now) return;
    // The common case, one due slot, without searching backwards.
    const second = trigger.next(first);
    const single = second === null || second > now;
    const newest = single ? first : trigger.latest(rec.cursor, now, 1)[0]!;
    const total = single ? 1 : countSlots(trigger, rec.cursor, now, COUNT_CAP);
    const onTime = now - newest <= judgement.graceMs;
    // Fired slots, oldest first, and how many of the oldest due slots do not run.
    const fires: { slot: number; note: string }[] = [];
    let missed = total;
    if (onTime) {
      fires.push({ slot: newest, note: now - newest >= 2000 ? `fired ${lateness(now - newest)} late` : '' });
      missed -= 1;
    }
    if (judgement.policy === 'latest' && !onTime) {
      fires.push({ slot: newest, note: `caught up ${lateness(now - newest)} after its time` });
      missed -= 1;
    } else if (judgement.policy === 'all' && missed > 0) {
      const upTo = onTime ? newest - 1 : now;
      const n = Math.min(rec.spec.maxCatchup, missed);
      const catchUp = trigger.latest(rec.cursor, upTo, n).reverse();
      fires.unshift(...catchUp.map((slot) => ({ slot, note: `caught up ${lateness(now - slot)} after its time` })));
      missed -= catchUp.length;
    }
    if (missed > 0) {
      const last = fires.length ? trigger.latest(rec.cursor, fires[0]!.slot - 1, 1)[0]! : newest;
      const more = total > COUNT_CAP ? 'more than ' : '';
      const why =
        judgement.reason === 'paused'
          ? 'the schedule was paused'
          : `the server did not run at the time (catch-up ${judgement.policy}${judgement.policy === 'all' ? `, maxCatchup ${rec.spec.maxCatchup}` : ''})`;
      const reason: SkipReason =
        judgement.policy === 'all' && judgement.reason === 'missed' ? 'catchup-limit' : judgement.reason;
      this.commitSkip(
        rec,
        first,
        last,
        missed,
        reason,
        `${more}${missed} slot${missed === 1 ? '' : 's'} did not run: ${why}`,
      );
    }
    for (const { slot, note } of fires) {
      const current = this.schedules.get(rec.id);
      if (!current || current.state !== 'active') return;
      await this.fire(current, slot, note);
    }
  }

  /** Re-read the schedule inside a transaction: still the one the decision was made on? */
  private current(rec: ScheduleRecord, slot: number): ScheduleRecord {
    const cur = this.schedules.get(rec.id);
    if (!cur || cur.state !== 'active' || cur.revision !== rec.revision || cur.cursor >= slot)
      throw new StaleDecision();
    return cur;
  }

  private commitSkip(
    rec: ScheduleRecord,
    first: number,
    last: number,
    count: number,
    reason: SkipReason,
    message: string,
  ): void {
    this.transaction(() => {
      const cur = this.current(rec, last);
      this.schedules.addSkip(rec.id, first, count, last, reason, message);
      cur.cursor = last;
      if (reason === 'error') this.countFailure(cur, message);
      if (reason === 'max-runs') this.endRuns(cur);
      this.schedules.save(cur);
    });
  }

  private async fire(rec: ScheduleRecord, slot: number, note: string): Promise<void> {
    const spec = rec.spec;
    // Only an edit that lowered maxRuns gets here: the last allowed run ends the schedule itself.
    if (spec.maxRuns !== undefined && rec.runs >= spec.maxRuns) {
      this.commitSkip(rec, slot, slot, 1, 'max-runs', `maxRuns ${spec.maxRuns} reached (${rec.runs} runs)`);
      return;
    }
    const version = this.pipelines.getVersion(rec.owner, spec.pipeline, spec.version);
    if (!version) {
      const which = spec.version === 'latest' ? 'no saved version' : `no version ${spec.version}`;
      this.commitSkip(rec, slot, slot, 1, 'error', `pipeline '${spec.pipeline}' has ${which}`);
      return;
    }
    // Under `allow` nothing depends on what still runs.
    const running =
      spec.concurrency === 'allow'
        ? []
        : this.schedules
            .runningRuns(rec.id)
            .filter((r) => r.jobId !== undefined && !TERMINAL.has(this.jobs.get(r.jobId)?.state ?? 'cancelled'));
    if (running.length && spec.concurrency === 'forbid') {
      const jobs = running.map((r) => r.jobId).join(', ');
      this.commitSkip(rec, slot, slot, 1, 'concurrency', `job ${jobs} was still running (concurrency forbid)`);
      return;
    }
    let jobId: string | undefined;
    try {
      const run = { parameters: spec.parameters, ...(spec.notify ? { notify: spec.notify } : {}) };
      const job = await this.jobs.submit(rec.owner, runRequest(version.bundle, run), {
        scheduleId: rec.id,
        scheduleSlot: iso(slot),
        pipelineRef: { name: version.name, version: version.version, hash: version.hash },
        inTransaction: (id) => {
          const cur = this.current(rec, slot);
          this.schedules.addRun({
            scheduleId: rec.id,
            slot,
            lastSlot: slot,
            count: 1,
            firedAt: iso(this.clock.now()),
            jobId: id,
            version: version.version,
            outcome: 'running',
            ...(note ? { message: note } : {}),
          });
          cur.cursor = slot;
          cur.runs += 1;
          if (spec.maxRuns !== undefined && cur.runs >= spec.maxRuns) this.endRuns(cur);
          this.schedules.save(cur);
        },
      });
      jobId = job.id;
    } catch (err) {
      if (err instanceof StaleDecision) throw err;
      const message = err instanceof Error ? err.message : String(err);
      if (!(err instanceof ValidationError))
        this.log(`cellpipe scheduler: schedule ${rec.id} could not start a job`, err);
      this.commitSkip(rec, slot, slot, 1, 'error', `could not start a job: ${message}`);
      return;
    }
    if (spec.concurrency === 'replace') {
      for (const r of running) {
        this.schedules.setOutcome(r.id, 'running', `replaced by job ${jobId} (concurrency replace)`);
        try {
          await this.jobs.cancel(r.jobId!);
        } catch (err) {
          if (!(err instanceof NotFoundError)) throw err;
        }
      }
    }
  }

  /** No run is left under maxRuns: the schedule ends (saved by the caller's transaction). */
  private endRuns(cur: ScheduleRecord): void {
    cur.state = 'ended';
    cur.stateReason = `ended after ${cur.runs} run${cur.runs === 1 ? '' : 's'} (maxRuns ${cur.spec.maxRuns})`;
    cur.revision += 1;
  }

  /** A failed slot or run: count it, and pause the schedule after pauseAfterFailures in a row. */
  private countFailure(cur: ScheduleRecord, what: string): void {
    cur.consecutiveFailures += 1;
    const limit = cur.spec.pauseAfterFailures;
    if (limit !== undefined && cur.consecutiveFailures >= limit && cur.state === 'active') {
      cur.state = 'paused';
      cur.stateReason = `paused after ${cur.consecutiveFailures} failed runs in a row (last: ${what})`;
      cur.revision += 1;
    }
  }

  private end(id: string, revision: number): void {
    this.transaction(() => {
      const cur = this.schedules.get(id);
      if (!cur || cur.state !== 'active' || cur.revision !== revision) return;
      cur.state = 'ended';
      cur.stateReason = cur.spec.endAt ? `ended: no slots after endAt ${cur.spec.endAt}` : 'ended: no more slots';
      cur.revision += 1;
      cur.updatedAt = iso(this.clock.now());
      this.schedules.save(cur);
    });
  }

  // ---- outcomes and retention -------------------------------------------------------------------

  private async finish(jobId: string, state: JobState, error: string | undefined): Promise<void> {
    let scheduleId: string | undefined;
    this.transaction(() => {
      const run = this.schedules.runByJob(jobId);
      if (!run || run.outcome !== 'running') return;
      this.schedules.setOutcome(run.id, state as 'succeeded' | 'failed' | 'cancelled');
      const cur = this.schedules.get(run.scheduleId);
      if (!cur) return;
      scheduleId = cur.id;
      if (state === 'failed') this.countFailure(cur, `job ${jobId} failed${error ? `: ${error}` : ''}`);
      else if (state === 'succeeded') cur.consecutiveFailures = 0;
      this.schedules.save(cur);
    });
    if (scheduleId) {
      this.refresh(scheduleId);
      await this.prune(scheduleId);
    }
  }

  /** Keep the newest keepSucceeded succeeded and keepFailed failed or cancelled runs' jobs; delete older ones. */
  async prune(scheduleId: string): Promise<void> {
    const rec = this.schedules.get(scheduleId);
    if (!rec) return;
    let succeeded = 0;
    let failed = 0;
    for (const run of this.schedules.finishedRuns(scheduleId)) {
      const keep =
        run.outcome === 'succeeded' ? ++succeeded <= rec.spec.keepSucceeded : ++failed <= rec.spec.keepFailed;
      if (keep) continue;
      try {
        await this.jobs.remove(run.jobId!);
      } catch (err) {
        if (!(err instanceof NotFoundError)) {
          this.log(`cellpipe scheduler: could not delete job ${run.jobId} of schedule ${scheduleId}`, err);
          continue;
        }
      }
      this.schedules.markPruned(run.id);
    }
  }
}
