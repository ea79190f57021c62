/**
 * What changed between two bundles: tasks added and removed, and per task the fields that differ
 * (dotted paths such as `resources.gpu`, plus `code`: the source the task runs); pipeline-level
 * fields; files added, removed or changed.
 */
import type { Bundle, FieldChange, PipelineDiff, Task } from '@cellpipe/schema';
import { canonicalJson } from './bundle.js';

/** Leaves of a JSON value by dotted path; arrays are leaves (compared whole). */
function flatten(value: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0 && prefix) out.set(prefix, value);
    for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) {
    out.set(prefix, value);
  }
  return out;
}

function compare(a: unknown, b: unknown): FieldChange[] {
  const left = flatten(a, '', new Map());
  const right = flatten(b, '', new Map());
  const fields = [...new Set([...left.keys(), ...right.keys()])].sort();
  const changes: FieldChange[] = [];
  for (const field of fields) {
    const from = left.get(field);
    const to = right.get(field);
    if (canonicalJson(from) === canonicalJson(to)) continue;
    const change: FieldChange = { field };
    if (from !== undefined) change.from = from;
    if (to !== undefined) change.to = to;
    changes.push(change);
  }
  return changes;
}

function notebookCells(text: string | undefined): string[] {
  if (text === undefined) return [];
  try {
    const nb = JSON.parse(text) as { cells?: { cell_type?: string; source?: string | string[] }[] };
    return (nb.cells ?? []).map((c) => (Array.isArray(c.source) ? c.source.join('') : (c.source ?? '')));
  } catch {
    return [];
  }
}

/** The code a task runs, as text: its cells of the pipeline notebook, or its whole script / notebook. */
function taskCode(bundle: Bundle, task: Task): string {
  if (task.source.kind === 'cells') {
    const cells = notebookCells(
      bundle.pipeline.spec.source ? bundle.files[bundle.pipeline.spec.source.notebook] : undefined,
    );
    return task.cells.map((i) => cells[i] ?? '').join('\n');
  }
  const text = bundle.files[task.source.path];
  return task.source.kind === 'notebook' ? notebookCells(text).join('\n') : (text ?? '');
}

/**
 * A task as the diff shows it: its code as text; without `outputOrigins`, the cell positions where
 * its outputs are last bound, which follow from its code and outputs (both shown).
 */
function comparable(bundle: Bundle, task: Task): Record<string, unknown> {
  const { outputOrigins: _origins, ...rest } = task;
  return { ...rest, code: taskCode(bundle, task) };
}

export function diffBundles(name: string, from: number, a: Bundle, to: number, b: Bundle): PipelineDiff {
  const tasksA = new Map(a.pipeline.spec.tasks.map((t) => [t.name, t]));
  const tasksB = new Map(b.pipeline.spec.tasks.map((t) => [t.name, t]));
  const changed: PipelineDiff['tasks']['changed'] = [];
  for (const [taskName, ta] of tasksA) {
    const tb = tasksB.get(taskName);
    if (!tb) continue;
    const fields = compare(comparable(a, ta), comparable(b, tb));
    if (fields.length) changed.push({ task: taskName, fields });
  }
  const { tasks: _ta, ...specA } = a.pipeline.spec;
  const { tasks: _tb, ...specB } = b.pipeline.spec;
  const spec = compare({ metadata: a.pipeline.metadata, ...specA }, { metadata: b.pipeline.metadata, ...specB });
  const filesA = Object.keys(a.files);
  const filesB = Object.keys(b.files);
  const files = {
    added: filesB.filter((f) => !(f in a.files)).sort(),
    removed: filesA.filter((f) => !(f in b.files)).sort(),
    changed: filesA.filter((f) => f in b.files && a.files[f] !== b.files[f]).sort(),
  };
  const tasks = {
    added: [...tasksB.keys()].filter((t) => !tasksA.has(t)),
    removed: [...tasksA.keys()].filter((t) => !tasksB.has(t)),
    changed,
  };
  const identical =
    !tasks.added.length &&
    !tasks.removed.length &&
    !changed.length &&
    !spec.length &&
    !files.added.length &&
    !files.removed.length &&
    !files.changed.length;
  return { name, from, to, identical, tasks, spec, files };
}
