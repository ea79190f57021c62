import { findCycles, formatCycle, topologicalOrder } from '../src/index.js';

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
      'three-cycle named from the first task',
      [
        ['x', []],
        ['a', ['c']],
        ['b', ['a']],
        ['c', ['b']],
      ],
      ['cycle: a → c → b → a'],
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
