/**
 * Changing an object in place makes a new version of its name: later readers depend on the task
 * that changed it and read that task's version. Uses the analysis cannot prove read-only count as
 * changes; known read-only uses do not.
 */
import { flow } from './helpers.js';

/** Each task's input sources: name → task it is read from. */
function sourcesOf(sources: Parameters<typeof flow>[0], setup: Parameters<typeof flow>[1] = [], meta = {}) {
  const { pipeline } = flow(sources, setup, meta);
  return Object.fromEntries(pipeline.spec.tasks.map((t) => [t.name, t.inputsFrom]));
}

describe('a task that changes an object it received makes a new version of it', () => {
  it.each<[string, string[], string[], Record<string, string>]>([
    // [what, setup, tasks t0.., what the last task reads from where]
    [
      'a method call: model.fit',
      ['class Model:\n    pass'],
      ['model = Model()', 'model.fit(1)', 'print(model)'],
      { model: 't1' },
    ],
    ['list.append', [], ['xs = []', 'xs.append(1)', 'print(xs)'], { xs: 't1' }],
    [
      "pandas' inplace=True",
      ['import pandas as pd'],
      ['df = pd.DataFrame()', 'df.drop(columns=["a"], inplace=True)', 'print(df)'],
      { df: 't1' },
    ],
    [
      'a generator drawing numbers',
      ['import numpy as np'],
      ['rng = np.random.default_rng(0)', 'print(rng.random())', 'print(rng.random())'],
      { rng: 't1' },
    ],
    ['optimizer.step()', [], ['opt = make()', 'opt.step()', 'print(opt)'], { opt: 't1' }],
    ['assignment to an attribute', [], ['cfg = make()', 'cfg.lr = 0.1', 'print(cfg)'], { cfg: 't1' }],
    ['assignment to an item', [], ['d = {}', 'd["k"] = 1', 'print(d)'], { d: 't1' }],
    ['del of an item', [], ['d = {"k": 1}', 'del d["k"]', 'print(d)'], { d: 't1' }],
    ['augmented assignment of an item', [], ['d = {"k": 1}', 'd["k"] += 1', 'print(d)'], { d: 't1' }],
    ['augmented assignment of the name', [], ['xs = [1]', 'xs += [2]', 'print(xs)'], { xs: 't1' }],
    ['passing it to an unknown function', [], ['model = make()', 'train(model, 3)', 'print(model)'], { model: 't1' }],
    ['calling it', [], ['net = make()', 'net(3)', 'print(net)'], { net: 't1' }],
    ['with it as a context manager', [], ['lock = make()', 'with lock:\n    pass', 'print(lock)'], { lock: 't1' }],
    [
      'a name that shares the object: m = models[0]',
      [],
      ['models = [make()]', 'm = models[0]\nm.fit(1)', 'print(models)'],
      { models: 't1' },
    ],
    ['a loop variable', [], ['models = [make()]', 'for m in models:\n    m.fit(1)', 'print(models)'], { models: 't1' }],
    [
      'a comprehension variable',
      [],
      ['models = [make()]', 'fitted = [m.fit(1) for m in models]', 'print(models)'],
      { models: 't1' },
    ],
    [
      'a notebook function that changes its parameter',
      ['def train(m, loader):\n    for batch in loader:\n        m.step()'],
      ['model = make()\nloader = [1]', 'train(model, loader)', 'print(model, loader)'],
      { model: 't1', loader: 't0' },
    ],
    [
      'a function that changes a global it reads',
      [],
      ['model = make()\ndef fit_all():\n    model.fit(1)', 'fit_all()', 'print(model)'],
      { model: 't1' },
    ],
    [
      'a function that passes its parameter on to a function that changes it',
      ['def inner(v):\n    v.append(1)\ndef outer(w):\n    inner(w)'],
      ['xs = []', 'outer(xs)', 'print(xs)'],
      { xs: 't1' },
    ],
    ['random.shuffle', ['import random'], ['xs = [1, 2]', 'random.shuffle(xs)', 'print(xs)'], { xs: 't1' }],
    [
      'a PyTorch in-place function (trailing _)',
      ['import torch'],
      ['w = make()', 'torch.nn.init.zeros_(w)', 'print(w)'],
      { w: 't1' },
    ],
    [
      'copy=False',
      ['from sklearn import preprocessing'],
      ['X = make()', 'preprocessing.normalize(X, copy=False)', 'print(X)'],
      { X: 't1' },
    ],
    // A new container holds the same elements: changing an element through it changes them.
    [
      'an element of a copy: list(models)[0].fit()',
      [],
      ['models = [make()]', 'ms = list(models)\nms[0].fit(1)', 'print(models)'],
      { models: 't1' },
    ],
    [
      'an element of a comprehension, by attribute',
      [],
      ['models = [make()]', 'ms = [m for m in models]\nms[0].lr = 0.1', 'print(models)'],
      { models: 't1' },
    ],
    [
      'each element of a sorted copy, in a loop',
      [],
      ['models = [make()]', 'for m in sorted(models):\n    m.fit(1)', 'print(models)'],
      { models: 't1' },
    ],
    [
      'a copy passed to an unknown function',
      [],
      ['xs = [[1]]', 'ys = xs.copy()\ntrain(ys)', 'print(xs)'],
      { xs: 't1' },
    ],
    ['a slice of an array (a view)', [], ['xs = make()', 'head = xs[:2]\nhead[0] = 5', 'print(xs)'], { xs: 't1' }],
    [
      'copy with keywords (deep=False)',
      [],
      ['df = make()', 'd = df.copy(deep=False)\nd.pop("a")', 'print(df)'],
      { df: 't1' },
    ],
    ['advancing the object itself', [], ['it = make()', 'print(next(it))', 'print(it)'], { it: 't1' }],
    [
      'a notebook function that changes the elements of a copy of its parameter',
      ['def fit_all(models):\n    for m in list(models):\n        m.fit(1)'],
      ['models = [make()]', 'fit_all(models)', 'print(models)'],
      { models: 't1' },
    ],
  ])('%s', (_what, setup, tasks, last) => {
    const from = sourcesOf(tasks, setup);
    expect(from[`t${tasks.length - 1}`]).toEqual(last);
  });

  it('a change in place inside a task does not make the task wait for earlier readers', () => {
    // t1 reads xs, t2 changes it: t2 gets its own copy, so t1 and t2 can run together.
    const { flow: f } = flow(['xs = [1]', 'print(xs)', 'xs.append(2)', 'print(xs)']);
    expect(f['t2']?.dependsOn).toEqual(['t0']);
    expect(f['t3']?.dependsOn).toEqual(['t2']);
  });
});

describe('uses known to read only make no new version', () => {
  it.each<[string, string[], string[], Record<string, string>]>([
    [
      'builtins that read their arguments',
      [],
      ['xs = [3, 1]', 'print(len(xs), sorted(xs), isinstance(xs, list), str(xs))', 'print(xs)'],
      { xs: 't0' },
    ],
    [
      'attribute and item reads, operators, iteration',
      [],
      ['xs = [3, 1]', 'a = xs[0] + len(xs)\nfor v in xs:\n    print(v * 2)', 'print(xs)'],
      { xs: 't0' },
    ],
    [
      'read-only methods',
      ['import pandas as pd'],
      ['df = pd.DataFrame()', 'print(df.head(), df.describe(), df.drop(columns=["a"]))', 'print(df)'],
      { df: 't0' },
    ],
    [
      'the arguments of a read-only method',
      [],
      ['m = make()\nX = [1]', 'print(m.predict(X))', 'print(X, m)'],
      { X: 't0', m: 't0' },
    ],
    [
      'functions of imported modules',
      ['import numpy as np\nimport statistics'],
      ['xs = [1.0]', 'print(np.mean(xs), statistics.fmean(xs))', 'print(xs)'],
      { xs: 't0' },
    ],
    [
      'a function imported by name',
      ['from statistics import fmean'],
      ['xs = [1.0]', 'print(fmean(xs))', 'print(xs)'],
      { xs: 't0' },
    ],
    [
      'a notebook function that only reads its parameter',
      ['def show(v, n=3):\n    print(v[:n], len(v))'],
      ['xs = [1]', 'show(xs, n=1)', 'print(xs)'],
      { xs: 't0' },
    ],
    [
      'string methods of a literal',
      [],
      ['names = ["a"]', 'print(", ".join(names), "{}".format(names))', 'print(names)'],
      { names: 't0' },
    ],
    [
      'a literal cannot change',
      [],
      ['path = "data.csv"', 'fh = open(path)\nfh.close()', 'print(path)'],
      { path: 't0' },
    ],
    [
      'changing a new container made from it: a copy, sorted, set, a display, a comprehension, a slice of a new list',
      ['import copy'],
      [
        'xs = [3, 1]\nd = {"a": 1}',
        'ys = list(xs)\nys.append(2)\nys[0] = 9\ndel ys[1]\nys += [4]\nys.sort()\n' +
          'zs = sorted(xs)[:1]\nzs.append(0)\ns = set(xs)\ns.add(5)\npair = [xs, d]\npair.pop()\n' +
          'c = d.copy()\nc["b"] = 2\nc.update(e=3)\nk = {v: 1 for v in xs}\nk[7] = 1\nw = copy.copy(d)\nw.clear()',
        'print(xs, d)',
      ],
      { xs: 't0', d: 't0' },
    ],
    [
      'a notebook function that changes only a copy of its parameter',
      [
        'def prepare(df):\n    out = df.copy()\n    out["x"] = 1\n    rows = list(df)\n    rows.append(2)\n    return out',
      ],
      ['df = make()', 'clean = prepare(df)', 'print(df)'],
      { df: 't0' },
    ],
    [
      'a deep copy shares nothing',
      ['import copy'],
      ['models = [make()]', 'ms = copy.deepcopy(models)\nms[0].fit(1)\ntrain(ms)', 'print(models)'],
      { models: 't0' },
    ],
    [
      'advancing a new iterator: next(iter(loader))',
      [],
      ['loader = make()', 'batch = next(iter(loader))\nit = iter(loader)\nfirst = next(it)', 'print(loader)'],
      { loader: 't0' },
    ],
    [
      'modules are not values: a call on one changes no version',
      ['import numpy as np'],
      ['np.random.seed(0)', 'print(np.zeros(1))'],
      {},
    ],
  ])('%s', (_what, setup, tasks, last) => {
    const from = sourcesOf(tasks, setup);
    expect(from[`t${tasks.length - 1}`]).toEqual(last);
  });

  it('a notebook that rebinds a builtin is warned that calls of it still count as the builtin', () => {
    const { warnings } = flow(['xs = []', 'def len(v):\n    v.append(1)\nlen(xs)']);
    expect(warnings).toEqual([
      "flow.ipynb: cell 2, line 1, column 5, task 't1': warning: 'len' rebinds a Python builtin: the dependency analysis still treats calls of 'len' as the builtin's",
    ]);
  });

  it('a decorated function is not looked into: passing a value to it changes the value', () => {
    const from = sourcesOf(
      ['xs = []', '@wrap\ndef show(v):\n    print(v)\nshow(xs)', 'print(xs)'],
      ['def wrap(f):\n    return f'],
    );
    expect(from['t2']).toEqual({ xs: 't1' });
  });
});

describe('readOnly inputs', () => {
  it('marks the inputs a task does not change, and not the ones it does', () => {
    const { pipeline } = flow(['model = make()\nX = [1]\ny = [2]', 'model.fit(X, y)', 'print(model.predict(X))']);
    const t = Object.fromEntries(pipeline.spec.tasks.map((x) => [x.name, x]));
    expect(t['t1']).toMatchObject({ inputs: ['X', 'model', 'y'], readOnlyInputs: [] });
    expect(t['t2']).toMatchObject({ inputs: ['X', 'model'], readOnlyInputs: ['X', 'model'] });
  });

  it('an input the task rebinds before changing the new object is still read-only', () => {
    const { pipeline } = flow(['xs = [1]', 'xs = xs + [2]\nxs.append(3)']);
    expect(pipeline.spec.tasks[1]).toMatchObject({ inputs: ['xs'], readOnlyInputs: ['xs'] });
  });
});

describe('readonly: declarations win parallelism back', () => {
  const tasks = ['X = [1]\ny = [2]', 'a = fit_a(X, y)', 'b = fit_b(X, y)', 'print(X, y)'];

  it('without one, every task that passes X on waits for the previous one', () => {
    expect(sourcesOf(tasks)['t3']).toEqual({ X: 't2', y: 't2' });
  });

  it.each<[string, Parameters<typeof flow>[0], Record<string, unknown>]>([
    [
      'a tag on each task',
      [
        'X = [1]\ny = [2]',
        { source: 'a = fit_a(X, y)', tags: ['readonly:X, y'] },
        { source: 'b = fit_b(X, y)', tags: ['readonly:X,y'] },
        'print(X, y)',
      ],
      {},
    ],
    [
      'cell metadata',
      [
        'X = [1]\ny = [2]',
        { source: 'a = fit_a(X, y)', cellpipe: { readonly: ['X', 'y'] } },
        { source: 'b = fit_b(X, y)', cellpipe: { readonly: ['X', 'y'] } },
        'print(X, y)',
      ],
      {},
    ],
    ['notebook metadata, for every task', tasks, { cellpipe: { readonly: ['X', 'y'] } }],
  ])('%s', (_how, sources, meta) => {
    const { pipeline } = flow(sources, [], meta);
    const t = Object.fromEntries(pipeline.spec.tasks.map((x) => [x.name, x]));
    expect(t['t3']?.inputsFrom).toEqual({ X: 't0', y: 't0' });
    expect(t['t2']?.dependsOn).toEqual(['t0']);
    expect(t['t1']?.readOnlyInputs).toEqual(['X', 'y']);
  });

  it('a declaration that the code contradicts is reported, and the change is kept', () => {
    const { flow: f, warnings } = flow(['xs = [1]', { source: 'xs[0] = 2', tags: ['readonly:xs'] }, 'print(xs)']);
    expect(f['t2']?.dependsOn).toEqual(['t1']);
    expect(warnings).toEqual([
      "flow.ipynb: cell 2, line 1, column 1, task 't1': warning: 'xs' is declared read-only for task 't1', but this changes it: later tasks that read 'xs' run after this one",
    ]);
  });

  it.each([
    ['readonly:1x', "invalid name '1x' in 'readonly:1x': not a Python identifier"],
    ['readonly:', "tag 'readonly:' needs a value: readonly:NAME,NAME (names the task does not change in place)"],
  ])('a bad tag %s is an error', (tag, message) => {
    expect(() => flow([{ source: 'x = 1', tags: [tag] }])).toThrow(message);
  });
});

describe('edges say why they exist', () => {
  it('lists the variables of each edge and how the upstream task made them', () => {
    const { result } = flow([
      'model = make()\nX = [1]',
      'model.fit(X)\nscore = 1',
      { source: 'print(model, score, X)', tags: ['after:t0'] },
      { source: 'print(1)', tags: ['after:t2'] },
    ]);
    expect(result.edges).toEqual([
      {
        from: 't0',
        to: 't1',
        variables: [
          { name: 'X', kind: 'bound' },
          { name: 'model', kind: 'bound' },
        ],
        after: false,
      },
      { from: 't0', to: 't2', variables: [], after: true },
      {
        from: 't1',
        to: 't2',
        variables: [
          { name: 'X', kind: 'changed' },
          { name: 'model', kind: 'changed' },
          { name: 'score', kind: 'bound' },
        ],
        after: false,
      },
      { from: 't2', to: 't3', variables: [], after: true },
    ]);
  });
});
