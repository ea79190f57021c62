/**
 * The engine composition: a store, the orchestrator and a ready executor, wired into the JobService
 * the HTTP API, the CLI and the scheduler use. The one place jobs/ and orchestrator/ meet.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import type { Clock } from './clock.js';
import type { Executor } from './executors/executor.js';
import type { GpuLimits } from './gpu/fair-share.js';
import type { Compiler } from './jobs/freeze.js';
import { JobService, type JobServiceDeps, type JobServiceEvents } from './jobs/job-service.js';
import { Orchestrator, type OrchestratorOptions } from './orchestrator/orchestrator.js';
import { JobLayout } from './store/layout.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { Store } from './store/store.js';
import { resolveLimits, type Limits } from './limits.js';

export interface EngineOptions {
  /** CELLPIPE_HOME: holds cellpipe.db and jobs/<jobId>/... */
  home: string;
  /** Where job folders live (default `<home>/jobs`). */
  jobsDir?: string;
  /** A ready executor (see executors/registry.ts); the service closes it. */
  executor: Executor;
  /** Default: the SQLite store at `<home>/cellpipe.db`. */
  store?: Store;
  /** Most tasks one user may have running at once across their jobs (default unlimited). */
  maxParallelPerUser?: number;
  /** How many GPUs and MIG slices one user's or team's tasks may hold at once (default unlimited). */
  gpuLimits?: GpuLimits;
  /** Base of the exponential retry backoff (default 1000 ms: 1 s, 2 s, 4 s ...). */
  retryBackoffMs?: number;
  /** Default: the system clock. */
  clock?: Clock;
  /** Tests that exercise the engine without the compiler. */
  compiler?: Compiler;
  /** Saved pipeline versions, so an ad-hoc job records the version its content was saved as. */
  versions?: JobServiceDeps['versions'];
  /** What a submission, a task or a stream may cost: the defaults of limits.ts with these on top. */
  limits?: Partial<Limits>;
  /** Runs in the transaction that stores a job's end (the notification outbox). */
  onJobEnd?: OrchestratorOptions['onJobEnd'];
  /** Checks that a submit names only notification targets its owner may use. */
  checkNotify?: JobServiceDeps['checkNotify'];
  /** The team a new job of an owner counts toward (auth/teams.ts). */
  teamOf?: JobServiceDeps['teamOf'];
}

export function createJobService(options: EngineOptions): JobService {
  const layout = new JobLayout(options.home, options.jobsDir);
  mkdirSync(layout.jobsRoot, { recursive: true });
  const store = options.store ?? new SqliteStore(layout.dbPath);
  const events = new EventEmitter<JobServiceEvents>();
  // Listeners (SSE clients) come and go; the default limit of 10 would only produce warnings.
  events.setMaxListeners(0);
  const orchestratorOptions: OrchestratorOptions = { store, executor: options.executor, layout, events };
  if (options.clock) orchestratorOptions.clock = options.clock;
  if (options.maxParallelPerUser !== undefined) orchestratorOptions.maxParallelPerUser = options.maxParallelPerUser;
  if (options.gpuLimits) orchestratorOptions.gpuLimits = options.gpuLimits;
  if (options.retryBackoffMs !== undefined) orchestratorOptions.retryBackoffMs = options.retryBackoffMs;
  if (options.onJobEnd) orchestratorOptions.onJobEnd = options.onJobEnd;
  const limits = resolveLimits(options.limits);
  orchestratorOptions.limits = limits;
  const engine = new Orchestrator(orchestratorOptions);
  const deps: ConstructorParameters<typeof JobService>[0] = {
    layout,
    store,
    executor: options.executor,
    engine,
    events,
  };
  if (options.compiler) deps.compiler = options.compiler;
  if (options.versions) deps.versions = options.versions;
  if (options.checkNotify) deps.checkNotify = options.checkNotify;
  if (options.teamOf) deps.teamOf = options.teamOf;
  deps.limits = limits;
  return new JobService(deps);
}
