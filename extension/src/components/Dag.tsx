import * as React from 'react';
import { layoutDag, NODE_HEIGHT, NODE_WIDTH } from '../dag/layout.js';

export interface DagTask {
  name: string;
  dependsOn: readonly string[];
  /** Task state (`pending`, `running`, ...); the pipeline panel uses `planned` before any run. */
  state: string;
  /** Second line: resources, attempt, duration. */
  detail?: string;
}

export const DAG_CLASS = 'jp-cellpipe-Dag';

/** A task graph as SVG: one `g[data-task][data-state]` per task, edges from dependency to dependent. */
export function Dag(props: {
  tasks: readonly DagTask[];
  selected?: string;
  onSelect?: (name: string) => void;
  label: string;
}): React.ReactElement {
  const layout = React.useMemo(() => layoutDag(props.tasks), [props.tasks]);
  const byName = new Map(props.tasks.map((t) => [t.name, t]));
  if (props.tasks.length === 0) return <div className={`${DAG_CLASS}-empty`}>No tasks.</div>;
  return (
    <div className={`${DAG_CLASS}-scroll`}>
      <svg
        className={DAG_CLASS}
        width={layout.width}
        height={layout.height}
        viewBox={`0 0 ${layout.width} ${layout.height}`}
        role="img"
        aria-label={props.label}
      >
        <defs>
          <marker
            id="jp-cellpipe-arrow"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="6"
            markerHeight="6"
            orient="auto"
          >
            <path d="M0,0 L10,5 L0,10 z" className={`${DAG_CLASS}-arrow`} />
          </marker>
        </defs>
        {layout.edges.map((e) => (
          <path
            key={`${e.from}->${e.to}`}
            d={e.d}
            className={`${DAG_CLASS}-edge`}
            markerEnd="url(#jp-cellpipe-arrow)"
          />
        ))}
        {layout.nodes.map((n) => {
          const task = byName.get(n.name);
          const state = task?.state ?? 'pending';
          const selected = props.selected === n.name;
          return (
            <g
              key={n.name}
              data-task={n.name}
              data-state={state}
              transform={`translate(${n.x},${n.y})`}
              className={`${DAG_CLASS}-node jp-mod-${state}${selected ? ' jp-mod-selected' : ''}`}
              onClick={props.onSelect ? () => props.onSelect?.(n.name) : undefined}
            >
              <title>{`${n.name}: ${state}${task?.detail ? ` (${task.detail})` : ''}`}</title>
              <rect width={NODE_WIDTH} height={NODE_HEIGHT} rx={5} className={`${DAG_CLASS}-box`} />
              <text x={8} y={14} className={`${DAG_CLASS}-name`}>
                {n.name.length > 18 ? `${n.name.slice(0, 17)}…` : n.name}
              </text>
              <text x={8} y={27} className={`${DAG_CLASS}-detail`}>
                {task?.detail ? `${state} · ${task.detail}`.slice(0, 24) : state}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
