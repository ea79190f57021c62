/**
 * Layered layout of a task graph for the SVG drawings: each task sits one column right of its
 * deepest dependency; rows follow the order tasks appear in. Pure, so it is tested without a DOM.
 */

export interface DagNodeInput {
  name: string;
  dependsOn: readonly string[];
}

export interface DagNode {
  name: string;
  layer: number;
  row: number;
  x: number;
  y: number;
}

export interface DagEdge {
  from: string;
  to: string;
  /** SVG path from the right side of `from` to the left side of `to`. */
  d: string;
}

export interface DagLayout {
  nodes: DagNode[];
  edges: DagEdge[];
  width: number;
  height: number;
}

export const NODE_WIDTH = 140;
export const NODE_HEIGHT = 34;
const GAP_X = 40;
const GAP_Y = 14;
const PAD = 8;

export function layoutDag(tasks: readonly DagNodeInput[]): DagLayout {
  const names = new Set(tasks.map((t) => t.name));
  const byName = new Map(tasks.map((t) => [t.name, t]));
  const layer = new Map<string, number>();
  const visiting = new Set<string>();

  // Longest path from a root; a cycle (reported elsewhere as a problem) is cut where it is found.
  const depth = (name: string): number => {
    const known = layer.get(name);
    if (known !== undefined) return known;
    if (visiting.has(name)) return 0;
    visiting.add(name);
    let d = 0;
    for (const dep of byName.get(name)?.dependsOn ?? []) {
      if (names.has(dep)) d = Math.max(d, depth(dep) + 1);
    }
    visiting.delete(name);
    layer.set(name, d);
    return d;
  };

  const rows = new Map<number, number>();
  const nodes: DagNode[] = tasks.map((t) => {
    const l = depth(t.name);
    const row = rows.get(l) ?? 0;
    rows.set(l, row + 1);
    return { name: t.name, layer: l, row, x: PAD + l * (NODE_WIDTH + GAP_X), y: PAD + row * (NODE_HEIGHT + GAP_Y) };
  });
  const pos = new Map(nodes.map((n) => [n.name, n]));
  const edges: DagEdge[] = [];
  for (const t of tasks) {
    const to = pos.get(t.name);
    for (const dep of t.dependsOn) {
      const from = pos.get(dep);
      if (!from || !to) continue;
      const x1 = from.x + NODE_WIDTH;
      const y1 = from.y + NODE_HEIGHT / 2;
      const x2 = to.x;
      const y2 = to.y + NODE_HEIGHT / 2;
      const mid = (x1 + x2) / 2;
      edges.push({ from: dep, to: t.name, d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}` });
    }
  }
  const layers = Math.max(0, ...nodes.map((n) => n.layer + 1));
  const maxRows = Math.max(0, ...rows.values());
  return {
    nodes,
    edges,
    width: PAD * 2 + Math.max(0, layers * NODE_WIDTH + (layers - 1) * GAP_X),
    height: PAD * 2 + Math.max(0, maxRows * NODE_HEIGHT + (maxRows - 1) * GAP_Y),
  };
}
