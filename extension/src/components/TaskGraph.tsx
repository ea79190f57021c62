/**
 * A task graph as SVG, laid out by dagre: nodes are focusable buttons (`g[data-task][data-state]`),
 * arrow keys move between connected tasks, edges carry the variables that flow, problems show (a
 * ghost node for an `after:` naming no task, a cycle in red). It opens at a scale where text stays
 * readable (horizontal scrolling rather than shrinking), and zooms, fits and pans.
 */
import * as React from 'react';
import { edgeLabel, type GraphNode, type TaskGraphData } from '../dag/graph.js';
import {
  edgePath,
  layoutGraph,
  LABEL_FONT_PX,
  NAME_FONT_PX,
  NODE_HEIGHT,
  type Direction,
  type GraphLayout,
} from '../dag/layout.js';
import { useTrans } from '../translation.js';

export const GRAPH_CLASS = 'jp-cellpipe-Dag';
/** The smallest automatic scale: node names stay at least 11 px high. */
export const READABLE_SCALE = 11 / NAME_FONT_PX;
const ZOOM_STEP = 1.25;
const MIN_ZOOM = 0.1;
const MAX_ZOOM = 3;
/** Characters that fit a node's width at the drawing's font sizes. */
const CHARS = { TB: { name: 14, detail: 17 }, LR: { name: 19, detail: 23 } } as const;

function clip(text: string, chars: number): string {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

/** Ids for the SVG markers, unique per drawing so two drawings never share (or lose) arrowheads. */
function useMarkerIds(): { arrow: string; problem: string } {
  const id = React.useId().replace(/[^A-Za-z0-9_-]/g, '');
  return { arrow: `jp-cellpipe-arrow-${id}`, problem: `jp-cellpipe-arrow-problem-${id}` };
}

/** The task a key press moves to, following the drawing: along edges in the flow direction, else across a rank. */
function neighbour(layout: GraphLayout, from: string, key: string, direction: Direction): string | undefined {
  const forward = direction === 'TB' ? 'ArrowDown' : 'ArrowRight';
  const backward = direction === 'TB' ? 'ArrowUp' : 'ArrowLeft';
  const across = direction === 'TB' ? ['ArrowLeft', 'ArrowRight'] : ['ArrowUp', 'ArrowDown'];
  const pos = new Map(layout.nodes.map((n) => [n.id, n]));
  const here = pos.get(from);
  if (!here) return undefined;
  const main = (id: string) => (direction === 'TB' ? pos.get(id)!.x : pos.get(id)!.y);
  if (key === forward || key === backward) {
    const next = layout.edges
      .map((e) =>
        key === forward ? (e.edge.from === from ? e.edge.to : null) : e.edge.to === from ? e.edge.from : null,
      )
      .filter((id): id is string => id !== null && pos.has(id));
    return next.sort((a, b) => Math.abs(main(a) - main(from)) - Math.abs(main(b) - main(from)))[0];
  }
  if (across.includes(key)) {
    const rank = (id: string) => (direction === 'TB' ? pos.get(id)!.y : pos.get(id)!.x);
    const row = layout.nodes.filter((n) => Math.abs(rank(n.id) - rank(from)) < 1).map((n) => n.id);
    row.sort((a, b) => main(a) - main(b));
    const i = row.indexOf(from) + (key === across[1] ? 1 : -1);
    return row[i];
  }
  return undefined;
}

function nodeLabel(n: GraphNode, stateText: (s: string) => string): string {
  if (n.ghost) return n.id;
  return [n.id, stateText(n.state), n.detail].filter(Boolean).join(', ');
}

export interface TaskGraphProps {
  graph: TaskGraphData;
  direction: Direction;
  /** Accessible name of the drawing. */
  label: string;
  selected?: string;
  onActivate?: (node: GraphNode) => void;
  /** Shows an "open in the main area" button. */
  onOpenInMain?: () => void;
  /** Text for a state (translated). */
  stateText?: (state: string) => string;
}

export function TaskGraph(props: TaskGraphProps): React.ReactElement {
  const trans = useTrans();
  const { graph, direction } = props;
  // Positions depend on the structure only: states and durations change every second, the layout does not.
  const structure = JSON.stringify([
    graph.nodes.map((n) => n.id),
    graph.edges.map((e) => [e.from, e.to, edgeLabel(e)]),
  ]);
  const layout = React.useMemo(() => layoutGraph(graph, direction), [structure, direction]);
  const markers = useMarkerIds();
  const scroller = React.useRef<HTMLDivElement>(null);
  const [width, setWidth] = React.useState(0);
  const [zoom, setZoom] = React.useState<number | null>(null);
  const drag = React.useRef<{ x: number; y: number; left: number; top: number } | null>(null);
  const stateText = props.stateText ?? ((s: string) => s);

  React.useEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    setWidth(el.clientWidth);
    return () => observer.disconnect();
  }, []);

  const automatic = width > 0 && layout.width > 0 ? Math.min(1, Math.max(READABLE_SCALE, width / layout.width)) : 1;
  const scale = zoom ?? automatic;
  const setScale = (s: number) => setZoom(Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, s)));
  const fit = () => {
    const el = scroller.current;
    if (!el || !layout.width || !layout.height) return;
    setScale(Math.min(el.clientWidth / layout.width, Math.max(el.clientHeight, 120) / layout.height, 1));
  };

  const focusNode = (id: string) => {
    const target = scroller.current?.querySelector<SVGGElement>(`g[data-task="${CSS.escape(id)}"]`);
    target?.focus();
  };

  if (graph.nodes.length === 0) return <div className={`${GRAPH_CLASS}-empty`}>{trans.__('No tasks.')}</div>;
  return (
    <div className={`${GRAPH_CLASS}-frame`}>
      <div className={`${GRAPH_CLASS}-toolbar`} role="toolbar" aria-label={trans.__('Graph view')}>
        <button
          type="button"
          className={`${GRAPH_CLASS}-tool`}
          title={trans.__('Zoom out')}
          aria-label={trans.__('Zoom out')}
          onClick={() => setScale(scale / ZOOM_STEP)}
        >
          −
        </button>
        <span className={`${GRAPH_CLASS}-zoom`} aria-live="polite">
          {Math.round(scale * 100)}%
        </span>
        <button
          type="button"
          className={`${GRAPH_CLASS}-tool`}
          title={trans.__('Zoom in')}
          aria-label={trans.__('Zoom in')}
          onClick={() => setScale(scale * ZOOM_STEP)}
        >
          +
        </button>
        <button type="button" className={`${GRAPH_CLASS}-tool`} title={trans.__('Fit the whole graph')} onClick={fit}>
          {trans.__('Fit')}
        </button>
        <button
          type="button"
          className={`${GRAPH_CLASS}-tool`}
          title={trans.__('Actual size')}
          onClick={() => setZoom(1)}
        >
          100%
        </button>
        {props.onOpenInMain ? (
          <button
            type="button"
            className={`${GRAPH_CLASS}-tool`}
            title={trans.__('Open the graph in the main area')}
            onClick={props.onOpenInMain}
          >
            {trans.__('Open')}
          </button>
        ) : null}
      </div>
      <div
        ref={scroller}
        className={`${GRAPH_CLASS}-scroll`}
        onWheel={(e) => {
          if (!e.ctrlKey && !e.metaKey) return;
          e.preventDefault();
          setScale(e.deltaY < 0 ? scale * ZOOM_STEP : scale / ZOOM_STEP);
        }}
        onPointerDown={(e) => {
          // Dragging the background pans; a press on a node is a click.
          if ((e.target as Element).closest('g[data-task]') || e.button !== 0) return;
          const el = scroller.current;
          if (!el) return;
          drag.current = { x: e.clientX, y: e.clientY, left: el.scrollLeft, top: el.scrollTop };
          el.setPointerCapture(e.pointerId);
        }}
        onPointerMove={(e) => {
          const el = scroller.current;
          const d = drag.current;
          if (!el || !d) return;
          el.scrollLeft = d.left - (e.clientX - d.x);
          el.scrollTop = d.top - (e.clientY - d.y);
        }}
        onPointerUp={() => (drag.current = null)}
      >
        <svg
          className={GRAPH_CLASS}
          width={Math.ceil(layout.width * scale)}
          height={Math.ceil(layout.height * scale)}
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          role="group"
          aria-label={props.label}
          data-direction={direction}
        >
          <defs>
            <marker
              id={markers.arrow}
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto-start-reverse"
            >
              <path d="M0,0 L10,5 L0,10 z" className={`${GRAPH_CLASS}-arrow`} />
            </marker>
            <marker
              id={markers.problem}
              viewBox="0 0 10 10"
              refX="9"
              refY="5"
              markerWidth="7"
              markerHeight="7"
              orient="auto-start-reverse"
            >
              <path d="M0,0 L10,5 L0,10 z" className={`${GRAPH_CLASS}-arrow jp-mod-problem`} />
            </marker>
          </defs>
          {layout.edges.map((e) => {
            const problem = e.edge.cycle || e.edge.kind === 'missing';
            const classes = [`${GRAPH_CLASS}-edge`, `jp-mod-${e.edge.kind}`, e.edge.cycle ? 'jp-mod-cycle' : ''].join(
              ' ',
            );
            const names = e.edge.variables.map((v) => (v.kind ? `${v.name} (${v.kind})` : v.name)).join(', ');
            return (
              <g
                key={`${e.edge.from}->${e.edge.to}`}
                data-edge={`${e.edge.from}->${e.edge.to}`}
                className={classes.trim()}
              >
                <title>
                  {e.edge.kind === 'missing'
                    ? trans.__('%1 runs after %2, but no task is named %2', e.edge.to, e.edge.from)
                    : names
                      ? trans.__('%1 reads %2 from %3', e.edge.to, names, e.edge.from)
                      : trans.__('%1 runs after %2 (after: tag)', e.edge.to, e.edge.from)}
                  {e.edge.cycle ? ` — ${trans.__('part of a cycle')}` : ''}
                </title>
                <path
                  d={edgePath(e.points)}
                  className={`${GRAPH_CLASS}-edgePath`}
                  markerEnd={`url(#${problem ? markers.problem : markers.arrow})`}
                />
                {e.label ? (
                  <text
                    x={e.labelX}
                    y={e.labelY}
                    className={`${GRAPH_CLASS}-edgeLabel`}
                    textAnchor="middle"
                    dominantBaseline="central"
                    style={{ fontSize: LABEL_FONT_PX }}
                  >
                    {e.label}
                  </text>
                ) : null}
              </g>
            );
          })}
          {layout.nodes.map((laid) => {
            const n = graph.nodes.find((x) => x.id === laid.id)!;
            const selected = props.selected === n.id;
            const activate = props.onActivate && !n.ghost ? () => props.onActivate?.(n) : undefined;
            return (
              <g
                key={n.id}
                data-task={n.id}
                data-state={n.state}
                transform={`translate(${laid.x},${laid.y})`}
                className={`${GRAPH_CLASS}-node jp-mod-${n.state}${n.ghost ? ' jp-mod-ghost' : ''}${selected ? ' jp-mod-selected' : ''}`}
                role={activate ? 'button' : 'img'}
                tabIndex={0}
                aria-label={n.ghost ? trans.__('%1: no task has this name', n.id) : nodeLabel(n, stateText)}
                aria-pressed={activate ? selected : undefined}
                onClick={activate}
                onKeyDown={(e) => {
                  if ((e.key === 'Enter' || e.key === ' ') && activate) {
                    e.preventDefault();
                    activate();
                    return;
                  }
                  const to = neighbour(layout, n.id, e.key, direction);
                  if (to) {
                    e.preventDefault();
                    focusNode(to);
                  }
                }}
              >
                <title>{n.ghost ? trans.__('No task is named %1', n.id) : nodeLabel(n, stateText)}</title>
                <rect width={laid.width} height={NODE_HEIGHT} rx={5} className={`${GRAPH_CLASS}-box`} />
                <text x={8} y={15} className={`${GRAPH_CLASS}-name`} style={{ fontSize: NAME_FONT_PX }}>
                  {clip(n.id, CHARS[direction].name)}
                </text>
                <text x={8} y={30} className={`${GRAPH_CLASS}-detail`} style={{ fontSize: LABEL_FONT_PX }}>
                  {clip(
                    n.ghost ? trans.__('no such task') : [stateText(n.state), n.detail].filter(Boolean).join(' · '),
                    CHARS[direction].detail,
                  )}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
    </div>
  );
}
