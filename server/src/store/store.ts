/**
 * Persistence seam. The orchestrator is the only writer; every state change it makes is one `apply`
 * call (one transaction) that completes before the change is announced. The interface is synchronous
 * because the SQLite backend is; a networked backend would put a queue in front of it.
 */
import type { JobState, NotifyRule, Pipeline, PipelineRef, TaskRun, TaskState } from '@cellpipe/schema';
import type { AttemptUsage, TaskResults } from '@cellpipe/schema';
import type { AttemptHandle } from '../executors/executor.js';

export interface JobRecord {
  id: string;
  name: string;
  owner: string;
  state: JobState;
  executor: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  parentJobId?: string;
  /** Who started the job when it was not its owner (an admin's re-run). */
  submittedBy?: string;
  scheduleId?: string;
  /** The slot (ISO, UTC) the schedule fired this job for. */
  scheduleSlot?: string;
  /** The saved pipeline and version (or at least the bundle hash) the job runs. */
  pipelineRef?: PipelineRef;
  /** The owner's primary team when the job was created (auth/teams.ts): what it counts toward. */
  team?: string;
  error?: string;
  /** The frozen pipeline the job runs (compiled at submit). */
  pipeline: Pipeline;
  /** Effective parameter values (defaults merged with the submitted overrides). */
  parameters: Record<string, unknown>;
  /** Where the job's end is sent besides the pipeline's `spec.notify`: the run's and its schedule's rules. */
  notify?: NotifyRule[];
}

/** A task's public state plus what the orchestrator needs to resume it. */
export interface TaskRecord extends TaskRun {
  /** Earliest time (ISO) the next attempt may start: retry backoff. */
  notBefore?: string;
}

export type AttemptState = 'starting' | 'running' | 'finished';

export interface AttemptRecord {
  jobId: string;
  task: string;
  attempt: number;
  /** starting: handed to the executor, no `running` seen yet; running: has a handle; finished. */
  state: AttemptState;
  handle: AttemptHandle | null;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  exitCode?: number;
  /** Error reason of a failed attempt (exit, timeout, lost, cancelled...). */
  reason?: string;
  /** What the attempt used, when its executor measured it. */
  usage?: AttemptUsage;
  /**
   * SHA-256 (hex) of the token the attempt's task uses to read its inputs and write its outputs
   * through the server (executors without a shared file system). Set while the attempt is open;
   * an attempt written without it (its end) has no valid token any more.
   */
  tokenHash?: string;
  /** What the attempt published (`cellpipe.report`, metrics.json). */
  results?: TaskResults;
}

/** One atomic state change. */
export interface Change {
  job?: { id: string } & Partial<Omit<JobRecord, 'id' | 'pipeline' | 'owner' | 'createdAt' | 'notify' | 'team'>>;
  tasks?: { jobId: string; task: TaskRecord }[];
  attempts?: AttemptRecord[];
  /** Appended to the transition history (what changed state, when). */
  transitions?: Transition[];
}

export interface Transition {
  jobId: string;
  /** null for job-level transitions. */
  task: string | null;
  from: string | null;
  to: string;
  at: string;
  note?: string;
}

export interface JobListQuery {
  owner?: string;
  /** Jobs of any of these owners (combined with `owner` when both are given). */
  owners?: readonly string[];
  state?: JobState;
  /** Any of these states (combined with `state` when both are given). */
  states?: JobState[];
  /** Case-insensitive words that the job's name, id or owner must each contain. */
  search?: string;
  /** ISO time: created at or after it. */
  createdFrom?: string;
  /** ISO time: created before it. */
  createdBefore?: string;
  /** Only runs of this pipeline (its name, saved or not), and of this saved version. */
  pipeline?: string;
  pipelineVersion?: number;
  limit: number;
  /** Opaque, from a previous page's `nextCursor`. */
  cursor?: string;
}

export interface JobListRow extends Omit<JobRecord, 'pipeline'> {
  taskCounts: Partial<Record<TaskState, number>>;
}

/** A task queued (not running yet) in an unfinished job: what the inventory's waiting queues list. */
export interface QueuedTaskRow {
  jobId: string;
  owner: string;
  task: TaskRecord;
}

export interface Store {
  /**
   * Run `fn` in one transaction: every store write inside it (this store's and those of the stores
   * sharing its database, such as the schedules) commits together or not at all. Nests.
   */
  transaction<T>(fn: () => T): T;
  /**
   * A new job, its tasks and each task's frozen base (the code and wiring its attempts run, opaque
   * JSON), in one transaction: a submit is stored whole or not at all.
   */
  insertJob(job: JobRecord, tasks: TaskRecord[], bases?: ReadonlyMap<string, unknown>): void;
  /** The frozen base of a task, as insertJob stored it. */
  taskBase(jobId: string, task: string): unknown;
  getJob(id: string): JobRecord | undefined;
  getTasks(jobId: string): TaskRecord[];
  /** A page of jobs, newest first, and how many jobs match over all pages (`total`). */
  listJobs(query: JobListQuery): { items: JobListRow[]; nextCursor?: string; total: number };
  /** Tasks by state across the unfinished jobs (of one owner when given). */
  activeTaskCounts(owner?: string): Partial<Record<TaskState, number>>;
  /** Unfinished jobs by state (of one owner when given). */
  activeJobCounts(owner?: string): Partial<Record<JobState, number>>;
  /** Queued tasks of unfinished jobs, oldest job first. */
  queuedTasks(): QueuedTaskRow[];
  /** Ids of jobs not in a terminal state, oldest first (restart recovery). */
  activeJobIds(): string[];
  /** Jobs and tasks per state over the whole store, kept as they change (a read of a few rows). */
  stateCounts(): StateCounts;
  attempts(jobId: string, task?: string): AttemptRecord[];
  /** Attempts in state starting/running across all jobs (restart recovery). */
  openAttempts(): AttemptRecord[];
  /** The open attempt whose data token has this hash (see AttemptRecord.tokenHash). */
  openAttemptByToken(tokenHash: string): AttemptRecord | undefined;
  transitions(jobId: string): Transition[];
  apply(change: Change): void;
  deleteJob(id: string): void;
  close(): void;
}

export interface StateCounts {
  jobs: Partial<Record<JobState, number>>;
  tasks: Partial<Record<TaskState, number>>;
}
