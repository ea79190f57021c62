/**
 * A pipeline gives the same results as running the notebook top to bottom: notebooks compiled into
 * tasks run through the real parts (compiler, freeze, orchestrator, SQLite store, local executor,
 * the runner on python3), and every task cell prints what the same cell prints when python3 runs the
 * notebook's cells top to bottom in one namespace.
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Job } from '@cellpipe/schema';
import {
  startService,
  taggedNotebook as nb,
  taskOf,
  waitForJob,
  type NotebookCell,
  type TestHome,
} from './jobs-fixtures.js';
import { FINDER } from './runner-fixtures.js';

jest.setTimeout(180_000);

type Cell = NotebookCell;

/** What each cell prints when python3 runs the cells top to bottom in one namespace (in `cwd`). */
function topToBottom(cells: Cell[], cwd?: string): string[] {
  const driver = `
import contextlib, io, json, sys
out, ns = [], {"__name__": "__main__"}
for src in json.load(sys.stdin):
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(src, "<cell>", "exec"), ns)
    out.append(buf.getvalue())
print(json.dumps(out))
`;
  const r = spawnSync('python3', ['-c', driver], {
    input: JSON.stringify(cells.map((c) => c.source)),
    encoding: 'utf8',
    cwd,
  });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as string[];
}

/** What each task cell printed in the pipeline run, by cell index (from the tasks' executed notebooks). */
async function printedByCell(h: TestHome, job: Job): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  for (const t of job.tasks) {
    const executed = JSON.parse(readFileSync(await h.service.taskFile(job.id, t.name, 'notebook'), 'utf8')) as {
      cells: {
        metadata: { cellpipe?: { role?: string; index?: number } };
        outputs?: { output_type: string; name?: string; text?: string | string[] }[];
      }[];
    };
    for (const c of executed.cells) {
      const meta = c.metadata.cellpipe;
      if (meta?.role !== 'task' || meta.index === undefined) continue;
      const text = (c.outputs ?? [])
        .filter((o) => o.output_type === 'stream' && o.name === 'stdout')
        .map((o) => (Array.isArray(o.text) ? o.text.join('') : (o.text ?? '')))
        .join('');
      out.set(meta.index, text);
    }
  }
  return out;
}

let h: TestHome;
beforeAll(async () => {
  h = await startService();
});
afterAll(async () => {
  await h.cleanup();
});

async function run(
  cells: Cell[],
  path = 'semantics.ipynb',
  content: Record<string, unknown> = nb(cells),
): Promise<Job> {
  const job = await h.service.submit('alice', { notebook: { path, content } });
  const done = await waitForJob(h.service, job.id);
  const failed = done.tasks.filter((t) => t.state !== 'succeeded');
  if (failed.length) throw new Error(`tasks failed: ${JSON.stringify(failed.map((t) => [t.name, t.error]))}`);
  return done;
}

async function expectSameAsTopToBottom(cells: Cell[], cwd?: string): Promise<Job> {
  const job = await run(cells);
  const printed = await printedByCell(h, job);
  const reference = topToBottom(cells, cwd);
  expect(printed.size).toBeGreaterThan(0);
  for (const [index, text] of printed) expect({ cell: index, text }).toEqual({ cell: index, text: reference[index] });
  return job;
}

test('evaluate sees the fitted model; rng advances between tasks; lists and dicts changed in place', async () => {
  const job = await expectSameAsTopToBottom([
    {
      source:
        'import random\nclass Model:\n    def __init__(self):\n        self.w = None\n    def fit(self, xs):\n        self.w = sum(xs) / len(xs)\n    def predict(self, x):\n        return self.w * x',
    },
    { source: 'model = Model()\nrng = random.Random(0)\nxs = []\nlog = {}', tags: ['task:init'] },
    { source: 'model.fit([1, 2, 3])', tags: ['task:train'] },
    { source: 'print(model.predict(10))', tags: ['task:evaluate'] },
    { source: 'print(rng.random())\nxs.append(1)\nlog["a"] = 1', tags: ['task:draw'] },
    { source: 'print(rng.random(), xs, log)', tags: ['task:draw_again'] },
  ]);
  expect(taskOf(job, 'evaluate').warnings).toBeUndefined();
});

test('a module, a function and a class from one task work in the next, and an instance passes', async () => {
  await expectSameAsTopToBottom([
    {
      source:
        'import json\nfrom collections import Counter as C\nscale = 3\ndef triple(v):\n    return v * scale\nclass Point:\n    def __init__(self, x):\n        self.x = triple(x)\n    def __repr__(self):\n        return f"Point({self.x})"',
      tags: ['task:defs'],
    },
    { source: 'p = Point(2)\nprint(json.dumps({"x": p.x}))', tags: ['task:make'] },
    { source: 'print(p, triple(1), C("aab").most_common(1))', tags: ['task:use'] },
  ]);
});

test('a star import works in later tasks without replacing what they read, next to namedtuple, Enum and Union values', async () => {
  // e and sqrt are bound after `from math import *`: the star import run again must not replace them.
  await expectSameAsTopToBottom([
    {
      source:
        "from typing import *\nfrom math import *\nfrom collections import namedtuple\nfrom enum import Enum\nStmt = namedtuple('Stmt', 'num typ')\nColor = Enum('Color', 'RED GREEN')\nArg = Union[int, Stmt]",
      tags: ['task:defs'],
    },
    { source: 'e = 7\nsqrt = "mine"\ns = Stmt(10, "GOTO")\nc = Color.GREEN', tags: ['task:make'] },
    {
      source:
        'def first(xs: List[Arg]) -> Optional[Arg]:\n    return xs[0] if xs else None\nprint(first([s]), c.name, floor(2.5))',
      tags: ['task:use'],
    },
    { source: 'print(e, sqrt, first([]), pi > 3, Stmt(1, "END"))', tags: ['task:again'] },
  ]);
});

test('a dict of functions a notebook function built passes to a later task, which calls them', async () => {
  await expectSameAsTopToBottom([
    { source: 'def shout(x):\n    return str(x).upper()\ndef count(x):\n    return len(x)', tags: ['task:defs'] },
    {
      source: 'def table():\n    return {"SHOUT": [shout], "COUNT": [count]}\ngrammar = table()',
      tags: ['task:build'],
    },
    { source: 'print([f("go") for fs in grammar.values() for f in fs])', tags: ['task:use'] },
  ]);
});

test('a function defined again whose annotation reads a type alias of a notebook class', async () => {
  await expectSameAsTopToBottom([
    { source: 'from typing import Union\nclass Dist(dict):\n    pass', tags: ['task:defs'] },
    { source: 'Space = Union[set, Dist]', tags: ['task:alias'] },
    { source: 'def P(cases: Space) -> int:\n    return len(cases)\nprint(P({1}))', tags: ['task:fn'] },
    { source: 'print(P({1, 2}), P.__annotations__["cases"] == Space)', tags: ['task:use'] },
  ]);
});

test('a function defined again whose annotation reads a type alias of a class defined after it', async () => {
  await expectSameAsTopToBottom([
    {
      source: 'from typing import Union\nSpace = set\ndef P(cases: Space) -> int:\n    return len(cases)',
      tags: ['task:fn'],
    },
    { source: 'class Dist(dict):\n    pass\nSpace = Union[set, Dist]', tags: ['task:alias'] },
    { source: 'print(P({1, 2}), Space)', tags: ['task:use'] },
  ]);
});

test('aliases of functions, classes and modules work in later tasks, also one restored in a finally: block', async () => {
  await expectSameAsTopToBottom([
    {
      source:
        'import json\ndef squares(n):\n    return [i * i for i in range(1, n + 1)]\nclass Point:\n    def __init__(self, x):\n        self.x = x\n    def __repr__(self):\n        return f"P({self.x})"',
      tags: ['task:defs'],
    },
    {
      source:
        'def total(n):\n    return sum(squares(n))\nkeep = squares\ndel squares\ntry:\n    total(1)\nexcept NameError:\n    print("total uses squares")\nfinally:\n    squares = keep\nP = Point\nenc = json',
      tags: ['task:alias'],
    },
    { source: 'f = total\np = P(5)\nprint(total(3), enc.dumps([1]))', tags: ['task:use'] },
    { source: 'print(f(2), p, P(1))', tags: ['task:again'] },
  ]);
});

test('module state set in one task holds in every later one: sys.path, an import hook, warnings filters, the environment, the directory', async () => {
  const lib = mkdtempSync(join(tmpdir(), 'cellpipe-lib-'));
  const reference = mkdtempSync(join(tmpdir(), 'cellpipe-reference-'));
  try {
    writeFileSync(join(lib, 'statemod.py'), 'VALUE = "from lib"\n');
    const job = await expectSameAsTopToBottom(
      [
        {
          source: [
            'import os, warnings',
            ...FINDER,
            `lib = ${JSON.stringify(lib)}`,
            'finder = Finder()',
            'sys.meta_path.append(finder)',
            'sys.path.insert(0, lib)',
            'warnings.filterwarnings("error", message="strict")',
            'os.environ["SEMANTICS_MODE"] = "fast"',
            'os.makedirs("sub", exist_ok=True)',
            'os.chdir("sub")',
            'print("prepared")',
          ].join('\n'),
          tags: ['task:prepare'],
        },
        {
          source:
            'import statemod\nimport made_here\nprint(statemod.VALUE, made_here.answer, os.environ["SEMANTICS_MODE"])',
          tags: ['task:use'],
        },
        {
          source:
            'try:\n    warnings.warn("strict")\n    print("warned only")\nexcept UserWarning as e:\n    print("raised", e)\nprint(os.path.basename(os.getcwd()))',
          tags: ['task:check'],
        },
      ],
      reference,
    );
    // The state statements crossed by source, into both later tasks; nothing was left to a warning.
    const carried = (task: string) =>
      job.pipeline.spec.tasks
        .find((t) => t.name === task)!
        .definitions.filter((d) => d.kind === 'state')
        .map((d) => d.source);
    const statements = [
      'sys.meta_path.append(finder)',
      'sys.path.insert(0, lib)',
      'warnings.filterwarnings("error", message="strict")',
      'os.environ["SEMANTICS_MODE"] = "fast"',
      'os.chdir("sub")',
    ];
    expect(carried('use')).toEqual(statements);
    expect(carried('check')).toEqual(statements);
    expect(job.warnings ?? []).toEqual([]);
    expect((await printedByCell(h, job)).get(2)).toBe('raised strict\nsub\n');
  } finally {
    rmSync(lib, { recursive: true, force: true });
    rmSync(reference, { recursive: true, force: true });
  }
});

test('a task that binds or changes a name a setup cell binds passes its version to later tasks', async () => {
  await expectSameAsTopToBottom([
    { source: 'x = 1\nparams = {"lr": 0.1}' },
    { source: 'x = 2\nparams["lr"] = 0.2', tags: ['task:a'] },
    { source: 'print(x, params)', tags: ['task:b'] },
  ]);
});

test('%time total = sum(data) passes data; an indented first line runs; Π and 𝜋 are names', async () => {
  const cells: Cell[] = [
    { source: 'data = [1, 2, 3]\nΠ = 3.14\n𝜋 = 3', tags: ['task:load'] },
    { source: '%time total = sum(data)', tags: ['task:time'] },
    { source: '    area = Π * total\n    print(area, π)', tags: ['task:use'] },
  ];
  const job = await run(cells);
  const printed = await printedByCell(h, job);
  expect(printed.get(2)).toBe('18.84 3\n');
  expect(taskOf(job, 'time').error).toBeUndefined();
});

test('an nbformat 3 notebook runs as a pipeline', async () => {
  const v3 = {
    nbformat: 3,
    nbformat_minor: 0,
    metadata: { name: 'old' },
    worksheets: [
      {
        cells: [
          { cell_type: 'heading', level: 1, metadata: {}, source: 'Old' },
          { cell_type: 'code', language: 'python', input: 'x = 21', metadata: { tags: ['task:a'] }, outputs: [] },
          { cell_type: 'code', language: 'python', input: 'print(x * 2)', metadata: { tags: ['task:b'] }, outputs: [] },
        ],
      },
    ],
  };
  const job = await run([], 'old.ipynb', v3);
  expect((await printedByCell(h, job)).get(2)).toBe('42\n');
});

test('an input declared read-only that the task changes is reported on the job', async () => {
  const job = await run([
    { source: 'xs = [3, 1, 2]', tags: ['task:a'] },
    { source: 'xs.sort()\nprint(xs)', tags: ['task:b', 'readonly:xs'] },
  ]);
  expect(job.warnings).toEqual([expect.objectContaining({ kind: 'input-mutated', task: 'b', variable: 'xs' })]);
});

test('closures, lambdas, partials and classes made by calls pass by value; notebook classes by source', async () => {
  const job = await expectSameAsTopToBottom([
    {
      source: [
        'import collections, enum, functools, typing',
        'class Model:',
        '    def __init__(self, w):',
        '        self.w = w',
        '    def __repr__(self):',
        '        return f"Model({self.w})"',
        'def make(k):',
        '    def g(x):',
        '        return x * k',
        '    return g',
        'g2 = make(3)',
        'P = collections.namedtuple("P", "x y")',
        'p = P(1, 2)',
        'T = typing.NamedTuple("T", [("a", int)])',
        'Color = enum.Enum("Color", "RED GREEN")',
        'c = Color.GREEN',
        'f = lambda x: x + 1',
        'fs = [lambda x: x * 2, lambda x: f(x) - 1]',
        'inc = functools.partial(lambda a, b: a + b, 10)',
        'm = Model(4)',
        'def shout(x):',
        '    return f"{x}!"',
        'def logged(fn):',
        '    @functools.wraps(fn)',
        '    def inner(*a):',
        '        return "log " + fn(*a)',
        '    return inner',
        'shout = logged(shout)',
      ].join('\n'),
      tags: ['task:make'],
    },
    {
      source:
        'print(g2(2), p, P(3, 4), isinstance(p, P), T(5), c, Color.RED, c is Color.GREEN)\nprint(f(1), [h(3) for h in fs], inc(5), m, isinstance(m, Model), shout("hi"))',
      tags: ['task:use', 'readonly:fs,p'],
    },
    {
      source: 'print(p._replace(x=9), list(Color), f(f(1)), type(m).__name__, Model(1), [h(0) for h in fs])',
      tags: ['task:again'],
    },
  ]);
  // The read-only inputs pickle the same bytes before and after the cells: no false "changed" warning.
  expect(taskOf(job, 'use').warnings).toBeUndefined();
  // Model crossed by source (its instance by reference), the rest as values.
  const use = job.pipeline.spec.tasks.find((t) => t.name === 'use')!;
  expect(use.definitions.flatMap((d) => d.names)).toEqual(expect.arrayContaining(['Model']));
});
