/**
 * Saved pipelines and schedules composed over a job service and the SQLite database its store
 * uses (a fire and its job share one transaction, so they share one database).
 */
import type { JobService, NotifyCheck } from './jobs/job-service.js';
import { PipelineService } from './pipelines/pipeline-service.js';
import type { Clock } from './clock.js';
import { ScheduleService } from './scheduler/schedule-service.js';
import { Scheduler } from './scheduler/scheduler.js';
import type { PipelineStore } from './store/pipeline-store.js';
import { SqliteScheduleStore } from './store/schedule-store.js';
import type { SqliteStore } from './store/sqlite-store.js';

export interface SchedulingOptions {
  /** The job service's store. */
  store: SqliteStore;
  /** The store the job service looks versions up in. */
  pipelineStore: PipelineStore;
  jobs: JobService;
  clock?: Clock;
  lateAfterMs?: number;
  log?: (message: string, err?: unknown) => void;
  /** Checks that saved pipelines and schedules name only notification targets their owner may use. */
  checkNotify?: NotifyCheck;
}

export interface Scheduling {
  pipelines: PipelineService;
  schedules: ScheduleService;
  scheduler: Scheduler;
  /** Settle what happened while the server was down and start firing. */
  start(): Promise<void>;
  close(): Promise<void>;
}

export function createScheduling(options: SchedulingOptions): Scheduling {
  const transaction = <T>(fn: () => T): T => options.store.transaction(fn);
  const scheduleStore = new SqliteScheduleStore(options.store.db);
  const scheduler = new Scheduler({
    schedules: scheduleStore,
    pipelines: options.pipelineStore,
    jobs: options.jobs,
    transaction,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.lateAfterMs !== undefined ? { lateAfterMs: options.lateAfterMs } : {}),
    ...(options.log ? { log: options.log } : {}),
  });
  const schedules = new ScheduleService({
    schedules: scheduleStore,
    pipelines: options.pipelineStore,
    scheduler,
    transaction,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.checkNotify ? { checkNotify: options.checkNotify } : {}),
  });
  const pipelines = new PipelineService({
    store: options.pipelineStore,
    jobs: options.jobs,
    ...(options.checkNotify ? { checkNotify: options.checkNotify } : {}),
  });
  pipelines.specScheduleHook = (owner, pipeline, declared) => schedules.applyDeclared(owner, pipeline, declared);
  pipelines.schedulesUsing = (owner, pipeline) =>
    scheduleStore
      .list(owner)
      .filter((s) => s.spec.pipeline === pipeline)
      .map((s) => s.name);
  return {
    pipelines,
    schedules,
    scheduler,
    start: () => scheduler.start(),
    close: () => scheduler.close(),
  };
}
