/** Dependency inference from variable flow: Python scoping rules, one table row per rule. */
import { compileNotebook, formatDiagnostic } from '../src/index.js';
import { flow, notebook } from './helpers.js';

describe('variable flow between tasks', () => {
  it.each<[string, string[], string, string[], string[]]>([
    // [rule, task sources, task checked, expected inputs, expected dependsOn]
    ['plain read', ['x = 1', 'print(x)'], 't1', ['x'], ['t0']],
    ['comprehension variables are not reads', ['x = 1\nxs = [1]', 'y = [x for x in xs]'], 't1', ['xs'], ['t0']],
    ['comprehension body reads free names', ['k = 2\nxs = [1]', 'y = [v * k for v in xs]'], 't1', ['k', 'xs'], ['t0']],
    [
      'nested comprehension: inner iterable sees outer variable',
      ['rows = [[1]]', 'flat = [c for r in rows for c in r]'],
      't1',
      ['rows'],
      ['t0'],
    ],
    ['generator argument', ['xs = [1]', 'total = sum(v for v in xs)'], 't1', ['xs'], ['t0']],
    ['dict comprehension', ['pairs = [(1, 2)]', 'd = {k: v for k, v in pairs}'], 't1', ['pairs'], ['t0']],
    ['function parameters are local', ['a = 1\nb = 2', 'def f(a):\n    return a + b\nf(0)'], 't1', ['b'], ['t0']],
    [
      'defining a function reads nothing its body reads: calling it does',
      ['b = 2', 'def f(a):\n    return a + b'],
      't1',
      [],
      [],
    ],
    [
      'function locals are local even when read first',
      ['c = 1', 'def f():\n    y = c\n    c = 2\n    return y'],
      't1',
      [],
      [],
    ],
    ['augmented assignment reads and writes', ['x = 1', 'x += 1'], 't1', ['x'], ['t0']],
    ['annotated assignment binds', ['x: int = 5', 'print(x)'], 't1', ['x'], ['t0']],
    ['bare annotation binds nothing', ['x: int', 'print(x)'], 't1', [], []],
    ['lambda body reads free names', ['factor = 3', 'f = lambda v: v * factor\nf(1)'], 't1', ['factor'], ['t0']],
    [
      'an anonymous lambda is used where it is made',
      ['w = {1: 2}\nxs = [1]', 'ys = sorted(xs, key=lambda v: w[v])'],
      't1',
      ['w', 'xs'],
      ['t0'],
    ],
    ['lambda parameters are local', ['v = 3', 'f = lambda v: v * 2'], 't1', [], []],
    ['lambda default is read', ['d = 3', 'f = lambda v=d: v'], 't1', ['d'], ['t0']],
    [
      'nested def: inner free names count for the outer function',
      ['g = 1', 'def outer():\n    def inner():\n        return g + loc\n    loc = 2\n    return inner()\nouter()'],
      't1',
      ['g'],
      ['t0'],
    ],
    [
      'nonlocal names are not free',
      ['n = 1', 'def outer():\n    n = 0\n    def inner():\n        nonlocal n\n        n += 1\n    return inner'],
      't1',
      [],
      [],
    ],
    ['default arguments are read by the defining task', ['d = 5', 'def f(x=d):\n    return x'], 't1', ['d'], ['t0']],
    ['annotations are read by the defining task', ['T = int', 'def f(x: T) -> T:\n    return x'], 't1', ['T'], ['t0']],
    [
      'decorators are read by the defining task',
      ['deco = staticmethod', '@deco\ndef h():\n    pass'],
      't1',
      ['deco'],
      ['t0'],
    ],
    ['class body reads at definition', ['k = 1', 'class C:\n    z = k'], 't1', ['k'], ['t0']],
    [
      'class names are invisible to methods',
      ['k = 1\nz = 2', 'class C:\n    z = k\n    def m(self):\n        return z\nC().m()'],
      't1',
      ['k', 'z'],
      ['t0'],
    ],
    [
      'a comprehension in a class body does not see class names (except its first iterable)',
      ['z = 1\nrows = [1]', 'class C:\n    z = 2\n    rows = [3]\n    a = [z for _ in rows]'],
      't1',
      ['z'],
      ['t0'],
    ],
    [
      'base classes and keywords are read',
      ['Base = object\nMeta = type', 'class C(Base, metaclass=Meta):\n    pass'],
      't1',
      ['Base', 'Meta'],
      ['t0'],
    ],
    ['keyword argument names are not reads', ['key = 1', 'print(dict(key=2))'], 't1', [], []],
    ['f-string replacements are reads', ['who = "x"', 'print(f"{who!r:>{10}}")'], 't1', ['who'], ['t0']],
    ['attribute names are not reads', ['obj = 1\nreal = 2', 'print(obj.real)'], 't1', ['obj'], ['t0']],
    ['walrus at top level binds', ['if (n := 10) > 5:\n    pass', 'print(n)'], 't1', ['n'], ['t0']],
    [
      'walrus in a comprehension binds in the enclosing scope',
      ['[(last := v) for v in range(3)]', 'print(last)'],
      't1',
      ['last'],
      ['t0'],
    ],
    [
      'for targets bind',
      ['for i, (j, *rest) in [(1, (2, 3))]:\n    pass', 'print(i, j, rest)'],
      't1',
      ['i', 'j', 'rest'],
      ['t0'],
    ],
    [
      'with targets bind',
      ['import contextlib\nwith contextlib.nullcontext(1) as one:\n    pass', 'print(one)'],
      't1',
      ['one'],
      ['t0'],
    ],
    [
      'imports bind the first name or the alias (and cross tasks by source)',
      ['import os.path\nimport json as j\nfrom math import pi as PI, e', 'print(os, j, PI, e)'],
      't1',
      [],
      [],
    ],
    [
      'def and class bind names (and cross tasks by source)',
      ['def f():\n    pass\nclass K:\n    pass', 'f()\nK()'],
      't1',
      [],
      [],
    ],
    ['try body binds', ['try:\n    val = 1\nexcept ValueError:\n    val = 0', 'print(val)'], 't1', ['val'], ['t0']],
    [
      'except-as names are unbound after the handler',
      ['try:\n    pass\nexcept Exception as err:\n    print(err)', 'print(err)'],
      't1',
      [],
      [],
    ],
    ['del unbinds', ['x = 1', 'del x', 'print(x)'], 't2', [], []],
    ['del reads what it deletes', ['x = 1', 'del x'], 't1', ['x'], ['t0']],
    [
      'match captures bind, class and value patterns read',
      [
        'cmd = [1, 2]\nPoint = tuple',
        'match cmd:\n    case [first, *rest]:\n        pass\n    case Point(x=0) as pt:\n        pass',
        'print(first, rest, pt)',
      ],
      't2',
      ['first', 'pt', 'rest'],
      ['t1'],
    ],
    [
      'item assignment mutates: read and new version',
      ['cfg = {}', 'cfg["a"] = 1', 'print(cfg)'],
      't2',
      ['cfg'],
      ['t1'],
    ],
    ['builtins are ignored', ['print(len([1]), range(2), Exception)'], 't0', [], []],
    ['a builtin name rebound by a task flows', ['list = [1, 2]', 'print(list)'], 't1', ['list'], ['t0']],
    ['a name bound earlier in the same task is not an input', ['x = 1', 'x = 2\nprint(x)'], 't1', [], []],
    ['a later task shadows an earlier binder', ['x = 1', 'x = 2', 'print(x)'], 't2', ['x'], ['t1']],
    [
      'own function reading a name the task binds later',
      ['y = 1', 'def f():\n    return y\ny = 2\nprint(f())'],
      't1',
      [],
      [],
    ],
    [
      'using a function reads its free globals',
      ['scale = 2', 'def f(v):\n    return v * scale', 'print(f(1))'],
      't2',
      ['scale'],
      ['t0'],
    ],
    [
      'free globals are followed through functions transitively',
      ['scale = 2', 'def f(v):\n    return v * scale', 'def g(v):\n    return f(v) + 1', 'print(g(1))'],
      't3',
      ['scale'],
      ['t0'],
    ],
    [
      "using a class reads its methods' free globals",
      ['base = 1', 'class K:\n    def m(self):\n        return base', 'print(K().m())'],
      't2',
      ['base'],
      ['t0'],
    ],
    [
      'a task that defines a function again reads its default values again',
      ['d = 5', 'def f(x=d):\n    return x', 'print(f())'],
      't2',
      ['d'],
      ['t0'],
    ],
    ['recursive functions terminate', ['def f(n):\n    return 1 if n < 1 else f(n - 1)', 'print(f(3))'], 't1', [], []],
    [
      'mutually recursive functions terminate',
      ['def a(n):\n    return b(n)\ndef b(n):\n    return a(n)', 'print(a(1))'],
      't1',
      [],
      [],
    ],
  ])('%s', (_rule, sources, task, inputs, dependsOn) => {
    const { flow: f } = flow(sources);
    expect(f[task]?.inputs).toEqual(inputs);
    expect(f[task]?.dependsOn).toEqual(dependsOn);
  });

  it('outputs are only the names later tasks read before rebinding them', () => {
    const { flow: f } = flow(['a = 1\nb = 2\nc = 3\ntmp = 0', 'print(a)\nb = 5\nprint(b)', 'print(b, c)']);
    expect(f['t0']?.outputs).toEqual(['a', 'c']);
    expect(f['t1']?.outputs).toEqual(['b']);
    expect(f['t2']).toEqual({ dependsOn: ['t0', 't1'], inputs: ['b', 'c'], outputs: [] });
  });

  it('inputsFrom names the most recent binder when two upstream tasks output the same name', () => {
    const { pipeline } = flow(['x = 1\ny = 1', 'print(x)', 'x = 2', 'print(x, y)']);
    const t = (n: string) => pipeline.spec.tasks.find((x) => x.name === n)!;
    expect(t('t0').outputs).toEqual(['x', 'y']);
    expect(t('t2').outputs).toEqual(['x']);
    expect(t('t3')).toMatchObject({ dependsOn: ['t0', 't2'], inputs: ['x', 'y'], inputsFrom: { x: 't2', y: 't0' } });
  });

  it('names bound by setup cells and the parameters cell are never passed', () => {
    const nb = notebook([
      'import math\ncfg = {"k": 1}',
      [['parameters'], 'lr = 0.1'],
      [['task:a'], 'v = math.pi * lr * cfg["k"]'],
      [['task:b'], 'print(v, lr, math.e)'],
    ]);
    const r = compileNotebook(nb, { path: 'x.ipynb' });
    expect(r.pipeline?.spec.tasks.map((t) => [t.name, t.inputs, t.dependsOn])).toEqual([
      ['a', [], []],
      ['b', ['v'], ['a']],
    ]);
  });

  it('a setup function reading a name a task binds makes the user depend on that task', () => {
    const { flow: f } = flow(['DATA = [1, 2]', 'print(load())'], ['def load():\n    return DATA']);
    expect(f['t1']).toEqual({ dependsOn: ['t0'], inputs: ['DATA'], outputs: [] });
  });

  it('global x in a function: the using task reads and writes x, with a warning', () => {
    const { flow: f, warnings } = flow([
      'counter = 0',
      'def bump():\n    global counter\n    counter += 1',
      'bump()',
      'print(counter)',
    ]);
    expect(f['t2']).toEqual({ dependsOn: ['t0'], inputs: ['counter'], outputs: ['counter'] });
    expect(f['t3']).toEqual({ dependsOn: ['t2'], inputs: ['counter'], outputs: [] });
    expect(warnings.join('\n')).toMatch(
      /cell 2, line 1, column 1, task 't1': warning: function 'bump' assigns the global 'counter'/,
    );
  });

  it('defining a global-assigning function writes nothing; calling it in the same task does', () => {
    const defined = flow(['counter = 0', 'def bump():\n    global counter\n    counter += 1', 'print(counter)']).flow;
    expect(defined['t2']?.dependsOn).toEqual(['t0']);
    const called = flow([
      'counter = 0',
      'def bump():\n    global counter\n    counter += 1\nbump()',
      'print(counter)',
    ]).flow;
    expect(called['t2']?.dependsOn).toEqual(['t1']);
    expect(called['t1']?.outputs).toEqual(['counter']);
  });

  it('a global read inside a function is a free read', () => {
    const { flow: f } = flow(['rate = 1', 'def get():\n    global rate\n    return rate', 'print(get())']);
    expect(f['t2']?.inputs).toEqual(['rate']);
  });

  it('imports, functions and classes another task bound are defined again from their source', () => {
    const { pipeline, warnings } = flow([
      'import os.path, json as j\nfrom math import pi as PI, e\nscale = 2\n@staticmethod\ndef f(v, k=PI):\n    return v * scale\nclass K:\n    def m(self):\n        return f(1)\nsq = lambda v: v * v',
      'print(j.dumps([e]), K().m(), sq(2))',
    ]);
    expect(warnings).toEqual([]);
    const t1 = pipeline.spec.tasks[1]!;
    expect(t1.inputs).toEqual(['scale']);
    expect(t1.dependsOn).toEqual(['t0']);
    expect(pipeline.spec.tasks[0]!.outputs).toEqual(['scale']);
    expect(t1.definitions).toEqual([
      // Only the names t1 needs of each import: running all of it would bind the others too.
      { kind: 'import', names: ['j'], cell: 0, line: 1, source: 'import json as j' },
      { kind: 'import', names: ['PI', 'e'], cell: 0, line: 2, source: 'from math import pi as PI, e' },
      {
        kind: 'function',
        names: ['f'],
        cell: 0,
        line: 4,
        source: '@staticmethod\ndef f(v, k=PI):\n    return v * scale',
      },
      { kind: 'class', names: ['K'], cell: 0, line: 7, source: 'class K:\n    def m(self):\n        return f(1)' },
      { kind: 'function', names: ['sq'], cell: 0, line: 10, source: 'sq = lambda v: v * v' },
    ]);
  });

  it('a definition is taken from an indented cell as IPython runs it, at column 0', () => {
    const { pipeline } = flow(['  import json\n  def f(x):\n      return json.dumps(x)\n', 'print(f(1))']);
    expect(pipeline.spec.tasks[1]!.definitions).toEqual([
      { kind: 'import', names: ['json'], cell: 0, line: 1, source: 'import json' },
      { kind: 'function', names: ['f'], cell: 0, line: 2, source: 'def f(x):\n    return json.dumps(x)' },
    ]);
  });

  it('a task whose inputs may hold instances of a class another task defined defines it first', () => {
    const { pipeline } = flow([
      'class Model:\n    def predict(self, x):\n        return x * w',
      'w = 2\nmodel = Model()',
      'print(model.predict(3))',
    ]);
    const t2 = pipeline.spec.tasks[2]!;
    expect(t2.inputs).toEqual(['model', 'w']);
    expect(t2.definitions.map((d) => d.names)).toEqual([['Model']]);
  });

  it('a value a notebook function returns may hold the functions its body uses as values, not those it calls', () => {
    const { pipeline } = flow([
      'def show(x):\n    return str(x)\ndef wrap(f):\n    return [f]\ndef helper():\n    return 1',
      'def table():\n    return {"PRINT": [show], "LIST": wrap(len), "N": helper()}\ngrammar = table()',
      'print(grammar["PRINT"][0](1))',
    ]);
    const t2 = pipeline.spec.tasks[2]!;
    expect(t2.inputs).toEqual(['grammar']);
    // show is kept in the dict; helper and table are only called while it is built.
    expect(t2.definitions.map((d) => d.names)).toEqual([['show']]);
  });

  it('a value changed in place by a later task still needs the classes it held to load', () => {
    const { pipeline } = flow([
      'class Expr:\n    def __init__(self, op):\n        self.op = op',
      'x, y = map(Expr, ["x", "y"])',
      'def show(e):\n    e.seen = True\n    return e.op\nprint(show(x))',
      'print(x.op, x.seen)',
    ]);
    const t3 = pipeline.spec.tasks[3]!;
    expect(t3.inputsFrom).toEqual({ x: 't2' });
    expect(t3.definitions.map((d) => d.names)).toEqual([['Expr']]);
  });

  it('a definition run again reads the names its statement read as the task starts, also those the task binds again', () => {
    const { pipeline } = flow([
      'Space = set',
      'def P(cases: Space) -> int:\n    return len(cases)',
      'class Dist(dict):\n    pass\nSpace = Dist\nprint(P({1, 2}))',
    ]);
    const t2 = pipeline.spec.tasks[2]!;
    // P's annotation reads Space when P is defined again, before the cell binds Space anew.
    expect(t2.inputs).toEqual(['Space']);
    expect(t2.inputsFrom).toEqual({ Space: 't0' });
    expect(t2.definitions.map((d) => d.names)).toEqual([['P']]);
  });

  it('an alias of a function, class or module crosses by source after what it aliases', () => {
    const { pipeline, warnings } = flow([
      'k = 2\ndef g(x):\n    return x * k\nclass M:\n    pass\nimport json as j',
      'f = g\nN = M\njs = j',
      'h = f',
      'print(h(3), N(), js.dumps(1))',
    ]);
    expect(warnings).toEqual([]);
    const [, t1, t2, t3] = pipeline.spec.tasks;
    // Nothing crosses pickled: an alias is defined again wherever it is used.
    expect(t1!.outputs).toEqual([]);
    expect(t2!.outputs).toEqual([]);
    expect(t3!.inputs).toEqual(['k']);
    expect(t3!.dependsOn).toEqual(['t0']);
    expect(t3!.definitions).toEqual([
      { kind: 'function', names: ['g'], cell: 0, line: 2, source: 'def g(x):\n    return x * k' },
      { kind: 'class', names: ['M'], cell: 0, line: 4, source: 'class M:\n    pass' },
      { kind: 'import', names: ['j'], cell: 0, line: 6, source: 'import json as j' },
      { kind: 'function', names: ['f'], cell: 1, line: 1, source: 'f = g' },
      { kind: 'class', names: ['N'], cell: 1, line: 2, source: 'N = M' },
      { kind: 'import', names: ['js'], cell: 1, line: 3, source: 'js = j' },
      { kind: 'function', names: ['h'], cell: 2, line: 1, source: 'h = f' },
    ]);
  });

  it('a star import runs again in a later task that reads a name no statement it knows binds', () => {
    const { pipeline, warnings } = flow([
      'from typing import *\nTOKENS = []',
      'def peek() -> Optional[str]:\n    return TOKENS[0] if TOKENS else None',
      'print(peek())',
      'n = 2',
      'print(n * 3)',
    ]);
    const [t0, t1, t2, t3, t4] = pipeline.spec.tasks;
    const star = { kind: 'import', names: [], cell: 0, line: 1, source: 'from typing import *' };
    expect(t0!.definitions).toEqual([]);
    // The annotation reads Optional, which no statement the compiler sees binds.
    expect(t1!.definitions).toEqual([star]);
    // Calling peek defines it again, and its annotation needs the star import first.
    expect(t2!.definitions).toEqual([star, expect.objectContaining({ kind: 'function', names: ['peek'] })]);
    expect(t2!.inputs).toEqual(['TOKENS']);
    // A task that reads only names bound by statements the compiler sees does not run it: n is an
    // input, and print is a builtin, which the star import may rebind: it runs there too.
    expect(t3!.definitions).toEqual([]);
    expect(t4!.definitions).toEqual([star]);
    expect(t4!.inputs).toEqual(['n']);
    expect(warnings).toEqual([
      expect.stringContaining("'from typing import *' binds names the dependency analysis cannot see"),
    ]);
  });

  it('an alias runs after the binding it aliased, even when the name was bound again later', () => {
    // A function restored in a finally: block, the shape of a test that a function uses another.
    const { pipeline } = flow([
      'def squares(n):\n    return [i * i for i in range(n)]',
      'def total(n):\n    return sum(squares(n))\nkeep = squares\ndel squares\ntry:\n    total(1)\nexcept NameError:\n    pass\nfinally:\n    squares = keep',
      'print(total(3))',
    ]);
    expect(pipeline.spec.tasks[2]!.definitions.map((d) => d.source)).toEqual([
      'def squares(n):\n    return [i * i for i in range(n)]',
      'def total(n):\n    return sum(squares(n))',
      'keep = squares',
      'squares = keep',
    ]);
    expect(pipeline.spec.tasks[2]!.inputs).toEqual([]);
  });

  it('an alias of a value, or one inside a block that may not run, passes as a value', () => {
    const { pipeline } = flow(['def g():\n    return 1\nxs = [1]', 'ys = xs\nif True:\n    f = g', 'print(ys, f())']);
    expect(pipeline.spec.tasks[2]).toMatchObject({ inputs: ['f', 'ys'] });
    expect(pipeline.spec.tasks[2]!.definitions.map((d) => d.source)).toEqual(['def g():\n    return 1']);
  });

  it('a name bound by a definition and later by a value passes as a value', () => {
    const { pipeline } = flow(['import json\njson = json.dumps(1)', 'print(json)']);
    expect(pipeline.spec.tasks[1]).toMatchObject({ inputs: ['json'], definitions: [] });
  });

  it.each<[string, string]>([
    ['a function defined inside a block', 'if True:\n    def f():\n        return 1'],
    ['a class defined inside a block', 'if True:\n    class f:\n        pass'],
    ['a module imported inside a block', 'try:\n    import json as f\nexcept ImportError:\n    f = None'],
  ])('%s passes as a value (the runner pickles it by value, a module by name), without a warning', (_what, source) => {
    const { pipeline, warnings } = flow([source, 'print(f)']);
    expect(pipeline.spec.tasks[1]).toMatchObject({ inputs: ['f'], definitions: [] });
    expect(warnings).toEqual([]);
  });

  it('outputOrigins names the cell where the task last binds or changes each output', () => {
    const { pipeline } = flow([
      { source: 'a = 1\nb = [2]', tags: [] },
      'c = 3',
      { source: 'print(a, b, c)', type: 'code' },
    ]);
    expect(pipeline.spec.tasks[0]!.outputOrigins).toEqual({ a: 0, b: 0 });
    const changed = flow(['xs = []\nys = []', 'n = 1', 'xs.append(n)', 'print(xs, ys)']).pipeline;
    expect(changed.spec.tasks[2]!.outputOrigins).toEqual({ xs: 2 });
  });

  it.each<[string, string, string, string]>([
    // [what, setup, producing task's source, what the message says it is]
    ['an open file', '', 'f = open("data.csv")', 'an open file (made by open())'],
    ['a file of a with statement', '', 'with open("data.csv") as f:\n    pass', 'an open file (made by open())'],
    ['a generator expression', '', 'f = (x * 2 for x in range(3))', 'a generator (a generator expression)'],
    [
      'a call of a generator function',
      'def numbers():\n    yield 1',
      'f = numbers()',
      'a generator (made by calling numbers())',
    ],
    ['a lock imported by name', 'from threading import Lock', 'f = Lock()', 'a lock (made by threading.Lock())'],
    [
      'a CUDA stream',
      'import torch',
      'f = torch.cuda.Stream()',
      'a CUDA stream, event or context handle (made by torch.cuda.Stream())',
    ],
    ['a socket', 'import socket as s', 'f = s.socket()', 'a socket or connection (made by socket.socket())'],
    [
      'a generator the task advanced',
      'def numbers():\n    yield 1',
      'f = numbers()\nnext(f)',
      'a generator (made by calling numbers())',
    ],
    ['a file the task read from', '', 'f = open("data.csv")\nf.readline()', 'an open file (made by open())'],
    ['a queue', 'import queue', 'f = queue.Queue()', 'a queue (it holds locks) (made by queue.Queue())'],
    [
      'a thread pool',
      'from concurrent.futures import ThreadPoolExecutor',
      'f = ThreadPoolExecutor(2)',
      'a thread or process (made by concurrent.futures.ThreadPoolExecutor())',
    ],
    ['a CSV reader', 'import csv', 'f = csv.reader(lines)', 'a CSV reader or writer (made by csv.reader())'],
    ...[
      [
        'from a.b import c as d; d.X()',
        'from IPython.lib import backgroundjobs as bg',
        'f = bg.BackgroundJobManager()',
      ],
      ['import a.b.c as d; d.X()', 'import IPython.lib.backgroundjobs as jobs', 'f = jobs.BackgroundJobManager()'],
      [
        'from a.b.c import X; X()',
        'from IPython.lib.backgroundjobs import BackgroundJobManager',
        'f = BackgroundJobManager()',
      ],
      [
        'import a.b.c; a.b.c.X()',
        'import IPython.lib.backgroundjobs',
        'f = IPython.lib.backgroundjobs.BackgroundJobManager()',
      ],
    ].map(([how, setup, source]): [string, string, string, string] => [
      `a background job manager (${how})`,
      setup!,
      source!,
      'an object that holds threads or operating-system resources (made by IPython.lib.backgroundjobs.BackgroundJobManager())',
    ]),
    ...[
      ['import asyncio', 'f = asyncio.new_event_loop()', 'asyncio.new_event_loop'],
      ['import multiprocessing as mp', 'f = mp.Manager()', 'multiprocessing.Manager'],
      ['from urllib.request import urlopen', 'f = urlopen(url)', 'urllib.request.urlopen'],
      ['import selectors', 'f = selectors.DefaultSelector()', 'selectors.DefaultSelector'],
      ['import mmap', 'f = mmap.mmap(-1, 4096)', 'mmap.mmap'],
    ].map(([setup, source, maker]): [string, string, string, string] => [
      maker!,
      setup!,
      source!,
      `an object that holds threads or operating-system resources (made by ${maker}())`,
    ]),
    // Makers named by a pattern: every regular-expression lexer of pygments, however imported.
    ...[
      ['from pygments.lexers import PythonLexer', 'f = PythonLexer()', 'pygments.lexers.PythonLexer'],
      ['import pygments.lexers.python as py', 'f = py.Python3Lexer()', 'pygments.lexers.python.Python3Lexer'],
      [
        'from pygments.lexers import get_lexer_by_name',
        'f = get_lexer_by_name("python")',
        'pygments.lexers.get_lexer_by_name',
      ],
    ].map(([setup, source, maker]): [string, string, string, string] => [
      maker!,
      setup!,
      source!,
      `a pygments lexer (its class is set up when one is first made, which unpickling skips) (made by ${maker}())`,
    ]),
    // What a method of such a value returns, where that cannot pass either.
    [
      'a database cursor',
      'import sqlite3',
      'con = sqlite3.connect("x.db")\nf = con.cursor()',
      'a database cursor (made by con.cursor(), con made by sqlite3.connect())',
    ],
    [
      'a query result of a connection opened by with',
      'import sqlite3',
      'with sqlite3.connect("x.db") as con:\n    f = con.execute("select 1")',
      'a database cursor (made by con.execute(), con made by sqlite3.connect())',
    ],
    [
      'a future',
      'from concurrent.futures import ThreadPoolExecutor',
      'with ThreadPoolExecutor(2) as ex:\n    f = ex.submit(abs, -1)',
      'a future or pending result (it holds a lock, or its pool) (made by ex.submit(), ex made by concurrent.futures.ThreadPoolExecutor())',
    ],
    [
      'a background job',
      'from IPython.lib import backgroundjobs as bg',
      'jobs = bg.BackgroundJobManager()\nf = jobs.new(abs, -1)',
      'a thread or process (made by jobs.new(), jobs made by IPython.lib.backgroundjobs.BackgroundJobManager())',
    ],
    [
      'a member of a zip file',
      'import zipfile',
      'z = zipfile.ZipFile("a.zip")\nf = z.open("a.txt")',
      'an open file (made by z.open(), z made by zipfile.ZipFile())',
    ],
  ])(
    '%s cannot pass to another task: a compile error names it, the producing task and the cell',
    (_what, setup, source, what) => {
      const nb = notebook([...(setup ? [setup] : []), [['task:make'], source], [['task:use'], 'print(f)']]);
      const r = compileNotebook(nb, { path: 'x.ipynb' });
      expect(r.pipeline).toBeUndefined();
      const cell = setup ? 2 : 1;
      expect(r.diagnostics.map(formatDiagnostic)).toEqual([
        `x.ipynb: cell ${cell}, line 1, column 1, task 'make': 'f' is ${what} (cell ${cell}): it cannot pass from task 'make' to task 'use', which reads it (cell ${cell + 1}); values pass between tasks pickled, so make it in 'use'`,
      ]);
      // The finding in structured form, for tools that act on it (the split at headings joins the tasks).
      expect(r.diagnostics[0]!.unpassable).toEqual({ name: 'f', what, from: 'make', to: 'use' });
    },
  );

  it.each([
    ['a temporary directory (only its name and a finalizer)', 'import tempfile', 'f = tempfile.TemporaryDirectory()'],
    ['an in-memory text buffer', 'import io', 'f = io.StringIO()'],
    ['a counter', 'import itertools', 'f = itertools.count()'],
    ['a pygments formatter', 'from pygments.formatters import HtmlFormatter', 'f = HtmlFormatter()'],
    [
      'what a connection method returns that is no cursor',
      'import sqlite3',
      'con = sqlite3.connect("x.db")\nf = con.commit()',
    ],
    ['a list a pool computed', 'import multiprocessing as mp', 'pool = mp.Pool(2)\nf = pool.map(abs, [-1])'],
  ])('%s pickles, so it passes', (_what, setup, source) => {
    const { pipeline } = flow([source, 'print(f)'], [setup]);
    expect(pipeline.spec.tasks[1]!.inputs).toEqual(['f']);
  });

  it('a generator made from a function another task defined, advanced there, cannot pass either', () => {
    const r = compileNotebook(
      notebook([
        [['task:define'], 'def countdown(n):\n    while n > 0:\n        yield n\n        n -= 1'],
        [['task:start'], 'it = countdown(5)\nnext(it)'],
        [['task:more'], 'next(it), next(it)'],
      ]),
      { path: 'x.ipynb' },
    );
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      "x.ipynb: cell 2, line 1, column 1, task 'start': 'it' is a generator (made by calling countdown()) (cell 2): it cannot pass from task 'start' to task 'more', which reads it (cell 3); values pass between tasks pickled, so make it in 'more'",
    ]);
  });

  it('a value that cannot pass is fine inside its own task', () => {
    const { pipeline } = flow(['f = open("data.csv")\nprint(f.read())\nf.close()', 'print(1)']);
    expect(pipeline.spec.tasks[0]!.outputs).toEqual([]);
  });

  it('reading a name only a later task binds warns with a hint', () => {
    const { warnings } = flow(['print(later)', 'later = 1']);
    expect(warnings).toEqual([
      "flow.ipynb: cell 1, line 1, column 7, task 't0': warning: 'later' is read before any earlier task binds it; task 't1' binds it later (cell 2): move the cells or add after:t1",
    ]);
  });
});

describe('IPython syntax', () => {
  it.each<[string, string, string[]]>([
    ['line magic', '%matplotlib inline\nprint(x)', ['x']],
    ['shell escape', '!pip install requests\nprint(x)', ['x']],
    ['help suffix', 'x?\nprint(y)', ['y']],
    ['help prefix', '?x\nprint(y)', ['y']],
    ['double help', 'x??', []],
    ['python-body cell magic is analysed', '%%time\nprint(x)', ['x']],
    [
      'a %time statement inside a block is analysed',
      'for i in range(2):\n    %time print(x)\n    print(y)',
      ['x', 'y'],
    ],
    ['magic assignment binds its name', 'files = !ls\nprint(files, x)', ['x']],
    ['magic continuation lines', '!echo a \\\n  b\nprint(y)', ['y']],
    ['percent and bang inside a docstring are text', '"""\n!not a shell\n%not a magic\n"""\nprint(x)', ['x']],
    ['percent continuing a bracketed expression is Python', 'msg = ("%s"\n       % x)\nprint(msg, y)', ['x', 'y']],
    ['percent after a backslash continuation is Python', 'msg = "%s" \\\n% y\nprint(msg)', ['y']],
    ['a magic line opens no bracket', '!echo (\nprint(x)', ['x']],
  ])('%s', (_name, source, inputs) => {
    const { flow: f } = flow(['x = 1\ny = 2', source]);
    expect(f['t1']?.inputs).toEqual(inputs);
  });

  it.each<[string, string, string[], string[]]>([
    // [what, t1's source, t1's inputs, what t2 reads from t1 (t2 prints total, y, r, out)]
    ['%time stmt: reads and binds', '%time total = sum(data)', ['data'], ['total']],
    ['%time inside a block', 'if data:\n    %time total = sum(data)', ['data'], ['total']],
    [
      '%timeit stmt: reads, binds nothing (the statement runs in a function)',
      '%timeit -n 10 -r2 y = len(data)',
      ['data'],
      [],
    ],
    ['%timeit with a backslash continuation', '%timeit y = \\\n    len(data)', ['data'], []],
    ['%prun with options', '%prun -s cumulative -l 5 y = len(data)', ['data'], ['y']],
    ['r = %time expr binds r to the value', 'r = %time sum(data)', ['data'], ['r']],
    ['t = %timeit -o expr binds only t', 't = %timeit -o y = sum(data)', ['data'], []],
    ['%%time body binds', '%%time\ntotal = sum(data)', ['data'], ['total']],
    [
      '%%timeit body and setup read, bind nothing',
      '%%timeit -n1 y = list(data)\ntotal = sum(y) + w',
      ['data', 'w'],
      [],
    ],
    ['%%capture binds its name and analyses the body', '%%capture out\ntotal = sum(data)', ['data'], ['out', 'total']],
    ['%%prun statement and body', '%%prun -q r = sum(data)\ny = w', ['data', 'w'], ['r', 'y']],
    ['%%python3 runs in another process', '%%python3\ntotal = sum(data)', [], []],
    ['shell fields IPython expands', "!echo {len(data)} $w '$total' $$y", ['data', 'w'], []],
    ['line magic arguments are expanded too', '%cd {w}', ['w'], []],
    ['a shell assignment with fields', 'out = !echo {w}', ['w'], ['out']],
    ['%time does not expand fields', '%time r = {w: 1}', ['w'], ['r']],
  ])('%s', (_what, source, inputs, passed) => {
    const { flow: f } = flow([
      'data = [1, 2]\nw = 3\ntotal = 0\ny = 0\nr = 0\nout = 0',
      source,
      'print(total, y, r, out)',
    ]);
    expect(f['t1']?.inputs).toEqual(inputs);
    expect(f['t1']?.outputs).toEqual(passed);
  });

  it('%run, %store -r and %load warn, naming the cell', () => {
    const { warnings } = flow(['x = 1', '%run helpers.py\nprint(x)\n%store -r model\n%load snippet.py']);
    expect(warnings).toEqual([
      "flow.ipynb: cell 2, line 1, column 1, task 't1': warning: '%run' runs a file in the notebook's namespace: names it binds or reads are not seen by the dependency analysis",
      "flow.ipynb: cell 2, line 3, column 1, task 't1': warning: '%store -r' restores variables the dependency analysis cannot see: bind them in the task that uses them",
      "flow.ipynb: cell 2, line 4, column 1, task 't1': warning: '%load' replaces the cell's code: its names are not seen by the dependency analysis",
    ]);
  });

  it('a cell whose first line is indented is dedented as IPython does', () => {
    const { flow: f, warnings } = flow(['x = 1', '    y = x + 1\n    if y:\n        z = y\n', 'print(z)']);
    expect(warnings).toEqual([]);
    expect(f['t1']?.inputs).toEqual(['x']);
    expect(f['t2']?.inputs).toEqual(['z']);
  });

  it('a line indented less than the first stays as it is (and is a syntax error, as in IPython)', () => {
    const { warnings } = flow(['    x = 1\n  y = 2']);
    expect(warnings.join('\n')).toMatch(/cell 1, line 2, column 3, task 't0': warning: syntax error/);
  });

  it("positions in messages are the cell's own, after dedent and magic lines", () => {
    const { warnings } = flow(['  !ls\n  %time v = eval("1")\n  exec("w = 2")']);
    expect(warnings).toEqual([
      "flow.ipynb: cell 1, line 2, column 13, task 't0': warning: 'eval()' can read and bind any name: dependencies through it are not inferred",
      "flow.ipynb: cell 1, line 3, column 3, task 't0': warning: 'exec()' can read and bind any name: dependencies through it are not inferred",
    ]);
  });

  it('a non-Python cell magic is kept but not analysed', () => {
    const { flow: f, warnings } = flow(['x = 1', '%%bash\necho $x\nprint(x)']);
    expect(f['t1']?.inputs).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('magic lines are kept for execution', () => {
    const { pipeline } = flow(['%matplotlib inline\nx = 1']);
    expect(pipeline.spec.tasks[0]?.cells).toEqual([0]);
  });
});

describe('Unicode identifiers', () => {
  it('names in any script pass between tasks', () => {
    const { flow: f } = flow(['Π = 3.14\nδx = 0.1', 'print(Π * δx)']);
    expect(f['t1']?.inputs).toEqual(['Π', 'δx']);
  });

  it('a name outside the Basic Multilingual Plane is the NFKC name Python reads', () => {
    // Python folds 𝜋 (U+1D70B) to π: a task binding 𝜋 binds π.
    const { flow: f } = flow(['𝜋 = 3.14', 'print(π)', 'ﬁle = 1', 'print(file)']);
    expect(f['t0']?.outputs).toEqual(['π']);
    expect(f['t1']?.inputs).toEqual(['π']);
    expect(f['t3']?.inputs).toEqual(['file']);
  });
});

describe('warnings instead of silent guesses', () => {
  it.each<[string, string, RegExp]>([
    [
      'star import',
      'from os.path import *',
      /cell 2, line 1, column 1, task 't1': warning: 'from os.path import \*' binds names the dependency analysis cannot see/,
    ],
    ['exec', 'exec("z = 1")', /cell 2, line 1, column 1, task 't1': warning: 'exec\(\)' can read and bind any name/],
    ['eval', 'v = eval("x")', /cell 2, line 1, column 5, task 't1': warning: 'eval\(\)'/],
    ['globals()', 'globals()["z"] = 1', /cell 2, line 1, column 1, task 't1': warning: 'globals\(\)'/],
    ['syntax error', 'x = = 1\nprint(x)', /cell 2, line 1, column \d+, task 't1': warning: syntax error/],
  ])('%s', (_name, source, pattern) => {
    const { warnings } = flow(['x = 1', source]);
    expect(warnings.join('\n')).toMatch(pattern);
  });
});
