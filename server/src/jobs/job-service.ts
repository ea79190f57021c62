/**
 * JobService: the one entry point the HTTP API, the CLI and the scheduler use to run jobs.
 * It owns the store, the orchestrator and the executor; callers pass already-validated wire data.
 */
import { EventEmitter } from 'node:events';
import type { Inventory, Job, JobList, JobState, JobSummary, SubmitJobRequest, TaskEvent } from '@cellpipe/schema';
import type { Executor } from '../executors/executor.js';
import type { Store } from '../store/store.js';

export interface JobServiceOptions {
  /** CELLPIPE_HOME: holds cellpipe.db and jobs/<jobId>/... */
  home: string;
  /** Defaults to the local executor. */
  executor?: Executor;
  /** Defaults to the SQLite store at `<home>/cellpipe.db`. */
  store?: Store;
  /** Python interpreter for the local executor (default `python3`). */
  python?: string;
  /** The task runner script (default: the package's runner/cellpipe_runner.py). */
  runnerPath?: string;
  /**
   * GPU inventory declaration for the local executor, e.g. "gpu:2,mig-3g.20gb:1" (see gpu/inventory.ts).
   * Default: CELLPIPE_GPUS, else `nvidia-smi -L`, else none.
   */
  gpus?: string;
  /** Most tasks one user may have running at once across their jobs (default unlimited). */
  maxParallelPerUser?: number;
  /** SIGTERM → SIGKILL grace for cancelled/timed-out local tasks (default 5000 ms). */
  killGraceMs?: number;
  /** Base of the exponential retry backoff (default 1000 ms: 1 s, 2 s, 4 s ...). */
  retryBackoffMs?: number;
}

export interface ListJobsQuery {
  /** Only this user's jobs (the HTTP layer sets it for non-admins). */
  owner?: string;
  state?: JobState;
  limit?: number;
  cursor?: string;
  /** Who is asking (for audit; filtering is by `owner`). */
  viewer?: string;
}

export interface ReadLogsOptions {
  /** Keep streaming until the task is finished. */
  follow?: boolean;
  signal?: AbortSignal;
  /** Default: every attempt in order. */
  attempt?: number;
}

/** Which file of a task: its executed notebook, the runner's result.json, or a file it wrote to CELLPIPE_OUTPUT_DIR. */
export type TaskFileKind = 'notebook' | 'result' | { artifact: string };

export interface JobServiceEvents {
  job: [JobSummary];
  task: [TaskEvent];
}

export type { Job, JobList, JobSummary, Inventory, SubmitJobRequest };

export { NotFoundError, ConflictError, ValidationError } from './errors.js';
export type { ValidationIssue } from './errors.js';

export interface JobServiceApi {
  readonly events: EventEmitter<JobServiceEvents>;
  readonly executorName: string;
  /** Recover: re-attach to attempts that survived a restart and resume unfinished jobs. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** Compile/resolve and freeze a job. Throws ValidationError (with field path) on bad input. */
  submit(owner: string, request: SubmitJobRequest): Promise<Job>;
  list(query: ListJobsQuery): JobList;
  get(id: string): Job | undefined;
  /** Throws NotFoundError. Cancelling a finished job returns it unchanged. */
  cancel(id: string): Promise<Job>;
  /** A new job with parentJobId = id. 'failed' re-runs failed/cancelled/skipped tasks and their downstream. */
  rerun(id: string, mode: 'all' | 'failed', owner?: string): Promise<Job>;
  /** Only finished jobs (ConflictError otherwise); deletes its files. */
  remove(id: string): Promise<void>;
  /** Absolute path of an attempt's log file (default: the latest attempt); NotFoundError for an unknown job/task. */
  logPath(jobId: string, task: string, attempt?: number): string;
  readLogs(jobId: string, task: string, options?: ReadLogsOptions): AsyncIterable<string>;
  /** Absolute, traversal-checked path of an existing task file; NotFoundError otherwise. */
  taskFile(jobId: string, task: string, which: TaskFileKind): Promise<string>;
  inventory(): Promise<Inventory>;
}
