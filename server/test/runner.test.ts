/**
 * The task runner (server/runner/cellpipe_runner/, the zipapp jest's global setup builds from it) run as
 * a real python3 process on real task.json files in a temp dir: what the local and Kubernetes
 * executors rely on. The stdlib engine, unless a test names another.
 *
 * @slow (npm test runs it; npm run test:fast leaves it out)
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunnerDefinition } from '@cellpipe/schema';
import {
  BUILD,
  HAS_KERNEL,
  HAS_NBFORMAT,
  RUNNER,
  VENV_PYTHON,
  cellOf,
  code,
  FINDER,
  collect,
  newJob,
  notebooksWritten,
  runTask,
  spawnRunner,
  streamText,
  task,
  useRunnerRoot,
  writeTask,
  type Notebook,
  type RunnerResult,
  type TaskJson,
} from './runner-fixtures.js';

// Each test starts python3 a few times; a busy shared machine makes that slow.
jest.setTimeout(120_000);

useRunnerRoot({ CELLPIPE_RUNNER_ENGINE: 'stdlib' });

describe('variables between tasks', () => {
  test('outputs of one runner invocation are the inputs of the next', async () => {
    const job = newJob();
    const setup = [code(0, 'import math', 'class Point:', '    def __init__(self, x, y): self.x, self.y = x, y')];
    const prep = await runTask(
      task(job, 'prep', {
        setup,
        cells: [code(1, 'rows = [1, 2, 3]'), code(2, 'p = Point(3, 4)', 'scale = math.sqrt(4)')],
        outputs: ['rows', 'p', 'scale'],
      }),
    );
    expect(prep.stderr).toBe('');
    expect(prep.code).toBe(0);
    expect(prep.result.status).toBe('succeeded');
    expect(prep.result.outputs).toEqual(['rows', 'p', 'scale']);
    expect(prep.result.outputDetails.map((o) => o.type)).toEqual(['list', '__main__.Point', 'float']);
    for (const name of ['rows', 'p', 'scale']) {
      expect(existsSync(join(job, 'artifacts', 'prep', 'vars', `${name}.pkl`))).toBe(true);
    }

    const train = await runTask(
      task(job, 'train', {
        setup,
        inputs: [
          { name: 'rows', from: 'prep' },
          { name: 'p', from: 'prep' },
          { name: 'scale', from: 'prep' },
        ],
        cells: [code(3, 'total = sum(rows) * scale', 'print("total", total, "norm", math.hypot(p.x, p.y))')],
        outputs: ['total'],
      }),
    );
    expect(train.code).toBe(0);
    expect(train.stdout).toContain('total 12.0 norm 5.0\n');
    expect(train.result.outputs).toEqual(['total']);
    // Temp files of the atomic write do not stay behind.
    const vars = readFileSync(join(job, 'artifacts', 'train', 'vars', 'total.pkl'));
    expect(vars.length).toBeGreaterThan(0);
  });

  test('an input that the upstream task never wrote fails with reason "input"', async () => {
    const job = newJob();
    const run = await runTask(task(job, 'train', { inputs: [{ name: 'df', from: 'prep' }], cells: [code(0, 'df')] }));
    expect(run.code).toBe(1);
    expect(run.result.error?.reason).toBe('input');
    expect(run.result.error?.message).toContain("input 'df' from task 'prep' not found");
  });

  test('a class defined in a task cell cannot be loaded downstream: the error says what to do', async () => {
    const job = newJob();
    const prep = await runTask(
      task(job, 'prep', { cells: [code(0, 'class Model: pass', 'm = Model()')], outputs: ['m'] }),
    );
    expect(prep.code).toBe(0);
    const train = await runTask(task(job, 'train', { inputs: [{ name: 'm', from: 'prep' }], cells: [code(1, 'm')] }));
    expect(train.code).toBe(1);
    expect(train.result.error?.reason).toBe('input');
    expect(train.result.error?.message).toMatch(
      /input 'm' from task 'prep' cannot be loaded: AttributeError.*setup cell/,
    );
  });
});

describe('parameters and setup cells', () => {
  test('overrides are injected right after the parameters cell', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'train', {
        setup: [code(0, 'import json')],
        cells: [
          code(1, 'lr = 0.5', 'epochs = 3', 'name = "default"'),
          code(2, 'print(json.dumps({"lr": lr, "epochs": epochs, "name": name, "tags": tags}))'),
        ],
        parametersCell: 1,
        parameters: { lr: 0.01, tags: ['a', 'b'], name: 'run "x"' },
      }),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('{"lr": 0.01, "epochs": 3, "name": "run \\"x\\"", "tags": ["a", "b"]}');
    const ids = run.notebook.cells.map((c) => c.id);
    expect(ids).toEqual(['cell-0', 'cell-1', 'injected-parameters', 'cell-2']);
    const injected = run.notebook.cells[2]!;
    expect(injected.metadata.tags).toEqual(['injected-parameters']);
    expect(injected.source.join('')).toContain("lr = 0.01\ntags = ['a', 'b']\nname = 'run \"x\"'");
  });

  test('without a parameters cell the overrides come before the task cells, after setup', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'train', {
        setup: [code(0, 'seed = 1')],
        cells: [code(4, 'print("seed", seed)')],
        parameters: { seed: 42 },
      }),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('seed 42\n');
    expect(run.notebook.cells.map((c) => c.id)).toEqual(['cell-0', 'injected-parameters', 'cell-4']);
  });

  test('a parameters cell among the setup cells is overridden before the remaining setup cells', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'train', {
        setup: [code(0, 'size = 10'), code(1, 'buffer = [0] * size')],
        cells: [code(2, 'print(len(buffer))')],
        parametersCell: 0,
        parameters: { size: 4 },
      }),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('\n4\n');
  });

  test('setup cells run first, in one module namespace named __main__', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'train', {
        setup: [code(0, 'import os', 'def double(x):', '    return 2 * x')],
        cells: [
          code(5, 'print("main" if __name__ == "__main__" else __name__)'),
          code(6, 'import sys', 'print(double(21), sys.modules["__main__"].double is double)'),
        ],
      }),
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('main\n');
    expect(run.stdout).toContain('42 True\n');
    expect(run.result.cells.map((c) => [c.index, c.role])).toEqual([
      [0, 'setup'],
      [5, 'task'],
      [6, 'task'],
    ]);
  });
});

describe('IPython-ish syntax', () => {
  test('magics, shell and help lines are skipped with a note; %time and %%time are timed', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'prep', {
        cells: [
          code(
            0,
            '%matplotlib inline',
            '!pip install nothing',
            'x = 1',
            'if x:',
            '    !echo inside',
            'files = !ls',
            'len?',
          ),
          code(1, '%%bash', 'echo never', 'exit 1'),
          code(2, '%time y = sum(range(10))', 'print("y", y)'),
          code(3, '%%time', 'z = x + y', 'z'),
          code(4, 's = """', '%not a magic inside a string', '"""', 'print(s.strip())'),
          code(5, '%env STAGE=test', 'import os', 'print(os.environ["STAGE"])'),
          code(6, '!echo skipped', 'total = (10', '% 4)', 'print("mod", total)'),
        ],
      }),
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('[cellpipe] note: cell 1: skipped magic at line 1: %matplotlib inline');
    expect(run.stdout).toContain('[cellpipe] note: cell 1: skipped shell line at line 2: !pip install nothing');
    expect(run.stdout).toContain('[cellpipe] note: cell 1: skipped shell line at line 5: !echo inside');
    expect(run.stdout).toContain('[cellpipe] note: cell 1: skipped shell line at line 6: files = !ls');
    expect(run.stdout).toContain('[cellpipe] note: cell 1: skipped help line at line 7: len?');
    expect(run.stdout).toContain('[cellpipe] note: cell 2: skipped %%bash cell');
    expect(run.stdout).not.toContain('never');
    expect(run.stdout).toMatch(/CPU times: user .*\nWall time: .*\ny 45\n/);
    expect(run.stdout).toContain('%not a magic inside a string\n');
    expect(run.stdout).toContain('test\n');
    // A '%' line continuing an expression in brackets is Python, even in a cell with a shell line.
    expect(run.stdout).toContain('mod 2\n');
    expect(run.result.notes).toHaveLength(7);
    const timed = cellOf(run.notebook, 3);
    expect(streamText(timed)).toMatch(/^CPU times: .*\nWall time: .*\n$/);
    expect(timed.outputs.find((o) => o.output_type === 'execute_result')?.data?.['text/plain']).toBe('46');
  });

  test('%%writefile writes the file a later cell imports', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'prep', {
        cells: [
          code(0, '%%writefile shapes.py', 'def area(w, h):', '    return w * h'),
          code(1, 'import shapes', 'print(shapes.area(6, 7))'),
        ],
      }),
      { cwd: job },
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Writing shapes.py\n');
    expect(run.stdout).toContain('42\n');
    expect(readFileSync(join(job, 'shapes.py'), 'utf8')).toBe('def area(w, h):\n    return w * h\n');
  });

  test('printing text the log cannot encode does not fail the task', async () => {
    const job = newJob();
    const run = await runTask(task(job, 'prep', { cells: [code(0, 'print("bad \\udcff surrogate")', 'print("ok")')] }));
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('bad \\udcff surrogate\nok\n');
  });

  test('top-level await runs, like in Jupyter', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'prep', {
        cells: [code(0, 'import asyncio', 'async def f():', '    return 7', 'v = await f()', 'v * 6')],
      }),
    );
    expect(run.code).toBe(0);
    expect(cellOf(run.notebook, 0).outputs[0]?.data?.['text/plain']).toBe('42');
  });
});

describe('errors', () => {
  test('an exception names the 1-based cell and keeps only user frames in the traceback', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'train', {
        setup: [code(0, 'def divide(a, b):', '    return a / b')],
        cells: [code(3, 'print("before")'), code(4, 'x = 1', 'divide(x, 0)'), code(5, 'print("never")')],
      }),
    );
    expect(run.code).toBe(1);
    const error = run.result.error!;
    expect(run.result.status).toBe('failed');
    expect(error.cell).toBe(5);
    expect(error.ename).toBe('ZeroDivisionError');
    expect(error.message).toBe('ZeroDivisionError: division by zero');
    expect(error.reason).toBe('exception');
    expect(error.traceback).toContain(
      'Traceback (most recent call last):\n  File "<cell 5>", line 2, in <module>\n    divide(x, 0)',
    );
    expect(error.traceback).toContain('File "<cell 1>", line 2, in divide\n    return a / b');
    expect(error.traceback).not.toContain('cellpipe_runner');
    expect(run.stderr).toContain(error.traceback!);
    expect(run.stdout).not.toContain('never');
    const failed = cellOf(run.notebook, 4);
    const out = failed.outputs.find((o) => o.output_type === 'error')!;
    expect(out.ename).toBe('ZeroDivisionError');
    expect(out.evalue).toBe('division by zero');
    expect(out.traceback!.join('\n')).toContain('<cell 5>');
    expect(cellOf(run.notebook, 5).execution_count).toBeNull();
    expect(run.result.cells.map((c) => c.position)).toEqual([1, 4, 5]);
  });

  test('a cellOffset other than 1 shifts the reported cell', async () => {
    const job = newJob();
    const run = await runTask(task(job, 'train', { cellOffset: 0, cells: [code(2, 'raise KeyError("k")')] }));
    expect(run.result.error?.cell).toBe(2);
    expect(run.result.error?.traceback).toContain('File "<cell 2>", line 1');
  });

  test('a syntax error is reported with its cell and line', async () => {
    const job = newJob();
    const run = await runTask(task(job, 'train', { cells: [code(0, 'x = 1'), code(1, 'y = (', 'print(y)')] }));
    expect(run.code).toBe(1);
    expect(run.result.error).toMatchObject({ cell: 2, ename: 'SyntaxError', reason: 'syntax' });
    expect(run.result.error?.traceback).toContain('File "<cell 2>", line 1');
  });

  test('sys.exit(0) ends the task successfully; sys.exit(3) fails it', async () => {
    const job = newJob();
    const ok = await runTask(
      task(job, 'a', {
        cells: [code(0, 'import sys', 'done = True', 'sys.exit(0)'), code(1, 'print("never")')],
        outputs: ['done'],
      }),
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toContain('never');
    expect(ok.result.outputs).toEqual(['done']);
    const bad = await runTask(task(job, 'b', { cells: [code(0, 'import sys', 'sys.exit(3)')] }));
    expect(bad.code).toBe(1);
    expect(bad.result.error).toMatchObject({ reason: 'exit', cell: 1, ename: 'SystemExit' });
  });

  test('an output that cannot be pickled fails with reason "serialization", naming it and its type', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'prep', { cells: [code(0, 'good = 1', 'gen = (i for i in range(3))')], outputs: ['good', 'gen'] }),
    );
    expect(run.code).toBe(1);
    expect(run.result.status).toBe('failed');
    expect(run.result.error?.reason).toBe('serialization');
    expect(run.result.error?.message).toMatch(
      /^output 'gen' \(type generator\) of task 'prep' cannot be pickled, so it cannot pass to other tasks: TypeError: /,
    );
    expect(existsSync(join(job, 'artifacts', 'prep', 'vars', 'gen.pkl'))).toBe(false);
  });

  test('a lambda and a closure pass by value: the next task calls them without defining them', async () => {
    const job = newJob();
    const prep = await runTask(
      task(job, 'prep', {
        cells: [code(0, 'def make(k):', '    return lambda x: x * k', 'f = lambda x: x + 1', 'g = make(3)')],
        outputs: ['f', 'g'],
      }),
    );
    expect(prep.code).toBe(0);
    const use = await runTask(
      task(job, 'use', {
        inputs: ['f', 'g'].map((name) => ({ name, from: 'prep' })),
        cells: [code(1, 'print(f(1), g(2))')],
      }),
    );
    expect(use.stderr).toBe('');
    expect(use.stdout).toContain('2 6\n');
  });

  test('a declared output the cells never assigned fails with a clear message', async () => {
    const job = newJob();
    const run = await runTask(task(job, 'prep', { cells: [code(0, 'modle = 1')], outputs: ['model'] }));
    expect(run.code).toBe(1);
    expect(run.result.error?.reason).toBe('missing-output');
    expect(run.result.error?.message).toBe("output 'model' was declared but the task's cells never assigned it");
  });
});

describe('files, environment and the executed notebook', () => {
  test('artifact files go to CELLPIPE_OUTPUT_DIR and are read downstream from CELLPIPE_INPUT_DIR', async () => {
    const job = newJob();
    const prep = await runTask(
      task(job, 'prep', {
        cells: [
          code(
            0,
            'import os, pathlib',
            'out = pathlib.Path(os.environ["CELLPIPE_OUTPUT_DIR"])',
            '(out / "sub").mkdir()',
            '(out / "sub" / "data.csv").write_text("a,b\\n1,2\\n")',
            'print({k: v for k, v in os.environ.items() if k.startswith("CELLPIPE_")})',
          ),
        ],
      }),
    );
    expect(prep.code).toBe(0);
    expect(prep.result.artifacts).toEqual(['sub/data.csv']);
    expect(readFileSync(join(job, 'artifacts', 'prep', 'files', 'sub', 'data.csv'), 'utf8')).toBe('a,b\n1,2\n');
    expect(prep.stdout).toContain(`'CELLPIPE_JOB_ID': 'job123'`);
    expect(prep.stdout).toContain(`'CELLPIPE_TASK_ID': 'job123-prep'`);
    expect(prep.stdout).toContain(`'CELLPIPE_TASK_NAME': 'prep'`);
    expect(prep.stdout).toContain(`'CELLPIPE_OUTPUT_DIR': '${join(job, 'artifacts', 'prep', 'files')}'`);
    expect(prep.stdout).toContain(`'CELLPIPE_INPUT_DIR': '${join(job, 'artifacts')}'`);

    const train = await runTask(
      task(job, 'train', {
        cells: [
          code(
            1,
            'import os',
            'print(open(os.path.join(os.environ["CELLPIPE_INPUT_DIR"], "prep", "files", "sub", "data.csv")).read())',
          ),
        ],
      }),
    );
    expect(train.code).toBe(0);
    expect(train.stdout).toContain('a,b\n1,2\n');
  });

  test('the executed notebook is nbformat 4.5 with stream, execute_result, display_data and error outputs', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'report', {
        setup: [code(0, 'import sys')],
        cells: [
          code(1, 'print("out line")', 'print("err line", file=sys.stderr)', '6 * 7'),
          code(
            2,
            'class Table:',
            '    def _repr_html_(self): return "<table></table>"',
            '    def __repr__(self): return "Table()"',
            'display(Table())',
            'print("after")',
            '"quiet";',
          ),
          code(3, 'raise ValueError("bad value")'),
        ],
      }),
    );
    expect(run.code).toBe(1);
    const nb = run.notebook;
    expect(nb.nbformat).toBe(4);
    expect(nb.nbformat_minor).toBe(5);
    expect(nb.metadata).toMatchObject({ kernelspec: { name: 'python3' }, language_info: { name: 'python' } });
    expect(new Set(nb.cells.map((c) => c.id)).size).toBe(nb.cells.length);
    for (const cell of nb.cells) {
      expect(cell.cell_type).toBe('code');
      expect(cell.id).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
      expect(Array.isArray(cell.source)).toBe(true);
    }
    expect(cellOf(nb, 0).metadata.tags).toEqual(['cellpipe-setup']);
    const first = cellOf(nb, 1);
    expect(first.execution_count).toBe(2);
    expect(first.source.join('')).toBe('print("out line")\nprint("err line", file=sys.stderr)\n6 * 7');
    expect(first.outputs).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'out line\n' },
      { output_type: 'stream', name: 'stderr', text: 'err line\n' },
      { output_type: 'execute_result', execution_count: 2, data: { 'text/plain': '42' }, metadata: {} },
    ]);
    const second = cellOf(nb, 2);
    expect(second.outputs).toEqual([
      { output_type: 'display_data', data: { 'text/plain': 'Table()', 'text/html': '<table></table>' }, metadata: {} },
      { output_type: 'stream', name: 'stdout', text: 'after\n' },
    ]);
    const third = cellOf(nb, 3);
    expect(third.outputs[0]).toMatchObject({ output_type: 'error', ename: 'ValueError', evalue: 'bad value' });
  });

  test('whole-notebook tasks read the code cells of the file and leave the file untouched', async () => {
    const job = newJob();
    const source = JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {},
      cells: [
        { cell_type: 'markdown', id: 'm', metadata: {}, source: ['# Title'] },
        {
          cell_type: 'code',
          id: 'p',
          metadata: { tags: ['parameters'] },
          source: ['n = 1'],
          outputs: [],
          execution_count: null,
        },
        {
          cell_type: 'code',
          id: 'c',
          metadata: {},
          source: ['print("n is", n)\n', 'result = n * 2'],
          outputs: [],
          execution_count: null,
        },
      ],
    });
    const nbPath = join(job, 'analysis.ipynb');
    writeFileSync(nbPath, source);
    const t = task(job, 'analysis', {
      kind: 'notebook',
      sourcePath: nbPath,
      parameters: { n: 5 },
      outputs: ['result'],
    });
    delete t.cells;
    const run = await runTask(t);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('[cellpipe] cell 2\n');
    expect(run.stdout).toContain('n is 5\n');
    expect(run.notebook.cells.map((c) => c.id)).toEqual(['cell-1', 'injected-parameters', 'cell-2']);
    expect(readFileSync(nbPath, 'utf8')).toBe(source);
  });

  test('script tasks run the file as one cell with the script name in tracebacks', async () => {
    const job = newJob();
    const scriptPath = join(job, 'train.py');
    writeFileSync(
      scriptPath,
      'import sys\n\ndef main():\n    print("argv", sys.argv)\n    raise RuntimeError("boom")\n\nif __name__ == "__main__":\n    sys.exit(main())\n',
    );
    const t = task(job, 'train', { kind: 'script', sourcePath: scriptPath });
    delete t.cells;
    const run = await runTask(t);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`argv ['${scriptPath}']`);
    expect(run.result.error).toMatchObject({ cell: 1, ename: 'RuntimeError', message: 'RuntimeError: boom' });
    expect(run.result.error?.traceback).toContain(
      `File "${scriptPath}", line 5, in main\n    raise RuntimeError("boom")`,
    );
  });

  test('imports resolve from the working directory, as in Jupyter, not from the runner zipapp', async () => {
    const job = newJob();
    writeFileSync(join(job, 'helpers.py'), 'def answer():\n    return 42\n');
    // Named like modules of the runner's package: the user's own files win.
    writeFileSync(join(job, 'engine.py'), 'WHO = "user"\n');
    writeFileSync(join(job, 'contract.py'), 'WHO = "user"\n');
    const run = await runTask(
      task(job, 'prep', {
        cells: [
          code(
            0,
            'import sys, helpers, engine, contract',
            'print(helpers.answer(), engine.WHO, contract.WHO, sys.path[0] == "", sys.path[-1].endswith(".pyz"))',
          ),
        ],
      }),
      { cwd: job },
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('42 user user True True\n');
  });

  /** The zipapp of the build rewritten so its bytecode carries another Python version's magic number. */
  function foreignBytecode(pyz: string): void {
    const rewrite = [
      'import sys, zipfile',
      'src, dst = sys.argv[1], sys.argv[2]',
      'with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:',
      '    for info in zin.infolist():',
      '        data = zin.read(info)',
      '        if info.filename.endswith(".pyc"):',
      '            data = (int.from_bytes(data[:2], "little") ^ 0x5A5A).to_bytes(2, "little") + data[2:]',
      '        zout.writestr(info, data)',
    ].join('\n');
    const r = spawnSync('python3', ['-c', rewrite, RUNNER, pyz], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
  }

  test.each([
    ['without bytecode', (pyz: string) => spawnSync('python3', [BUILD, pyz, '--no-bytecode'], { encoding: 'utf8' })],
    ["with another Python version's bytecode", foreignBytecode],
  ])('a zipapp %s (what a Python other than the one that built it reads) behaves the same', async (_what, make) => {
    const job = newJob();
    const pyz = join(job, 'cellpipe_runner.pyz');
    make(pyz);
    const listing = spawnSync('python3', ['-m', 'zipfile', '-l', pyz], { encoding: 'utf8' }).stdout;
    expect(listing).toContain('cellpipe_runner/engine.py');
    const run = await runTask(task(job, 'prep', { cells: [code(0, 'x = [1]'), code(1, 'x[3]')], outputs: ['x'] }), {
      runner: pyz,
    });
    expect(run.stderr).toContain('IndexError');
    expect(run.code).toBe(1);
    expect(run.result.error).toMatchObject({ cell: 2, ename: 'IndexError', reason: 'exception' });
    expect(run.result.error?.traceback).toBe(
      'Traceback (most recent call last):\n  File "<cell 2>", line 1, in <module>\n    x[3]\n    ~^^^\nIndexError: list index out of range\n',
    );
  });

  test('logs stream a [cellpipe] cell N marker before each cell', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'prep', { setup: [code(0, 'print("s")')], cells: [code(2, 'print("a")'), code(7, 'print("b")')] }),
    );
    const lines = run.stdout.split('\n').filter((l) => !l.startsWith('[cellpipe] task'));
    expect(lines.slice(0, 6)).toEqual(['[cellpipe] cell 1', 's', '[cellpipe] cell 3', 'a', '[cellpipe] cell 8', 'b']);
  });
});

describe('cancellation', () => {
  test('SIGTERM writes a cancelled result.json and exits 143', async () => {
    const job = newJob();
    const t = task(job, 'slow', {
      cells: [code(0, 'x = 1'), code(1, 'import time', 'print("ready", flush=True)', 'time.sleep(60)')],
    });
    const path = writeTask(t, join(job, 'runs', 'slow', 'task.json'));
    const child = spawnRunner(path, job);
    let signalled = false;
    const run = await collect(child, (stdout) => {
      if (!signalled && stdout.includes('ready\n')) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    expect(run.code).toBe(143);
    const result = JSON.parse(readFileSync(t.resultPath, 'utf8')) as RunnerResult;
    expect(result.status).toBe('cancelled');
    expect(result.error).toMatchObject({ reason: 'cancelled', cell: 2 });
    expect(result.error?.message).toBe('cancelled by SIGTERM while running cell 2');
    const nb = JSON.parse(readFileSync(t.notebookPath, 'utf8')) as Notebook;
    expect(streamText(cellOf(nb, 1))).toBe('ready\n');
    notebooksWritten.push(t.notebookPath);
  });

  test("the cells' own SIGTERM handler runs (a checkpoint on preemption), then the run ends as cancelled", async () => {
    const job = newJob();
    const t = task(job, 'train', {
      cells: [
        code(
          0,
          'import signal, sys, time',
          'def on_term(signum, frame):',
          '    print("saving checkpoint", flush=True)',
          '    sys.exit(0)',
          'signal.signal(signal.SIGTERM, on_term)',
        ),
        code(1, 'print("ready", flush=True)', 'time.sleep(60)'),
        code(2, 'print("never")'),
      ],
    });
    const path = writeTask(t, join(job, 'runs', 'train', 'task.json'));
    const child = spawnRunner(path, job);
    let signalled = false;
    const run = await collect(child, (stdout) => {
      if (!signalled && stdout.includes('ready\n')) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    expect(run.stdout).toContain('saving checkpoint\n');
    expect(run.stdout).not.toContain('never');
    expect(run.code).toBe(143);
    const result = JSON.parse(readFileSync(t.resultPath, 'utf8')) as RunnerResult;
    expect(result.status).toBe('cancelled');
    expect(result.error).toMatchObject({
      reason: 'cancelled',
      cell: 2,
      message: 'cancelled by SIGTERM while running cell 2',
    });
  });

  test('forked children terminated by their parent, even right after fork(), do not cancel the task', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'fork', {
        cells: [
          code(
            0,
            'import os, signal, time',
            'killed = True',
            'for _ in range(10):',
            '    pid = os.fork()',
            '    if pid == 0:',
            '        time.sleep(30)',
            '        os._exit(0)',
            '    os.kill(pid, signal.SIGTERM)  # at once: the child may not even have run yet',
            '    _, status = os.waitpid(pid, 0)',
            '    killed = killed and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM',
            'print("child killed by SIGTERM:", killed)',
          ),
        ],
        outputs: ['killed'],
      }),
    );
    expect(run.code).toBe(0);
    expect(run.result.status).toBe('succeeded');
    expect(run.stdout).toContain('child killed by SIGTERM: True\n');
    expect(run.stderr).toBe('');
  });
});

describe('bad task.json', () => {
  async function badRun(content: unknown) {
    const job = newJob();
    const path = writeTask(content, join(job, 'task.json'));
    return collect(spawnRunner(path, job));
  }

  test.each([
    ['a missing field', (t: TaskJson) => ({ ...t, cells: undefined }), 'cells: is required'],
    [
      'a wrong type',
      (t: TaskJson) => ({ ...t, cells: [{ index: 0, source: 3 }] }),
      'cells[0].source: expected a string, got a number',
    ],
    [
      'an input from outside the job',
      (t: TaskJson) => ({ ...t, inputs: [{ name: 'x', from: '../etc' }] }),
      "inputs[0].from: not a task name: '../etc'",
    ],
    [
      'an output that is not a name',
      (t: TaskJson) => ({ ...t, outputs: ['ok', 'no-dash'] }),
      "outputs[1]: not a Python identifier: 'no-dash'",
    ],
    [
      'a relative path',
      (t: TaskJson) => ({ ...t, outputDir: 'rel/dir' }),
      "outputDir: expected an absolute path, got 'rel/dir'",
    ],
    [
      'a name bound twice',
      (t: TaskJson) => ({
        ...t,
        inputs: [
          { name: 'x', from: 'a' },
          { name: 'x', from: 'b' },
        ],
      }),
      "inputs[1].name: 'x' is already an input",
    ],
    [
      'an unknown kind',
      (t: TaskJson) => ({ ...t, kind: 'shell' }),
      "kind: expected one of cells, notebook, script, got 'shell'",
    ],
  ])('%s exits 2 naming the field', async (_what, change, message) => {
    const base = task(newJob(), 'prep', { cells: [code(0, 'pass')] });
    const run = await badRun(change(base));
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stdout).toBe('');
  });

  test('invalid JSON exits 2', async () => {
    const run = await badRun('{"jobId": ');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/is not valid JSON/);
  });

  test('a bad task.json still leaves a failed result.json where it names one', async () => {
    const base = task(newJob(), 'prep', { cells: [code(0, 'pass')] });
    const run = await badRun({ ...base, parameters: [] });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('parameters: expected an object, got an array');
    const result = JSON.parse(readFileSync(base.resultPath, 'utf8')) as RunnerResult;
    expect(result.status).toBe('failed');
    expect(result.error?.reason).toBe('bad-task');
  });
});

/** A definition passed by source: `source` starts at `line` of cell `cell` (0-based). */
const def = (kind: RunnerDefinition['kind'], names: string[], cell: number, line: number, ...lines: string[]) => ({
  kind,
  names,
  cell,
  line,
  source: lines.join('\n'),
});

/**
 * A task after the one that made `finder` (task a) and registered it: the compiler has it define the
 * class, load the instance (which waits for the class) and run the registration again.
 */
/** Task a: cell 0 defines the hook, makes `finder` and registers it. */
const registerFinder = (job: string, options?: Parameters<typeof runTask>[1]) =>
  runTask(
    task(job, 'a', {
      cells: [code(0, ...FINDER, 'finder = Finder()', 'sys.meta_path.append(finder)')],
      outputs: ['finder'],
    }),
    options,
  );

const FINDER_USER = {
  definitions: [
    def('import', ['sys'], 0, 1, 'import sys'),
    def('import', ['importlib'], 0, 1, 'import importlib.abc'),
    def('import', ['importlib'], 0, 1, 'import importlib.util'),
    def('class', ['Finder'], 0, 2, ...FINDER.slice(1)),
    def('state', [], 0, 10, 'sys.meta_path.append(finder)'),
  ],
  inputs: [{ name: 'finder', from: 'a' }],
  cells: [code(1, 'import made_here', 'print(made_here.answer)')],
};

/**
 * A pipeline gives the values a top-to-bottom run gives: what the compiler decides (versions after an
 * in-place change, definitions passed by source, read-only inputs) arrives in task.json, written by
 * hand here, and the runner carries it out.
 */
describe('tasks see what a top-to-bottom run sees', () => {
  const MODEL = [
    'class Model:',
    '    def __init__(self):',
    '        self.w = None',
    '',
    '    def fit(self, xs, ys):',
    '        self.w = sum(y / x for x, y in zip(xs, ys)) / len(xs)',
    '',
    '    def predict(self, x):',
    '        return self.w * x',
  ];

  test('evaluate sees the fitted model: a class defined in one task, an instance passed on and changed', async () => {
    const job = newJob();
    const model = def('class', ['Model'], 1, 1, ...MODEL);
    const init = await runTask(
      task(job, 'init', { cells: [code(1, ...MODEL), code(2, 'model = Model()')], outputs: ['model'] }),
    );
    expect(init.result.outputDetails).toEqual([expect.objectContaining({ name: 'model', type: '__main__.Model' })]);
    // train changes model in place: the compiler makes that a new version, which evaluate reads.
    const train = await runTask(
      task(job, 'train', {
        definitions: [model],
        inputs: [{ name: 'model', from: 'init' }],
        cells: [code(3, 'model.fit([1, 2, 3], [2, 4, 6])')],
        outputs: ['model'],
      }),
    );
    expect(train.stderr).toBe('');
    const evaluate = await runTask(
      task(job, 'evaluate', {
        definitions: [model],
        inputs: [{ name: 'model', from: 'train', readOnly: true }],
        cells: [code(4, 'print(model.predict(10))')],
      }),
    );
    expect(evaluate.stderr).toBe('');
    expect(evaluate.code).toBe(0);
    expect(evaluate.stdout).toContain('[cellpipe] definitions\n');
    expect(evaluate.stdout).toContain('\n20.0\n');
    expect(evaluate.result.warnings).toEqual([]);
  });

  test('a random generator advances between tasks', async () => {
    const job = newJob();
    await runTask(task(job, 'seed', { cells: [code(0, 'import random', 'rng = random.Random(7)')], outputs: ['rng'] }));
    const first = await runTask(
      task(job, 'first', {
        inputs: [{ name: 'rng', from: 'seed' }],
        cells: [code(1, 'print(rng.random())')],
        outputs: ['rng'],
      }),
    );
    const second = await runTask(
      task(job, 'second', { inputs: [{ name: 'rng', from: 'first' }], cells: [code(2, 'print(rng.random())')] }),
    );
    const expected = spawnSync(
      'python3',
      ['-c', 'import random; r = random.Random(7); print(r.random()); print(r.random())'],
      {
        encoding: 'utf8',
      },
    ).stdout.split('\n');
    expect(first.stdout).toContain(`\n${expected[0]}\n`);
    expect(second.stdout).toContain(`\n${expected[1]}\n`);
  });

  test('a module imported in one task works in the next: the import statement runs there', async () => {
    const job = newJob();
    const imports = [
      def('import', ['json'], 0, 1, 'import json'),
      def('import', ['dumps', 'ld'], 0, 2, 'from json import dumps, loads as ld'),
    ];
    await runTask(
      task(job, 'a', {
        cells: [code(0, 'import json', 'from json import dumps, loads as ld', 'x = {"k": 1}')],
        outputs: ['x'],
      }),
    );
    const b = await runTask(
      task(job, 'b', {
        definitions: imports,
        inputs: [{ name: 'x', from: 'a' }],
        cells: [code(1, 'print(json.dumps(x), dumps(x) == json.dumps(x), ld("[1]"))')],
      }),
    );
    expect(b.stderr).toBe('');
    expect(b.stdout).toContain('{"k": 1} True [1]\n');
  });

  test('functions and classes run by source keep their cell and lines: tracebacks, inspect.getsource, decorators', async () => {
    const job = newJob();
    const cell1 = [
      'import functools, math',
      '',
      'def twice(f):',
      '    @functools.wraps(f)',
      '    def inner(*a):',
      '        return 2 * f(*a)',
      '    return inner',
      '',
      '@twice',
      'def norm(p):',
      '    if p.x < 0:',
      '        raise ValueError("negative x")',
      '    return math.hypot(p.x, p.y)',
      '',
      'class Point:',
      '    def __init__(self, x, y):',
      '        self.x, self.y = x, y',
    ];
    const definitions = [
      def('import', ['functools', 'math'], 0, 1, cell1[0]!),
      def('function', ['twice'], 0, 3, ...cell1.slice(2, 7)),
      def('function', ['norm'], 0, 9, ...cell1.slice(8, 13)),
      def('class', ['Point'], 0, 15, ...cell1.slice(14)),
    ];
    await runTask(
      task(job, 'a', {
        cells: [code(0, ...cell1), code(1, 'p = Point(3, 4)', 'q = Point(-1, 0)')],
        outputs: ['p', 'q'],
      }),
    );
    const b = await runTask(
      task(job, 'b', {
        definitions,
        inputs: [
          { name: 'p', from: 'a' },
          { name: 'q', from: 'a' },
        ],
        cells: [
          code(
            2,
            'import inspect',
            'print(norm(p), type(p) is Point)',
            'print(inspect.getsource(norm.__wrapped__), end="")',
          ),
          code(3, 'norm(q)'),
        ],
      }),
    );
    expect(b.stdout).toContain('10.0 True\n');
    expect(b.stdout).toContain(cell1.slice(8, 13).join('\n') + '\n');
    expect(b.result.error).toMatchObject({ cell: 4, ename: 'ValueError', reason: 'exception' });
    expect(b.result.error?.traceback).toContain(
      'File "<cell 1>", line 12, in norm\n    raise ValueError("negative x")',
    );
    expect(b.result.error?.traceback).toContain('File "<cell 1>", line 6, in inner');
    expect(b.result.error?.traceback).not.toContain('cellpipe_runner');
  });

  test('a definition that fails names the cell and the statement', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'b', {
        definitions: [def('import', ['nowhere'], 2, 3, 'import nowhere_to_be_found as nowhere')],
        cells: [code(5, 'print("never")')],
      }),
    );
    expect(run.code).toBe(1);
    expect(run.stdout).not.toContain('never');
    expect(run.result.error).toMatchObject({ cell: 3, ename: 'ModuleNotFoundError', reason: 'exception' });
    expect(run.result.error?.message).toContain('cell 3, `import nowhere_to_be_found as nowhere`');
    expect(run.result.error?.traceback).toContain('File "<cell 3>", line 3, in <module>');
  });

  test('a state statement runs after the class and the input it reads; one that fails names itself', async () => {
    const job = newJob();
    await registerFinder(job);
    const b = await runTask(task(job, 'b', FINDER_USER));
    expect(b.stderr).toBe('');
    expect(b.stdout).toContain('42\n');
    const broken = await runTask(
      task(job, 'c', {
        definitions: [def('state', [], 2, 2, 'sys.path.append(nowhere)')],
        cells: [code(5, 'print("never")')],
      }),
    );
    expect(broken.code).toBe(1);
    expect(broken.stdout).not.toContain('never');
    expect(broken.result.error).toMatchObject({ cell: 3, ename: 'NameError', reason: 'exception' });
    expect(broken.result.error?.message).toContain(
      'cell 3, `sys.path.append(nowhere)` (it sets module state in an earlier task, run here again by source): NameError',
    );
  });

  test('a read-only input changed in place is reported with the task, the variable and the cell', async () => {
    const job = newJob();
    await runTask(
      task(job, 'load', {
        cells: [code(0, 'xs = [3, 1, 2]', 'config = {"lr": 0.1}', 'big = bytes(4 << 20)')],
        outputs: ['xs', 'config', 'big'],
      }),
    );
    const run = await runTask(
      task(job, 'report', {
        inputs: [
          { name: 'xs', from: 'load', readOnly: true },
          { name: 'config', from: 'load', readOnly: true },
          { name: 'big', from: 'load', readOnly: true },
        ],
        cells: [
          code(4, 'print(len(xs), config["lr"], len(big))'),
          code(5, 'xs.sort()'),
          code(6, 'config = dict(config, lr=0.2)', 'xs.append(4)'),
        ],
      }),
    );
    expect(run.code).toBe(0);
    // Sorted in place in cell 6 (index 5); config was rebound, not changed; big never changed.
    expect(run.result.warnings).toEqual([
      {
        kind: 'input-mutated',
        variable: 'xs',
        task: 'report',
        cell: 5,
        position: 6,
        message: expect.stringMatching(/^task 'report' changed input 'xs' \(from 'load'\) in place in cell 6/),
      },
    ]);
    expect(run.stdout).toContain("[cellpipe] warning: task 'report' changed input 'xs'");
  });

  test('the runner keeps no reference to an input it does not check: deleting it frees it', async () => {
    const job = newJob();
    await runTask(
      task(job, 'a', { cells: [code(0, 'import array', 'buf = array.array("d", range(10))')], outputs: ['buf'] }),
    );
    const run = await runTask(
      task(job, 'b', {
        inputs: [{ name: 'buf', from: 'a' }],
        cells: [
          code(
            1,
            'import gc, weakref',
            'ref = weakref.ref(buf)',
            'del buf',
            'gc.collect()',
            'print("freed", ref() is None)',
          ),
        ],
      }),
    );
    expect(run.stdout).toContain('freed True\n');
  });

  test('a read-only input too costly to check after every cell is checked once the cells are done', async () => {
    const job = newJob();
    await runTask(
      task(job, 'load', { cells: [code(0, 'big = {i: str(i) for i in range(400000)}')], outputs: ['big'] }),
    );
    const run = await runTask(
      task(job, 'use', {
        inputs: [{ name: 'big', from: 'load', readOnly: true }],
        cells: [code(1, 'big[-1] = "changed"'), code(2, 'print(len(big))')],
      }),
    );
    expect(run.code).toBe(0);
    expect(run.result.warnings).toEqual([
      {
        kind: 'input-mutated',
        variable: 'big',
        task: 'use',
        message: expect.stringContaining(
          "changed input 'big' (from 'load') in place (noticed once the cells were done)",
        ),
      },
    ]);
  });

  test('an output that cannot cross a task boundary names the variable, its type, the task and the cell', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'load', {
        cells: [code(2, 'import threading', 'lock = threading.Lock()'), code(3, 'print("ok")')],
        outputs: ['lock'],
        outputOrigins: { lock: 2 },
      }),
    );
    expect(run.result.error).toMatchObject({ reason: 'serialization', cell: 3 });
    expect(run.result.error?.message).toMatch(
      /^output 'lock' \(type _thread\.lock\) of task 'load', bound in cell 3, cannot be pickled/,
    );
  });

  test('%time and %timeit run their statement in the user namespace, as in IPython', async () => {
    const job = newJob();
    await runTask(task(job, 'a', { cells: [code(0, 'data = list(range(10))')], outputs: ['data'] }));
    const b = await runTask(
      task(job, 'b', {
        inputs: [{ name: 'data', from: 'a' }],
        cells: [
          code(1, '%time total = sum(data)'),
          code(2, 'calls = []', '%timeit -n 2 -r 3 calls.append(len(data))', 'print(len(calls))'),
          code(3, '%%timeit -n 1 -r 1 seen = len(calls)', 'calls.append(seen)'),
          code(4, 'print("x")', '%time sum(data) * 2'),
        ],
        outputs: ['total', 'calls'],
      }),
    );
    expect(b.stderr).toBe('');
    expect(b.result.outputs).toEqual(['total', 'calls']);
    // %time of an expression: the value is the cell's result, as in IPython.
    const timedValue = cellOf(b.notebook, 4).outputs.find((o) => o.output_type === 'execute_result');
    expect(timedValue?.data?.['text/plain']).toBe('90');
    expect(b.stdout).toMatch(/Wall time: .*\n/);
    expect(b.stdout).toMatch(/ ± .* per loop \(mean ± std\. dev\. of 3 runs, 2 loops each\)\n6\n/);
    const check = await runTask(
      task(job, 'c', {
        inputs: [
          { name: 'total', from: 'b' },
          { name: 'calls', from: 'b' },
        ],
        cells: [code(4, 'print(total, calls)')],
      }),
    );
    expect(check.stdout).toContain('45 [10, 10, 10, 10, 10, 10, 6]\n');
  });

  test('a cell whose lines are all indented runs dedented, as in IPython', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'a', { cells: [code(0, '    x = 1', '    if x:', '        print("x is", x)', '    x')] }),
    );
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('x is 1\n');
    expect(cellOf(run.notebook, 0).source.join('')).toBe('    x = 1\n    if x:\n        print("x is", x)\n    x');
  });

  test('Unicode names: Π, and 𝜋 which Python folds to π, as outputs, inputs and parameters', async () => {
    const job = newJob();
    const a = await runTask(task(job, 'a', { cells: [code(0, 'Π = 3', '𝜋 = 3.14')], outputs: ['Π', '𝜋'] }), {
      unchecked: true,
    });
    expect(a.stderr).toBe('');
    expect(a.result.outputs).toEqual(['Π', 'π']);
    expect(existsSync(join(job, 'artifacts', 'a', 'vars', 'π.pkl'))).toBe(true);
    const b = await runTask(
      task(job, 'b', {
        inputs: [
          { name: 'Π', from: 'a' },
          { name: '𝜋', from: 'a' },
        ],
        parameters: { 𝛼: 2 },
        cells: [code(1, 'print(Π * π * α)')],
      }),
      { unchecked: true },
    );
    expect(b.stderr).toBe('');
    expect(b.stdout).toContain('18.84\n');
  });

  test('nbformat 3 notebooks run (worksheets, input); older ones are refused naming their nbformat', async () => {
    const job = newJob();
    const v3 = join(job, 'old.ipynb');
    writeFileSync(
      v3,
      JSON.stringify({
        nbformat: 3,
        nbformat_minor: 0,
        metadata: { name: 'old' },
        worksheets: [
          {
            cells: [
              { cell_type: 'heading', level: 1, source: ['Old'], metadata: {} },
              { cell_type: 'code', language: 'python', input: ['x = 6\n', 'y = 7'], outputs: [], metadata: {} },
              { cell_type: 'markdown', source: 'text', metadata: {} },
              { cell_type: 'code', language: 'python', input: 'print(x * y)', outputs: [], metadata: {} },
            ],
            metadata: {},
          },
        ],
      }),
    );
    const t = task(job, 'old', { kind: 'notebook', sourcePath: v3, outputs: ['y'] });
    delete t.cells;
    const run = await runTask(t);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('[cellpipe] cell 4\n42\n');
    expect(run.notebook.nbformat).toBe(4);
    expect(run.notebook.cells.map((c) => c.id)).toEqual(['cell-1', 'cell-3']);

    const v2 = join(job, 'older.ipynb');
    writeFileSync(v2, JSON.stringify({ nbformat: 2, worksheets: [] }));
    const refused = task(job, 'older', { kind: 'notebook', sourcePath: v2 });
    delete refused.cells;
    const path = writeTask(refused, join(job, 'runs', 'older', 'task.json'));
    const r = await collect(spawnRunner(path, job));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`sourcePath: ${v2} is nbformat 2: only nbformat 4 and 3 notebooks can run`);
  });
});

/**
 * The optional kernel engine (`"engine": "kernel"` or CELLPIPE_RUNNER_ENGINE=kernel) runs the same
 * task.json in an IPython kernel: same result.json, variable files, log markers, notebook and exit
 * codes; magics and shell lines run for real. Covered where the project venv has ipykernel.
 */
(HAS_KERNEL ? describe : describe.skip)('kernel engine', () => {
  const kernel = { python: VENV_PYTHON };

  test('variables move between stdlib and kernel runs; parameters and setup cells as in the stdlib engine', async () => {
    const job = newJob();
    const setup = [code(0, 'class Point:', '    def __init__(self, x, y): self.x, self.y = x, y')];
    const prep = await runTask(task(job, 'prep', { setup, cells: [code(1, 'p = Point(3, 4)')], outputs: ['p'] }));
    expect(prep.code).toBe(0);
    const train = await runTask(
      task(job, 'train', {
        engine: 'kernel',
        setup,
        inputs: [{ name: 'p', from: 'prep' }],
        cells: [
          code(2, 'scale = 1'),
          code(3, 'print(__name__, (p.x ** 2 + p.y ** 2) ** 0.5 * scale)', 'q = Point(p.x * scale, 0)'),
        ],
        parametersCell: 2,
        parameters: { scale: 10 },
        outputs: ['q'],
      }),
      kernel,
    );
    expect(train.stderr).toBe('');
    expect(train.code).toBe(0);
    expect(train.result.runner.engine).toBe('kernel');
    expect(train.stdout).toContain('[cellpipe] cell 4\n__main__ 50.0\n');
    expect(train.notebook.cells.map((c) => c.id)).toEqual(['cell-0', 'cell-2', 'injected-parameters', 'cell-3']);
    expect(train.result.outputDetails).toEqual([{ name: 'q', type: '__main__.Point', bytes: expect.any(Number) }]);
    const report = await runTask(
      task(job, 'report', { setup, inputs: [{ name: 'q', from: 'train' }], cells: [code(4, 'print("x", q.x)')] }),
    );
    expect(report.stdout).toContain('x 30\n');
  });

  test('the kernel pickles as the runner does: by value what no task defines by source, by reference the rest', async () => {
    const job = newJob();
    const made = await runTask(
      task(job, 'make', {
        engine: 'kernel',
        cells: [
          code(0, 'import collections', 'class Point:', '    def __init__(self, x): self.x = x'),
          code(1, 'P = collections.namedtuple("P", "x y")', 'p = P(1, 2)', 'fs = [lambda v: v + 1]', 'q = Point(7)'),
        ],
        outputs: ['P', 'p', 'fs', 'q'],
      }),
      kernel,
    );
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const used = await runTask(
      task(job, 'use', {
        inputs: ['P', 'p', 'fs', 'q'].map((name) => ({ name, from: 'make' })),
        definitions: [
          {
            kind: 'class',
            names: ['Point'],
            cell: 0,
            line: 2,
            source: 'class Point:\n    def __init__(self, x): self.x = x',
          },
        ],
        cells: [code(2, 'print(isinstance(p, P), P(3, 4), fs[0](1), isinstance(q, Point), q.x)')],
      }),
    );
    expect(used.stderr).toBe('');
    expect(used.stdout).toContain('True P(x=3, y=4) 2 True 7\n');
  });

  test('magics and shell lines run for real; env and artifact folder are the same', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'prep', {
        cells: [
          code(
            0,
            '!echo "from the shell $CELLPIPE_TASK_NAME"',
            'files = !ls "$CELLPIPE_OUTPUT_DIR"',
            'print("listed", files)',
          ),
          code(1, '%%bash', 'echo "bash says hi" > "$CELLPIPE_OUTPUT_DIR/hi.txt"'),
          code(2, '%time x = 6 * 7', 'x'),
        ],
        outputs: ['x'],
      }),
      { ...kernel, env: { CELLPIPE_RUNNER_ENGINE: 'kernel' } },
    );
    expect(run.code).toBe(0);
    expect(run.result.runner.engine).toBe('kernel');
    expect(run.stdout).toContain('from the shell prep');
    expect(run.stdout).toContain('listed []\n');
    expect(run.result.notes).toEqual([]);
    expect(run.result.artifacts).toEqual(['hi.txt']);
    expect(readFileSync(join(job, 'artifacts', 'prep', 'files', 'hi.txt'), 'utf8')).toBe('bash says hi\n');
    expect(cellOf(run.notebook, 2).outputs.find((o) => o.output_type === 'execute_result')).toEqual({
      output_type: 'execute_result',
      execution_count: 3,
      data: { 'text/plain': '42' },
      metadata: {},
    });
  });

  test("an exception names the 1-based cell; the traceback is IPython's, without colour codes", async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'train', {
        engine: 'kernel',
        cells: [code(3, 'print("before")'), code(4, 'x = 1', 'x / 0'), code(5, 'print("never")')],
      }),
      kernel,
    );
    expect(run.code).toBe(1);
    expect(run.result.error).toMatchObject({
      cell: 5,
      ename: 'ZeroDivisionError',
      reason: 'exception',
      message: 'ZeroDivisionError: division by zero',
    });
    expect(run.result.error?.traceback).toContain('Cell In[5], line 2');
    expect(run.result.error?.traceback).not.toContain('\u001b[');
    expect(run.stderr).toContain('[cellpipe] task failed: ZeroDivisionError: division by zero');
    expect(run.stdout).not.toContain('never');
    expect(cellOf(run.notebook, 4).outputs.find((o) => o.output_type === 'error')).toMatchObject({
      ename: 'ZeroDivisionError',
    });
    expect(cellOf(run.notebook, 5).execution_count).toBeNull();
  });

  test('outputs fail the same way: unpicklable, missing; sys.exit(0) succeeds, sys.exit(3) fails', async () => {
    const job = newJob();
    const bad = await runTask(
      task(job, 'a', { engine: 'kernel', cells: [code(0, 'gen = (i for i in range(3))')], outputs: ['gen'] }),
      kernel,
    );
    expect(bad.result.error?.reason).toBe('serialization');
    expect(bad.result.error?.message).toMatch(
      /^output 'gen' \(type generator\) of task 'a' cannot be pickled.*: TypeError: /,
    );
    const missing = await runTask(
      task(job, 'b', { engine: 'kernel', cells: [code(0, 'modle = 1')], outputs: ['model'] }),
      kernel,
    );
    expect(missing.result.error?.message).toBe("output 'model' was declared but the task's cells never assigned it");
    const ok = await runTask(
      task(job, 'c', {
        engine: 'kernel',
        cells: [code(0, 'import sys', 'done = 1', 'sys.exit(0)'), code(1, 'print("never")')],
        outputs: ['done'],
      }),
      kernel,
    );
    expect(ok.code).toBe(0);
    expect(ok.stdout).not.toContain('never');
    const exit3 = await runTask(
      task(job, 'd', { engine: 'kernel', cells: [code(0, 'import sys', 'sys.exit(3)')] }),
      kernel,
    );
    expect(exit3.code).toBe(1);
    expect(exit3.result.error).toMatchObject({ reason: 'exit', cell: 1, ename: 'SystemExit' });
  });

  test('a state statement runs after the class and the input it reads in the kernel and in IPython too', async () => {
    const job = newJob();
    await registerFinder(job, kernel);
    for (const engine of ['kernel', 'ipython'] as const) {
      const b = await runTask(task(job, `b-${engine}`, { ...FINDER_USER, engine }), kernel);
      expect(b.result.runner.engine).toBe(engine);
      expect(b.result.error).toBeUndefined();
      expect(b.stdout).toContain('42\n');
    }
  });

  test('definitions, inputs that need them and read-only checks run in the kernel too', async () => {
    const job = newJob();
    const point = ['class Point:', '    def __init__(self, x, y):', '        self.x, self.y = x, y'];
    await runTask(task(job, 'a', { cells: [code(0, ...point), code(1, 'p = Point(3, 4)')], outputs: ['p'] }));
    const run = await runTask(
      task(job, 'b', {
        engine: 'kernel',
        definitions: [def('import', ['math'], 0, 1, 'import math'), def('class', ['Point'], 0, 2, ...point)],
        inputs: [{ name: 'p', from: 'a', readOnly: true }],
        cells: [code(2, 'print(math.hypot(p.x, p.y))'), code(3, 'p.x = 0')],
      }),
      kernel,
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('5.0\n');
    expect(run.result.runner.engine).toBe('kernel');
    expect(run.result.warnings).toEqual([expect.objectContaining({ kind: 'input-mutated', variable: 'p', cell: 3 })]);
  });

  test("a result's text/plain is the same in both engines (IPython's pretty printer)", async () => {
    const job = newJob();
    const cells = [
      code(
        0,
        'import collections, types',
        'class Model:',
        '    pass',
        'def fit(x, y=2, *a, **k):',
        '    pass',
        'Model',
      ),
      code(1, 'fit'),
      code(2, '{"nested": {"z": [1, 2, 3] * 10, "a": 2}, "b": {"x", "a", "m"}}'),
      code(3, '[("a" * 30, i) for i in range(4)] + [frozenset({"b", "a"}), (1,), set()]'),
      code(4, 'collections.Counter("hello world"), collections.OrderedDict(a=1), ValueError("bad", 3)'),
      code(5, 'types.SimpleNamespace(a=1, b=[1] * 40), len, list(range(1200))'),
      code(6, 'display({"k": list(range(30))})'),
    ];
    const plain = (nb: Notebook) =>
      nb.cells.map((c) =>
        c.outputs.filter((o) => o.data?.['text/plain'] !== undefined).map((o) => o.data!['text/plain']),
      );
    const stdlib = await runTask(task(job, 'std', { cells }), kernel);
    const inKernel = await runTask(task(job, 'ker', { engine: 'kernel', cells }), kernel);
    expect(stdlib.code).toBe(0);
    expect(inKernel.code).toBe(0);
    expect(plain(stdlib.notebook)).toEqual(plain(inKernel.notebook));
    expect(plain(stdlib.notebook)[0]).toEqual(['__main__.Model']);
  });

  test('SIGTERM cancels the run and takes the kernel and its children with it', async () => {
    const job = newJob();
    const t = task(job, 'slow', {
      engine: 'kernel',
      cells: [
        code(
          0,
          'import os, subprocess, time',
          'child = subprocess.Popen(["sleep", "60"])',
          'print("pids", os.getpid(), child.pid, flush=True)',
          'time.sleep(60)',
        ),
      ],
    });
    const path = writeTask(t, join(job, 'runs', 'slow', 'task.json'));
    const child = spawnRunner(path, job, kernel);
    let pids: number[] = [];
    const run = await collect(child, (stdout) => {
      const m = /pids (\d+) (\d+)\n/.exec(stdout);
      if (m && pids.length === 0) {
        pids = [Number(m[1]), Number(m[2])];
        child.kill('SIGTERM');
      }
    });
    expect(run.code).toBe(143);
    const result = JSON.parse(readFileSync(t.resultPath, 'utf8')) as RunnerResult;
    expect(result.status).toBe('cancelled');
    expect(result.error).toMatchObject({ reason: 'cancelled', cell: 1 });
    for (const pid of pids) {
      // The kernel runs in its own process group, so the runner, not the executor, has to end it.
      const alive = spawnSync('sh', ['-c', `ps -o stat= -p ${pid} | grep -v Z`]).status === 0;
      expect(alive).toBe(false);
    }
  });

  test('a kernel that dies in a cell fails the task with reason "kernel" and the cell', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'crash', {
        engine: 'kernel',
        cells: [code(0, 'x = 1'), code(1, 'import os, signal', 'os.kill(os.getpid(), signal.SIGKILL)')],
      }),
      kernel,
    );
    expect(run.code).toBe(1);
    expect(run.result.error).toMatchObject({
      reason: 'kernel',
      cell: 2,
      message: 'the kernel died while running cell 2',
    });
  });

  test('asking for the kernel engine where ipykernel is missing fails with reason "kernel"', async () => {
    const plain = spawnSync('python3', ['-c', 'import ipykernel'], { stdio: 'ignore' }).status !== 0;
    if (!plain) return; // this python3 has ipykernel: nothing to prove here
    const job = newJob();
    const run = await runTask(task(job, 'prep', { engine: 'kernel', cells: [code(0, 'pass')] }));
    expect(run.code).toBe(1);
    expect(run.result.error?.reason).toBe('kernel');
    expect(run.result.error?.message).toMatch(/needs jupyter_client and ipykernel/);
  });
});

/** Runs last: nbformat's own validator (the nbformat 4.5 JSON Schema) on every notebook written above. */
(HAS_NBFORMAT ? describe : describe.skip)('executed notebooks', () => {
  test('every executed notebook of this file is valid nbformat 4.5', () => {
    expect(notebooksWritten.length).toBeGreaterThan(20);
    const check = spawnSync(
      VENV_PYTHON,
      [
        '-c',
        [
          'import sys, nbformat',
          'for path in sys.argv[1:]:',
          '    nb = nbformat.read(path, as_version=4)',
          '    assert (nb.nbformat, nb.nbformat_minor) == (4, 5), path',
          '    nbformat.validate(nb)',
          'print("valid", len(sys.argv) - 1)',
        ].join('\n'),
        ...notebooksWritten,
      ],
      { encoding: 'utf8' },
    );
    expect(check.stderr).toBe('');
    expect(check.stdout).toBe(`valid ${notebooksWritten.length}\n`);
  });
});
