/**
 * Job state as the browser holds it, updated by the server's events. Pure reducers (no JupyterLab,
 * no I/O): the model applies them to what it fetched and what `/api/events` sends.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import {
  JobSummarySchema,
  TaskEventSchema,
  TaskStateSchema,
  TERMINAL_JOB_STATES,
  TERMINAL_TASK_STATES,
  type Activity,
  type Job,
  type JobState,
  type JobSummary,
  type TaskEvent,
  type TaskRun,
  type TaskState,
} from '@cellpipe/schema';

export interface JobsState {
  /** Newest first. */
  jobs: JobSummary[];
  /** Jobs whose detail was fetched, by id. */
  details: Record<string, Job>;
}

export const EMPTY_STATE: JobsState = { jobs: [], details: {} };

export type JobsAction =
  | { type: 'list'; jobs: JobSummary[] }
  | { type: 'job'; job: JobSummary }
  | { type: 'detail'; job: Job }
  | { type: 'task'; event: TaskEvent }
  | { type: 'removed'; id: string };

/** Newest first by creation time; ids break ties so the order is stable. */
function newestFirst(a: JobSummary, b: JobSummary): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

const TASK_RANK: Record<TaskState, number> = {
  pending: 0,
  queued: 1,
  running: 2,
  succeeded: 3,
  failed: 3,
  cancelled: 3,
  skipped: 3,
};
const JOB_RANK: Record<JobState, number> = { pending: 0, running: 1, succeeded: 2, failed: 2, cancelled: 2 };

/**
 * The later of two views of one task. HTTP replies (a cancel's reply, a refetch) can be older than
 * events that arrived before them, so a snapshot never moves a task back: a later attempt wins, and
 * within one attempt the state further along (pending → queued → running → final).
 */
export function laterTask(known: TaskRun, incoming: TaskRun): TaskRun {
  if (incoming.attempt !== known.attempt) return incoming.attempt > known.attempt ? incoming : known;
  return TASK_RANK[incoming.state] >= TASK_RANK[known.state] ? incoming : known;
}

/**
 * The later of two views of one job summary (a finished job never reads as running again). Job events
 * carry no parameters, which never change in a job, so those a list page brought are kept.
 */
export function laterSummary<T extends JobSummary>(known: T | undefined, incoming: T): T {
  if (!known) return incoming;
  const kept = incoming.parameters === undefined && known.parameters !== undefined;
  const next = kept ? { ...incoming, parameters: known.parameters } : incoming;
  return JOB_RANK[incoming.state] >= JOB_RANK[known.state] ? next : { ...next, ...pickState(known) };
}

function pickState(j: JobSummary): Partial<JobSummary> {
  return { state: j.state, startedAt: j.startedAt, finishedAt: j.finishedAt, error: j.error, taskCounts: j.taskCounts };
}

function summaryOf(job: Job): JobSummary {
  const { pipeline: _p, parameters: _q, tasks: _t, ...summary } = job;
  return summary;
}

function upsert(jobs: JobSummary[], job: JobSummary): JobSummary[] {
  const known = jobs.find((j) => j.id === job.id);
  const rest = jobs.filter((j) => j.id !== job.id);
  return [...rest, laterSummary(known, job)].sort(newestFirst);
}

/** A fetched job merged over what events already told us. */
function mergeDetail(known: Job | undefined, incoming: Job): Job {
  if (!known) return incoming;
  const byName = new Map(known.tasks.map((t) => [t.name, t]));
  const tasks = incoming.tasks.map((t) => {
    const k = byName.get(t.name);
    return k ? laterTask(k, t) : t;
  });
  const merged = {
    ...laterSummary(known, incoming),
    pipeline: incoming.pipeline,
    parameters: incoming.parameters,
    tasks,
  };
  merged.taskCounts = countTasks(merged);
  return merged;
}

function countTasks(job: Job): JobSummary['taskCounts'] {
  const counts = Object.fromEntries(TaskStateSchema.options.map((s) => [s, 0])) as Record<TaskState, number>;
  for (const t of job.tasks) counts[t.state] += 1;
  return counts;
}

export function jobsReducer(state: JobsState, action: JobsAction): JobsState {
  switch (action.type) {
    case 'list': {
      // A fresh page replaces what we had for those ids; jobs only known from events stay.
      const byId = new Map(state.jobs.map((j) => [j.id, j]));
      for (const j of action.jobs) byId.set(j.id, laterSummary(byId.get(j.id), j));
      return { ...state, jobs: [...byId.values()].sort(newestFirst) };
    }
    case 'job': {
      const detail = state.details[action.job.id];
      const details = detail
        ? { ...state.details, [action.job.id]: { ...detail, ...laterSummary<JobSummary>(detail, action.job) } }
        : state.details;
      return { jobs: upsert(state.jobs, action.job), details };
    }
    case 'detail': {
      const job = mergeDetail(state.details[action.job.id], action.job);
      return {
        jobs: upsert(state.jobs, summaryOf(job)),
        details: { ...state.details, [job.id]: job },
      };
    }
    case 'task': {
      const detail = state.details[action.event.jobId];
      if (!detail) return state;
      const task = action.event.task;
      const exists = detail.tasks.some((t) => t.name === task.name);
      const tasks = exists ? detail.tasks.map((t) => (t.name === task.name ? task : t)) : [...detail.tasks, task];
      const job = { ...detail, tasks };
      job.taskCounts = countTasks(job);
      return {
        jobs: state.jobs.map((j) => (j.id === job.id ? { ...j, taskCounts: job.taskCounts } : j)),
        details: { ...state.details, [job.id]: job },
      };
    }
    case 'removed': {
      const { [action.id]: _gone, ...details } = state.details;
      return { jobs: state.jobs.filter((j) => j.id !== action.id), details };
    }
  }
}

/** One server-sent event (`event:` name + `data:` JSON) as an action; undefined for unknown or bad data. */
export function actionFromEvent(type: string, data: string): JobsAction | undefined {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (type === 'job') {
    const r = JobSummarySchema.safeParse(json);
    return r.success ? { type: 'job', job: r.data } : undefined;
  }
  if (type === 'task') {
    const r = TaskEventSchema.safeParse(json);
    return r.success ? { type: 'task', event: r.data } : undefined;
  }
  return undefined;
}

/** The status bar's words: tasks that hold a slot and tasks waiting for one, as the server counts them. */
export function statusText(activity: Activity | null, trans: TranslationBundle): string {
  if (!activity) return trans.__('Cellpipe');
  const { running, waiting } = activity.tasks;
  if (!running && !waiting) return trans.__('Cellpipe: idle');
  return trans.__(
    'Cellpipe: %1, %2',
    trans._n('%1 task running', '%1 tasks running', running),
    trans._n('%1 waiting', '%1 waiting', waiting),
  );
}

export function isJobFinished(state: JobState): boolean {
  return (TERMINAL_JOB_STATES as readonly string[]).includes(state);
}

export function isTaskFinished(state: TaskState): boolean {
  return (TERMINAL_TASK_STATES as readonly string[]).includes(state);
}

/** "1m 05s", "850 ms", "2h 03m" */
export function formatDuration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/**
 * How long a task ran, the one number every view shows: the runner's own measure once the task
 * finished (it excludes start-up), else the time since it started.
 */
export function taskDurationMs(
  t: Pick<TaskRun, 'durationMs' | 'startedAt' | 'finishedAt'>,
  now: number,
): number | undefined {
  return t.durationMs ?? elapsedMs(t.startedAt, t.finishedAt, now);
}

/** Duration of a task or job: finished − started, or now − started while it runs. */
export function elapsedMs(
  startedAt: string | undefined,
  finishedAt: string | undefined,
  now: number,
): number | undefined {
  if (!startedAt) return undefined;
  const start = Date.parse(startedAt);
  const end = finishedAt ? Date.parse(finishedAt) : now;
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : undefined;
}
