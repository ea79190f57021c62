/**
 * Where a pipeline can differ from a top-to-bottom run and the analysis can see it, a warning says
 * so, naming the task and the cell: module state that cannot be carried to later tasks by source,
 * global random state, files, installed packages, and IPython's environment variables and working
 * directory stay in the process of the task that changed them.
 */
import { flow } from './helpers.js';

const warningsOf = (sources: Parameters<typeof flow>[0], setup: Parameters<typeof flow>[1] = []) =>
  flow(sources, setup).warnings;

describe('module state crosses tasks by source', () => {
  /** The state statements (`kind: state` definitions) each task runs again, by task. */
  const stateOf = (r: ReturnType<typeof flow>) =>
    Object.fromEntries(
      r.pipeline.spec.tasks.map((t) => [t.name, t.definitions.filter((d) => d.kind === 'state').map((d) => d.source)]),
    );

  it.each<[string, string[], string]>([
    ['an option set through a module', ['import pandas as pd'], 'pd.set_option("display.max_rows", 5)'],
    ['an assignment into a module', ['import os'], 'os.environ["MODE"] = "fast"'],
    ['an assignment into a module attribute', ['import pandas as pd'], 'pd.options.display.max_rows = 10'],
    ['a deletion from a process-wide dict', ['import os'], 'del os.environ["MODE"]'],
    ['sys.path', ['import sys'], 'sys.path.append("lib")'],
    ['an import hook', ['import sys\nclass Finder:\n    pass'], 'sys.meta_path.insert(0, Finder())'],
    ['the environment', ['import os'], 'os.environ.update(MODE="fast")'],
    ['a function imported by name', ['from warnings import filterwarnings'], 'filterwarnings("ignore")'],
    ['matplotlib settings', ['import matplotlib.pyplot as plt'], 'plt.rcParams["figure.dpi"] = 80'],
    ['the working directory', ['import os'], 'os.chdir("data")'],
  ])('%s is run again in every later task, not reported', (_what, setup, source) => {
    const r = flow([source, 'print(1)', 'print(2)'], setup);
    expect(r.warnings).toEqual([]);
    expect(stateOf(r)).toEqual({ t0: [], t1: [source], t2: [source] });
  });

  it('only tasks after it run it, in notebook order after the definitions it reads, with the values it reads as inputs', () => {
    const r = flow([
      'import warnings\nx = 1',
      'import sys, os\ndef helper(name):\n    return None\nclass Finder:\n    def find_spec(self, name, path, target=None):\n        return helper(name)\nroot = "lib"\nsys.meta_path.append(Finder())\nsys.path.insert(0, root)',
      'warnings.filterwarnings("error")',
      'print(x)',
    ]);
    expect(r.warnings).toEqual([]);
    const [t0, t1, t2, t3] = r.pipeline.spec.tasks;
    expect(t0!.definitions).toEqual([]);
    expect(t1!.definitions).toEqual([]);
    expect(t2!.definitions).toEqual([
      { kind: 'import', names: ['warnings'], cell: 0, line: 1, source: 'import warnings' },
      { kind: 'import', names: ['sys'], cell: 1, line: 1, source: 'import sys' },
      { kind: 'function', names: ['helper'], cell: 1, line: 2, source: 'def helper(name):\n    return None' },
      {
        kind: 'class',
        names: ['Finder'],
        cell: 1,
        line: 4,
        source: 'class Finder:\n    def find_spec(self, name, path, target=None):\n        return helper(name)',
      },
      { kind: 'state', names: [], cell: 1, line: 8, source: 'sys.meta_path.append(Finder())' },
      { kind: 'state', names: [], cell: 1, line: 9, source: 'sys.path.insert(0, root)' },
    ]);
    // The value it reads passes as an input, and orders the tasks; what it defines does not.
    expect(t2!.inputs).toEqual(['root']);
    expect(t2!.dependsOn).toEqual(['t1']);
    expect(t3!.definitions.filter((d) => d.kind === 'state').map((d) => d.source)).toEqual([
      'sys.meta_path.append(Finder())',
      'sys.path.insert(0, root)',
      'warnings.filterwarnings("error")',
    ]);
    expect(t3!.inputs).toEqual(['root', 'x']);
  });

  it('an import made again later: the statement runs after the import it read there', () => {
    const r = flow(['import sys\nsys.path.append("a")', 'import sys\nprint(sys.path)', 'print(sys.path[-1])']);
    expect(r.pipeline.spec.tasks[2]!.definitions.map((d) => [d.cell, d.source])).toEqual([
      [0, 'import sys'],
      [0, 'sys.path.append("a")'],
      [1, 'import sys'],
    ]);
  });

  it('a value it reads bound again later: later tasks do not run it, and a warning says so', () => {
    const r = flow(['import sys\nd = "a"\nsys.path.append(d)', 'd = "b"', 'print(1)']);
    expect(stateOf(r)).toEqual({ t0: [], t1: ['sys.path.append(d)'], t2: [] });
    expect(r.pipeline.spec.tasks[1]!.inputs).toEqual(['d']);
    expect(r.warnings).toEqual([
      "flow.ipynb: cell 1, line 3, column 1, task 't0': warning: task 't0' changes module state (sys.path.append()): later tasks run this statement again from its source, but task 't1' binds 'd', which it reads, again, so task 't2' and the tasks after it do not run it and do not see that state; set it in a setup cell",
    ]);
  });

  it.each<[string, string[], string, RegExp]>([
    [
      'inside a block',
      ['import pandas as pd'],
      'if True:\n    pd.set_option("display.max_rows", 5)',
      /cell 2, line 2, column 5, task 't0': warning: task 't0' changes module state \(pandas\.set_option\(\)\): it stays in the task's own process, so later tasks do not see it \(it is inside an `if` block, so later tasks cannot run it again from its source\); make it a statement of its own at the top level of a cell, or do it in a setup cell/,
    ],
    [
      'in a for loop',
      ['import sys'],
      'for p in ["a", "b"]:\n    sys.path.append(p)',
      /changes module state \(sys\.path\.append\(\)\): .*\(it is inside a `for` block,/,
    ],
    [
      'a statement that also binds a name',
      ['import os'],
      'mode = os.environ.setdefault("MODE", "fast")',
      /changes module state \(os\.environ\.setdefault\(\)\): .*\(the statement it is part of does more than set it,/,
    ],
    [
      'a state statement that also binds a name',
      ['import sys'],
      'sys.path.append(p := "lib")',
      /changes module state \(sys\.path\.append\(\)\): .*\(it also binds 'p',/,
    ],
    [
      'a state statement that also changes a value',
      ['import sys\npaths = ["lib"]'],
      'sys.path.append(paths.pop())',
      /changes module state \(sys\.path\.append\(\)\): .*\(it also changes 'paths',/,
    ],
    [
      'the GPUs a task sees',
      ['import os'],
      'os.environ["CUDA_VISIBLE_DEVICES"] = "1"',
      /changes module state \(an assignment into 'os' \(os\)\): .*\(the executor sets CUDA_VISIBLE_DEVICES for each task, to the GPUs it holds for it, so later tasks cannot run it again from its source\); ask for GPUs in each task's resources \(gpu:N\) instead of setting CUDA_VISIBLE_DEVICES/,
    ],
    [
      'the GPUs a task sees, by keyword',
      ['import os'],
      'os.environ.update(NVIDIA_VISIBLE_DEVICES="0", MODE="x")',
      /changes module state \(os\.environ\.update\(\)\): .*\(the executor sets NVIDIA_VISIBLE_DEVICES for each task/,
    ],
    [
      'through a function that does it',
      ['import numpy as np\ndef quiet():\n    np.seterr(all="ignore")'],
      'quiet()',
      /task 't0' changes module state \(numpy\.seterr\(\)\): .*\(it is set inside function 'quiet',/,
    ],
  ])('%s is not carried, and reported with why', (_what, setup, source, pattern) => {
    const r = flow([source, 'print(1)'], setup);
    expect(r.warnings.join('\n')).toMatch(pattern);
    expect(stateOf(r)).toEqual({ t0: [], t1: [] });
  });

  it('a class another task defined, changed by assignment (it is defined again from its source elsewhere)', () => {
    expect(warningsOf(['class Config:\n    lr = 0.1', 'Config.lr = 0.01', 'print(Config.lr)']).join('\n')).toMatch(
      /task 't1' changes module state \(an assignment into class 'Config'\): .*\(later tasks define class 'Config' again from its source, without it,/,
    );
  });

  it('global random state is not module state to carry', () => {
    const r = flow(['np.random.seed(0)', 'print(1)'], ['import numpy as np']);
    expect(stateOf(r)).toEqual({ t0: [], t1: [] });
  });

  it('is not carried or reported from a setup cell, or from the last task', () => {
    const fromSetup = flow(['print(1)', 'print(2)'], ['import pandas as pd\npd.set_option("display.max_rows", 5)']);
    expect(fromSetup.warnings).toEqual([]);
    expect(stateOf(fromSetup)).toEqual({ t0: [], t1: [] });
    const fromLast = flow(['print(1)', 'import pandas as pd\npd.set_option("display.max_rows", 5)']);
    expect(fromLast.warnings).toEqual([]);
    expect(stateOf(fromLast)).toEqual({ t0: [], t1: [] });
  });
});

describe('a function that keeps a cache', () => {
  it('defined again in a later task is reported there: its cache starts empty', () => {
    const warnings = warningsOf([
      'from functools import cache, lru_cache\n@cache\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n@lru_cache(None)\ndef g(n):\n    return n',
      'print(fib(300))',
      'print(g(1))',
    ]);
    expect(warnings).toEqual([
      expect.stringContaining("function 'fib' keeps a cache (@cache, cell 1): task 't1' defines it again"),
      expect.stringContaining("function 'g' keeps a cache (@lru_cache, cell 1): task 't2' defines it again"),
    ]);
  });

  it('is not reported where it is defined or for other decorators', () => {
    expect(
      warningsOf(['@cache\ndef f(n):\n    return n\nprint(f(1))', 'x = 1'], ['from functools import cache']),
    ).toEqual([]);
    expect(warningsOf(['@staticmethod\ndef f(n):\n    return n', 'print(f(1))'])).toEqual([]);
  });
});

describe('the global random state', () => {
  it('used by two tasks is reported on the second', () => {
    const warnings = warningsOf(
      ['np.random.seed(0)\na = np.random.rand()', 'print(1)', 'b = np.random.rand()'],
      ['import numpy as np'],
    );
    expect(warnings).toEqual([
      "flow.ipynb: cell 4, line 1, column 5, task 't2': warning: tasks 't0' and 't2' both use the global random state of numpy.random: each task starts it afresh (from the setup cells), so 't2' does not continue the sequence a top-to-bottom run draws; make a generator (numpy.random.default_rng(seed), random.Random(seed), torch.Generator()) and pass it between tasks",
    ]);
  });

  it.each([
    ['random', 'import random', 'random.random()'],
    ['torch', 'import torch', 'torch.randn(3)'],
    ['a function imported by name', 'from random import shuffle', 'shuffle(xs)'],
  ])('%s', (_what, setup, draw) => {
    expect(warningsOf([`xs = [1]\n${draw}`, `xs = [2]\n${draw}`], [setup]).join('\n')).toMatch(
      /both use the global random state of (random|torch)/,
    );
  });

  it('a generator object is not global state: it passes from task to task', () => {
    expect(
      warningsOf(['rng = np.random.default_rng(0)', 'a = rng.random()', 'b = rng.random()'], ['import numpy as np']),
    ).toEqual([]);
  });
});

describe('files order the tasks that use them; packages, environment variables and the directory', () => {
  it('a task that uses a file an earlier task wrote depends on it, and the edge says which file', () => {
    const r = flow(['df = make()\ndf.to_csv("clean.csv")', 'print(1)', 'df2 = pd.read_csv("./clean.csv")']);
    expect(r.warnings).toEqual([]);
    expect(r.flow.t2!.dependsOn).toEqual(['t0']);
    expect(r.flow.t1!.dependsOn).toEqual([]);
    expect(r.result.edges).toEqual([{ from: 't0', to: 't2', variables: [], after: false, files: ['clean.csv'] }]);
  });

  it.each([
    ['open(..., "w")', 'with open("log.txt", "w") as f:\n    f.write("x")', 'print(open("log.txt").read())'],
    ['pathlib', 'Path("out/a.json").write_text("{}")', 'text = Path("out/a.json").read_text()'],
    ['savefig', 'plt.savefig("fig.png")', 'img = load("fig.png")'],
  ])('written with %s', (_what, write, read) => {
    expect(flow([write, read]).flow.t1!.dependsOn).toEqual(['t0']);
  });

  it('the last writer before the task; a writer waits for the tasks that read the version before it', () => {
    const r = flow([
      'open("x.txt", "w").write("1")',
      'a = open("x.txt").read()',
      'b = open("x.txt").read()',
      'open("x.txt", "w").write("2")',
      'c = open("x.txt").read()',
    ]);
    expect(r.flow.t1!.dependsOn).toEqual(['t0']);
    expect(r.flow.t2!.dependsOn).toEqual(['t0']);
    expect(r.flow.t3!.dependsOn).toEqual(['t0', 't1', 't2']);
    expect(r.flow.t4!.dependsOn).toEqual(['t3']);
  });

  it('files only read do not order tasks', () => {
    const r = flow(['a = pd.read_csv("data.csv")', 'b = pd.read_csv("data.csv")']);
    expect(r.flow.t1!.dependsOn).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it.each([
    ['%pip install lightgbm', /'%pip install lightgbm' in task 't0' installs packages in its own environment only/],
    ['!pip install -q lightgbm', /'!pip install -q lightgbm' in task 't0' installs packages/],
    ['%env MODE=fast', /'%env MODE=fast' in task 't0' sets the variable in its own process only/],
    ['%cd data', /'%cd data' in task 't0' changes its own working directory only/],
  ])('%s', (line, pattern) => {
    expect(warningsOf([line, 'print(1)']).join('\n')).toMatch(pattern);
    expect(warningsOf(['print(1)', line])).toEqual([]);
  });
});
