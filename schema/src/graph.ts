/** Dependency-graph checks shared by the notebook compiler and the YAML loader. */

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

export function formatCycle(cycle: readonly string[]): string {
  return `cycle: ${cycle.join(' → ')}`;
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
