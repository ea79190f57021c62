/**
 * Ordered schema migrations. Append only: a released migration is never edited, a change is a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Triggers that keep `state_counts` for one table as its rows come, change state and go. */
function stateCountTriggers(table: string, kind: string): string {
  const add = `INSERT INTO state_counts (kind, state, n) VALUES ('${kind}', new.state, 1)
          ON CONFLICT (kind, state) DO UPDATE SET n = n + 1;`;
  const remove = `UPDATE state_counts SET n = n - 1 WHERE kind = '${kind}' AND state = old.state;`;
  return `
      CREATE TRIGGER ${table}_count_insert AFTER INSERT ON ${table} BEGIN ${add} END;
      CREATE TRIGGER ${table}_count_delete AFTER DELETE ON ${table} BEGIN ${remove} END;
      CREATE TRIGGER ${table}_count_update AFTER UPDATE OF state ON ${table} WHEN old.state != new.state BEGIN
        ${remove}
        ${add}
      END;`;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'jobs, tasks, attempts, transitions',
    sql: `
      CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        owner TEXT NOT NULL,
        state TEXT NOT NULL,
        executor TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        parent_job_id TEXT,
        schedule_id TEXT,
        error TEXT,
        pipeline TEXT NOT NULL,
        parameters TEXT NOT NULL
      );
      CREATE INDEX jobs_owner_seq ON jobs(owner, seq DESC);
      CREATE INDEX jobs_state_seq ON jobs(state, seq DESC);
      CREATE INDEX jobs_owner_state_seq ON jobs(owner, state, seq DESC);

      CREATE TABLE tasks (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        position INTEGER NOT NULL,
        state TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (job_id, name)
      );

      CREATE TABLE attempts (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        task TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        state TEXT NOT NULL,
        handle TEXT,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        exit_code INTEGER,
        reason TEXT,
        PRIMARY KEY (job_id, task, attempt)
      );
      CREATE INDEX attempts_open ON attempts(state) WHERE state != 'finished';

      CREATE TABLE transitions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        task TEXT,
        from_state TEXT,
        to_state TEXT NOT NULL,
        at TEXT NOT NULL,
        note TEXT
      );
      CREATE INDEX transitions_job ON transitions(job_id, id);
    `,
  },
  {
    version: 2,
    name: 'task bases: the frozen code and wiring of each task, written with the job in one transaction',
    sql: `
      CREATE TABLE task_bases (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        task TEXT NOT NULL,
        base TEXT NOT NULL,
        PRIMARY KEY (job_id, task)
      );
    `,
  },
  {
    version: 3,
    name: 'saved pipelines, schedules, schedule history; the pipeline version and slot of each job',
    sql: `
      ALTER TABLE jobs ADD COLUMN pipeline_name TEXT;
      ALTER TABLE jobs ADD COLUMN pipeline_version INTEGER;
      ALTER TABLE jobs ADD COLUMN pipeline_hash TEXT;
      ALTER TABLE jobs ADD COLUMN schedule_slot TEXT;
      CREATE INDEX jobs_schedule ON jobs(schedule_id, seq DESC) WHERE schedule_id IS NOT NULL;

      CREATE TABLE pipelines (
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (owner, name)
      );

      -- Immutable: rows are only ever inserted. The same content saved again is found by its hash.
      CREATE TABLE pipeline_versions (
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        hash TEXT NOT NULL,
        author TEXT NOT NULL,
        created_at TEXT NOT NULL,
        message TEXT NOT NULL,
        tasks TEXT NOT NULL,
        bundle TEXT NOT NULL,
        PRIMARY KEY (owner, name, version),
        UNIQUE (owner, name, hash),
        FOREIGN KEY (owner, name) REFERENCES pipelines(owner, name) ON DELETE CASCADE
      );

      CREATE TABLE schedules (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        spec TEXT NOT NULL,
        state TEXT NOT NULL,
        state_reason TEXT,
        revision INTEGER NOT NULL,
        -- Every slot up to this instant (ms, UTC) has been decided: fired or recorded as not run.
        cursor INTEGER NOT NULL,
        runs INTEGER NOT NULL DEFAULT 0,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (owner, name)
      );
      CREATE INDEX schedules_active ON schedules(state) WHERE state = 'active';

      CREATE TABLE schedule_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
        slot INTEGER NOT NULL,
        last_slot INTEGER NOT NULL,
        count INTEGER NOT NULL DEFAULT 1,
        fired_at TEXT,
        job_id TEXT,
        version INTEGER,
        outcome TEXT NOT NULL,
        reason TEXT,
        message TEXT,
        pruned INTEGER NOT NULL DEFAULT 0
      );
      -- A slot fires at most once, whatever happens to the process deciding it.
      CREATE UNIQUE INDEX schedule_runs_fired ON schedule_runs(schedule_id, slot) WHERE job_id IS NOT NULL;
      CREATE INDEX schedule_runs_history ON schedule_runs(schedule_id, id DESC);
      CREATE INDEX schedule_runs_running ON schedule_runs(job_id) WHERE outcome = 'running';
    `,
  },
  {
    version: 4,
    name: "each attempt's peak memory and CPU time, as the local executor's cgroup measured them",
    sql: `
      ALTER TABLE attempts ADD COLUMN peak_memory_bytes INTEGER;
      ALTER TABLE attempts ADD COLUMN cpu_seconds REAL;
    `,
  },
  {
    version: 5,
    name: 'who started a job when it was not its owner (an admin re-running it)',
    sql: `ALTER TABLE jobs ADD COLUMN submitted_by TEXT;`,
  },
  {
    version: 6,
    name: 'jobs and tasks per state, kept by triggers, so /metrics reads a few rows instead of every job',
    sql: `
      CREATE TABLE state_counts (
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (kind, state)
      ) WITHOUT ROWID;
      INSERT INTO state_counts (kind, state, n) SELECT 'job', state, count(*) FROM jobs GROUP BY state;
      INSERT INTO state_counts (kind, state, n) SELECT 'task', state, count(*) FROM tasks GROUP BY state;

      ${stateCountTriggers('jobs', 'job')}
      ${stateCountTriggers('tasks', 'task')}
    `,
  },
  {
    version: 7,
    name: "each open attempt's data token (its SHA-256), cleared when the attempt ends",
    sql: `
      ALTER TABLE attempts ADD COLUMN token_hash TEXT;
      CREATE UNIQUE INDEX attempts_token ON attempts(token_hash) WHERE token_hash IS NOT NULL;
    `,
  },
  {
    version: 8,
    name: "each attempt's results; jobs by pipeline, for comparing the results of its runs",
    sql: `
      ALTER TABLE attempts ADD COLUMN results TEXT;
      CREATE INDEX jobs_owner_pipeline_seq ON jobs(owner, pipeline_name, seq DESC) WHERE pipeline_name IS NOT NULL;
    `,
  },
  {
    version: 9,
    name: 'notification targets, the outbox of job-end notifications and their delivery attempts; the run rules of each job',
    sql: `
      ALTER TABLE jobs ADD COLUMN notify TEXT;

      -- A target's URL and secret are written here and never returned by the API. owner '' = site-wide.
      CREATE TABLE notification_targets (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        url TEXT NOT NULL,
        secret TEXT,
        description TEXT,
        created_by TEXT NOT NULL,
        -- Created by an admin: may reach private networks (notifications.privateNetworks: admins).
        trusted INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (owner, name)
      );

      -- Written in the transaction that ends the job; delivered at least once, each row by its key.
      CREATE TABLE notification_outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        job_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        target_id TEXT REFERENCES notification_targets(id) ON DELETE SET NULL,
        target_name TEXT NOT NULL,
        kind TEXT,
        rule_on TEXT NOT NULL,
        event TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER,
        give_up_at INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        delivered_at TEXT,
        error TEXT
      );
      CREATE INDEX notification_outbox_due ON notification_outbox(next_at) WHERE state = 'pending';
      CREATE INDEX notification_outbox_job ON notification_outbox(job_id, id);

      CREATE TABLE notification_attempts (
        outbox_id INTEGER NOT NULL REFERENCES notification_outbox(id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        at TEXT NOT NULL,
        status INTEGER,
        error TEXT,
        duration_ms INTEGER NOT NULL,
        PRIMARY KEY (outbox_id, attempt)
      );
    `,
  },
  {
    version: 10,
    name: "each saved pipeline's labels (who manages it: cellpipe apply)",
    sql: `ALTER TABLE pipelines ADD COLUMN labels TEXT;`,
  },
  {
    version: 11,
    name: "each job's team; the users the server has seen with their groups; the audit log",
    sql: `
      ALTER TABLE jobs ADD COLUMN team TEXT;
      CREATE INDEX jobs_team_state ON jobs(team, state) WHERE team IS NOT NULL;

      -- The groups each user was last seen with, so teams resolve for owners who are not calling.
      CREATE TABLE users (
        name TEXT PRIMARY KEY,
        admin INTEGER NOT NULL,
        groups TEXT NOT NULL,
        seen_at TEXT NOT NULL
      );

      -- Every state-changing call: who, what, on what, and how it ended. Only ever inserted (and pruned).
      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        user TEXT,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        status INTEGER NOT NULL,
        result TEXT NOT NULL,
        message TEXT
      );
      CREATE INDEX audit_at ON audit(at);
      CREATE INDEX audit_user ON audit(user, id DESC);
    `,
  },
  {
    version: 12,
    name: "each attempt's GPU use (mean and peak utilisation, peak GPU memory)",
    sql: `
      ALTER TABLE attempts ADD COLUMN gpu_util_mean REAL;
      ALTER TABLE attempts ADD COLUMN gpu_util_peak REAL;
      ALTER TABLE attempts ADD COLUMN gpu_memory_peak_bytes INTEGER;
    `,
  },
];
