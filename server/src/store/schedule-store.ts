/**
 * Schedules and their history. A schedule row holds its spec (one JSON document), its state, a
 * revision bumped by every change a user makes, and its cursor: every slot up to the cursor has been
 * decided (fired, or recorded as not run). History rows are keyed by (schedule, slot); a slot that
 * fired has its job, and the unique index on fired slots makes a second fire of one slot impossible.
 *
 * Writes that must hold together (a fire, its job, the cursor) run inside `Store.transaction`, which
 * shares this database.
 */
import type Database from 'better-sqlite3';
import type { ScheduleRunOutcome, ScheduleSpec, ScheduleState, SkipReason } from '@cellpipe/schema';
import { StoreError } from './errors.js';

export interface ScheduleRecord {
  id: string;
  owner: string;
  name: string;
  spec: ScheduleSpec;
  state: ScheduleState;
  stateReason?: string;
  revision: number;
  /** ms since the epoch (UTC). */
  cursor: number;
  runs: number;
  consecutiveFailures: number;
  createdAt: string;
  updatedAt: string;
}

export interface RunRecord {
  id: number;
  scheduleId: string;
  /** ms since the epoch (UTC). */
  slot: number;
  lastSlot: number;
  count: number;
  firedAt?: string;
  jobId?: string;
  version?: number;
  outcome: ScheduleRunOutcome;
  reason?: SkipReason;
  message?: string;
  pruned: boolean;
}

export type NewRun = Omit<RunRecord, 'id' | 'pruned'>;

export interface ScheduleStore {
  insert(rec: ScheduleRecord): void;
  get(id: string): ScheduleRecord | undefined;
  byName(owner: string, name: string): ScheduleRecord | undefined;
  /** Every schedule of `owner` (all owners when undefined), by name. */
  list(owner?: string): ScheduleRecord[];
  /** Active schedules (the scheduler's working set). */
  active(): ScheduleRecord[];
  /** Write the whole row (read-modify-write inside a transaction). */
  save(rec: ScheduleRecord): void;
  delete(id: string): boolean;

  /** A fired slot (with jobId) or a slot that did not run. Throws on a second fire of one slot. */
  addRun(run: NewRun): RunRecord;
  /**
   * Record a slot that did not run: merged into the newest history row when that row is a skip for
   * the same reason (one row for "paused, 1,440 slots"), else a new row.
   */
  addSkip(scheduleId: string, slot: number, count: number, lastSlot: number, reason: SkipReason, message: string): void;
  /** Newest first. `before`: a run id from the previous page. */
  history(scheduleId: string, limit: number, before?: number): RunRecord[];
  lastRun(scheduleId: string): RunRecord | undefined;
  /** Fired runs whose job has not ended (all schedules, or one). */
  runningRuns(scheduleId?: string): RunRecord[];
  runByJob(jobId: string): RunRecord | undefined;
  setOutcome(runId: number, outcome: ScheduleRunOutcome, message?: string): void;
  /** Ended, unpruned fired runs of a schedule, newest first. */
  finishedRuns(scheduleId: string): RunRecord[];
  markPruned(runId: number): void;
}

interface ScheduleRow {
  id: string;
  owner: string;
  name: string;
  spec: string;
  state: string;
  state_reason: string | null;
  revision: number;
  cursor: number;
  runs: number;
  consecutive_failures: number;
  created_at: string;
  updated_at: string;
}

interface RunRow {
  id: number;
  schedule_id: string;
  slot: number;
  last_slot: number;
  count: number;
  fired_at: string | null;
  job_id: string | null;
  version: number | null;
  outcome: string;
  reason: string | null;
  message: string | null;
  pruned: number;
}

function toSchedule(r: ScheduleRow): ScheduleRecord {
  const rec: ScheduleRecord = {
    id: r.id,
    owner: r.owner,
    name: r.name,
    spec: JSON.parse(r.spec) as ScheduleSpec,
    state: r.state as ScheduleState,
    revision: r.revision,
    cursor: r.cursor,
    runs: r.runs,
    consecutiveFailures: r.consecutive_failures,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.state_reason !== null) rec.stateReason = r.state_reason;
  return rec;
}

function toRun(r: RunRow): RunRecord {
  const run: RunRecord = {
    id: r.id,
    scheduleId: r.schedule_id,
    slot: r.slot,
    lastSlot: r.last_slot,
    count: r.count,
    outcome: r.outcome as ScheduleRunOutcome,
    pruned: r.pruned === 1,
  };
  if (r.fired_at !== null) run.firedAt = r.fired_at;
  if (r.job_id !== null) run.jobId = r.job_id;
  if (r.version !== null) run.version = r.version;
  if (r.reason !== null) run.reason = r.reason as SkipReason;
  if (r.message !== null) run.message = r.message;
  return run;
}

function scheduleParams(rec: ScheduleRecord): Record<string, unknown> {
  return {
    id: rec.id,
    owner: rec.owner,
    name: rec.name,
    spec: JSON.stringify(rec.spec),
    state: rec.state,
    stateReason: rec.stateReason ?? null,
    revision: rec.revision,
    cursor: rec.cursor,
    runs: rec.runs,
    consecutiveFailures: rec.consecutiveFailures,
    createdAt: rec.createdAt,
    updatedAt: rec.updatedAt,
  };
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
}

function duplicateName(name: string): StoreError {
  return new StoreError(`you already have a schedule named '${name}'`, 'duplicate-name', 'name');
}

export class SqliteScheduleStore implements ScheduleStore {
  private readonly stmts;

  /** `db` is the server's database (migrated by SqliteStore). */
  constructor(private readonly db: Database.Database) {
    this.stmts = {
      insert: db.prepare(`INSERT INTO schedules (id, owner, name, spec, state, state_reason, revision, cursor, runs,
        consecutive_failures, created_at, updated_at) VALUES (@id, @owner, @name, @spec, @state, @stateReason,
        @revision, @cursor, @runs, @consecutiveFailures, @createdAt, @updatedAt)`),
      save: db.prepare(`UPDATE schedules SET owner = @owner, name = @name, spec = @spec, state = @state,
        state_reason = @stateReason, revision = @revision, cursor = @cursor, runs = @runs,
        consecutive_failures = @consecutiveFailures, updated_at = @updatedAt WHERE id = @id`),
      get: db.prepare('SELECT * FROM schedules WHERE id = ?'),
      byName: db.prepare('SELECT * FROM schedules WHERE owner = ? AND name = ?'),
      listAll: db.prepare('SELECT * FROM schedules ORDER BY name, owner'),
      listOwner: db.prepare('SELECT * FROM schedules WHERE owner = ? ORDER BY name'),
      active: db.prepare("SELECT * FROM schedules WHERE state = 'active'"),
      delete: db.prepare('DELETE FROM schedules WHERE id = ?'),
      addRun: db.prepare(`INSERT INTO schedule_runs (schedule_id, slot, last_slot, count, fired_at, job_id, version,
        outcome, reason, message) VALUES (@scheduleId, @slot, @lastSlot, @count, @firedAt, @jobId, @version, @outcome,
        @reason, @message)`),
      newest: db.prepare('SELECT * FROM schedule_runs WHERE schedule_id = ? ORDER BY id DESC LIMIT 1'),
      extendSkip: db.prepare('UPDATE schedule_runs SET last_slot = ?, count = count + ?, message = ? WHERE id = ?'),
      history: db.prepare('SELECT * FROM schedule_runs WHERE schedule_id = ? AND id < ? ORDER BY id DESC LIMIT ?'),
      runningAll: db.prepare("SELECT * FROM schedule_runs WHERE outcome = 'running' AND job_id IS NOT NULL"),
      runningOf: db.prepare(
        "SELECT * FROM schedule_runs WHERE schedule_id = ? AND outcome = 'running' AND job_id IS NOT NULL",
      ),
      byJob: db.prepare('SELECT * FROM schedule_runs WHERE job_id = ?'),
      setOutcome: db.prepare('UPDATE schedule_runs SET outcome = ?, message = coalesce(?, message) WHERE id = ?'),
      finished: db.prepare(`SELECT * FROM schedule_runs WHERE schedule_id = ? AND job_id IS NOT NULL AND pruned = 0
        AND outcome IN ('succeeded', 'failed', 'cancelled') ORDER BY slot DESC`),
      prune: db.prepare('UPDATE schedule_runs SET pruned = 1 WHERE id = ?'),
    };
  }

  insert(rec: ScheduleRecord): void {
    try {
      this.stmts.insert.run(scheduleParams(rec));
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateName(rec.name);
      throw err;
    }
  }

  get(id: string): ScheduleRecord | undefined {
    const r = this.stmts.get.get(id) as ScheduleRow | undefined;
    return r ? toSchedule(r) : undefined;
  }

  byName(owner: string, name: string): ScheduleRecord | undefined {
    const r = this.stmts.byName.get(owner, name) as ScheduleRow | undefined;
    return r ? toSchedule(r) : undefined;
  }

  list(owner?: string): ScheduleRecord[] {
    const rows = (owner === undefined ? this.stmts.listAll.all() : this.stmts.listOwner.all(owner)) as ScheduleRow[];
    return rows.map(toSchedule);
  }

  active(): ScheduleRecord[] {
    return (this.stmts.active.all() as ScheduleRow[]).map(toSchedule);
  }

  save(rec: ScheduleRecord): void {
    try {
      this.stmts.save.run(scheduleParams(rec));
    } catch (err) {
      if (isUniqueViolation(err)) throw duplicateName(rec.name);
      throw err;
    }
  }

  delete(id: string): boolean {
    return this.stmts.delete.run(id).changes > 0;
  }

  addRun(run: NewRun): RunRecord {
    const info = this.stmts.addRun.run({
      scheduleId: run.scheduleId,
      slot: run.slot,
      lastSlot: run.lastSlot,
      count: run.count,
      firedAt: run.firedAt ?? null,
      jobId: run.jobId ?? null,
      version: run.version ?? null,
      outcome: run.outcome,
      reason: run.reason ?? null,
      message: run.message ?? null,
    });
    return { ...run, id: Number(info.lastInsertRowid), pruned: false };
  }

  addSkip(
    scheduleId: string,
    slot: number,
    count: number,
    lastSlot: number,
    reason: SkipReason,
    message: string,
  ): void {
    const newest = this.stmts.newest.get(scheduleId) as RunRow | undefined;
    if (newest && newest.outcome === 'skipped' && newest.reason === reason && newest.last_slot < slot) {
      this.stmts.extendSkip.run(lastSlot, count, message, newest.id);
      return;
    }
    this.addRun({ scheduleId, slot, lastSlot, count, outcome: 'skipped', reason, message });
  }

  history(scheduleId: string, limit: number, before?: number): RunRecord[] {
    return (this.stmts.history.all(scheduleId, before ?? Number.MAX_SAFE_INTEGER, limit) as RunRow[]).map(toRun);
  }

  lastRun(scheduleId: string): RunRecord | undefined {
    const r = this.stmts.newest.get(scheduleId) as RunRow | undefined;
    return r ? toRun(r) : undefined;
  }

  runningRuns(scheduleId?: string): RunRecord[] {
    const rows = (
      scheduleId === undefined ? this.stmts.runningAll.all() : this.stmts.runningOf.all(scheduleId)
    ) as RunRow[];
    return rows.map(toRun);
  }

  runByJob(jobId: string): RunRecord | undefined {
    const r = this.stmts.byJob.get(jobId) as RunRow | undefined;
    return r ? toRun(r) : undefined;
  }

  setOutcome(runId: number, outcome: ScheduleRunOutcome, message?: string): void {
    this.stmts.setOutcome.run(outcome, message ?? null, runId);
  }

  finishedRuns(scheduleId: string): RunRecord[] {
    return (this.stmts.finished.all(scheduleId) as RunRow[]).map(toRun);
  }

  markPruned(runId: number): void {
    this.stmts.prune.run(runId);
  }
}
