import { findCycles, formatCycle, inputSources, TaskGraph, topologicalOrder, type FlowNode } from '../src/index.js';

describe('graph', () => {
  it.each<[string, [string, string[]][], string[]]>([
    [
      'no cycle',
      [
        ['a', []],
        ['b', ['a']],
        ['c', ['a', 'b']],
      ],
      [],
    ],
    ['self loop', [['a', ['a']]], ['cycle: a → a']],
    [
      'two-cycle',
      [
        ['a', ['b']],
        ['b', ['a']],
      ],
      ['cycle: a → b → a'],
    ],
    [
      'three-cycle named from the first task, in the direction the graph draws it (b runs after a)',
      [
        ['x', []],
        ['a', ['c']],
        ['b', ['a']],
        ['c', ['b']],
      ],
      ['cycle: a → b → c → a'],
    ],
    [
      'two separate cycles',
      [
        ['a', ['b']],
        ['b', ['a']],
        ['c', ['d']],
        ['d', ['c']],
      ],
      ['cycle: a → b → a', 'cycle: c → d → c'],
    ],
    ['unknown targets are ignored here', [['a', ['zz']]], []],
  ])('%s', (_name, nodes, expected) => {
    expect(findCycles(nodes.map(([name, dependsOn]) => ({ name, dependsOn }))).map(formatCycle)).toEqual(expected);
  });

  it('handles long chains without recursion limits', () => {
    const nodes = Array.from({ length: 20000 }, (_, i) => ({
      name: `t${i}`,
      dependsOn: i ? [`t${i - 1}`] : [`t19999`],
    }));
    expect(findCycles(nodes)).toHaveLength(1);
  });

  it('orders tasks after their dependencies', () => {
    expect(
      topologicalOrder([
        { name: 'c', dependsOn: ['b'] },
        { name: 'a', dependsOn: [] },
        { name: 'b', dependsOn: ['a'] },
      ]),
    ).toEqual(['a', 'b', 'c']);
  });
});

describe('input resolution cost', () => {
  /** A chain t0 → t1 → … whose outputs arrays count how often a query looks at them. */
  function countingChain(n: number, readFrom: (i: number) => string): { nodes: FlowNode[]; looks: () => number } {
    let looks = 0;
    const counted = (names: string[]): string[] =>
      new Proxy(names, {
        get(target, prop, receiver) {
          if (prop === 'includes') looks++;
          return Reflect.get(target, prop, receiver) as unknown;
        },
      });
    const nodes = Array.from({ length: n }, (_, i) => ({
      name: `t${i}`,
      dependsOn: i ? [`t${i - 1}`] : [],
      inputs: i ? [readFrom(i)] : [],
      inputsFrom: {},
      outputs: counted([`x${i}`]),
    }));
    return { nodes, looks: () => looks };
  }

  test.each([
    ['its parent', (i: number) => `x${i - 1}`],
    ['the root', () => 'x0'],
  ])('a chain whose every task reads from %s looks at each task a bounded number of times', (_, readFrom) => {
    const n = 2000;
    const chain = countingChain(n, readFrom);
    const sources = inputSources(chain.nodes);
    expect(sources.get(`t${n - 1}`)).toEqual([{ name: readFrom(n - 1), from: readFrom(n - 1).replace('x', 't') }]);
    // A walk up the chain per task would look n²/2 = 2,000,000 times.
    expect(chain.looks()).toBeLessThanOrEqual(3 * n);
  });

  test('whether a far ancestor is upstream is answered in one pass over the chain', () => {
    const n = 2000;
    let reads = 0;
    const nodes: FlowNode[] = Array.from(
      { length: n },
      (_, i) =>
        new Proxy(
          { name: `t${i}`, dependsOn: i ? [`t${i - 1}`] : [], inputs: [], inputsFrom: {}, outputs: [] },
          {
            get(target, prop, receiver) {
              if (prop === 'dependsOn') reads++;
              return Reflect.get(target, prop, receiver) as unknown;
            },
          },
        ),
    );
    const graph = new TaskGraph(nodes);
    for (const t of nodes.slice(1)) expect(graph.isUpstream(t, 't0')).toBe(true);
    expect(graph.isUpstream(nodes[5]!, 't9')).toBe(false);
    // A walk up the chain per task would read n²/2 = 2,000,000 edge lists.
    expect(reads).toBeLessThanOrEqual(4 * n);
  });
});
