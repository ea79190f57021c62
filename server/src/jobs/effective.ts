/** A task's settings with the pipeline's `spec.defaults` applied. */
import type { Pipeline, Resources, Task } from '@cellpipe/schema';
import { parseDuration } from './duration.js';

export interface EffectiveTask {
  resources: Resources;
  image?: string;
  env: Record<string, string>;
  retries: number;
  timeoutMs?: number;
}

export function effectiveTask(pipeline: Pipeline, task: Task): EffectiveTask {
  const d = pipeline.spec.defaults ?? {};
  const resources = Object.keys(task.resources ?? {}).length ? task.resources : (d.resources ?? {});
  const out: EffectiveTask = {
    resources,
    env: { ...(d.env ?? {}), ...(task.env ?? {}) },
    // `retries` defaults to 0 on the task, so a pipeline default only applies where the task left it at 0.
    retries: task.retries || d.retries || 0,
  };
  const image = task.image ?? d.image;
  if (image) out.image = image;
  const timeout = task.timeout ?? d.timeout;
  if (timeout) out.timeoutMs = parseDuration(timeout);
  return out;
}
