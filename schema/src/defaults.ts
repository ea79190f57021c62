/**
 * How a pipeline's `defaults` apply to a task: the one rule the compiler (notebook defaults into
 * compiled tasks) and the server (`spec.defaults` into what an attempt runs with) share.
 *
 * Key by key, whatever the task sets wins, an explicit `0`, `false` or `""` included; `resources`
 * and `env` merge per key too. Whole GPUs and a MIG slice exclude each other, so a task that names
 * either (`gpu: 0` too) drops both of the defaults'.
 */
import { parseDuration } from './duration.js';

/** Most retries a task may ask for. */
export const MAX_RETRIES = 20;

export interface ResourceSettings {
  gpu?: number;
  mig?: string;
  cpu?: string;
  memory?: string;
}

/** The settings defaults can give a task (`spec.defaults`, notebook `metadata.cellpipe.defaults`). */
export interface TaskSettings {
  resources?: ResourceSettings;
  image?: string;
  env?: Record<string, string>;
  retries?: number;
  timeout?: string;
}

export type MergedSettings = TaskSettings & { resources: ResourceSettings; env: Record<string, string> };

function mergeResources(defaults: ResourceSettings = {}, task: ResourceSettings = {}): ResourceSettings {
  const out: ResourceSettings = { ...defaults };
  if (task.gpu !== undefined || task.mig !== undefined) {
    delete out.gpu;
    delete out.mig;
  }
  if (task.gpu !== undefined) out.gpu = task.gpu;
  if (task.mig !== undefined) out.mig = task.mig;
  if (task.cpu !== undefined) out.cpu = task.cpu;
  if (task.memory !== undefined) out.memory = task.memory;
  return out;
}

/** The task's settings with the defaults filled in where the task says nothing. */
export function mergeDefaults(defaults: TaskSettings | undefined, task: TaskSettings): MergedSettings {
  const d = defaults ?? {};
  const out: MergedSettings = {
    resources: mergeResources(d.resources, task.resources),
    // Spread copies own keys as data properties: a variable named `__proto__` stays a variable.
    env: { ...d.env, ...task.env },
  };
  const image = task.image ?? d.image;
  if (image !== undefined) out.image = image;
  const retries = task.retries ?? d.retries;
  if (retries !== undefined) out.retries = retries;
  const timeout = task.timeout ?? d.timeout;
  if (timeout !== undefined) out.timeout = timeout;
  return out;
}

/** What one attempt of a task runs with. */
export interface EffectiveTask {
  resources: ResourceSettings;
  image?: string;
  env: Record<string, string>;
  retries: number;
  timeout?: string;
  timeoutMs?: number;
}

/** A task of a pipeline with `spec.defaults` applied. */
export function effectiveTask(pipeline: { spec: { defaults?: TaskSettings } }, task: TaskSettings): EffectiveTask {
  const m = mergeDefaults(pipeline.spec.defaults, task);
  const out: EffectiveTask = { resources: m.resources, env: m.env, retries: m.retries ?? 0 };
  if (m.image !== undefined) out.image = m.image;
  if (m.timeout !== undefined) {
    out.timeout = m.timeout;
    out.timeoutMs = parseDuration(m.timeout);
  }
  return out;
}
