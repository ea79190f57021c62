/**
 * "Re-run with my changes": which tasks of an earlier job can lend their results to a new run of the
 * current notebook, and why the others run again.
 *
 * Each task gets a content hash over what decides its results: its frozen code (task.base.json minus
 * cell positions, which move when a cell is inserted above without changing anything), the setup
 * cells, the parameter values, the effective image and environment, where its inputs come from, and
 * the hashes of the tasks it depends on. A task is reused when its hash equals the earlier job's, the
 * earlier run succeeded, and it saved every output the new pipeline reads from it. Pure: the caller
 * reads the earlier job's frozen bases from disk.
 */
import { createHash } from 'node:crypto';
import {
  effectiveTask,
  ownValue,
  topologicalOrder,
  type Pipeline,
  type RerunPlan,
  type RerunPlanTask,
  type RerunReasonKind,
  type Task,
  type TaskState,
} from '@cellpipe/schema';
import type { TaskBase } from './freeze.js';

export interface PlanJob {
  jobId: string;
  pipeline: Pipeline;
  /** The frozen base of each task (task.base.json); undefined for a task the job has no base of. */
  bases: ReadonlyMap<string, TaskBase>;
}

export interface EarlierJob extends PlanJob {
  /** Each task's final state in the earlier job. */
  states: ReadonlyMap<string, TaskState>;
}

/**
 * Keys that say where code sits in the notebook, not what it does (`outputOrigins` maps each output
 * to the cell that last binds it: a position, and its outputs are compared on their own).
 */
const POSITION_KEYS = new Set(['index', 'cellOffset', 'parametersCell', 'cell', 'line', 'column', 'outputOrigins']);

/** JSON with sorted keys and without position keys, so equal content gives equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([k, v]) => !POSITION_KEYS.has(k) && v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The parts of a task that decide its results, each as canonical text (compared one by one for reasons). */
interface TaskContent {
  code: string;
  setup: string;
  parameters: Record<string, unknown>;
  image: string;
  env: string;
  inputs: string;
  outputs: readonly string[];
}

function contentOf(pipeline: Pipeline, task: Task, base: TaskBase): TaskContent {
  const { setup, parameters, inputs, outputs, ...code } = base;
  const eff = effectiveTask(pipeline, task);
  return {
    // Every other part of the base is code (its cells, and whatever else the compiler freezes with it).
    code: canonical(code),
    setup: canonical(setup),
    parameters,
    image: eff.image ?? '',
    env: canonical(eff.env),
    inputs: canonical([...inputs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))),
    outputs,
  };
}

function hashes(job: PlanJob): Map<string, { hash: string; content: TaskContent } | undefined> {
  const out = new Map<string, { hash: string; content: TaskContent } | undefined>();
  const byName = new Map(job.pipeline.spec.tasks.map((t) => [t.name, t]));
  for (const name of topologicalOrder(job.pipeline.spec.tasks)) {
    const task = byName.get(name)!;
    const base = job.bases.get(name);
    if (!base) {
      out.set(name, undefined);
      continue;
    }
    const content = contentOf(job.pipeline, task, base);
    const upstream = [...task.dependsOn].sort().map((d) => `${d}=${out.get(d)?.hash ?? 'unknown'}`);
    const { outputs: _outputs, ...decisive } = content;
    out.set(name, { hash: sha256(canonical({ ...decisive, upstream })), content });
  }
  return out;
}

function changedParameters(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return names.filter((n) => canonical(ownValue(before, n)) !== canonical(ownValue(after, n)));
}

export function planRerun(earlier: EarlierJob, next: PlanJob): RerunPlan {
  const before = hashes(earlier);
  const after = hashes(next);
  const reused = new Set<string>();
  const byName = new Map(next.pipeline.spec.tasks.map((t) => [t.name, t]));
  const plans = new Map<string, RerunPlanTask>();
  let unchanged = next.pipeline.spec.tasks.length === earlier.pipeline.spec.tasks.length;

  for (const name of topologicalOrder(next.pipeline.spec.tasks)) {
    const task = byName.get(name)!;
    const now = after.get(name);
    const then = before.get(name);
    const reasons: RerunPlanTask['reasons'] = [];
    const add = (kind: RerunReasonKind, message: string): void => void reasons.push({ kind, message });
    if (!then || !now) {
      add('new', `the job ${earlier.jobId} has no task '${name}'`);
      unchanged = false;
    } else {
      const a = then.content;
      const b = now.content;
      if (a.code !== b.code) add('code', 'its code changed');
      if (a.setup !== b.setup) add('setup', 'the setup cells changed');
      const params = changedParameters(a.parameters, b.parameters);
      if (params.length) add('parameters', `parameter${params.length > 1 ? 's' : ''} ${params.join(', ')} changed`);
      if (a.image !== b.image) add('image', `its image changed (${a.image || 'default'} → ${b.image || 'default'})`);
      if (a.env !== b.env) add('env', 'its environment variables changed');
      if (a.inputs !== b.inputs) add('inputs', 'it reads its inputs from other tasks now');
      if (reasons.length) unchanged = false;
      const missing = b.outputs.filter((o) => !a.outputs.includes(o));
      if (missing.length) add('outputs', `later tasks now read ${missing.join(', ')} from it, which it did not save`);
      const state = earlier.states.get(name);
      if (state !== 'succeeded') add('not-succeeded', `it ${state ?? 'did not run'} in job ${earlier.jobId}`);
    }
    const rerunDeps = task.dependsOn.filter((d) => !reused.has(d));
    if (rerunDeps.length) {
      add(
        'upstream',
        `upstream task${rerunDeps.length > 1 ? 's' : ''} ${rerunDeps.map((d) => `'${d}'`).join(', ')} run${rerunDeps.length > 1 ? '' : 's'} again`,
      );
    }
    const reuse = reasons.length === 0;
    if (reuse) {
      reused.add(name);
      add('unchanged', `unchanged since job ${earlier.jobId}, where it succeeded`);
    }
    plans.set(name, { name, reuse, hash: now?.hash ?? '', reasons });
  }
  return { jobId: earlier.jobId, tasks: next.pipeline.spec.tasks.map((t) => plans.get(t.name)!), unchanged };
}
