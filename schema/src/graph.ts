/** The task graph: cycles, order and where each input comes from, for the compiler, the loaders and the server. */

export interface GraphNode {
  name: string;
  dependsOn: readonly string[];
}

/**
 * One cycle per strongly connected component that has one, as the list of task names walked along
 * dependsOn edges and back to the start: `['a', 'b', 'a']`. Deterministic: starts from the task
 * that comes first in `nodes`.
 */
export function findCycles(nodes: readonly GraphNode[]): string[][] {
  const order = new Map(nodes.map((n, i) => [n.name, i]));
  const edges = new Map(nodes.map((n) => [n.name, n.dependsOn.filter((d) => order.has(d))]));
  // Tarjan's SCC, iterative so deep chains do not overflow the stack.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const sccs: string[][] = [];
  for (const root of nodes) {
    if (index.has(root.name)) continue;
    const work: { v: string; i: number }[] = [{ v: root.name, i: 0 }];
    index.set(root.name, counter);
    low.set(root.name, counter++);
    stack.push(root.name);
    onStack.add(root.name);
    while (work.length) {
      const frame = work[work.length - 1]!;
      const succ = edges.get(frame.v) ?? [];
      if (frame.i < succ.length) {
        const w = succ[frame.i++]!;
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          work.push({ v: w, i: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.v, Math.min(low.get(frame.v)!, index.get(w)!));
        }
      } else {
        work.pop();
        const parent = work[work.length - 1];
        if (parent) low.set(parent.v, Math.min(low.get(parent.v)!, low.get(frame.v)!));
        if (low.get(frame.v) === index.get(frame.v)) {
          const scc: string[] = [];
          let w: string;
          do {
            w = stack.pop()!;
            onStack.delete(w);
            scc.push(w);
          } while (w !== frame.v);
          sccs.push(scc);
        }
      }
    }
  }
  const cycles: string[][] = [];
  for (const scc of sccs) {
    const members = new Set(scc);
    const start = [...scc].sort((a, b) => order.get(a)! - order.get(b)!)[0]!;
    if (scc.length === 1 && !(edges.get(start) ?? []).includes(start)) continue;
    // Breadth-first from start back to start inside the component gives a shortest cycle.
    const prev = new Map<string, string>();
    const queue = [start];
    let found = false;
    while (queue.length && !found) {
      const v = queue.shift()!;
      for (const w of edges.get(v) ?? []) {
        if (!members.has(w)) continue;
        if (w === start) {
          prev.set(start, v);
          found = true;
          break;
        }
        if (!prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    const path = [start];
    let v = prev.get(start)!;
    while (v !== start) {
      path.push(v);
      v = prev.get(v)!;
    }
    path.push(start);
    // prev walks edges backwards; a cycle reads along dependsOn edges: a depends on b → "a → b".
    cycles.push([start, ...path.slice(1, -1).reverse(), start]);
  }
  return cycles.sort((a, b) => order.get(a[0]!)! - order.get(b[0]!)!);
}

/**
 * A cycle as the task graph draws it, upstream first: in `cycle: a → b → c → a` b runs after a, c after
 * b and a after c (the arrows of the drawing), the reverse of the dependsOn walk `findCycles` returns.
 */
export function formatCycle(cycle: readonly string[]): string {
  return `cycle: ${[...cycle].reverse().join(' → ')}`;
}

/** Tasks in an order where every task comes after the tasks it depends on (input order kept otherwise). */
export function topologicalOrder(nodes: readonly GraphNode[]): string[] {
  const names = new Set(nodes.map((n) => n.name));
  const done = new Set<string>();
  const out: string[] = [];
  let progress = true;
  while (out.length < nodes.length && progress) {
    progress = false;
    for (const n of nodes) {
      if (done.has(n.name)) continue;
      if (n.dependsOn.every((d) => done.has(d) || !names.has(d))) {
        done.add(n.name);
        out.push(n.name);
        progress = true;
      }
    }
  }
  return out;
}

/** A task as the data-flow checks see it. */
export interface FlowNode extends GraphNode {
  inputs: readonly string[];
  /** The upstream task each input is read from; an input not named here comes from the nearest one. */
  inputsFrom: Readonly<Record<string, string>>;
  outputs: readonly string[];
}

/** The nearest task upstream that a query matched, and how many dependency steps away it is. */
interface Nearest {
  name: string;
  distance: number;
}

/**
 * Upstream queries over one pipeline's tasks, indexed once. "Nearest" counts dependency steps; among
 * tasks equally near, the one reached through the dependency listed first wins. Answers are
 * memoized per query and task, so a 20,000-task chain whose every task reads from its root costs one
 * pass, not one walk up the chain per task.
 */
export class TaskGraph<T extends FlowNode = FlowNode> {
  private readonly byName = new Map<string, T>();
  /** query key → task name → its nearest match (null: none upstream). */
  private readonly memo = new Map<string, Map<string, Nearest | null>>();

  constructor(nodes: readonly T[]) {
    // The first task of a name wins, as in the duplicate-name check.
    for (const n of nodes) if (!this.byName.has(n.name)) this.byName.set(n.name, n);
  }

  get(name: string): T | undefined {
    return this.byName.get(name);
  }

  /**
   * The nearest task strictly upstream of `task` that satisfies `match`, computed bottom-up over the
   * task's ancestors that this query has not seen yet (iteratively: chains are deep). On a cycle
   * (reported elsewhere) the edge that closes it is ignored.
   */
  private nearest(task: T, key: string, match: (up: T) => boolean): Nearest | undefined {
    let memo = this.memo.get(key);
    if (!memo) this.memo.set(key, (memo = new Map()));
    const known = memo;
    const inProgress = new Set<string>();
    const stack: T[] = [task];
    while (stack.length) {
      const t = stack[stack.length - 1]!;
      if (known.has(t.name)) {
        stack.pop();
        continue;
      }
      inProgress.add(t.name);
      const pending = t.dependsOn
        .map((d) => this.byName.get(d))
        .filter((up): up is T => up !== undefined && !match(up) && !known.has(up.name) && !inProgress.has(up.name));
      if (pending.length) {
        stack.push(...pending.reverse());
        continue;
      }
      stack.pop();
      inProgress.delete(t.name);
      let best: Nearest | null = null;
      for (const d of t.dependsOn) {
        const up = this.byName.get(d);
        if (!up) continue;
        const via = match(up) ? { name: up.name, distance: 1 } : plusOne(known.get(up.name));
        if (via && (!best || via.distance < best.distance)) best = via;
      }
      known.set(t.name, best);
    }
    return known.get(task.name) ?? undefined;
  }

  /** True when `ancestor` is upstream of `task`: reachable along dependsOn, directly or not. */
  isUpstream(task: T, ancestor: string): boolean {
    return this.nearest(task, `task:${ancestor}`, (up) => up.name === ancestor) !== undefined;
  }

  /** The task `task` reads `input` from: its `inputsFrom` entry, else the nearest upstream task that outputs it. */
  sourceOf(task: T, input: string): string | undefined {
    if (Object.hasOwn(task.inputsFrom, input)) return task.inputsFrom[input];
    return this.nearest(task, `output:${input}`, (up) => up.outputs.includes(input))?.name;
  }
}

function plusOne(n: Nearest | null | undefined): Nearest | undefined {
  return n ? { name: n.name, distance: n.distance + 1 } : undefined;
}

/** Each task's inputs with the task each is read from (for a pipeline `checkPipeline` accepted). */
export function inputSources<T extends FlowNode>(nodes: readonly T[]): Map<string, { name: string; from: string }[]> {
  const graph = new TaskGraph(nodes);
  const out = new Map<string, { name: string; from: string }[]>();
  for (const t of nodes) {
    out.set(
      t.name,
      t.inputs.map((name) => {
        const from = graph.sourceOf(t, name);
        if (from === undefined) throw new Error(`task '${t.name}' reads '${name}' but no upstream task outputs it`);
        return { name, from };
      }),
    );
  }
  return out;
}
