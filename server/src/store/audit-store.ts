/**
 * The audit log in the server's database: one row per state-changing call, only ever inserted, and
 * pruned after the configured number of days.
 */
import type Database from 'better-sqlite3';
import type { AuditEntry, AuditList, AuditResult } from '@cellpipe/schema';
import { StoreError } from './errors.js';

export interface NewAuditEntry {
  at: string;
  user?: string;
  action: string;
  target: string;
  status: number;
  result: AuditResult;
  message?: string;
}

export interface AuditFilter {
  user?: string;
  /** Substring of the action. */
  action?: string;
  result?: AuditResult;
  since?: string;
  until?: string;
  limit: number;
  cursor?: string;
}

interface AuditRow {
  id: number;
  at: string;
  user: string | null;
  action: string;
  target: string;
  status: number;
  result: string;
  message: string | null;
}

const encodeCursor = (id: number): string => Buffer.from(`a${id}`).toString('base64url');
function decodeCursor(cursor: string): number {
  const m = /^a(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m) throw new StoreError('not a cursor from a previous page', 'invalid-cursor');
  return Number(m[1]);
}

export class SqliteAuditLog {
  private readonly insertStmt;
  private readonly pruneStmt;

  constructor(private readonly db: Database.Database) {
    this.insertStmt = db.prepare(`INSERT INTO audit (at, user, action, target, status, result, message)
      VALUES (@at, @user, @action, @target, @status, @result, @message)`);
    this.pruneStmt = db.prepare('DELETE FROM audit WHERE at < ?');
  }

  record(e: NewAuditEntry): void {
    this.insertStmt.run({ ...e, user: e.user ?? null, message: e.message ?? null });
  }

  /** Newest first. */
  list(f: AuditFilter): AuditList {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (f.user !== undefined) {
      where.push('user = ?');
      args.push(f.user);
    }
    if (f.action !== undefined) {
      where.push("action LIKE ? ESCAPE '\\'");
      args.push(`%${f.action.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    }
    if (f.result !== undefined) {
      where.push('result = ?');
      args.push(f.result);
    }
    if (f.since !== undefined) {
      where.push('at >= ?');
      args.push(f.since);
    }
    if (f.until !== undefined) {
      where.push('at < ?');
      args.push(f.until);
    }
    if (f.cursor !== undefined) {
      where.push('id < ?');
      args.push(decodeCursor(f.cursor));
    }
    const limit = Math.max(1, Math.min(f.limit, 1000));
    const rows = this.db
      .prepare(`SELECT * FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`)
      .all(...args, limit + 1) as AuditRow[];
    const page = rows.slice(0, limit);
    const items: AuditEntry[] = page.map((r) => ({
      id: r.id,
      at: r.at,
      ...(r.user !== null ? { user: r.user } : {}),
      action: r.action,
      target: r.target,
      status: r.status,
      result: r.result as AuditResult,
      ...(r.message !== null ? { message: r.message } : {}),
    }));
    const last = page[page.length - 1];
    return rows.length > limit && last ? { items, nextCursor: encodeCursor(last.id) } : { items };
  }

  /** Drops entries older than `before` (ISO); returns how many. */
  prune(before: string): number {
    return this.pruneStmt.run(before).changes;
  }
}
