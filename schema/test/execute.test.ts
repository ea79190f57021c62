/**
 * The inferred inputs are enough to run each task alone: a small driver in real python3 runs every
 * task in a fresh namespace (setup cells, then only the declared inputs from upstream tasks, then the
 * task's cells) and fails on any NameError. Object identity across tasks is not the point here
 * (the runner pickles); name sufficiency is.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileNotebook, formatDiagnostic, taskCode, topologicalOrder } from '../src/index.js';
import { prepareCell } from '../src/python/magics.js';
import { notebook } from './helpers.js';

// Functions and classes from upstream are rebound to the consuming task's globals, as when they are
// defined again there: what they read when called must then be among that task's inputs.
const DRIVER = `
import json, sys, types
plan = json.load(sys.stdin)
done = {}

def rebind(v, ns):
    if isinstance(v, types.FunctionType):
        return types.FunctionType(v.__code__, ns, v.__name__, v.__defaults__, v.__closure__)
    if isinstance(v, type) and v.__module__ == "__main__":
        body = {k: rebind(f, ns) for k, f in vars(v).items() if k not in ("__dict__", "__weakref__")}
        return type(v.__name__, v.__bases__, body)
    return v

for t in plan:
    ns = {"__name__": "__main__"}
    for src in t["setup"]:
        exec(compile(src, "<setup>", "exec"), ns)
    for i in t["inputs"]:
        ns[i["name"]] = rebind(done[i["from"]][i["name"]], ns)
    for src in t["cells"]:
        exec(compile(src, "<" + t["name"] + ">", "exec"), ns)
    done[t["name"]] = {o: ns[o] for o in t["outputs"]}
    print(t["name"], "ok")
`;

function runAll(content: unknown, path: string, env: Record<string, string> = {}): string {
  const r = compileNotebook(content, { path });
  if (!r.pipeline) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  const p = r.pipeline;
  const byName = new Map(p.spec.tasks.map((t) => [t.name, t]));
  const plan = topologicalOrder(p.spec.tasks).map((name) => {
    const t = byName.get(name)!;
    const code = taskCode(content, p, name);
    const py = (s: string) => prepareCell(s).code;
    return {
      name,
      setup: code.setup.map((c) => py(c.source)),
      cells: code.cells.map((c) => py(c.source)),
      inputs: t.inputs.map((n) => ({ name: n, from: t.inputsFrom[n]! })),
      outputs: t.outputs,
    };
  });
  const out = spawnSync('python3', ['-c', DRIVER], {
    input: JSON.stringify(plan),
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  if (out.status !== 0) throw new Error(out.stderr);
  return out.stdout;
}

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));

describe('inferred inputs are sufficient to run tasks alone (python3)', () => {
  let out: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'cellpipe-exec-'));
  });
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it.each(['quickstart.ipynb', 'gpu-mig.ipynb'])('%s', (name) => {
    const stdout = runAll(readFileSync(examples + name, 'utf8'), name, { CELLPIPE_OUTPUT_DIR: out });
    expect(stdout).toMatch(/ok\n$/);
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
    expect(runAll(nb, 'flow.ipynb')).toContain('check ok');
  });

  it('a notebook with IPython syntax, indented cells and Unicode names', () => {
    const nb = notebook([
      [['task:load'], '    data = list(range(5))\n    𝜋 = 3.14'],
      [['task:time'], '%time total = sum(data)\nr = %time len(data)\n%timeit -n1 -r1 len(data)'],
      [['task:use'], '  if total:\n      area = π * r ** 2\n  !echo {area}'],
      [['task:check'], 'assert (total, round(area, 2)) == (10, 78.5), (total, area)'],
    ]);
    expect(runAll(nb, 'ipython.ipynb')).toContain('check ok');
  });
});
