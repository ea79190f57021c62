/**
 * The task graph of a notebook as the pipeline panel draws it: from the compiled pipeline when it
 * compiles, else from a draft, so the graph stays on screen exactly when a bad `after:` or a cycle
 * needs showing. The draft takes the tasks from the compiler's cell roles, the `after:` targets from
 * the cells' settings (a target no task has becomes a ghost node) and the variable flow from the
 * last compile that succeeded. Pure.
 */
import { cellSettings, type NotebookCompileResult, type Pipeline } from '@cellpipe/schema';
import { buildGraph, type EdgeReason, type GraphTask, type TaskGraphData } from './graph.js';

/** What the compiler gives beyond the pipeline: per-edge reasons, when it has them. */
export type CompileWithEdges = NotebookCompileResult & { edges?: readonly EdgeReason[] };

/** The first cell (1-based) of each task of a compiled pipeline. */
function firstCells(pipeline: Pipeline): Map<string, number> {
  return new Map(pipeline.spec.tasks.filter((t) => t.cells.length > 0).map((t) => [t.name, Math.min(...t.cells) + 1]));
}

/** The tasks of a notebook for the drawing, with `detail` per task from `detailOf`. */
export function notebookTasks(
  result: CompileWithEdges,
  cells: readonly { metadata?: Record<string, unknown> }[],
  previous: Pipeline | undefined,
): GraphTask[] {
  if (result.pipeline) {
    const first = firstCells(result.pipeline);
    return result.pipeline.spec.tasks.map((t) => ({
      name: t.name,
      dependsOn: t.dependsOn,
      inputsFrom: t.inputsFrom,
      ...(first.has(t.name) ? { cell: first.get(t.name)! } : {}),
    }));
  }
  // Draft: tasks in notebook order with their cells' after: targets.
  const order: string[] = [];
  const first = new Map<string, number>();
  const after = new Map<string, Set<string>>();
  for (const role of result.cells) {
    if (role.role !== 'task' || !role.task) continue;
    if (!first.has(role.task)) {
      order.push(role.task);
      first.set(role.task, role.index + 1);
      after.set(role.task, new Set());
    }
    const metadata = cells[role.index]?.metadata ?? {};
    for (const target of cellSettings(metadata).settings.after) after.get(role.task)!.add(target);
  }
  const names = new Set(order);
  const flow = new Map((previous?.spec.tasks ?? []).map((t) => [t.name, t]));
  return order.map((name) => {
    const targets = [...after.get(name)!].filter((t) => t !== name);
    const before = flow.get(name);
    const flowDeps = (before?.dependsOn ?? []).filter((d) => names.has(d));
    const inputsFrom = Object.fromEntries(
      Object.entries(before?.inputsFrom ?? {}).filter(([, from]) => names.has(from)),
    );
    return {
      name,
      dependsOn: [...new Set([...flowDeps, ...targets.filter((t) => names.has(t))])],
      inputsFrom,
      missing: targets.filter((t) => !names.has(t)),
      cell: first.get(name)!,
    };
  });
}

/** The notebook's graph, node details (state, resources) supplied per task. */
export function notebookGraph(
  result: CompileWithEdges,
  cells: readonly { metadata?: Record<string, unknown> }[],
  previous: Pipeline | undefined,
  decorate: (task: string) => { state?: string; detail?: string },
): TaskGraphData {
  const tasks = notebookTasks(result, cells, previous).map((t) => ({ ...t, ...decorate(t.name) }));
  return buildGraph(tasks, result.pipeline ? result.edges : undefined);
}
