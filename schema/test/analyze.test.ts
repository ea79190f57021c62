/**
 * Name analysis of syntax the installed CPython cannot cross-check (Python 3.12) and of cells with
 * syntax errors (best effort: the rest of the cell is still analysed).
 */
import { analyzePython, type PyEvent } from '../src/index.js';

const events = (src: string) =>
  analyzePython(src).events.map((e: PyEvent) =>
    e.kind === 'lambda' ? `lambda(${[...e.fn.free].sort().join(',')})` : `${e.kind}:${e.name}`,
  );

describe('analysis of Python 3.12 syntax', () => {
  it.each<[string, string, string[]]>([
    [
      'a type alias binds its name and reads its value',
      'type Pair = tuple[Item, Item]',
      ['read:tuple', 'read:Item', 'read:Item', 'bind:Pair'],
    ],
    [
      'type parameters of an alias are not reads',
      'type Box[T] = list[T | Default]',
      ['read:list', 'read:Default', 'bind:Box'],
    ],
    [
      'type parameters of a function are not reads',
      'def first[T](xs: list[T] = d) -> T:\n    return xs[0]',
      ['read:list', 'read:d', 'bind:first'],
    ],
    [
      'type parameters of a class are visible to its bases and methods',
      'class Box[T](Base[T]):\n    item: T\n    def get(self) -> T:\n        return self.item + g',
      ['read:Base', 'bind:Box'],
    ],
    [
      'an f-string may reuse its quotes inside a replacement field',
      'print(f"{cfg["key"]:{width}}")',
      ['read:print', 'read:cfg', 'read:width'],
    ],
  ])('%s', (_rule, src, expected) => {
    const a = analyzePython(src);
    expect(a.syntaxError).toBe(false);
    expect(events(src)).toEqual(expected);
  });
});

describe('analysis of cells with syntax errors', () => {
  it('reads the names of the statement that does not parse and analyses the rest', () => {
    const a = analyzePython('x = = y\nz = 1\nprint(z)');
    expect(a.syntaxError).toBe(true);
    expect(a.warnings).toEqual([
      { message: 'syntax error (invalid syntax): dependencies of this cell may be incomplete', line: 1, column: 5 },
    ]);
    expect(events('x = = y\nz = 1\nprint(z)')).toEqual(['read:x', 'read:y', 'bind:z', 'read:print', 'read:z']);
  });

  it('an unclosed bracket ends at the next line that can only start a statement', () => {
    expect(events('data = load(path,\ndef f():\n    return data\n')).toEqual([
      'read:data',
      'read:load',
      'read:path',
      'bind:f',
    ]);
  });

  it('a syntax error inside a function keeps the function', () => {
    expect(events('def f():\n    a = = 1\n    return b\nf()')).toEqual(['bind:f', 'mutate:f']);
  });

  it('warns once per cell', () => {
    expect(analyzePython('a = = 1\nb = = 2').warnings).toHaveLength(1);
  });
});
