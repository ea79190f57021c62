/**
 * Checks a schema-valid pipeline for what zod cannot see: duplicate task names, unknown dependsOn
 * targets, cycles, inputs no upstream task provides, and source paths that would leave the
 * pipeline's directory. The one graph check: `cellpipe validate`, the YAML loader and the server's
 * submit all run it.
 */
import type { Pipeline } from './spec.js';
import { TaskGraph, findCycles, formatCycle } from './graph.js';

export interface SpecIssue {
  message: string;
  path: (string | number)[];
  task?: string;
}

/**
 * A source path is relative to the pipeline's directory and stays inside it: no absolute paths,
 * no drive letters, no `..` segments, no backslashes (they mean different things on each OS).
 */
export function checkRelativePath(p: string): string | undefined {
  if (p.includes('\0')) return 'path contains a NUL byte';
  if (p.includes('\\')) return `path '${p}' must use "/" separators`;
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) return `path '${p}' must be relative to the pipeline's directory`;
  const segments = p.split('/');
  if (segments.includes('..')) return `path '${p}' must not leave the pipeline's directory ("..")`;
  if (segments.every((s) => s === '' || s === '.')) return `path '${p}' names no file`;
  return undefined;
}

/** `a/./b//c` → `a/b/c`, so the same file is one key in `files`. */
export function normalizeRelativePath(p: string): string {
  return p
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/');
}

export function checkPipeline(p: Pipeline): SpecIssue[] {
  const issues: SpecIssue[] = [];
  const tasks = p.spec.tasks;
  const graph = new TaskGraph(tasks);
  const first = new Map<string, number>();
  tasks.forEach((t, i) => {
    const seen = first.get(t.name);
    if (seen !== undefined) {
      issues.push({
        message: `duplicate task name '${t.name}' (also task ${seen + 1})`,
        path: ['spec', 'tasks', i, 'name'],
        task: t.name,
      });
    } else first.set(t.name, i);
  });
  tasks.forEach((t, i) => {
    t.dependsOn.forEach((d, j) => {
      if (d === t.name)
        issues.push({
          message: `task '${t.name}' depends on itself`,
          path: ['spec', 'tasks', i, 'dependsOn', j],
          task: t.name,
        });
      else if (!first.has(d))
        issues.push({
          message: `unknown dependsOn target '${d}'`,
          path: ['spec', 'tasks', i, 'dependsOn', j],
          task: t.name,
        });
    });
    for (const [name, from] of Object.entries(t.inputsFrom)) {
      const at = ['spec', 'tasks', i, 'inputsFrom', name];
      const up = graph.get(from);
      if (!t.inputs.includes(name))
        issues.push({ message: `inputsFrom names '${name}', which is not in inputs`, path: at, task: t.name });
      else if (!up || !graph.isUpstream(t, from))
        issues.push({
          message: `input '${name}' comes from '${from}', which is not upstream of '${t.name}' (not reachable through dependsOn)`,
          path: at,
          task: t.name,
        });
      else if (!up.outputs.includes(name))
        issues.push({
          message: `input '${name}' comes from '${from}', which does not output it`,
          path: at,
          task: t.name,
        });
    }
    t.inputs.forEach((name, j) => {
      if (!Object.hasOwn(t.inputsFrom, name) && graph.sourceOf(t, name) === undefined)
        issues.push({
          message: `task '${t.name}' reads '${name}' but no upstream task outputs it`,
          path: ['spec', 'tasks', i, 'inputs', j],
          task: t.name,
        });
    });
    if (t.source.kind !== 'cells') {
      const bad = checkRelativePath(t.source.path);
      if (bad) issues.push({ message: bad, path: ['spec', 'tasks', i, 'source', 'path'], task: t.name });
    } else if (!p.spec.source) {
      issues.push({
        message: `task '${t.name}' runs notebook cells but spec.source.notebook is not set`,
        path: ['spec', 'tasks', i, 'source'],
        task: t.name,
      });
    }
  });
  if (p.spec.source) {
    const bad = checkRelativePath(p.spec.source.notebook);
    if (bad) issues.push({ message: bad, path: ['spec', 'source', 'notebook'] });
  }
  for (const cycle of findCycles(
    tasks.map((t) => ({ name: t.name, dependsOn: t.dependsOn.filter((d) => d !== t.name) })),
  )) {
    const i = first.get(cycle[0]!)!;
    issues.push({ message: formatCycle(cycle), path: ['spec', 'tasks', i, 'dependsOn'], task: cycle[0] });
  }
  return issues;
}
