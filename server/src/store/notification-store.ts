/**
 * Notification targets and the outbox, in the server's database. A target row holds its URL and
 * secret (what the API never returns). An outbox row is one notification of one job's end to one
 * target: written in the transaction that ends the job, then attempted until delivered or given up,
 * every attempt recorded.
 */
import type Database from 'better-sqlite3';
import type { DeliveryState, JobEndEvent, NotifierKind, NotifyOn } from '@cellpipe/schema';

/** owner '' is a site-wide target. */
export const SITE = '';

export interface TargetRecord {
  id: string;
  owner: string;
  name: string;
  kind: NotifierKind;
  url: string;
  secret?: string;
  description?: string;
  createdBy: string;
  /** Created by an admin: may reach private networks (see notifications.privateNetworks). */
  trusted: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface OutboxRecord {
  id: number;
  key: string;
  jobId: string;
  owner: string;
  /** Null when the rule named no target this owner may use, or the target was deleted since. */
  targetId: string | null;
  targetName: string;
  kind?: NotifierKind;
  on: NotifyOn;
  event: JobEndEvent;
  state: DeliveryState;
  attempts: number;
  /** ms since the epoch: when the next attempt is due (pending rows). */
  nextAt?: number;
  /** ms since the epoch: no attempt starts after this. */
  giveUpAt: number;
  createdAt: string;
  deliveredAt?: string;
  error?: string;
}

export type NewOutbox = Omit<OutboxRecord, 'id' | 'attempts' | 'deliveredAt'>;

export interface AttemptRow {
  attempt: number;
  at: string;
  status?: number;
  error?: string;
  durationMs: number;
}

export interface TargetStore {
  insertTarget(t: TargetRecord): void;
  updateTarget(t: TargetRecord): void;
  deleteTarget(id: string): boolean;
  target(id: string): TargetRecord | undefined;
  targetByName(owner: string, name: string): TargetRecord | undefined;
  /** Targets of these owners (SITE for site-wide ones), by name. */
  targets(owners: readonly string[]): TargetRecord[];
}

export interface OutboxStore {
  /** False when a row with that key exists (the end of a job is written once). */
  enqueue(row: NewOutbox): boolean;
  outbox(id: number): OutboxRecord | undefined;
  /** Pending rows due by `now`, soonest first. */
  due(now: number, limit: number): OutboxRecord[];
  /** The soonest `nextAt` of a pending row. */
  nextDue(): number | undefined;
  /** Holds a due row for one attempt: not due again before `until` (after a crash, it is retried then). */
  lease(id: number, until: number): void;
  /** One attempt (none when the row could not be attempted) and where it leaves the row, in one transaction. */
  recordAttempt(
    id: number,
    attempt: AttemptRow | undefined,
    next: { state: DeliveryState; nextAt?: number; deliveredAt?: string; error?: string },
  ): void;
  ofJob(jobId: string): OutboxRecord[];
  attemptsOf(id: number): AttemptRow[];
}

interface TargetRow {
  id: string;
  owner: string;
  name: string;
  kind: string;
  url: string;
  secret: string | null;
  description: string | null;
  created_by: string;
  trusted: number;
  created_at: string;
  updated_at: string;
}

interface OutboxRow {
  id: number;
  key: string;
  job_id: string;
  owner: string;
  target_id: string | null;
  target_name: string;
  kind: string | null;
  rule_on: string;
  event: string;
  state: string;
  attempts: number;
  next_at: number | null;
  give_up_at: number;
  created_at: string;
  delivered_at: string | null;
  error: string | null;
}

function toTarget(r: TargetRow): TargetRecord {
  const t: TargetRecord = {
    id: r.id,
    owner: r.owner,
    name: r.name,
    kind: r.kind as NotifierKind,
    url: r.url,
    createdBy: r.created_by,
    trusted: r.trusted === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
  if (r.secret !== null) t.secret = r.secret;
  if (r.description !== null) t.description = r.description;
  return t;
}

function toOutbox(r: OutboxRow): OutboxRecord {
  const o: OutboxRecord = {
    id: r.id,
    key: r.key,
    jobId: r.job_id,
    owner: r.owner,
    targetId: r.target_id,
    targetName: r.target_name,
    on: r.rule_on as NotifyOn,
    event: JSON.parse(r.event) as JobEndEvent,
    state: r.state as DeliveryState,
    attempts: r.attempts,
    giveUpAt: r.give_up_at,
    createdAt: r.created_at,
  };
  if (r.kind !== null) o.kind = r.kind as NotifierKind;
  if (r.next_at !== null) o.nextAt = r.next_at;
  if (r.delivered_at !== null) o.deliveredAt = r.delivered_at;
  if (r.error !== null) o.error = r.error;
  return o;
}

function targetParams(t: TargetRecord): Record<string, unknown> {
  return {
    id: t.id,
    owner: t.owner,
    name: t.name,
    kind: t.kind,
    url: t.url,
    secret: t.secret ?? null,
    description: t.description ?? null,
    createdBy: t.createdBy,
    trusted: t.trusted ? 1 : 0,
    createdAt: t.createdAt,
    updatedAt: t.updatedAt,
  };
}

export class SqliteNotificationStore implements TargetStore, OutboxStore {
  private readonly stmts;

  /** `db` is the server's database (migrated by SqliteStore). */
  constructor(private readonly db: Database.Database) {
    this.stmts = {
      insertTarget: db.prepare(`INSERT INTO notification_targets (id, owner, name, kind, url, secret, description,
        created_by, trusted, created_at, updated_at) VALUES (@id, @owner, @name, @kind, @url, @secret, @description,
        @createdBy, @trusted, @createdAt, @updatedAt)`),
      updateTarget: db.prepare(`UPDATE notification_targets SET url = @url, secret = @secret,
        description = @description, updated_at = @updatedAt WHERE id = @id`),
      deleteTarget: db.prepare('DELETE FROM notification_targets WHERE id = ?'),
      target: db.prepare('SELECT * FROM notification_targets WHERE id = ?'),
      targetByName: db.prepare('SELECT * FROM notification_targets WHERE owner = ? AND name = ?'),
      enqueue: db.prepare(`INSERT OR IGNORE INTO notification_outbox (key, job_id, owner, target_id, target_name, kind,
        rule_on, event, state, next_at, give_up_at, created_at, error) VALUES (@key, @jobId, @owner, @targetId,
        @targetName, @kind, @on, @event, @state, @nextAt, @giveUpAt, @createdAt, @error)`),
      outbox: db.prepare('SELECT * FROM notification_outbox WHERE id = ?'),
      due: db.prepare(`SELECT * FROM notification_outbox WHERE state = 'pending' AND next_at <= ?
        ORDER BY next_at, id LIMIT ?`),
      nextDue: db.prepare("SELECT min(next_at) AS at FROM notification_outbox WHERE state = 'pending'"),
      insertAttempt: db.prepare(`INSERT INTO notification_attempts (outbox_id, attempt, at, status, error, duration_ms)
        VALUES (?, ?, ?, ?, ?, ?)`),
      updateOutbox: db.prepare(`UPDATE notification_outbox SET state = @state, attempts = @attempts, next_at = @nextAt,
        delivered_at = @deliveredAt, error = @error WHERE id = @id`),
      lease: db.prepare("UPDATE notification_outbox SET next_at = ? WHERE id = ? AND state = 'pending'"),
      ofJob: db.prepare('SELECT * FROM notification_outbox WHERE job_id = ? ORDER BY id'),
      attemptsOf: db.prepare('SELECT * FROM notification_attempts WHERE outbox_id = ? ORDER BY attempt'),
    };
  }

  insertTarget(t: TargetRecord): void {
    this.stmts.insertTarget.run(targetParams(t));
  }

  updateTarget(t: TargetRecord): void {
    this.stmts.updateTarget.run(targetParams(t));
  }

  deleteTarget(id: string): boolean {
    return this.stmts.deleteTarget.run(id).changes > 0;
  }

  target(id: string): TargetRecord | undefined {
    const r = this.stmts.target.get(id) as TargetRow | undefined;
    return r ? toTarget(r) : undefined;
  }

  targetByName(owner: string, name: string): TargetRecord | undefined {
    const r = this.stmts.targetByName.get(owner, name) as TargetRow | undefined;
    return r ? toTarget(r) : undefined;
  }

  targets(owners: readonly string[]): TargetRecord[] {
    if (!owners.length) return [];
    const rows = this.db
      .prepare(
        `SELECT * FROM notification_targets WHERE owner IN (${owners.map(() => '?').join(', ')}) ORDER BY name, owner`,
      )
      .all(...owners) as TargetRow[];
    return rows.map(toTarget);
  }

  enqueue(row: NewOutbox): boolean {
    return (
      this.stmts.enqueue.run({
        key: row.key,
        jobId: row.jobId,
        owner: row.owner,
        targetId: row.targetId,
        targetName: row.targetName,
        kind: row.kind ?? null,
        on: row.on,
        event: JSON.stringify(row.event),
        state: row.state,
        nextAt: row.nextAt ?? null,
        giveUpAt: row.giveUpAt,
        createdAt: row.createdAt,
        error: row.error ?? null,
      }).changes > 0
    );
  }

  outbox(id: number): OutboxRecord | undefined {
    const r = this.stmts.outbox.get(id) as OutboxRow | undefined;
    return r ? toOutbox(r) : undefined;
  }

  due(now: number, limit: number): OutboxRecord[] {
    return (this.stmts.due.all(now, limit) as OutboxRow[]).map(toOutbox);
  }

  nextDue(): number | undefined {
    return (this.stmts.nextDue.get() as { at: number | null }).at ?? undefined;
  }

  lease(id: number, until: number): void {
    this.stmts.lease.run(until, id);
  }

  recordAttempt(
    id: number,
    attempt: AttemptRow | undefined,
    next: { state: DeliveryState; nextAt?: number; deliveredAt?: string; error?: string },
  ): void {
    this.db.transaction(() => {
      if (attempt) {
        this.stmts.insertAttempt.run(
          id,
          attempt.attempt,
          attempt.at,
          attempt.status ?? null,
          attempt.error ?? null,
          attempt.durationMs,
        );
      }
      const attempts = attempt?.attempt ?? (this.stmts.outbox.get(id) as OutboxRow | undefined)?.attempts ?? 0;
      this.stmts.updateOutbox.run({
        id,
        state: next.state,
        attempts,
        nextAt: next.nextAt ?? null,
        deliveredAt: next.deliveredAt ?? null,
        error: next.error ?? null,
      });
    })();
  }

  ofJob(jobId: string): OutboxRecord[] {
    return (this.stmts.ofJob.all(jobId) as OutboxRow[]).map(toOutbox);
  }

  attemptsOf(id: number): AttemptRow[] {
    return (
      this.stmts.attemptsOf.all(id) as {
        attempt: number;
        at: string;
        status: number | null;
        error: string | null;
        duration_ms: number;
      }[]
    ).map((r) => {
      const a: AttemptRow = { attempt: r.attempt, at: r.at, durationMs: r.duration_ms };
      if (r.status !== null) a.status = r.status;
      if (r.error !== null) a.error = r.error;
      return a;
    });
  }
}
