/**
 * The users the server has seen, with the groups and admin flag they last authenticated with: how
 * teams (auth/teams.ts) resolve for someone who is not calling right now (a job's owner, a schedule
 * firing for them). Written when a caller's groups or admin flag differ from what is stored, so a
 * steady stream of requests costs no writes.
 */
import type Database from 'better-sqlite3';
import type { Principal } from '../auth/authenticator.js';
import type { GroupDirectory } from '../auth/teams.js';

export interface KnownUser {
  name: string;
  admin: boolean;
  groups: string[];
  seenAt: string;
}

export class SqliteUserDirectory implements GroupDirectory {
  private readonly stmts;
  /** What is stored, by name: `record` writes only when a caller differs from it. */
  private readonly known = new Map<string, { admin: boolean; groups: string[] }>();

  constructor(db: Database.Database) {
    this.stmts = {
      upsert: db.prepare(`INSERT INTO users (name, admin, groups, seen_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (name) DO UPDATE SET admin = excluded.admin, groups = excluded.groups, seen_at = excluded.seen_at`),
      all: db.prepare('SELECT name, admin, groups, seen_at FROM users ORDER BY name'),
    };
    for (const u of this.list()) this.known.set(u.name, { admin: u.admin, groups: u.groups });
  }

  /** Remember a caller's groups (no write when nothing changed). */
  record(p: Principal): void {
    const groups = [...new Set(p.groups)].sort();
    const had = this.known.get(p.user);
    if (had && had.admin === p.admin && had.groups.join('\0') === groups.join('\0')) return;
    this.stmts.upsert.run(p.user, p.admin ? 1 : 0, JSON.stringify(groups), new Date().toISOString());
    this.known.set(p.user, { admin: p.admin, groups });
  }

  groupsOf(user: string): readonly string[] | undefined {
    return this.known.get(user)?.groups;
  }

  usersInGroups(groups: readonly string[]): string[] {
    if (groups.length === 0) return [];
    const wanted = new Set(groups);
    return [...this.known].filter(([, u]) => u.groups.some((g) => wanted.has(g))).map(([name]) => name);
  }

  list(): KnownUser[] {
    return (this.stmts.all.all() as { name: string; admin: number; groups: string; seen_at: string }[]).map((r) => ({
      name: r.name,
      admin: r.admin === 1,
      groups: JSON.parse(r.groups) as string[],
      seenAt: r.seen_at,
    }));
  }
}
