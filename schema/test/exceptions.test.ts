/**
 * Where a pipeline can differ from a top-to-bottom run and the analysis can see it, a warning says
 * so, naming the task and the cell: module state, global random state, files, installed packages,
 * environment variables and the working directory stay in the process of the task that changed them.
 */
import { flow } from './helpers.js';

const warningsOf = (sources: Parameters<typeof flow>[0], setup: Parameters<typeof flow>[1] = []) =>
  flow(sources, setup).warnings;

describe('module state stays in the task that changes it', () => {
  it.each<[string, string[], string, RegExp]>([
    [
      'an option set through a module',
      ['import pandas as pd'],
      'pd.set_option("display.max_rows", 5)',
      /cell 2, line 1, column 1, task 't0': warning: task 't0' changes module state \(pandas\.set_option\(\)\): it stays in the task's own process, so later tasks do not see it; do it in a setup cell/,
    ],
    [
      'an assignment into a module',
      ['import os'],
      'os.environ["MODE"] = "fast"',
      /task 't0' changes module state \(an assignment into 'os' \(os\)\)/,
    ],
    ['sys.path', ['import sys'], 'sys.path.append("lib")', /task 't0' changes module state \(sys\.path\.append\(\)\)/],
    [
      'a function imported by name',
      ['from warnings import filterwarnings'],
      'filterwarnings("ignore")',
      /task 't0' changes module state \(warnings\.filterwarnings\(\)\)/,
    ],
    [
      'through a function that does it',
      ['import numpy as np\ndef quiet():\n    np.seterr(all="ignore")'],
      'quiet()',
      /task 't0' changes module state \(numpy\.seterr\(\)\)/,
    ],
  ])('%s', (_what, setup, source, pattern) => {
    expect(warningsOf([source, 'print(1)'], setup).join('\n')).toMatch(pattern);
  });

  it('a class another task defined, changed by assignment (it is defined again from its source elsewhere)', () => {
    expect(warningsOf(['class Config:\n    lr = 0.1', 'Config.lr = 0.01', 'print(Config.lr)']).join('\n')).toMatch(
      /task 't1' changes module state \(an assignment into class 'Config'\)/,
    );
  });

  it('is not reported from a setup cell, or from the last task', () => {
    expect(warningsOf(['print(1)'], ['import pandas as pd\npd.set_option("display.max_rows", 5)'])).toEqual([]);
    expect(warningsOf(['print(1)', 'import pandas as pd\npd.set_option("display.max_rows", 5)'])).toEqual([]);
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
