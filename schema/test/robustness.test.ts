/** Damaged or odd input never throws: it gives diagnostics. */
import { analyzePython, compileNotebook, parseParameters } from '../src/index.js';
import { notebook } from './helpers.js';

const seeds = [
  'import os\nx = [v for v in range(3) if v]\n',
  'def f(a, b=1, *c, **d):\n    global g\n    g = a\n    return lambda q: q + b\n',
  'class K(Base):\n    z = 1\n    def m(self):\n        return z\n',
  'match cmd:\n    case {"a": [1, *rest]} | Point(y=2) as p if p:\n        pass\n',
  'try:\n    v = 1\nexcept (A, B) as e:\n    del v\nfinally:\n    pass\n',
  'with open(p) as fh, q:\n    for i, (j, *k) in enumerate(fh):\n        print(f"{i!r:{j}}")\n',
  '%matplotlib inline\n!pip install x\nobj?\nfiles = !ls\n',
];
const alphabet = [...'abxyz()[]{}:=,.*+-/\\\'"#@!%?\n    '].concat([
  'lambda',
  'def',
  'for',
  'in',
  'if',
  'as',
  'import',
  'from',
  'global',
  'del',
  'await',
  'match',
  'case',
  ':=',
]);

describe('robustness', () => {
  it('analysis and parameter parsing survive 500 randomly damaged cells', () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 500; i++) {
      let s = seeds[rand(seeds.length)]!;
      for (let k = 0; k < 1 + rand(5); k++) {
        const p = rand(s.length + 1);
        const op = rand(3);
        if (op === 0) s = s.slice(0, p) + s.slice(p + 1 + rand(4));
        else if (op === 1) s = s.slice(0, p) + alphabet[rand(alphabet.length)]! + s.slice(p);
        else s = s.slice(0, p) + seeds[rand(seeds.length)]!.slice(0, rand(30)) + s.slice(p);
      }
      expect(() => analyzePython(s)).not.toThrow();
      expect(() => parseParameters(s)).not.toThrow();
    }
  });

  it.each<[string, string]>([
    ['very long expressions', 'x = ' + Array(50000).fill('a').join('+')],
    ['very deep nesting', 'x = ' + '['.repeat(5000) + ']'.repeat(5000)],
    ['unterminated string', 'x = """never closed\nprint(y)'],
    ['only a magic', '%%bash\nrm -rf /tmp/x'],
  ])('compiles a notebook with %s', (_name, source) => {
    const r = compileNotebook(
      notebook([
        [['task:a'], source],
        [['task:b'], 'print(x)'],
      ]),
      { path: 'r.ipynb' },
    );
    expect(r.pipeline).toBeDefined();
  });
});
