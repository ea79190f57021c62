/**
 * What a notebook run top to bottom by nbclient shows, the runner's executed notebook shows: cells
 * tagged `raises-exception` (their error recorded, the run goes on), display ids and clear_output();
 * and what the runner reports stays within the server's limits (task.json `limits`). The reference is
 * a real nbclient run (server/test/corpus/reference.py) in the project venv; the runner is the real
 * zipapp on a real python3.
 *
 * @slow (npm test runs it; npm run test:fast leaves it out)
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  HAS_KERNEL,
  RUNNER,
  VENV_PYTHON,
  cellOf,
  code,
  newJob,
  runTask,
  streamText,
  task,
  useRunnerRoot,
  writeTask,
  type Cell,
  type NotebookOutput,
  type TaskJson,
} from './runner-fixtures.js';

jest.setTimeout(180_000);
useRunnerRoot();

const REFERENCE = fileURLToPath(new URL('./corpus/reference.py', import.meta.url));

/** A notebook file of code cells (tags per cell), as JupyterLab saves it. */
function writeNotebook(path: string, cells: Cell[]): string {
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: cells.map((c) => ({
      cell_type: 'code',
      id: `c${c.index}`,
      execution_count: null,
      metadata: c.tags ? { tags: c.tags } : {},
      outputs: [],
      source: c.source,
    })),
  };
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, JSON.stringify(nb, null, 1));
  return path;
}

/** What a reader sees of an output: its text, the error's class and message, the shown value. */
function seen(o: NotebookOutput): unknown {
  switch (o.output_type) {
    case 'stream':
      return { stream: o.name, text: Array.isArray(o.text) ? o.text.join('') : o.text };
    case 'error':
      return { error: o.ename, evalue: o.evalue };
    default:
      return { [o.output_type]: o.data?.['text/plain'] };
  }
}

interface Reference {
  status: string;
  error?: { cell: number; ename: string };
  cells: Record<string, NotebookOutput[]>;
}

/** The notebook run top to bottom by nbclient in the project venv. */
function nbclientRun(notebookPath: string): Reference {
  const r = spawnSync(VENV_PYTHON, [REFERENCE, notebookPath, join(notebookPath, '..'), '--timeout', '60'], {
    encoding: 'utf8',
    timeout: 150_000,
  });
  if (r.status !== 0) throw new Error(`reference.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Reference;
}

/** The notebook run as one notebook task of the runner: each cell's outputs, by index. */
async function runnerRun(notebookPath: string, name: string, fields: Partial<TaskJson>, python?: string) {
  const job = newJob();
  const run = await runTask(
    task(job, name, { kind: 'notebook', sourcePath: notebookPath, cells: undefined, cellOffset: 1, ...fields }),
    { python, cwd: join(notebookPath, '..') },
  );
  const cells: Record<string, NotebookOutput[]> = {};
  for (const c of run.notebook.cells) cells[String(c.metadata.cellpipe?.index)] = c.outputs;
  return { run, cells };
}

/**
 * Consecutive text of one stream as one output, as JupyterLab shows it: how a kernel's text is split
 * into messages depends on when its buffer was flushed.
 */
function coalesced(outs: NotebookOutput[]): unknown[] {
  const views: unknown[] = [];
  for (const view of outs.map(seen) as { stream?: string; text?: string }[]) {
    const last = views.at(-1) as { stream?: string; text?: string } | undefined;
    if (view.stream && last?.stream === view.stream) last.text = `${last.text ?? ''}${view.text ?? ''}`;
    else views.push(view);
  }
  return views;
}

function expectSameOutputs(actual: Record<string, NotebookOutput[]>, expected: Record<string, NotebookOutput[]>) {
  const view = (cells: Record<string, NotebookOutput[]>) =>
    Object.fromEntries(Object.entries(cells).map(([i, outs]) => [i, coalesced(outs)]));
  expect(view(actual)).toEqual(view(expected));
}

describe('raises-exception, as nbclient honours it', () => {
  test('the error is recorded in the cell, the next cells run on the namespace as it was', async () => {
    const job = newJob();
    const raising = (index: number, ...lines: string[]): Cell => ({
      ...code(index, ...lines),
      tags: ['raises-exception'],
    });
    const run = await runTask(
      task(job, 'train', {
        engine: 'stdlib',
        cells: [
          code(0, 'x = 1', 'print("start")'),
          raising(1, 'x = 2', 'raise ValueError("expected " + str(x))', 'x = 3'),
          raising(2, 'import sys', 'sys.exit(4)'),
          raising(3, 'print("this one does not raise")'),
          code(4, 'print("after", x)', 'y = x * 10'),
        ],
        outputs: ['y'],
      }),
    );
    expect(run.code).toBe(0);
    expect(run.result.status).toBe('succeeded');
    expect(run.result.error).toBeUndefined();
    expect(run.result.outputs).toEqual(['y']);
    expect(run.stdout).toContain(
      '[cellpipe] cell 2 raised ValueError: expected 2 (tagged raises-exception): the run goes on\n',
    );
    expect(run.stderr).toContain('raise ValueError("expected " + str(x))');
    const failed = cellOf(run.notebook, 1);
    expect(failed.metadata.tags).toEqual(['raises-exception']);
    expect(failed.metadata.cellpipe?.status).toBe('error');
    expect(failed.outputs).toEqual([
      expect.objectContaining({ output_type: 'error', ename: 'ValueError', evalue: 'expected 2' }),
    ]);
    expect(failed.outputs[0]?.traceback?.join('\n')).toContain('File "<cell 2>", line 2');
    expect(cellOf(run.notebook, 2).outputs).toEqual([
      expect.objectContaining({ output_type: 'error', ename: 'SystemExit', evalue: '4' }),
    ]);
    expect(streamText(cellOf(run.notebook, 3))).toBe('this one does not raise\n');
    expect(streamText(cellOf(run.notebook, 4))).toBe('after 2\n');
  });

  test('an untagged cell still ends the run, after a tagged one went on', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'train', {
        engine: 'stdlib',
        cells: [
          { ...code(0, '1 / 0'), tags: ['raises-exception'] },
          code(1, 'undefined_name'),
          code(2, 'print("never")'),
        ],
      }),
    );
    expect(run.code).toBe(1);
    expect(run.result.error).toMatchObject({ reason: 'exception', ename: 'NameError', cell: 2 });
    expect(cellOf(run.notebook, 0).outputs[0]).toMatchObject({ output_type: 'error', ename: 'ZeroDivisionError' });
    expect(run.stdout).not.toContain('never');
  });

  (HAS_KERNEL ? test : test.skip)('a notebook task shows what nbclient shows, in both engines', async () => {
    const dir = join(newJob(), 'nb');
    const path = writeNotebook(join(dir, 'tagged.ipynb'), [
      code(0, 'values = [1, 2]', 'print("start")'),
      { ...code(1, 'values.append(3)', 'values[10]'), tags: ['raises-exception', 'hide-output'] },
      { ...code(2, 'print("before")', 'raise KeyError("k")'), tags: ['raises-exception'] },
      { ...code(3, 'import sys', 'sys.exit()'), tags: ['raises-exception'] },
      code(4, 'print(values)', 'len(values)'),
    ]);
    const reference = nbclientRun(path);
    expect(reference.status).toBe('ok');
    const stdlib = await runnerRun(path, 'stdlib', { engine: 'stdlib' });
    expect(stdlib.run.result.status).toBe('succeeded');
    // IPython follows a SystemExit with a UserWarning of its own (naming its file) that a run without
    // IPython has no reason to print.
    const [exitCell, ...others] = reference.cells['3'] ?? [];
    expect(others.map(seen)).toEqual([{ stream: 'stderr', text: expect.stringContaining('UserWarning: To exit') }]);
    expectSameOutputs(stdlib.cells, { ...reference.cells, '3': [exitCell!] });
    for (const engine of ['kernel', 'ipython'] as const) {
      const { run, cells } = await runnerRun(path, engine, { engine }, VENV_PYTHON);
      expect(run.result).toMatchObject({ status: 'succeeded', runner: { engine } });
      expectSameOutputs(cells, reference.cells);
    }
  });
});

(HAS_KERNEL ? describe : describe.skip)('display ids and clear_output, as nbclient keeps them', () => {
  test('updates reach every output of their id in any cell; clear_output(wait=True) clears before the next output', async () => {
    const dir = join(newJob(), 'nb');
    const path = writeNotebook(join(dir, 'displays.ipynb'), [
      code(
        0,
        'from IPython.display import display, update_display, clear_output',
        'h = display("one", display_id=True)',
      ),
      code(1, 'display("also one", display_id=h.display_id)', 'print("printed")', 'h.update("two")'),
      code(2, 'print("old")', 'clear_output(wait=True)', 'print("new")', 'clear_output(wait=True)'),
      code(3, 'print("gone")', 'clear_output()', 'update_display("three", display_id=h.display_id)', '"last"'),
    ]);
    const reference = nbclientRun(path);
    expect(reference.status).toBe('ok');
    // Not trivially equal: the updates changed cell 0 and 1 after they ran.
    expect(reference.cells['0']?.map(seen)).toEqual([{ display_data: "'three'" }]);
    for (const engine of ['kernel', 'ipython'] as const) {
      const { run, cells } = await runnerRun(path, engine, { engine }, VENV_PYTHON);
      expect(run.result).toMatchObject({ status: 'succeeded', runner: { engine } });
      expectSameOutputs(cells, reference.cells);
    }
  });
});

(HAS_KERNEL ? describe : describe.skip)('the stdlib engine: the history names a kernel keeps', () => {
  test('In, Out, _N, _iN and _ / __ / ___ (left alone once the cells bind _) show what nbclient shows', async () => {
    const dir = join(newJob(), 'nb');
    const path = writeNotebook(join(dir, 'history.ipynb'), [
      code(0, 'x = 6 * 7', 'x'),
      code(1, '_ + 1'),
      code(2, 'print(_, __, Out[1], _1, _2, repr(_i), repr(In[2]), repr(_i3))'),
      code(3, '_ = "mine"', '7'),
      code(4, 'print(_, __, _4, Out[4], len(In), In is _ih, Out is _oh)'),
      code(5, '8;'),
      code(6, 'print(6 in Out, sorted(Out), repr(_iii))', 'Out'),
    ]);
    const reference = nbclientRun(path);
    expect(reference.status).toBe('ok');
    const { run, cells } = await runnerRun(path, 'stdlib', { engine: 'stdlib' });
    expect(run.result.status).toBe('succeeded');
    expectSameOutputs(cells, reference.cells);
  });
});

/**
 * The ipython engine runs the cells in this process in IPython's InteractiveShell set up as a
 * kernel's shell: what notebooks use of IPython behaves as in a kernel, without starting one.
 */
(HAS_KERNEL ? describe : describe.skip)('the ipython engine: IPython in the runner process', () => {
  test('get_ipython(), _ / Out / In, magics, shell lines and rich displays show what nbclient shows', async () => {
    const dir = join(newJob(), 'nb');
    const path = writeNotebook(join(dir, 'ipython.ipynb'), [
      code(0, 'from IPython.display import HTML, Markdown, display', 'x = 6 * 7', 'x'),
      code(1, 'print(_ + 1, Out[1], In[1].splitlines()[1])', '_1 * 2'),
      code(
        2,
        'from IPython.core.interactiveshell import InteractiveShell',
        'ip = get_ipython()',
        'print(isinstance(ip, InteractiveShell), ip.user_ns["x"], hasattr(ip, "kernel"), ip.config.IPKernelApp != {})',
      ),
      code(3, '%time y = sum(range(x))', 'files = !echo listed', 'print(y, files)'),
      code(4, 'display(HTML("<b>bold</b>"), Markdown("*it*"))', 'HTML("<i>last</i>")'),
      code(5, '%%capture captured', 'print("hidden")'),
      code(6, 'print(captured.stdout.strip(), _i5.splitlines()[0])'),
      code(7, 'import pandas as pd', 'pd.DataFrame({"a": [1, 2]})'),
      // The pager's text is a payload in a kernel: nbclient keeps no output of it.
      code(8, 'len?', 'print("after help")'),
    ]);
    const reference = nbclientRun(path);
    expect(reference.status).toBe('ok');
    const { run, cells } = await runnerRun(path, 'ipython', { engine: 'ipython' }, VENV_PYTHON);
    expect(run.result).toMatchObject({ status: 'succeeded', runner: { engine: 'ipython' }, notes: [] });
    // %time's timing line differs from run to run: the rest must not.
    const timing = (outs: NotebookOutput[] = []) =>
      outs.map((o) => (o.output_type === 'stream' ? { ...o, text: String(o.text).replace(/ \d[^\n]*/g, ' T') } : o));
    expectSameOutputs({ ...cells, '3': timing(cells['3']) }, { ...reference.cells, '3': timing(reference.cells['3']) });
    expect(reference.cells['4']?.map((o) => Object.keys(o.data ?? {}).sort())).toEqual([
      ['text/html', 'text/plain'],
      ['text/markdown', 'text/plain'],
      ['text/html', 'text/plain'],
    ]);
    expect(cells['4']?.map((o) => o.data)).toEqual(reference.cells['4']?.map((o) => o.data));
    expect(cells['7']?.[0]?.data?.['text/html']).toEqual(reference.cells['7']?.[0]?.data?.['text/html']);
  });

  test('auto, the default, runs the cells in IPython where it imports, else in the standard library', async () => {
    const job = newJob();
    const cells = [code(0, 'print(type(get_ipython()).__name__ if "get_ipython" in dir() else "none")')];
    // The venv has ipykernel too: auto still runs IPython in the runner's process, not a kernel.
    const byDefault = await runTask(task(job, 'd', { cells }), { python: VENV_PYTHON });
    expect(byDefault.result.runner.engine).toBe('ipython');
    expect(byDefault.stdout).not.toContain('\nnone\n');
    const auto = await runTask(task(job, 'a', { engine: 'auto', cells }), { python: VENV_PYTHON });
    expect(auto.result.runner.engine).toBe('ipython');
    // -I -S: no site-packages, so IPython does not import.
    const bare = await runTask(task(job, 's', { cells }), { python: 'python3', pythonArgs: ['-I', '-S'] });
    expect(bare.result.runner.engine).toBe('stdlib');
    expect(bare.stdout).toContain('\nnone\n');
  });

  test('a failing cell: the error, its IPython traceback and the run as in the stdlib engine', async () => {
    const job = newJob();
    const run = await runTask(
      task(job, 'fail', {
        engine: 'ipython',
        cells: [code(0, 'def f():', '    return 1 / 0'), code(1, 'print("before")', 'f()'), code(2, 'print("never")')],
      }),
      { python: VENV_PYTHON },
    );
    expect(run.code).toBe(1);
    expect(run.result.error).toMatchObject({ reason: 'exception', ename: 'ZeroDivisionError', cell: 2 });
    expect(run.result.error?.traceback).toContain('Cell In[2], line 2');
    expect(run.result.error?.traceback).not.toContain('\x1b[');
    expect(cellOf(run.notebook, 1).outputs.map((o) => o.output_type)).toEqual(['stream', 'error']);
    expect(run.stdout).not.toContain('never');
  });
});

describe("the server's limits on what the runner reports", () => {
  test('a huge exception message is cut to errorBytes in result.json; the frames and the class stay', async () => {
    const job = newJob();
    const errorBytes = 4096;
    const run = await runTask(
      task(job, 'big', {
        engine: 'stdlib',
        cells: [code(0, 'def fail():', '    raise ValueError("é" * 200_000)'), code(1, 'fail()')],
        limits: { errorBytes, resultBytes: 1 << 20 },
      }),
    );
    expect(run.code).toBe(1);
    const error = run.result.error!;
    expect(error).toMatchObject({ reason: 'exception', ename: 'ValueError', cell: 2 });
    expect(Buffer.byteLength(error.message)).toBeLessThanOrEqual(errorBytes);
    expect(error.message).toMatch(/^ValueError: éé.*… \[cellpipe: cut to 4 KB of 390\.6 KB \(limits\.errorBytes\)\]$/s);
    expect(Buffer.byteLength(error.traceback!)).toBeLessThanOrEqual(errorBytes);
    expect(error.traceback).toContain('File "<cell 2>", line 1, in <module>');
    expect(error.traceback).toContain('File "<cell 1>", line 2, in fail');
    // The notebook keeps the whole message: it is under its own 1 MiB bound.
    expect(cellOf(run.notebook, 1).outputs[0]?.evalue).toBe('é'.repeat(200_000));
  });

  test('result.json fits resultBytes: long lists lose their tail and a note says how much', async () => {
    const job = newJob();
    const resultBytes = 16 * 1024;
    const run = await runTask(
      task(job, 'many', {
        engine: 'stdlib',
        cells: [
          code(
            0,
            'import os',
            'for i in range(2000):',
            '    open(os.path.join(os.environ["CELLPIPE_OUTPUT_DIR"], "artifact-%04d.txt" % i), "w").close()',
          ),
        ],
        limits: { errorBytes: 4096, resultBytes },
      }),
    );
    expect(run.code).toBe(0);
    expect(statSync(join(job, 'runs', 'many', 'result.json')).size).toBeLessThanOrEqual(resultBytes);
    const kept = run.result.artifacts.length;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(2000);
    expect(run.result.artifacts[kept - 1]).toBe(`artifact-${String(kept - 1).padStart(4, '0')}.txt`);
    expect(run.result.notes.at(-1)).toEqual({
      cell: null,
      message: `result.json: ${2000 - kept} of artifacts left out to stay under 16 KB (limits.resultBytes)`,
    });
  });

  test('a bad task.json gets the default bounds', async () => {
    const job = newJob();
    const bad = task(job, 'bad', { engine: 'x'.repeat(300_000) as TaskJson['engine'] });
    const path = writeTask(bad, join(job, 'runs', 'bad', 'task.json'));
    const r = spawnSync('python3', [RUNNER, path], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    const result = JSON.parse(readFileSync(bad.resultPath, 'utf8')) as { error: { reason: string; message: string } };
    expect(result.error.reason).toBe('bad-task');
    expect(Buffer.byteLength(result.error.message)).toBeLessThanOrEqual(64 * 1024);
    expect(result.error.message).toMatch(
      /^bad task\.json: engine: expected one of .*'xxx.*… \[cellpipe: cut to 64 KB of 293 KB \(limits\.errorBytes\)\]$/s,
    );
  });
});
