/**
 * Ordered schema migrations. Append only: a released migration is never edited, a change is a new one.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
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
];
