/** Store records as the API shows them. */
import { TaskStateSchema, type JobSummary, type TaskRun, type TaskState } from '@cellpipe/schema';
import type { JobRecord, TaskRecord } from './store.js';

export function toTaskRun(t: TaskRecord): TaskRun {
  const { notBefore: _notBefore, ...run } = t;
  return run;
}

/** Counts with every state present (0 where there are none). */
export function everyState<S extends string>(
  states: readonly S[],
  counts: Partial<Record<S, number>>,
): Record<S, number> {
  return Object.fromEntries(states.map((s) => [s, counts[s] ?? 0])) as Record<S, number>;
}

/** Tasks per state, every state present. */
export function taskCounts(tasks: Iterable<{ state: TaskState }>): Record<TaskState, number> {
  const counts = Object.fromEntries(TaskStateSchema.options.map((s) => [s, 0])) as Record<TaskState, number>;
  for (const t of tasks) counts[t.state]++;
  return counts;
}

export function toSummary(job: JobRecord, counts: Record<TaskState, number>): JobSummary {
  const { pipeline: _p, parameters: _q, ...summary } = job;
  return { ...summary, taskCounts: counts };
}
