/**
 * What a task graph drawing shows: tasks, the edges between them labelled with the variables that flow,
 * and the problems (an `after:` naming no task becomes a ghost node, the edges of a cycle are marked).
 * Built from a compiled pipeline, from a job, or, while the notebook does not compile, from a draft of
 * its tasks. Pure (no DOM, no JupyterLab), so it is tested on its own.
 */
import { findCycles } from '@cellpipe/schema';

export type EdgeKind = 'flow' | 'after' | 'missing';

export interface GraphNode {
  id: string;
  /** Second line (state, duration, resources). */
  detail?: string;
  /** Task state; `planned` before any run. */
  state: string;
  /** An `after:` target no task has. */
  ghost?: boolean;
  /** 1-based cell the task starts at (the pipeline panel selects it). */
  cell?: number;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: EdgeKind;
  /** The variables `to` reads from `from`. */
  variables: { name: string; kind?: string }[];
  /** Part of a dependency cycle. */
  cycle: boolean;
}

export interface TaskGraphData {
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** The compiler's reason for an edge (`NotebookCompileResult.edges` when the compiler gives them). */
export interface EdgeReason {
  from: string;
  to: string;
  variables: { name: string; kind?: string }[];
  after?: boolean;
  /** Files `to` uses that `from` wrote (or writes after `from` read them). */
  files?: string[];
}

/** A task as the graph needs it: a compiled task, a job's task run, or a draft. */
export interface GraphTask {
  name: string;
  dependsOn: readonly string[];
  /** input name → upstream task, as compiled (`Task.inputsFrom`). */
  inputsFrom?: Readonly<Record<string, string>>;
  /** `after:` targets that name no task. */
  missing?: readonly string[];
  detail?: string;
  state?: string;
  cell?: number;
}

/** The text on an edge: its variables, at most three, or "after" for an ordering-only edge. */
export function edgeLabel(edge: GraphEdge): string {
  if (edge.kind === 'missing') return 'missing';
  if (!edge.variables.length) return 'after';
  const names = edge.variables.map((v) => v.name);
  return names.length > 3 ? `${names.slice(0, 3).join(', ')} +${names.length - 3}` : names.join(', ');
}

/**
 * The graph of `tasks`. Edge reasons come from the compiler's `edges` when given, else from each task's
 * `inputsFrom` (a dependency with no variable is an ordering-only `after:` edge).
 */
export function buildGraph(tasks: readonly GraphTask[], reasons?: readonly EdgeReason[]): TaskGraphData {
  const names = new Set(tasks.map((t) => t.name));
  const nodes: GraphNode[] = tasks.map((t) => ({
    id: t.name,
    state: t.state ?? 'planned',
    ...(t.detail ? { detail: t.detail } : {}),
    ...(t.cell !== undefined ? { cell: t.cell } : {}),
  }));
  const byPair = new Map<string, EdgeReason>();
  for (const r of reasons ?? []) byPair.set(`${r.from}\u0000${r.to}`, r);
  const edges: GraphEdge[] = [];
  for (const t of tasks) {
    for (const dep of t.dependsOn) {
      if (!names.has(dep)) continue;
      const reason = byPair.get(`${dep}\u0000${t.name}`);
      const variables = reason
        ? [...reason.variables, ...(reason.files ?? []).map((name) => ({ name, kind: 'file' }))]
        : Object.entries(t.inputsFrom ?? {})
            .filter(([, from]) => from === dep)
            .map(([name]) => ({ name }));
      edges.push({ from: dep, to: t.name, kind: variables.length ? 'flow' : 'after', variables, cycle: false });
    }
    for (const target of t.missing ?? []) {
      if (!nodes.some((n) => n.id === target)) nodes.push({ id: target, state: 'missing', ghost: true });
      edges.push({ from: target, to: t.name, kind: 'missing', variables: [], cycle: false });
    }
  }
  // A cycle reads along dependsOn (a depends on b: a → b); the drawing's edges run b → a.
  for (const cycle of findCycles(tasks.map((t) => ({ name: t.name, dependsOn: [...t.dependsOn] })))) {
    for (let i = 0; i + 1 < cycle.length; i++) {
      const dependent = cycle[i];
      const dependency = cycle[i + 1];
      const e = edges.find((x) => x.from === dependency && x.to === dependent);
      if (e) e.cycle = true;
    }
  }
  return { nodes, edges };
}
