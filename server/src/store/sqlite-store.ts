/** SQLite store (better-sqlite3, WAL): one file `<home>/cellpipe.db`. */
import { chmodSync, closeSync, openSync } from 'node:fs';
import Database from 'better-sqlite3';
import { TERMINAL_JOB_STATES, type AttemptUsage, type JobState, type TaskState } from '@cellpipe/schema';
import { StorageFullError, StoreError, isStorageFull } from './errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import type {
  AttemptRecord,
  Change,
  JobListQuery,
  JobListRow,
  JobRecord,
  QueuedTaskRow,
  Store,
  TaskRecord,
  StateCounts,
  Transition,
} from './store.js';

interface JobRow {
  seq: number;
  id: string;
  name: string;
  owner: string;
  state: string;
  executor: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  parent_job_id: string | null;
  submitted_by: string | null;
  schedule_id: string | null;
  schedule_slot: string | null;
  pipeline_name: string | null;
  pipeline_version: number | null;
  pipeline_hash: string | null;
  team: string | null;
  error: string | null;
  pipeline: string;
  parameters: string;
  notify?: string | null;
}

interface AttemptRow {
  job_id: string;
  task: string;
  attempt: number;
  state: string;
  handle: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  exit_code: number | null;
  peak_memory_bytes: number | null;
  cpu_seconds: number | null;
  gpu_util_mean: number | null;
  gpu_util_peak: number | null;
  gpu_memory_peak_bytes: number | null;
  reason: string | null;
  token_hash: string | null;
  results: string | null;
}

/** The condition for jobs that are not finished; `alias` is the jobs table's alias in a join. */
function unfinished(alias = ''): string {
  return `${alias ? `${alias}.` : ''}state NOT IN (${TERMINAL_JOB_STATES.map((s) => `'${s}'`).join(', ')})`;
}

const JOB_COLUMNS: Record<string, string> = {
  name: 'name',
  state: 'state',
  executor: 'executor',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  parentJobId: 'parent_job_id',
  scheduleId: 'schedule_id',
  error: 'error',
  parameters: 'parameters',
};

function opt<T>(v: T | null): T | undefined {
  return v === null ? undefined : v;
}

function rowToSummary(r: JobRow): Omit<JobRecord, 'pipeline' | 'parameters'> {
  const out: Omit<JobRecord, 'pipeline' | 'parameters'> = {
    id: r.id,
    name: r.name,
    owner: r.owner,
    state: r.state as JobState,
    executor: r.executor,
    createdAt: r.created_at,
  };
  if (r.started_at) out.startedAt = r.started_at;
  if (r.finished_at) out.finishedAt = r.finished_at;
  if (r.parent_job_id) out.parentJobId = r.parent_job_id;
  if (r.submitted_by) out.submittedBy = r.submitted_by;
  if (r.schedule_id) out.scheduleId = r.schedule_id;
  if (r.schedule_slot) out.scheduleSlot = r.schedule_slot;
  if (r.pipeline_name && r.pipeline_hash) {
    out.pipelineRef = { name: r.pipeline_name, hash: r.pipeline_hash };
    if (r.pipeline_version !== null) out.pipelineRef.version = r.pipeline_version;
  }
  if (r.team) out.team = r.team;
  if (r.error) out.error = r.error;
  return out;
}

function rowToAttempt(r: AttemptRow): AttemptRecord {
  const a: AttemptRecord = {
    jobId: r.job_id,
    task: r.task,
    attempt: r.attempt,
    state: r.state as AttemptRecord['state'],
    handle: r.handle ? (JSON.parse(r.handle) as AttemptRecord['handle']) : null,
    createdAt: r.created_at,
  };
  if (r.started_at) a.startedAt = r.started_at;
  if (r.finished_at) a.finishedAt = r.finished_at;
  const exit = opt(r.exit_code);
  if (exit !== undefined) a.exitCode = exit;
  if (r.reason) a.reason = r.reason;
  if (r.token_hash) a.tokenHash = r.token_hash;
  const usage: AttemptUsage = {};
  if (r.peak_memory_bytes !== null) usage.peakMemoryBytes = r.peak_memory_bytes;
  if (r.cpu_seconds !== null) usage.cpuSeconds = r.cpu_seconds;
  if (r.gpu_util_mean !== null) usage.gpuUtilizationMeanPercent = r.gpu_util_mean;
  if (r.gpu_util_peak !== null) usage.gpuUtilizationPeakPercent = r.gpu_util_peak;
  if (r.gpu_memory_peak_bytes !== null) usage.gpuMemoryPeakBytes = r.gpu_memory_peak_bytes;
  if (Object.keys(usage).length) a.usage = usage;
  if (r.results) a.results = JSON.parse(r.results) as AttemptRecord['results'];
  return a;
}

/** Cursor = the last row's sequence number, base64url so clients treat it as opaque. */
function encodeCursor(seq: number): string {
  return Buffer.from(`s${seq}`).toString('base64url');
}
function decodeCursor(cursor: string): number | undefined {
  const m = /^s(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString());
  return m ? Number(m[1]) : undefined;
}

export function migrate(db: Database.Database, migrations: Migration[] = MIGRATIONS): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`);
  const applied = new Set(
    (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
  );
  const ran: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        new Date().toISOString(),
      );
    })();
    ran.push(m.version);
  }
  return ran;
}

export class SqliteStore implements Store {
  readonly db: Database.Database;
  private readonly stmts;

  constructor(file: string) {
    if (file !== ':memory:') {
      // Readable by the server only (it holds every user's code and parameters), also when it existed
      // before; SQLite gives its -wal and -shm files the same mode.
      closeSync(openSync(file, 'a', 0o600));
      chmodSync(file, 0o600);
    }
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL is durable across process crashes in WAL mode (only power loss can drop the last commits).
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 5000');
    migrate(this.db);
    const db = this.db;
    this.stmts = {
      insertJob: db.prepare(`INSERT INTO jobs (id, name, owner, state, executor, created_at, started_at, finished_at,
        parent_job_id, submitted_by, schedule_id, schedule_slot, pipeline_name, pipeline_version, pipeline_hash, team,
        error, pipeline, parameters, notify) VALUES (@id, @name, @owner, @state, @executor, @createdAt, @startedAt,
        @finishedAt, @parentJobId, @submittedBy, @scheduleId, @scheduleSlot, @pipelineName, @pipelineVersion,
        @pipelineHash, @team, @error, @pipeline, @parameters, @notify)`),
      upsertTask: db.prepare(`INSERT INTO tasks (job_id, name, position, state, data) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (job_id, name) DO UPDATE SET state = excluded.state, data = excluded.data`),
      getJob: db.prepare('SELECT * FROM jobs WHERE id = ?'),
      getTasks: db.prepare('SELECT data FROM tasks WHERE job_id = ? ORDER BY position'),
      taskCounts: db.prepare('SELECT state, count(*) AS n FROM tasks WHERE job_id = ? GROUP BY state'),
      active: db.prepare(`SELECT id FROM jobs WHERE ${unfinished()} ORDER BY seq`),
      activeTaskCounts: db.prepare(
        `SELECT t.state, count(*) AS n FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE ${unfinished('j')} GROUP BY t.state`,
      ),
      activeTaskCountsOf: db.prepare(
        `SELECT t.state, count(*) AS n FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE ${unfinished('j')} AND j.owner = ? GROUP BY t.state`,
      ),
      activeJobCounts: db.prepare(`SELECT state, count(*) AS n FROM jobs WHERE ${unfinished()} GROUP BY state`),
      activeJobCountsOf: db.prepare(
        `SELECT state, count(*) AS n FROM jobs WHERE ${unfinished()} AND owner = ? GROUP BY state`,
      ),
      queuedTasks: db.prepare(`SELECT j.id AS job_id, j.owner, t.data FROM tasks t JOIN jobs j ON j.id = t.job_id
        WHERE ${unfinished('j')} AND t.state = 'queued' ORDER BY j.seq, t.position`),
      attemptsOfJob: db.prepare('SELECT * FROM attempts WHERE job_id = ? ORDER BY task, attempt'),
      attemptsOfTask: db.prepare('SELECT * FROM attempts WHERE job_id = ? AND task = ? ORDER BY attempt'),
      openAttempts: db.prepare("SELECT * FROM attempts WHERE state != 'finished' ORDER BY created_at"),
      openAttemptByToken: db.prepare("SELECT * FROM attempts WHERE token_hash = ? AND state != 'finished'"),
      upsertAttempt: db.prepare(`INSERT INTO attempts (job_id, task, attempt, state, handle, created_at, started_at,
        finished_at, exit_code, reason, peak_memory_bytes, cpu_seconds, gpu_util_mean, gpu_util_peak,
        gpu_memory_peak_bytes, token_hash, results) VALUES (@jobId, @task, @attempt, @state, @handle, @createdAt,
        @startedAt, @finishedAt, @exitCode, @reason, @peakMemoryBytes, @cpuSeconds, @gpuUtilMean, @gpuUtilPeak,
        @gpuMemoryPeakBytes, @tokenHash, @results)
        ON CONFLICT (job_id, task, attempt) DO UPDATE SET state = excluded.state,
        handle = excluded.handle, started_at = excluded.started_at, finished_at = excluded.finished_at,
        exit_code = excluded.exit_code, reason = excluded.reason, peak_memory_bytes = excluded.peak_memory_bytes,
        cpu_seconds = excluded.cpu_seconds, gpu_util_mean = excluded.gpu_util_mean,
        gpu_util_peak = excluded.gpu_util_peak, gpu_memory_peak_bytes = excluded.gpu_memory_peak_bytes, token_hash = excluded.token_hash, results = excluded.results`),
      insertTransition: db.prepare(
        'INSERT INTO transitions (job_id, task, from_state, to_state, at, note) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      transitions: db.prepare('SELECT * FROM transitions WHERE job_id = ? ORDER BY id'),
      deleteJob: db.prepare('DELETE FROM jobs WHERE id = ?'),
      stateCounts: db.prepare('SELECT kind, state, n FROM state_counts'),
      insertBase: db.prepare('INSERT INTO task_bases (job_id, task, base) VALUES (?, ?, ?)'),
      taskBase: db.prepare('SELECT base FROM task_bases WHERE job_id = ? AND task = ?'),
    };
  }

  /** One write transaction; a full disk surfaces as StorageFullError (nothing was written). */
  transaction<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (err) {
      if (isStorageFull(err)) throw new StorageFullError(this.db.name);
      throw err;
    }
  }

  insertJob(job: JobRecord, tasks: TaskRecord[], bases: ReadonlyMap<string, unknown> = new Map()): void {
    this.transaction(() => {
      this.stmts.insertJob.run({
        id: job.id,
        name: job.name,
        owner: job.owner,
        state: job.state,
        executor: job.executor,
        createdAt: job.createdAt,
        startedAt: job.startedAt ?? null,
        finishedAt: job.finishedAt ?? null,
        parentJobId: job.parentJobId ?? null,
        submittedBy: job.submittedBy ?? null,
        scheduleId: job.scheduleId ?? null,
        scheduleSlot: job.scheduleSlot ?? null,
        pipelineName: job.pipelineRef?.name ?? null,
        pipelineVersion: job.pipelineRef?.version ?? null,
        pipelineHash: job.pipelineRef?.hash ?? null,
        team: job.team ?? null,
        error: job.error ?? null,
        pipeline: JSON.stringify(job.pipeline),
        parameters: JSON.stringify(job.parameters),
        notify: job.notify?.length ? JSON.stringify(job.notify) : null,
      });
      tasks.forEach((t, i) => this.stmts.upsertTask.run(job.id, t.name, i, t.state, JSON.stringify(t)));
      for (const [task, base] of bases) this.stmts.insertBase.run(job.id, task, JSON.stringify(base));
      this.stmts.insertTransition.run(job.id, null, null, job.state, job.createdAt, 'submitted');
    });
  }

  getJob(id: string): JobRecord | undefined {
    const r = this.stmts.getJob.get(id) as JobRow | undefined;
    if (!r) return undefined;
    const job: JobRecord = {
      ...rowToSummary(r),
      pipeline: JSON.parse(r.pipeline) as JobRecord['pipeline'],
      parameters: JSON.parse(r.parameters) as JobRecord['parameters'],
    };
    if (r.notify) job.notify = JSON.parse(r.notify) as JobRecord['notify'];
    return job;
  }

  taskBase(jobId: string, task: string): unknown {
    const row = this.stmts.taskBase.get(jobId, task) as { base: string } | undefined;
    return row ? (JSON.parse(row.base) as unknown) : undefined;
  }

  getTasks(jobId: string): TaskRecord[] {
    return (this.stmts.getTasks.all(jobId) as { data: string }[]).map((r) => JSON.parse(r.data) as TaskRecord);
  }

  private taskCounts(jobId: string): Partial<Record<TaskState, number>> {
    const out: Partial<Record<TaskState, number>> = {};
    for (const r of this.stmts.taskCounts.all(jobId) as { state: TaskState; n: number }[]) out[r.state] = r.n;
    return out;
  }

  listJobs(q: JobListQuery): { items: JobListRow[]; nextCursor?: string; total: number } {
    const where: string[] = [];
    const args: (string | number)[] = [];
    if (q.owner !== undefined) {
      where.push('owner = ?');
      args.push(q.owner);
    }
    if (q.owners !== undefined) {
      where.push(q.owners.length ? `owner IN (${q.owners.map(() => '?').join(', ')})` : '0');
      args.push(...q.owners);
    }
    if (q.state !== undefined) {
      where.push('state = ?');
      args.push(q.state);
    }
    if (q.states?.length) {
      where.push(`state IN (${q.states.map(() => '?').join(', ')})`);
      args.push(...q.states);
    }
    for (const word of (q.search ?? '').toLowerCase().split(/\s+/).filter(Boolean)) {
      // LIKE with an escape character, so a search for "50%" or "a_b" means those characters.
      const pattern = `%${word.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      where.push("(lower(name) LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\' OR lower(owner) LIKE ? ESCAPE '\\')");
      args.push(pattern, pattern, pattern);
    }
    if (q.createdFrom !== undefined) {
      where.push('created_at >= ?');
      args.push(q.createdFrom);
    }
    if (q.createdBefore !== undefined) {
      where.push('created_at < ?');
      args.push(q.createdBefore);
    }
    if (q.pipeline !== undefined) {
      where.push('pipeline_name = ?');
      args.push(q.pipeline);
    }
    if (q.pipelineVersion !== undefined) {
      where.push('pipeline_version = ?');
      args.push(q.pipelineVersion);
    }
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT count(*) AS n FROM jobs ${filter}`).get(...args) as { n: number }).n;
    if (q.cursor !== undefined) {
      const seq = decodeCursor(q.cursor);
      if (seq === undefined) throw new StoreError('not a cursor from a previous page', 'invalid-cursor');
      where.push('seq < ?');
      args.push(seq);
    }
    const limit = Math.max(1, Math.min(q.limit, 1000));
    const sql = `SELECT seq, id, name, owner, state, executor, created_at, started_at, finished_at, parent_job_id,
      submitted_by, schedule_id, schedule_slot, pipeline_name, pipeline_version, pipeline_hash, team, error, '' AS pipeline,
      parameters FROM jobs
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, limit + 1) as JobRow[];
    const page = rows.slice(0, limit);
    const items = page.map((r) => ({
      ...rowToSummary(r),
      parameters: JSON.parse(r.parameters) as Record<string, unknown>,
      taskCounts: this.taskCounts(r.id),
    }));
    const last = page[page.length - 1];
    return rows.length > limit && last ? { items, nextCursor: encodeCursor(last.seq), total } : { items, total };
  }

  activeTaskCounts(owner?: string): Partial<Record<TaskState, number>> {
    const rows = (
      owner === undefined ? this.stmts.activeTaskCounts.all() : this.stmts.activeTaskCountsOf.all(owner)
    ) as { state: TaskState; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  activeJobCounts(owner?: string): Partial<Record<JobState, number>> {
    const rows = (owner === undefined ? this.stmts.activeJobCounts.all() : this.stmts.activeJobCountsOf.all(owner)) as {
      state: JobState;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  queuedTasks(): QueuedTaskRow[] {
    return (this.stmts.queuedTasks.all() as { job_id: string; owner: string; data: string }[]).map((r) => ({
      jobId: r.job_id,
      owner: r.owner,
      task: JSON.parse(r.data) as TaskRecord,
    }));
  }

  stateCounts(): StateCounts {
    const out: StateCounts = { jobs: {}, tasks: {} };
    for (const r of this.stmts.stateCounts.all() as { kind: string; state: string; n: number }[]) {
      if (r.kind === 'job') out.jobs[r.state as JobState] = r.n;
      else out.tasks[r.state as TaskState] = r.n;
    }
    return out;
  }

  activeJobIds(): string[] {
    return (this.stmts.active.all() as { id: string }[]).map((r) => r.id);
  }

  attempts(jobId: string, task?: string): AttemptRecord[] {
    const rows = (
      task === undefined ? this.stmts.attemptsOfJob.all(jobId) : this.stmts.attemptsOfTask.all(jobId, task)
    ) as AttemptRow[];
    return rows.map(rowToAttempt);
  }

  openAttempts(): AttemptRecord[] {
    return (this.stmts.openAttempts.all() as AttemptRow[]).map(rowToAttempt);
  }

  openAttemptByToken(tokenHash: string): AttemptRecord | undefined {
    const row = this.stmts.openAttemptByToken.get(tokenHash) as AttemptRow | undefined;
    return row ? rowToAttempt(row) : undefined;
  }

  transitions(jobId: string): Transition[] {
    return (
      this.stmts.transitions.all(jobId) as {
        job_id: string;
        task: string | null;
        from_state: string | null;
        to_state: string;
        at: string;
        note: string | null;
      }[]
    ).map((r) => {
      const t: Transition = { jobId: r.job_id, task: r.task, from: r.from_state, to: r.to_state, at: r.at };
      if (r.note) t.note = r.note;
      return t;
    });
  }

  apply(change: Change): void {
    this.transaction(() => {
      if (change.job) {
        const sets: string[] = [];
        const args: (string | null)[] = [];
        for (const [key, value] of Object.entries(change.job)) {
          const col = JOB_COLUMNS[key];
          if (!col) continue;
          sets.push(`${col} = ?`);
          args.push(value === undefined ? null : key === 'parameters' ? JSON.stringify(value) : String(value));
        }
        if (sets.length) this.db.prepare(`UPDATE jobs SET ${sets.join(', ')} WHERE id = ?`).run(...args, change.job.id);
      }
      for (const { jobId, task } of change.tasks ?? []) {
        // position only matters on insert, which insertJob does; updates keep it.
        this.stmts.upsertTask.run(jobId, task.name, 0, task.state, JSON.stringify(task));
      }
      for (const a of change.attempts ?? []) {
        this.stmts.upsertAttempt.run({
          jobId: a.jobId,
          task: a.task,
          attempt: a.attempt,
          state: a.state,
          handle: a.handle ? JSON.stringify(a.handle) : null,
          createdAt: a.createdAt,
          startedAt: a.startedAt ?? null,
          finishedAt: a.finishedAt ?? null,
          exitCode: a.exitCode ?? null,
          reason: a.reason ?? null,
          peakMemoryBytes: a.usage?.peakMemoryBytes ?? null,
          cpuSeconds: a.usage?.cpuSeconds ?? null,
          gpuUtilMean: a.usage?.gpuUtilizationMeanPercent ?? null,
          gpuUtilPeak: a.usage?.gpuUtilizationPeakPercent ?? null,
          gpuMemoryPeakBytes: a.usage?.gpuMemoryPeakBytes ?? null,
          // Only an open attempt keeps its token: writing its end revokes it.
          tokenHash: a.state === 'finished' ? null : (a.tokenHash ?? null),
          results: a.results ? JSON.stringify(a.results) : null,
        });
      }
      for (const t of change.transitions ?? []) {
        this.stmts.insertTransition.run(t.jobId, t.task, t.from, t.to, t.at, t.note ?? null);
      }
    });
  }

  deleteJob(id: string): void {
    this.transaction(() => this.stmts.deleteJob.run(id));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
