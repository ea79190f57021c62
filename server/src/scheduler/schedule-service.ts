/**
 * Schedules as the API and the CLI see them: create, list, show, update in place, pause, resume,
 * delete, history and a preview of fire times. Every change is checked (naming the field), written,
 * and handed to the scheduler, taking turns with its decisions.
 */
import { randomBytes } from 'node:crypto';
import type {
  CatchupPolicy,
  CreateScheduleRequest,
  Schedule,
  ScheduleDetail,
  ScheduleHistory,
  SchedulePreview,
  SchedulePreviewRequest,
  ScheduleRun,
  ScheduleSpec,
  UpdateScheduleRequest,
} from '@cellpipe/schema';
import { SCHEDULE_DEFAULTS } from '@cellpipe/schema';
import { NotFoundError, ValidationError } from '../jobs/errors.js';
import { resolveParameters } from '../jobs/freeze.js';
import type { NotifyCheck } from '../jobs/job-service.js';
import type { PipelineStore } from '../store/pipeline-store.js';
import type { RunRecord, ScheduleRecord, ScheduleStore } from '../store/schedule-store.js';
import { systemClock, type Clock } from '../clock.js';
import type { Scheduler } from './scheduler.js';
import { buildTrigger, nextSlots } from './trigger.js';

export interface ScheduleServiceOptions {
  schedules: ScheduleStore;
  pipelines: PipelineStore;
  scheduler: Scheduler;
  transaction: <T>(fn: () => T) => T;
  clock?: Clock;
  /** Checks that `notify` names only targets the schedule's owner may use. */
  checkNotify?: NotifyCheck;
}

/** Schedule ids look like job ids: time-ordered base36 plus randomness. */
function newScheduleId(now: number): string {
  const rand = [...randomBytes(6)].map((b) => (b % 36).toString(36)).join('');
  return `${now.toString(36)}${rand}`;
}

const iso = (ms: number): string => new Date(ms).toISOString();

function runToWire(r: RunRecord): ScheduleRun {
  const out: ScheduleRun = {
    id: r.id,
    scheduleId: r.scheduleId,
    slot: iso(r.slot),
    count: r.count,
    outcome: r.outcome,
  };
  if (r.lastSlot !== r.slot) out.lastSlot = iso(r.lastSlot);
  if (r.firedAt) out.firedAt = r.firedAt;
  if (r.jobId) out.jobId = r.jobId;
  if (r.version !== undefined) out.version = r.version;
  if (r.reason) out.reason = r.reason;
  if (r.message) out.message = r.message;
  if (r.pruned) out.pruned = true;
  return out;
}

/** Optional fields set to null by an update are removed. */
function applyUpdate(spec: ScheduleSpec, patch: UpdateScheduleRequest): ScheduleSpec {
  const next: Record<string, unknown> = { ...spec };
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    if (value === null) delete next[key];
    else next[key] = value;
  }
  if (patch.cron !== undefined) delete next.every;
  if (patch.every !== undefined) delete next.cron;
  if (patch.cron !== undefined && patch.every !== undefined) {
    throw new ValidationError('give either cron or every, not both', ['every']);
  }
  return next as ScheduleSpec;
}

export class ScheduleService {
  private readonly schedules: ScheduleStore;
  private readonly pipelines: PipelineStore;
  private readonly scheduler: Scheduler;
  private readonly transaction: <T>(fn: () => T) => T;
  private readonly clock: Clock;
  private readonly checkNotify: NotifyCheck;

  constructor(options: ScheduleServiceOptions) {
    this.schedules = options.schedules;
    this.pipelines = options.pipelines;
    this.scheduler = options.scheduler;
    this.transaction = options.transaction;
    this.clock = options.clock ?? systemClock;
    this.checkNotify = options.checkNotify ?? (() => undefined);
  }

  /** Fire times of a trigger, from the scheduler's own function (nothing is saved). */
  preview(request: SchedulePreviewRequest): SchedulePreview {
    const now = this.clock.now();
    const trigger = buildTrigger(request, now);
    return { fires: nextSlots(trigger, now, request.count).map(iso), timezone: request.timezone };
  }

  /** Everything about a spec that zod cannot check: the trigger, the pipeline version, the parameters. */
  private check(owner: string, spec: ScheduleSpec, anchorMs: number): void {
    buildTrigger(spec, anchorMs);
    const version = this.pipelines.getVersion(owner, spec.pipeline, spec.version);
    if (!version) {
      const newest = this.pipelines.getVersion(owner, spec.pipeline, 'latest');
      if (!newest) throw new ValidationError(`no saved pipeline '${spec.pipeline}' (save it first)`, ['pipeline']);
      throw new ValidationError(
        `pipeline '${spec.pipeline}' has no version ${spec.version} (versions 1 to ${newest.version})`,
        ['version'],
      );
    }
    resolveParameters(version.bundle.pipeline, spec.parameters);
    this.checkNotify(owner, spec.notify, ['notify']);
  }

  async create(owner: string, request: CreateScheduleRequest): Promise<ScheduleDetail> {
    const { paused, ...spec } = request;
    const now = this.clock.now();
    if (spec.endAt !== undefined && Date.parse(spec.endAt) <= now) {
      throw new ValidationError(`endAt (${spec.endAt}) is in the past`, ['endAt']);
    }
    this.check(owner, spec, now);
    const rec: ScheduleRecord = {
      id: newScheduleId(now),
      owner,
      name: spec.name,
      spec,
      state: paused ? 'paused' : 'active',
      revision: 1,
      // Slots before the schedule existed never run.
      cursor: now,
      runs: 0,
      consecutiveFailures: 0,
      createdAt: iso(now),
      updatedAt: iso(now),
    };
    if (paused) rec.stateReason = `created paused by ${owner}`;
    await this.scheduler.exclusive(() => {
      this.schedules.insert(rec);
      this.scheduler.refresh(rec.id);
    });
    return this.detail(rec.id);
  }

  list(owner?: string): ScheduleDetail[] {
    return this.schedules.list(owner).map((r) => this.toWire(r));
  }

  /** By id, or by name among `owner`'s schedules. */
  find(ref: string, owner: string): ScheduleRecord | undefined {
    return this.schedules.get(ref) ?? this.schedules.byName(owner, ref);
  }

  get(id: string): ScheduleRecord | undefined {
    return this.schedules.get(id);
  }

  detail(id: string): ScheduleDetail {
    const rec = this.schedules.get(id);
    if (!rec) throw new NotFoundError(`schedule ${id} not found`);
    return this.toWire(rec);
  }

  private toWire(rec: ScheduleRecord): ScheduleDetail {
    const out: ScheduleDetail = {
      ...rec.spec,
      id: rec.id,
      owner: rec.owner,
      state: rec.state,
      createdAt: rec.createdAt,
      updatedAt: rec.updatedAt,
      revision: rec.revision,
      runs: rec.runs,
      consecutiveFailures: rec.consecutiveFailures,
      nextFires: this.scheduler.nextFires(rec, 5).map(iso),
    };
    if (rec.stateReason) out.stateReason = rec.stateReason;
    const last = this.schedules.lastRun(rec.id);
    if (last) out.lastRun = runToWire(last);
    return out;
  }

  /** Change a schedule in place. Slots of the old spec that are due run first; none of the new spec's past slots ever run. */
  async update(id: string, patch: UpdateScheduleRequest, by: string): Promise<ScheduleDetail> {
    await this.scheduler.exclusive(async () => {
      await this.scheduler.settle(id);
      const rec = this.schedules.get(id);
      if (!rec) throw new NotFoundError(`schedule ${id} not found`);
      const spec = applyUpdate(rec.spec, patch);
      const now = this.clock.now();
      this.check(rec.owner, spec, Date.parse(rec.createdAt));
      this.transaction(() => {
        const cur = this.schedules.get(id);
        if (!cur) throw new NotFoundError(`schedule ${id} not found`);
        cur.spec = spec;
        cur.name = spec.name;
        cur.cursor = Math.max(cur.cursor, now);
        cur.revision += 1;
        cur.updatedAt = iso(now);
        // An ended schedule whose new limits allow more runs is active again.
        if (cur.state === 'ended' && this.canRunAgain(cur)) {
          cur.state = 'active';
          cur.stateReason = `updated by ${by}`;
        }
        this.schedules.save(cur);
      });
      this.scheduler.refresh(id);
      await this.scheduler.prune(id);
    });
    return this.detail(id);
  }

  private canRunAgain(rec: ScheduleRecord): boolean {
    if (rec.spec.maxRuns !== undefined && rec.runs >= rec.spec.maxRuns) return false;
    return this.scheduler.trigger(rec).next(rec.cursor) !== null;
  }

  async pause(id: string, by: string): Promise<ScheduleDetail> {
    await this.scheduler.exclusive(() => {
      this.transaction(() => {
        const cur = this.schedules.get(id);
        if (!cur) throw new NotFoundError(`schedule ${id} not found`);
        if (cur.state !== 'active') return;
        cur.state = 'paused';
        cur.stateReason = `paused by ${by}`;
        cur.revision += 1;
        cur.updatedAt = iso(this.clock.now());
        this.schedules.save(cur);
      });
      this.scheduler.refresh(id);
    });
    return this.detail(id);
  }

  /** Slots that passed while paused do not run unless `catchUp` asks for the newest one or for all (up to maxCatchup). */
  async resume(id: string, by: string, catchUp?: Extract<CatchupPolicy, 'latest' | 'all'>): Promise<ScheduleDetail> {
    await this.scheduler.exclusive(async () => {
      let resumed = false;
      this.transaction(() => {
        const cur = this.schedules.get(id);
        if (!cur) throw new NotFoundError(`schedule ${id} not found`);
        if (cur.state !== 'paused') return;
        cur.state = 'active';
        cur.stateReason = `resumed by ${by}`;
        cur.consecutiveFailures = 0;
        cur.revision += 1;
        cur.updatedAt = iso(this.clock.now());
        this.schedules.save(cur);
        resumed = true;
      });
      if (resumed) await this.scheduler.catchUpAfterResume(id, catchUp);
      this.scheduler.refresh(id);
    });
    return this.detail(id);
  }

  /** The schedule and its history go; its jobs stay (they still name the schedule id). */
  async delete(id: string): Promise<void> {
    await this.scheduler.exclusive(() => {
      if (!this.schedules.delete(id)) throw new NotFoundError(`schedule ${id} not found`);
      this.scheduler.refresh(id);
    });
  }

  history(id: string, limit: number, cursor?: string): ScheduleHistory {
    if (!this.schedules.get(id)) throw new NotFoundError(`schedule ${id} not found`);
    let before: number | undefined;
    if (cursor !== undefined) {
      before = /^\d+$/.test(cursor) ? Number(cursor) : NaN;
      if (!Number.isSafeInteger(before)) throw new ValidationError('not a cursor from a previous page', ['cursor']);
    }
    const rows = this.schedules.history(id, limit + 1, before);
    const items = rows.slice(0, limit).map(runToWire);
    const last = items[items.length - 1];
    return rows.length > limit && last ? { items, nextCursor: String(last.id) } : { items };
  }

  /**
   * `spec.schedule` of a saved pipeline declares its schedule: one named after the pipeline that
   * follows the latest version. Saving creates it, or updates its cron, time zone and paused state.
   */
  async applyDeclared(
    owner: string,
    pipeline: string,
    declared: Schedule,
  ): Promise<{ id: string; name: string; action: 'created' | 'updated' | 'unchanged' }> {
    const existing = this.schedules.byName(owner, pipeline);
    if (!existing) {
      const created = await this.create(owner, {
        ...SCHEDULE_DEFAULTS,
        name: pipeline,
        pipeline,
        cron: declared.cron,
        timezone: declared.timezone,
        parameters: {},
        paused: declared.paused,
      });
      return { id: created.id, name: created.name, action: 'created' };
    }
    let action: 'updated' | 'unchanged' = 'unchanged';
    const s = existing.spec;
    if (s.cron !== declared.cron || s.timezone !== declared.timezone || s.pipeline !== pipeline) {
      await this.update(existing.id, { cron: declared.cron, timezone: declared.timezone, pipeline }, owner);
      action = 'updated';
    }
    const state = this.schedules.get(existing.id)?.state;
    if (declared.paused && state === 'active') {
      await this.pause(existing.id, owner);
      action = 'updated';
    } else if (!declared.paused && state === 'paused' && existing.stateReason?.startsWith('created paused')) {
      await this.resume(existing.id, owner);
      action = 'updated';
    }
    return { id: existing.id, name: existing.name, action };
  }
}
