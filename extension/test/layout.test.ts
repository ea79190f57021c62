/**
 * The task graph drawing's data and layout: edges labelled with the variables that flow, problems
 * kept visible (ghost nodes, cycles), and dagre's routes that go around the nodes they pass.
 */
import { compileNotebook } from '@cellpipe/schema';
import { buildGraph, edgeLabel, type GraphTask } from '../src/dag/graph.js';
import { edgePath, layoutGraph, NODE_HEIGHT, NODE_WIDTHS } from '../src/dag/layout.js';
import { notebookGraph } from '../src/dag/notebookGraph.js';
import { withoutAfterTags } from '../src/pipeline/model.js';

const QUICKSTART: GraphTask[] = [
  { name: 'generate', dependsOn: [] },
  { name: 'stats', dependsOn: ['generate'], inputsFrom: { samples: 'generate' } },
  { name: 'histogram', dependsOn: ['generate'], inputsFrom: { samples: 'generate', bins_used: 'generate' } },
  {
    name: 'report',
    dependsOn: ['generate', 'histogram', 'stats'],
    inputsFrom: { counts: 'histogram', mean: 'stats', stdev: 'stats', n: 'generate' },
  },
];

const edges = (tasks: GraphTask[]) => buildGraph(tasks).edges.map((e) => `${e.from}->${e.to} ${edgeLabel(e)}`);

describe('buildGraph', () => {
  it('labels each edge with the variables that flow along it, from inputsFrom', () => {
    expect(edges(QUICKSTART)).toEqual([
      'generate->stats samples',
      'generate->histogram samples, bins_used',
      'generate->report n',
      'histogram->report counts',
      'stats->report mean, stdev',
    ]);
  });

  it("prefers the compiler's edge reasons, and shows an ordering-only dependency as after", () => {
    const g = buildGraph(
      [
        { name: 'a', dependsOn: [] },
        { name: 'b', dependsOn: ['a'] },
        { name: 'c', dependsOn: ['a', 'b'], inputsFrom: { x: 'a' } },
      ],
      [{ from: 'a', to: 'c', variables: [{ name: 'model', kind: 'changed' }], after: false }],
    );
    expect(g.edges.map((e) => [`${e.from}->${e.to}`, e.kind, edgeLabel(e)])).toEqual([
      ['a->b', 'after', 'after'],
      ['a->c', 'flow', 'model'],
      ['b->c', 'after', 'after'],
    ]);
  });

  it('labels an edge that a file makes with the file', () => {
    const g = buildGraph(
      [
        { name: 'produce', dependsOn: [] },
        { name: 'consume', dependsOn: ['produce'] },
      ],
      [{ from: 'produce', to: 'consume', variables: [], after: false, files: ['scores.csv'] }],
    );
    expect(g.edges.map((e) => [e.kind, edgeLabel(e), e.variables])).toEqual([
      ['flow', 'scores.csv', [{ name: 'scores.csv', kind: 'file' }]],
    ]);
  });

  it('shortens a long label to three names and a count', () => {
    const g = buildGraph([
      { name: 'a', dependsOn: [] },
      { name: 'b', dependsOn: ['a'], inputsFrom: { p: 'a', q: 'a', r: 'a', s: 'a', t: 'a' } },
    ]);
    expect(edgeLabel(g.edges[0]!)).toBe('p, q, r +2');
  });

  it('draws an after: target that names no task as a ghost node, and marks both edges of a cycle', () => {
    const g = buildGraph([
      { name: 'a', dependsOn: ['b'], missing: ['prep'] },
      { name: 'b', dependsOn: ['a'] },
      { name: 'c', dependsOn: ['b'] },
    ]);
    expect(g.nodes.map((n) => [n.id, n.ghost ?? false])).toEqual([
      ['a', false],
      ['b', false],
      ['c', false],
      ['prep', true],
    ]);
    expect(g.edges.map((e) => [`${e.from}->${e.to}`, e.kind, e.cycle])).toEqual([
      ['b->a', 'after', true],
      ['prep->a', 'missing', false],
      ['a->b', 'after', true],
      ['b->c', 'after', false],
    ]);
  });
});

describe('layoutGraph', () => {
  const insideBox = (p: { x: number; y: number }, n: { x: number; y: number; width: number; height: number }) =>
    p.x > n.x + 1 && p.x < n.x + n.width - 1 && p.y > n.y + 1 && p.y < n.y + n.height - 1;

  it('top to bottom: each task below the tasks it depends on; no route passes through a node', () => {
    const layout = layoutGraph(buildGraph(QUICKSTART), 'TB');
    const y = Object.fromEntries(layout.nodes.map((n) => [n.id, n.y]));
    expect(y.generate).toBeLessThan(y.stats!);
    expect(y.stats).toBe(y.histogram);
    expect(y.histogram).toBeLessThan(y.report!);
    // Sample every route finely: the skip-level edge generate → report must go around stats and histogram.
    for (const e of layout.edges) {
      const others = layout.nodes.filter((n) => n.id !== e.edge.from && n.id !== e.edge.to);
      for (let i = 0; i + 1 < e.points.length; i++) {
        const a = e.points[i]!;
        const b = e.points[i + 1]!;
        for (let s = 0; s <= 20; s++) {
          const p = { x: a.x + ((b.x - a.x) * s) / 20, y: a.y + ((b.y - a.y) * s) / 20 };
          for (const n of others) expect(insideBox(p, n)).toBe(false);
        }
      }
    }
    expect(layout.nodes.every((n) => n.width === NODE_WIDTHS.TB && n.height === NODE_HEIGHT)).toBe(true);
  });

  it('left to right: ranks run along x', () => {
    const layout = layoutGraph(buildGraph(QUICKSTART), 'LR');
    const x = Object.fromEntries(layout.nodes.map((n) => [n.id, n.x]));
    expect(x.generate).toBeLessThan(x.stats!);
    expect(x.stats).toBeLessThan(x.report!);
  });

  it('lays out a cycle and a ghost node without failing', () => {
    const layout = layoutGraph(
      buildGraph([
        { name: 'a', dependsOn: ['b'], missing: ['ghost'] },
        { name: 'b', dependsOn: ['a'] },
      ]),
      'TB',
    );
    expect(layout.nodes.map((n) => n.id).sort()).toEqual(['a', 'b', 'ghost']);
    expect(layout.edges.every((e) => e.points.length >= 2)).toBe(true);
  });

  it('a narrow chain of 60 tasks stays one node wide top to bottom', () => {
    const chain = Array.from({ length: 60 }, (_, i) => ({ name: `t${i}`, dependsOn: i ? [`t${i - 1}`] : [] }));
    const layout = layoutGraph(buildGraph(chain), 'TB');
    expect(layout.width).toBeLessThan(NODE_WIDTHS.TB + 40);
    expect(layout.height).toBeGreaterThan(60 * NODE_HEIGHT);
  });

  it('edgePath rounds the corners of a route', () => {
    expect(edgePath([])).toBe('');
    expect(
      edgePath([
        { x: 0, y: 0 },
        { x: 10, y: 0 },
      ]),
    ).toBe('M0,0 L10,0');
    expect(
      edgePath([
        { x: 0, y: 0 },
        { x: 10, y: 0 },
        { x: 10, y: 10 },
      ]),
    ).toBe('M0,0 Q10,0 10,5 L10,10');
  });
});

describe('notebookGraph', () => {
  const nb = (cells: { tags?: string[]; source: string }[]) => ({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: cells.map((c, i) => ({
      cell_type: 'code',
      id: `c${i}`,
      metadata: c.tags ? { tags: c.tags } : {},
      source: c.source,
      outputs: [],
      execution_count: null,
    })),
  });
  const good = nb([
    { tags: ['task:load'], source: 'data = [1, 2]' },
    { tags: ['task:train'], source: 'model = sum(data)' },
  ]);

  it('from a compiled notebook: tasks with their first cell and the variables on the edges', () => {
    const result = compileNotebook(good, { path: 'x.ipynb' });
    const g = notebookGraph(result, good.cells, undefined, () => ({}));
    expect(g.nodes.map((n) => [n.id, n.cell])).toEqual([
      ['load', 1],
      ['train', 2],
    ]);
    expect(g.edges.map((e) => `${e.from}->${e.to} ${edgeLabel(e)}`)).toEqual(['load->train data']);
  });

  it('while it does not compile: the last good flow, the after: edges, a ghost for a missing target', () => {
    const previous = compileNotebook(good, { path: 'x.ipynb' }).pipeline;
    const broken = nb([
      { tags: ['task:load'], source: 'data = [1, 2]' },
      { tags: ['task:train', 'after:prep'], source: 'model = sum(data)' },
      { tags: ['task:report', 'after:train'], source: 'print("done")' },
    ]);
    const result = compileNotebook(broken, { path: 'x.ipynb' });
    expect(result.pipeline).toBeUndefined();
    const g = notebookGraph(result, broken.cells, previous, (t) => ({ state: t === 'train' ? 'failed' : undefined }));
    expect(g.nodes.map((n) => [n.id, n.ghost ?? false, n.state])).toEqual([
      ['load', false, 'planned'],
      ['train', false, 'failed'],
      ['report', false, 'planned'],
      ['prep', true, 'missing'],
    ]);
    expect(g.edges.map((e) => `${e.from}->${e.to} ${e.kind} ${edgeLabel(e)}`)).toEqual([
      'load->train flow data',
      'prep->train missing missing',
      'train->report after after',
    ]);
  });

  it('a cycle through an after: tag: the flow comes from the notebook compiled without after: tags', () => {
    const cyclic = nb([
      { tags: ['task:a', 'after:c'], source: 'x = 1' },
      { tags: ['task:b'], source: 'y = x + 1' },
      { tags: ['task:c'], source: 'z = y + 1' },
    ]);
    const result = compileNotebook(cyclic, { path: 'x.ipynb' });
    expect(result.pipeline).toBeUndefined();
    const flow = compileNotebook(withoutAfterTags(cyclic), { path: 'x.ipynb' }).pipeline;
    const g = notebookGraph(result, cyclic.cells, flow, () => ({}));
    expect(g.edges.map((e) => `${e.from}->${e.to} ${edgeLabel(e)} ${e.cycle ? 'cycle' : ''}`.trim())).toEqual([
      'c->a after cycle',
      'a->b x cycle',
      'b->c y cycle',
    ]);
  });

  it('while a cycle stops the compile: the cycle is drawn, its edges marked', () => {
    const cyclic = nb([
      { tags: ['task:a', 'after:b'], source: 'x = 1' },
      { tags: ['task:b', 'after:a'], source: 'y = 2' },
    ]);
    const result = compileNotebook(cyclic, { path: 'x.ipynb' });
    expect(result.diagnostics.some((d) => d.message.startsWith('cycle:'))).toBe(true);
    const g = notebookGraph(result, cyclic.cells, undefined, () => ({}));
    expect(g.edges.map((e) => [`${e.from}->${e.to}`, e.cycle])).toEqual([
      ['b->a', true],
      ['a->b', true],
    ]);
  });
});
