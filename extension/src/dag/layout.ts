/**
 * Positions for a task graph drawing, by dagre (layered layout: ranks, crossing reduction, edges routed
 * through their own points between the ranks, so a skip-level edge goes around the nodes it passes
 * instead of behind them). Top-to-bottom for the narrow sidebar, left-to-right in the main area.
 * Pure: it takes sizes, not DOM measurements, and is tested on its own.
 */
import dagre from '@dagrejs/dagre';
import { edgeLabel, type GraphEdge, type TaskGraphData } from './graph.js';

export type Direction = 'TB' | 'LR';

export interface LaidNode {
  id: string;
  /** Top-left corner. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface LaidEdge {
  edge: GraphEdge;
  label: string;
  /** The route, from the upstream node's border to the downstream node's border. */
  points: { x: number; y: number }[];
  /** Centre of the label. */
  labelX: number;
  labelY: number;
}

export interface GraphLayout {
  nodes: LaidNode[];
  edges: LaidEdge[];
  width: number;
  height: number;
}

/** Narrower nodes top to bottom, so two tasks side by side fit a sidebar at its default width. */
export const NODE_WIDTHS: Record<Direction, number> = { TB: 112, LR: 150 };
export const NODE_HEIGHT = 38;
/** Font sizes the drawing uses (px at 100% zoom); the label sizes below are estimated from them. */
export const NAME_FONT_PX = 12;
export const LABEL_FONT_PX = 11;
const LABEL_CHAR_PX = LABEL_FONT_PX * 0.62;
const MARGIN = 6;

export function layoutGraph(graph: TaskGraphData, direction: Direction): GraphLayout {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({
    rankdir: direction,
    nodesep: direction === 'TB' ? 10 : 20,
    ranksep: direction === 'TB' ? 28 : 48,
    edgesep: 10,
    marginx: MARGIN,
    marginy: MARGIN,
  });
  g.setDefaultEdgeLabel(() => ({}));
  const width = NODE_WIDTHS[direction];
  for (const n of graph.nodes) g.setNode(n.id, { width, height: NODE_HEIGHT });
  const labels = new Map<string, string>();
  for (const e of graph.edges) {
    const label = edgeLabel(e);
    labels.set(`${e.from}\u0000${e.to}`, label);
    // Labels take space in the layout, so dagre keeps them off nodes and other edges.
    g.setEdge(e.from, e.to, {
      width: Math.ceil(label.length * LABEL_CHAR_PX) + 8,
      height: LABEL_FONT_PX + 6,
      labelpos: 'c',
    });
  }
  dagre.layout(g);
  const nodes: LaidNode[] = graph.nodes.map((n) => {
    const p = g.node(n.id);
    return {
      id: n.id,
      x: (p.x ?? 0) - width / 2,
      y: (p.y ?? 0) - NODE_HEIGHT / 2,
      width,
      height: NODE_HEIGHT,
    };
  });
  const edges: LaidEdge[] = graph.edges.map((e) => {
    const p = g.edge(e.from, e.to);
    const points = (p?.points ?? []).map((pt: { x: number; y: number }) => ({ x: pt.x, y: pt.y }));
    const mid = points[Math.floor(points.length / 2)] ?? { x: 0, y: 0 };
    return {
      edge: e,
      label: labels.get(`${e.from}\u0000${e.to}`) ?? '',
      points,
      labelX: p?.x ?? mid.x,
      labelY: p?.y ?? mid.y,
    };
  });
  const size = g.graph();
  return { nodes, edges, width: Math.ceil(size.width ?? 0), height: Math.ceil(size.height ?? 0) };
}

/** An SVG path through the route's points, with the corners rounded (quadratic curves through midpoints). */
export function edgePath(points: readonly { x: number; y: number }[]): string {
  const [first, ...rest] = points;
  if (!first) return '';
  if (rest.length < 2) return `M${first.x},${first.y}${rest.map((p) => ` L${p.x},${p.y}`).join('')}`;
  let d = `M${first.x},${first.y}`;
  for (let i = 0; i < rest.length - 1; i++) {
    const c = rest[i]!;
    const n = rest[i + 1]!;
    d += ` Q${c.x},${c.y} ${(c.x + n.x) / 2},${(c.y + n.y) / 2}`;
  }
  const last = rest[rest.length - 1]!;
  return `${d} L${last.x},${last.y}`;
}
