/**
 * A pipeline gives every cell the values a top-to-bottom run gives it. A small driver in real
 * python3 runs the notebook top to bottom in one namespace, then runs each task alone in a fresh
 * namespace (setup cells, then copies of only the declared inputs from upstream tasks, then the
 * task's cells), in an order that respects the dependencies but otherwise runs later tasks first,
 * so a missing dependency shows. Each task cell's printed output must be the same in both runs.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileNotebook, formatDiagnostic, taskCode } from '../src/index.js';
import { cellSource, notebookJson } from '../src/notebook.js';
import type { Task } from '../src/index.js';
import { prepareCell } from '../src/python/magics.js';
import { notebook } from './helpers.js';

// What crosses a task boundary is a copy (the runner pickles); imports, functions and classes from
// upstream are run again from their source (the task's definitions), as the runner does.
const DRIVER = `
import contextlib, copy, io, json, sys
plan = json.load(sys.stdin)

def run(code, ns, name):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, name, "exec"), ns)
    return out.getvalue()

def carry(v):
    try:
        return copy.deepcopy(v)
    except Exception:
        return v

ns = {"__name__": "__main__"}
top = {c["index"]: run(c["code"], ns, "<cell %d>" % c["index"]) for c in plan["notebook"]}
pipe, done = {}, {}
for t in plan["tasks"]:
    ns = {"__name__": "__main__"}
    for c in t["setup"]:
        run(c["code"], ns, "<cell %d>" % c["index"])
    for i in t["inputs"]:
        ns[i["name"]] = carry(done[i["from"]][i["name"]])
    for d in t["definitions"]:
        exec(compile(d["source"], "<cell %d>" % d["cell"], "exec"), ns)
    for c in t["cells"]:
        pipe[c["index"]] = run(c["code"], ns, "<cell %d>" % c["index"])
    done[t["name"]] = {o: ns[o] for o in t["outputs"]}
print(json.dumps({"top": top, "pipe": pipe}))
`;

/** A topological order that runs the latest ready task first (in notebook order). */
function adversarialOrder(tasks: readonly Task[]): Task[] {
  const done = new Set<string>();
  const order: Task[] = [];
  while (order.length < tasks.length) {
    const ready = tasks.filter((t) => !done.has(t.name) && t.dependsOn.every((d) => done.has(d)));
    const next = ready[ready.length - 1]!;
    done.add(next.name);
    order.push(next);
  }
  return order;
}

/** Runs top to bottom and as a pipeline; returns each task cell's output in both runs. */
function runBoth(
  content: unknown,
  path: string,
  env: Record<string, string> = {},
): { top: Record<string, string>; pipe: Record<string, string> } {
  const r = compileNotebook(content, { path });
  if (!r.pipeline) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  const p = r.pipeline;
  const py = (c: { index: number; source: string }) => ({ index: c.index, code: prepareCell(c.source).code });
  const json = notebookJson(content) as { value: { cells: { cell_type: string; source: string | string[] }[] } };
  const plan = {
    notebook: json.value.cells
      .map((c, index) => ({ index, source: cellSource(c), code: c.cell_type === 'code' }))
      .filter(
        (c) => c.code && (p.spec.setupCells.includes(c.index) || p.spec.tasks.some((t) => t.cells.includes(c.index))),
      )
      .map(py),
    tasks: adversarialOrder(p.spec.tasks).map((t) => {
      const code = taskCode(content, p, t.name);
      return {
        name: t.name,
        setup: code.setup.map(py),
        cells: code.cells.map(py),
        inputs: t.inputs.map((n) => ({ name: n, from: t.inputsFrom[n]! })),
        definitions: t.definitions,
        outputs: t.outputs,
      };
    }),
  };
  const out = spawnSync('python3', ['-c', DRIVER], {
    input: JSON.stringify(plan),
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  if (out.status !== 0) throw new Error(out.stderr);
  return JSON.parse(out.stdout) as { top: Record<string, string>; pipe: Record<string, string> };
}

/** The pipeline's output of every task cell equals the top-to-bottom run's. */
function expectSameAsTopToBottom(content: unknown, path: string, env: Record<string, string> = {}) {
  const { top, pipe } = runBoth(content, path, env);
  const topOfTaskCells = Object.fromEntries(Object.keys(pipe).map((k) => [k, top[k]]));
  expect(pipe).toEqual(topOfTaskCells);
  return pipe;
}

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));

describe('a pipeline prints what a top-to-bottom run prints (python3)', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'cellpipe-exec-'));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it.each(['quickstart.ipynb', 'gpu-mig.ipynb'])('%s', (name) => {
    expectSameAsTopToBottom(readFileSync(examples + name, 'utf8'), name, { CELLPIPE_OUTPUT_DIR: out });
  });

  it('a notebook exercising functions, closures, classes, globals and mutation', () => {
    const nb = notebook([
      'import math\nfrom collections import Counter',
      [['parameters'], 'base = 3'],
      [
        ['task:defs'],
        'offset = 10\ndef shift(v):\n    return v + offset\nclass Acc:\n    def __init__(self):\n        self.total = start\n    def add(self, v):\n        self.total += weight * v\n        return self',
      ],
      [['task:consts'], 'start = 1\nweight = 2\ncounter = 0'],
      [
        ['task:use'],
        'acc = Acc().add(shift(base))\nsq = [shift(i) for i in range(base)]\nf = lambda k: k * math.pi * weight',
      ],
      [['task:bump'], 'def bump():\n    global counter\n    counter += len(sq)\nbump()'],
      [['task:mutate'], 'sq[0] = -1\nc = Counter(sq)'],
      [['task:final'], 'print(acc.total, counter, sq[0], f(1), c.most_common(1))'],
      [['task:early'], 'level = 1\nnote = "a"'],
      [['task:peek'], 'print(level)'],
      [['task:later'], 'level = 2'],
      [['task:check'], 'assert (level, note) == (2, "a"), (level, note)'],
    ]);
    expectSameAsTopToBottom(nb, 'flow.ipynb');
  });

  it('a notebook whose tasks change the objects they receive', () => {
    const nb = notebook([
      'import random\nclass Model:\n    def __init__(self):\n        self.w = None\n    def fit(self, xs):\n        self.w = sum(xs) / len(xs)\n    def predict(self, x):\n        return self.w * x\n\ndef train(model, loader):\n    for batch in loader:\n        model.fit(batch)\n\ndef show(values):\n    print(sorted(values)[:3], len(values))',
      [
        ['task:init'],
        'model = Model()\nrng = random.Random(0)\nxs = []\nlog = {"steps": 0}\nloader = [[1, 2], [3, 5]]',
      ],
      [['task:train'], 'train(model, loader)\nlog["steps"] += 1'],
      [['task:draw'], 'print(round(rng.random(), 6))\nxs.append(1)'],
      [['task:evaluate'], 'print(model.predict(10))\nshow(xs)'],
      [['task:draw_again'], 'print(round(rng.random(), 6))\nxs.extend([2, 3])\nfirst = xs[0]\nxs2 = xs\nxs2.append(4)'],
      [['task:report'], 'print(log, xs, first)\nfor m in [model]:\n    m.fit([0, 2])\nprint(model.w)'],
      [['task:final'], 'print(model.predict(1), rng.random() < 1, len(xs))'],
    ]);
    const out = expectSameAsTopToBottom(nb, 'versions.ipynb');
    expect(out['4']).toBe('40.0\n[1] 1\n');
  });

  it('a notebook with IPython syntax, indented cells and Unicode names', () => {
    const nb = notebook([
      [['task:load'], '    data = list(range(5))\n    𝜋 = 3.14'],
      [['task:time'], '%time total = sum(data)\nr = %time len(data)\n%timeit -n1 -r1 len(data)'],
      [['task:use'], '  if total:\n      area = π * r ** 2\n  !echo {area}'],
      [['task:check'], 'assert (total, round(area, 2)) == (10, 78.5), (total, area)'],
    ]);
    expectSameAsTopToBottom(nb, 'ipython.ipynb');
  });
});
