import { layoutDag } from '../src/dag/layout.js';

describe('layoutDag', () => {
  it('puts each task one column right of its deepest dependency', () => {
    const layout = layoutDag([
      { name: 'generate', dependsOn: [] },
      { name: 'stats', dependsOn: ['generate'] },
      { name: 'histogram', dependsOn: ['generate'] },
      { name: 'report', dependsOn: ['stats', 'histogram', 'generate'] },
    ]);
    expect(layout.nodes.map((n) => [n.name, n.layer, n.row])).toEqual([
      ['generate', 0, 0],
      ['stats', 1, 0],
      ['histogram', 1, 1],
      ['report', 2, 0],
    ]);
    expect(layout.edges.map((e) => `${e.from}->${e.to}`)).toEqual([
      'generate->stats',
      'generate->histogram',
      'stats->report',
      'histogram->report',
      'generate->report',
    ]);
    expect(layout.width).toBeGreaterThan(0);
  });

  it('survives a cycle and unknown dependencies', () => {
    const layout = layoutDag([
      { name: 'a', dependsOn: ['b', 'ghost'] },
      { name: 'b', dependsOn: ['a'] },
    ]);
    expect(layout.nodes).toHaveLength(2);
    expect(layout.edges.map((e) => `${e.from}->${e.to}`)).toEqual(['b->a', 'a->b']);
  });

  it('an empty graph has no size', () => {
    expect(layoutDag([])).toMatchObject({ nodes: [], edges: [], width: 16, height: 16 });
  });
});
