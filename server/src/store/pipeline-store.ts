/**
 * Saved pipelines: per owner and name, immutable numbered versions of a frozen bundle. A version is
 * only ever inserted; saving content whose hash a version already has returns that version.
 */
import type Database from 'better-sqlite3';
import type { Bundle, PipelineVersion } from '@cellpipe/schema';

/** A version as stored is what the API shows of it. */
export type StoredVersion = PipelineVersion;

export interface StoredVersionDetail extends StoredVersion {
  bundle: Bundle;
}

export interface StoredPipeline {
  owner: string;
  name: string;
  createdAt: string;
  versions: number;
  latest: StoredVersion;
  labels?: Record<string, string>;
}

export interface NewVersion {
  hash: string;
  author: string;
  createdAt: string;
  message: string;
  tasks: string[];
  bundle: Bundle;
}

export interface PipelineStore {
  /**
   * The version with this content, or a new one numbered after the newest; `labels`, when given,
   * replace the pipeline's labels in the same transaction.
   */
  saveVersion(
    owner: string,
    name: string,
    v: NewVersion,
    labels?: Record<string, string>,
  ): { version: StoredVersion; created: boolean };
  /** The pipeline's labels (undefined when it does not exist or has none). */
  labels(owner: string, name: string): Record<string, string> | undefined;
  /** The pipeline and all its versions; false when there was none. */
  deletePipeline(owner: string, name: string): boolean;
  /** Every pipeline of `owner` (all owners when undefined), by name. */
  listPipelines(owner?: string): StoredPipeline[];
  /** Versions of one pipeline, newest first (empty when it does not exist). */
  versions(owner: string, name: string): StoredVersion[];
  getVersion(owner: string, name: string, version: number | 'latest'): StoredVersionDetail | undefined;
  findByHash(owner: string, name: string, hash: string): StoredVersion | undefined;
}

interface VersionRow {
  owner: string;
  name: string;
  version: number;
  hash: string;
  author: string;
  created_at: string;
  message: string;
  tasks: string;
  bundle?: string;
}

function toVersion(r: VersionRow): StoredVersion {
  return {
    owner: r.owner,
    name: r.name,
    version: r.version,
    hash: r.hash,
    author: r.author,
    createdAt: r.created_at,
    message: r.message,
    tasks: JSON.parse(r.tasks) as string[],
  };
}

const VERSION_COLUMNS = 'owner, name, version, hash, author, created_at, message, tasks';

/** Versions never change: parsed bundles are kept for the scheduler's next fire. */
const VERSION_CACHE_MAX = 500;

export class SqlitePipelineStore implements PipelineStore {
  private readonly stmts;
  private readonly cache = new Map<string, StoredVersionDetail>();

  /** `db` is the server's database (migrated by SqliteStore). */
  constructor(private readonly db: Database.Database) {
    this.stmts = {
      insertPipeline: db.prepare('INSERT OR IGNORE INTO pipelines (owner, name, created_at) VALUES (?, ?, ?)'),
      byHash: db.prepare(`SELECT ${VERSION_COLUMNS} FROM pipeline_versions WHERE owner = ? AND name = ? AND hash = ?`),
      maxVersion: db.prepare('SELECT max(version) AS v FROM pipeline_versions WHERE owner = ? AND name = ?'),
      insertVersion: db.prepare(`INSERT INTO pipeline_versions (owner, name, version, hash, author, created_at, message,
        tasks, bundle) VALUES (@owner, @name, @version, @hash, @author, @createdAt, @message, @tasks, @bundle)`),
      versions: db.prepare(
        `SELECT ${VERSION_COLUMNS} FROM pipeline_versions WHERE owner = ? AND name = ? ORDER BY version DESC`,
      ),
      version: db.prepare(`SELECT * FROM pipeline_versions WHERE owner = ? AND name = ? AND version = ?`),
      latest: db.prepare(`SELECT * FROM pipeline_versions WHERE owner = ? AND name = ? ORDER BY version DESC LIMIT 1`),
      setLabels: db.prepare('UPDATE pipelines SET labels = ? WHERE owner = ? AND name = ?'),
      labels: db.prepare('SELECT labels FROM pipelines WHERE owner = ? AND name = ?'),
      deletePipeline: db.prepare('DELETE FROM pipelines WHERE owner = ? AND name = ?'),
    };
  }

  saveVersion(
    owner: string,
    name: string,
    v: NewVersion,
    labels?: Record<string, string>,
  ): { version: StoredVersion; created: boolean } {
    return this.db.transaction(() => {
      const setLabels = () => {
        if (labels) this.stmts.setLabels.run(Object.keys(labels).length ? JSON.stringify(labels) : null, owner, name);
      };
      const existing = this.findByHash(owner, name, v.hash);
      if (existing) {
        setLabels();
        return { version: existing, created: false };
      }
      this.stmts.insertPipeline.run(owner, name, v.createdAt);
      setLabels();
      const max = (this.stmts.maxVersion.get(owner, name) as { v: number | null }).v ?? 0;
      const row = {
        owner,
        name,
        version: max + 1,
        hash: v.hash,
        author: v.author,
        createdAt: v.createdAt,
        message: v.message,
        tasks: JSON.stringify(v.tasks),
        bundle: JSON.stringify(v.bundle),
      };
      this.stmts.insertVersion.run(row);
      return {
        version: toVersion({ ...row, created_at: row.createdAt }),
        created: true,
      };
    })();
  }

  listPipelines(owner?: string): StoredPipeline[] {
    const rows = this.db
      .prepare(
        `SELECT p.owner, p.name, p.created_at AS p_created, p.labels AS p_labels, v.version, v.hash, v.author, v.created_at, v.message, v.tasks,
           (SELECT count(*) FROM pipeline_versions c WHERE c.owner = p.owner AND c.name = p.name) AS n
         FROM pipelines p JOIN pipeline_versions v ON v.owner = p.owner AND v.name = p.name
         WHERE v.version = (SELECT max(version) FROM pipeline_versions m WHERE m.owner = p.owner AND m.name = p.name)
         ${owner !== undefined ? 'AND p.owner = ?' : ''} ORDER BY p.name, p.owner`,
      )
      .all(...(owner !== undefined ? [owner] : [])) as (VersionRow & {
      p_created: string;
      p_labels: string | null;
      n: number;
    })[];
    return rows.map((r) => ({
      owner: r.owner,
      name: r.name,
      createdAt: r.p_created,
      versions: r.n,
      latest: toVersion(r),
      ...(r.p_labels ? { labels: JSON.parse(r.p_labels) as Record<string, string> } : {}),
    }));
  }

  versions(owner: string, name: string): StoredVersion[] {
    return (this.stmts.versions.all(owner, name) as VersionRow[]).map(toVersion);
  }

  getVersion(owner: string, name: string, version: number | 'latest'): StoredVersionDetail | undefined {
    const number = version === 'latest' ? (this.stmts.maxVersion.get(owner, name) as { v: number | null }).v : version;
    if (number === null) return undefined;
    const key = `${owner}\u0000${name}\u0000${number}`;
    const hit = this.cache.get(key);
    if (hit) return hit;
    const r = this.stmts.version.get(owner, name, number) as VersionRow | undefined;
    if (!r) return undefined;
    const detail = { ...toVersion(r), bundle: JSON.parse(r.bundle!) as Bundle };
    if (this.cache.size >= VERSION_CACHE_MAX) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, detail);
    return detail;
  }

  labels(owner: string, name: string): Record<string, string> | undefined {
    const r = this.stmts.labels.get(owner, name) as { labels: string | null } | undefined;
    return r?.labels ? (JSON.parse(r.labels) as Record<string, string>) : undefined;
  }

  deletePipeline(owner: string, name: string): boolean {
    const deleted = this.stmts.deletePipeline.run(owner, name).changes > 0;
    // Cached versions of a deleted pipeline must not answer for a new one of the same name.
    for (const key of [...this.cache.keys()]) if (key.startsWith(`${owner}\u0000${name}\u0000`)) this.cache.delete(key);
    return deleted;
  }

  findByHash(owner: string, name: string, hash: string): StoredVersion | undefined {
    const r = this.stmts.byHash.get(owner, name, hash) as VersionRow | undefined;
    return r ? toVersion(r) : undefined;
  }
}
