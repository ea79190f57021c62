/** Tag grammar, cell metadata, notebook metadata and the errors a user can act on. */
import { compileNotebook, formatDiagnostic, taskCode, type Diagnostic, type Pipeline } from '../src/index.js';
import { notebook, type CellArg } from './helpers.js';

function compile(cells: CellArg[], metadata: Record<string, unknown> = {}) {
  return compileNotebook(notebook(cells, metadata), { path: 'nb/demo.ipynb' });
}

function ok(cells: CellArg[], metadata: Record<string, unknown> = {}): Pipeline {
  const r = compile(cells, metadata);
  if (!r.pipeline) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return r.pipeline;
}

function errors(cells: CellArg[], metadata: Record<string, unknown> = {}): string[] {
  const r = compile(cells, metadata);
  expect(r.pipeline).toBeUndefined();
  return r.diagnostics.filter((d: Diagnostic) => d.severity === 'error').map(formatDiagnostic);
}

const task = (p: Pipeline, name: string) => p.spec.tasks.find((t) => t.name === name)!;

describe('tag grammar', () => {
  it('task:NAME starts a task and untagged cells after it belong to it', () => {
    const p = ok([[['task:a'], 'x = 1'], 'y = 2', [['task:b'], 'print(x)'], 'print(y)']);
    expect(p.spec.tasks.map((t) => [t.name, t.cells])).toEqual([
      ['a', [0, 1]],
      ['b', [2, 3]],
    ]);
  });

  it('cells before the first task and cells tagged setup anywhere are setup cells', () => {
    const p = ok([
      'import os',
      'K = 1',
      [['task:a'], 'x = K'],
      [['setup'], 'def helper():\n    return 1'],
      'print(helper(), x)',
    ]);
    expect(p.spec.setupCells).toEqual([0, 1, 3]);
    expect(task(p, 'a').cells).toEqual([2, 4]);
    expect(task(p, 'a').inputs).toEqual([]);
  });

  it('skip leaves a cell out; markdown and raw cells are ignored', () => {
    const p = ok([
      { type: 'markdown', source: '# title', tags: ['task:nope'] },
      [['task:a'], 'x = 1'],
      [['skip'], 'raise SystemExit'],
      { type: 'raw', source: 'raw text' },
      'print(x)',
      [['skip'], 'import broken'],
    ]);
    expect(p.spec.tasks.map((t) => [t.name, t.cells])).toEqual([['a', [1, 4]]]);
    expect(p.spec.setupCells).toEqual([]);
  });

  it('a skipped first cell keeps the task boundary', () => {
    const p = ok([[['task:a'], 'x = 1'], [['task:b', 'skip', 'gpu:1'], 'print("scratch")'], 'print(x)']);
    expect(p.spec.tasks.map((t) => [t.name, t.cells, t.resources])).toEqual([
      ['a', [0], {}],
      ['b', [2], { gpu: 1 }],
    ]);
  });

  it('after:NAME is repeatable and adds to inferred edges', () => {
    const p = ok([
      [['task:a'], 'x = 1'],
      [['task:b'], 'y = 2'],
      [['task:c', 'after:a', 'after:b'], 'print(1)'],
      [['task:d', 'after:a'], 'print(y)'],
    ]);
    expect(task(p, 'c').dependsOn).toEqual(['a', 'b']);
    expect(task(p, 'd').dependsOn).toEqual(['a', 'b']);
  });

  it.each<[string[], Record<string, unknown>]>([
    [['gpu:2'], { resources: { gpu: 2 } }],
    [['gpu:0'], { resources: { gpu: 0 } }],
    [['mig:3g.20gb'], { resources: { mig: '3g.20gb' } }],
    [['cpu:500m', 'memory:16Gi'], { resources: { cpu: '500m', memory: '16Gi' } }],
    [['image:registry.example.com/team/train:1.2'], { image: 'registry.example.com/team/train:1.2' }],
    [['retries:3'], { retries: 3 }],
    [['timeout:90m'], { timeout: '90m' }],
    [['timeout:2h'], { timeout: '2h' }],
    [['env:MODE=fast', 'env:EMPTY='], { env: { MODE: 'fast', EMPTY: '' } }],
    [['hide-input', 'remove-output', 'skip-execution'], { resources: {} }],
  ])('settings tags %j', (tags, expected) => {
    const p = ok([[['task:a', ...tags], 'x = 1']]);
    expect(task(p, 'a')).toMatchObject(expected);
  });

  it('settings tags on a later cell of the task apply to the task', () => {
    const p = ok([
      [['task:a'], 'x = 1'],
      [['gpu:1'], 'y = 2'],
    ]);
    expect(task(p, 'a').resources).toEqual({ gpu: 1 });
  });

  it('the parameters cell gives spec.parameters, runs as setup and is never passed', () => {
    const p = ok([
      'import math',
      [
        ['parameters'],
        'lr = 0.01  # learning rate\nepochs = 3\nname = "run"\nuse_gpu = False\nlayers = [64, 32]\nopts = {"a": 1}\nnothing = None\nneg = -2\nhexa = 0x10\nsci = 1e-3',
      ],
      [['task:train'], 'print(lr * epochs, name, layers, opts)'],
    ]);
    expect(p.spec.parametersCell).toBe(1);
    expect(p.spec.setupCells).toEqual([0, 1]);
    expect(p.spec.parameters).toEqual({
      lr: { default: 0.01, type: 'number', description: 'learning rate' },
      epochs: { default: 3, type: 'integer' },
      name: { default: 'run', type: 'string' },
      use_gpu: { default: false, type: 'boolean' },
      layers: { default: [64, 32], type: 'list' },
      opts: { default: { a: 1 }, type: 'dict' },
      nothing: { default: null, type: 'null' },
      neg: { default: -2, type: 'integer' },
      hexa: { default: 16, type: 'integer' },
      sci: { default: 0.001, type: 'number' },
    });
    expect(task(p, 'train').inputs).toEqual([]);
  });

  it.each<[string, unknown]>([
    ["s = 'it\\'s'", "it's"],
    ['s = r"C:\\new"', 'C:\\new'],
    ['s = "a" "b"', 'ab'],
    ['s = """multi\nline"""', 'multi\nline'],
    ['s = "tab\\there"', 'tab\there'],
    ['s = 1.0', 1],
    ['s = 1_000', 1000],
    ['s = (1, "x")', [1, 'x']],
  ])('parameter literal %s', (source, value) => {
    const p = ok([
      [['parameters'], source],
      [['task:a'], 'print(s)'],
    ]);
    expect(p.spec.parameters['s']?.default).toEqual(value);
  });

  it('a non-literal parameter is a warning, not a parameter', () => {
    const r = compile([
      [['parameters'], 'import os\nroot = os.getcwd()\nn = 2'],
      [['task:a'], 'print(root, n)'],
    ]);
    expect(Object.keys(r.pipeline!.spec.parameters)).toEqual(['n']);
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      "nb/demo.ipynb: cell 1, line 2, column 1: warning: parameter 'root' is not a literal value (number, string, bool, None, list or dict): it cannot be overridden per run",
    ]);
  });
});

describe('metadata.cellpipe', () => {
  it('tags and structured metadata compile to the same spec', () => {
    const tagged = ok([
      'import os',
      [['task:prep', 'cpu:2', 'memory:4Gi'], 'data = [1]'],
      [
        ['task:train', 'after:prep', 'gpu:1', 'image:repo/img:1', 'retries:2', 'timeout:2h', 'env:MODE=fast'],
        'print(1)',
      ],
      [['setup'], 'K = 1'],
      [['skip'], 'print(2)'],
      [['task:evaluate', 'mig:1g.10gb'], 'print(data)'],
    ]);
    const structured = ok([
      'import os',
      { source: 'data = [1]', cellpipe: { task: 'prep', resources: { cpu: '2', memory: '4Gi' } } },
      {
        source: 'print(1)',
        cellpipe: {
          task: 'train',
          after: ['prep'],
          resources: { gpu: 1 },
          image: 'repo/img:1',
          retries: 2,
          timeout: '2h',
          env: { MODE: 'fast' },
        },
      },
      { source: 'K = 1', cellpipe: { setup: true } },
      { source: 'print(2)', cellpipe: { skip: true } },
      { source: 'print(data)', cellpipe: { task: 'evaluate', resources: { mig: '1g.10gb' } } },
    ]);
    expect(structured).toEqual(tagged);
  });

  it('metadata wins over tags', () => {
    const p = ok([
      {
        source: 'x = 1',
        tags: ['task:a', 'gpu:1', 'retries:1'],
        cellpipe: { task: 'b', resources: { gpu: 2 }, retries: 4 },
      },
    ]);
    expect(p.spec.tasks.map((t) => [t.name, t.resources, t.retries])).toEqual([['b', { gpu: 2 }, 4]]);
  });

  it('notebook metadata gives the name, defaults and pipeline settings', () => {
    const p = ok(
      [
        [['task:a', 'gpu:1'], 'x = 1'],
        [['task:b', 'memory:8Gi', 'image:other/img:2'], 'print(x)'],
      ],
      {
        cellpipe: {
          name: 'nightly',
          defaults: {
            resources: { cpu: '1', memory: '1Gi', mig: '1g.10gb' },
            image: 'base/img:1',
            env: { A: '1' },
            retries: 1,
            timeout: '1h',
          },
          failurePolicy: 'fail-fast',
          maxParallel: 3,
          timeout: '6h',
          schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin' },
        },
      },
    );
    expect(p.metadata.name).toBe('nightly');
    expect(p.spec).toMatchObject({
      failurePolicy: 'fail-fast',
      maxParallel: 3,
      timeout: '6h',
      schedule: { cron: '0 3 * * *', timezone: 'Europe/Berlin', paused: false },
    });
    expect(task(p, 'a')).toMatchObject({
      resources: { gpu: 1, cpu: '1', memory: '1Gi' },
      image: 'base/img:1',
      env: { A: '1' },
      retries: 1,
      timeout: '1h',
    });
    expect(task(p, 'b')).toMatchObject({
      resources: { cpu: '1', memory: '8Gi', mig: '1g.10gb' },
      image: 'other/img:2',
    });
  });

  it('the pipeline name comes from the file name when metadata has none', () => {
    const r = compileNotebook(notebook([[['task:a'], 'x = 1']]), { path: 'work/My Analysis (v2).ipynb' });
    expect(r.pipeline?.metadata.name).toBe('My-Analysis-v2');
    expect(r.pipeline?.spec.source).toEqual({ notebook: 'My Analysis (v2).ipynb' });
  });
});

describe('errors name the cell and the task', () => {
  it.each<[string, CellArg[], string]>([
    [
      'unknown after: target',
      [
        [['task:a'], 'x = 1'],
        [['task:train', 'after:prep'], 'print(x)'],
      ],
      "nb/demo.ipynb: cell 2, task 'train': unknown after: target 'prep' (tasks: a, train)",
    ],
    [
      'after itself',
      [[['task:a', 'after:a'], 'x = 1']],
      "nb/demo.ipynb: cell 1, task 'a': task 'a' cannot run after itself",
    ],
    [
      'duplicate task names',
      [
        [['task:a'], 'x = 1'],
        [['task:b'], 'y = 1'],
        [['task:a'], 'z = 1'],
      ],
      "nb/demo.ipynb: cell 3, task 'a': duplicate task name 'a': task 'a' already starts at cell 1",
    ],
    [
      'gpu:-1',
      [[['task:a', 'gpu:-1'], 'x = 1']],
      "nb/demo.ipynb: cell 1, task 'a': invalid GPU count in 'gpu:-1': use a whole number from 0 to 64 (for a GPU slice use mig:PROFILE)",
    ],
    [
      'gpu:two',
      [[['task:a', 'gpu:two'], 'x = 1']],
      "nb/demo.ipynb: cell 1, task 'a': invalid GPU count in 'gpu:two': use a whole number from 0 to 64 (for a GPU slice use mig:PROFILE)",
    ],
    [
      'gpu:1.5',
      [
        [['task:a'], 'x = 1'],
        [['gpu:1.5'], 'y = 1'],
      ],
      "nb/demo.ipynb: cell 2, task 'a': invalid GPU count in 'gpu:1.5': use a whole number from 0 to 64 (for a GPU slice use mig:PROFILE)",
    ],
    [
      'mig:huge',
      [[['task:a', 'mig:huge'], 'x = 1']],
      `nb/demo.ipynb: cell 1, task 'a': invalid 'mig:huge': MIG profile must look like "1g.10gb" or "3g.20gb"`,
    ],
    [
      'gpu and mig',
      [[['task:a', 'gpu:1', 'mig:1g.10gb'], 'x = 1']],
      "nb/demo.ipynb: cell 1, task 'a': ask for whole GPUs (gpu:N) or one MIG slice (mig:PROFILE), not both",
    ],
    [
      'cpu:lots',
      [[['task:a', 'cpu:lots'], 'x = 1']],
      `nb/demo.ipynb: cell 1, task 'a': invalid 'cpu:lots': CPU must be a Kubernetes quantity such as "2", "0.5" or "500m"`,
    ],
    [
      'memory:big',
      [[['task:a', 'memory:big'], 'x = 1']],
      `nb/demo.ipynb: cell 1, task 'a': invalid 'memory:big': memory must be a Kubernetes quantity such as "512Mi" or "16Gi"`,
    ],
    [
      'timeout:soon',
      [[['task:a', 'timeout:soon'], 'x = 1']],
      `nb/demo.ipynb: cell 1, task 'a': invalid 'timeout:soon': duration must look like "90s", "90m", "2h" or "1h30m"`,
    ],
    [
      'retries:many',
      [[['task:a', 'retries:many'], 'x = 1']],
      "nb/demo.ipynb: cell 1, task 'a': invalid retry count in 'retries:many': use a whole number from 0 to 20",
    ],
    [
      'image:Bad Image',
      [[['task:a', 'image:Bad Image'], 'x = 1']],
      `nb/demo.ipynb: cell 1, task 'a': invalid 'image:Bad Image': image must be a container image reference such as "registry/team/image:tag"`,
    ],
    [
      'env without value',
      [[['task:a', 'env:MODE'], 'x = 1']],
      "nb/demo.ipynb: cell 1, task 'a': invalid 'env:MODE': write env:NAME=VALUE",
    ],
    [
      'bad task name',
      [[['task:1st'], 'x = 1']],
      `nb/demo.ipynb: cell 1: invalid task name in 'task:1st': task names start with a letter and hold only letters, digits, "_" and "-" (at most 63)`,
    ],
    ['task without a name', [[['task:'], 'x = 1']], "nb/demo.ipynb: cell 1: tag 'task:' needs a value: task:NAME"],
    [
      'unknown tag gpus:2',
      [[['task:a', 'gpus:2'], 'x = 1']],
      "nb/demo.ipynb: cell 1, task 'a': unknown tag 'gpus:2' (did you mean gpu:N (whole GPUs)?)",
    ],
    [
      'unknown tag tasks:x',
      [[['tasks:x'], 'x = 1']],
      "nb/demo.ipynb: cell 1: unknown tag 'tasks:x' (did you mean task:NAME?)",
    ],
    [
      'unknown tag mem:4Gi',
      [[['task:a', 'mem:4Gi'], 'x = 1']],
      "nb/demo.ipynb: cell 1, task 'a': unknown tag 'mem:4Gi' (did you mean memory:QUANTITY (e.g. memory:16Gi)?)",
    ],
    [
      'unknown tag parameter',
      [[['parameter'], 'x = 1']],
      "nb/demo.ipynb: cell 1: unknown tag 'parameter' (did you mean parameters?)",
    ],
    [
      'flag with a value',
      [[['task:a', 'skip:yes'], 'x = 1']],
      "nb/demo.ipynb: cell 1, task 'a': tag 'skip:yes' takes no value: write 'skip'",
    ],
    [
      'task with no code',
      [
        [['task:a'], 'x = 1'],
        [['task:empty'], '# nothing here\n\n'],
      ],
      "nb/demo.ipynb: cell 2, task 'empty': task 'empty' has no code",
    ],
    [
      'task whose cells are all skipped',
      [
        [['task:a'], 'x = 1'],
        [['task:b', 'skip'], 'y = 1'],
      ],
      "nb/demo.ipynb: cell 2, task 'b': task 'b' has no code",
    ],
    [
      'no tasks at all',
      ['x = 1'],
      'nb/demo.ipynb: the notebook has no tasks: tag the first cell of each task with task:NAME (or set metadata.cellpipe.task)',
    ],
    ['no code at all', ['# only a comment', ''], 'nb/demo.ipynb: the notebook has no code: there is nothing to run'],
    [
      'conflicting settings within a task',
      [
        [['task:a', 'gpu:1'], 'x = 1'],
        [['gpu:2'], 'y = 1'],
      ],
      "nb/demo.ipynb: cell 2, task 'a': task 'a' sets gpu twice: 1 (cell 1) and 2",
    ],
    [
      'two parameters cells',
      [
        [['parameters'], 'a = 1'],
        [['parameters'], 'b = 1'],
        [['task:t'], 'x = 1'],
      ],
      'nb/demo.ipynb: cell 2: only one cell may be tagged parameters (cell 1 already is)',
    ],
    [
      'parameters cell starting a task',
      [
        [['parameters', 'task:t'], 'a = 1'],
        [['task:u'], 'x = 1'],
      ],
      "nb/demo.ipynb: cell 1, task 't': the parameters cell cannot also start task 't'",
    ],
    [
      'setup and task on one cell',
      [
        [['setup', 'task:t'], 'a = 1'],
        [['task:u'], 'x = 1'],
      ],
      "nb/demo.ipynb: cell 1, task 't': a cell cannot be both setup and the start of task 't'",
    ],
  ])('error: %s', (_name, cells, expected) => {
    expect(errors(cells)).toContain(expected);
  });

  it('names the cycle', () => {
    const errs = errors([
      [['task:a', 'after:c'], 'x = 1'],
      [['task:b'], 'y = x'],
      [['task:c'], 'z = y'],
    ]);
    // As the graph's arrows run: b reads from a, c from b, and a runs after c.
    expect(errs).toEqual(["nb/demo.ipynb: cell 1, task 'a': cycle: a → b → c → a"]);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['unknown field', { task: 'a', gpu: 1 }, /^nb\/demo\.ipynb: cell 1: metadata\.cellpipe\.gpu: unknown field 'gpu'$/],
    [
      'bad resources',
      { task: 'a', resources: { gpu: -1 } },
      /^nb\/demo\.ipynb: cell 1: metadata\.cellpipe\.resources\.gpu: /,
    ],
    [
      'bad env name',
      { task: 'a', env: { 'BAD-NAME': 'x' } },
      /^nb\/demo\.ipynb: cell 1: metadata\.cellpipe\.env\.BAD-NAME: /,
    ],
    ['bad after', { task: 'a', after: [3] }, /^nb\/demo\.ipynb: cell 1: metadata\.cellpipe\.after/],
  ])('metadata.cellpipe errors name the field: %s', (_name, cellpipe, pattern) => {
    const errs = errors([{ source: 'x = 1', cellpipe }]);
    expect(errs.length).toBeGreaterThan(0);
    expect(errs[0]).toMatch(pattern);
  });

  it('notebook metadata errors name the field path', () => {
    const errs = errors([[['task:a'], 'x = 1']], {
      cellpipe: { maxParallel: 0, defaults: { retries: 'x' }, colour: 'red' },
    });
    expect(errs).toEqual(
      expect.arrayContaining([
        "nb/demo.ipynb: metadata.cellpipe.colour: unknown field 'colour'",
        expect.stringMatching(/^nb\/demo\.ipynb: metadata\.cellpipe\.maxParallel: /),
        expect.stringMatching(/^nb\/demo\.ipynb: metadata\.cellpipe\.defaults\.retries: /),
      ]),
    );
  });

  it('reports several errors together, in cell order', () => {
    const errs = errors([
      [['task:a', 'gpu:two'], 'x = 1'],
      [['task:b', 'after:nope'], 'print(x)'],
      [['task:a'], 'y = 1'],
      [['task:c', 'mig:huge'], ''],
    ]);
    expect(errs).toEqual([
      "nb/demo.ipynb: cell 1, task 'a': invalid GPU count in 'gpu:two': use a whole number from 0 to 64 (for a GPU slice use mig:PROFILE)",
      "nb/demo.ipynb: cell 2, task 'b': unknown after: target 'nope' (tasks: a, b, c)",
      "nb/demo.ipynb: cell 3, task 'a': duplicate task name 'a': task 'a' already starts at cell 1",
      `nb/demo.ipynb: cell 4, task 'c': invalid 'mig:huge': MIG profile must look like "1g.10gb" or "3g.20gb"`,
      "nb/demo.ipynb: cell 4, task 'c': task 'c' has no code",
    ]);
  });

  it.each<[string, unknown, RegExp]>([
    ['not JSON', '{"cells": [', /^nb\/demo\.ipynb: notebook is not valid JSON: /],
    ['no cells', { metadata: {} }, /^nb\/demo\.ipynb: cells: not an nbformat notebook: Invalid input: expected array/],
    [
      'bad cell',
      { cells: [{ cell_type: 'code', source: 3 }] },
      /^nb\/demo\.ipynb: cell 1: not an nbformat notebook: source: /,
    ],
    ['not an object', 42, /^nb\/demo\.ipynb: not an nbformat notebook: document: /],
    [
      'bad tags',
      { cells: [{ cell_type: 'code', source: 'x', metadata: { tags: 'task:a' } }] },
      /^nb\/demo\.ipynb: cell 1: metadata\.tags must be a list of strings$/,
    ],
  ])('unparsable notebooks: %s', (_name, content, pattern) => {
    const r = compileNotebook(content, { path: 'nb/demo.ipynb' });
    expect(r.pipeline).toBeUndefined();
    expect(r.diagnostics.map(formatDiagnostic).join('\n')).toMatch(pattern);
  });

  describe('nbformat 3', () => {
    const v3 = (cells: Record<string, unknown>[], extra: Record<string, unknown> = {}) => ({
      nbformat: 3,
      nbformat_minor: 0,
      metadata: { name: 'old', signature: 'sha256:x' },
      worksheets: [{ cells, metadata: {} }],
      ...extra,
    });
    const code = (input: string | string[], tags?: string[]) => ({
      cell_type: 'code',
      collapsed: false,
      input,
      language: 'python',
      metadata: tags ? { tags } : {},
      outputs: [],
      prompt_number: 1,
    });

    it('is converted to nbformat 4: worksheets flattened, input is the source, headings are markdown', () => {
      const nb = v3([
        { cell_type: 'heading', level: 2, metadata: {}, source: 'Load' },
        code(['import json\n', 'x = json.loads("1")'], ['task:load']),
        { cell_type: 'markdown', metadata: {}, source: 'Use it' },
        code('print(x)', ['task:use']),
      ]);
      const r = compileNotebook(JSON.stringify(nb), { path: 'old.ipynb' });
      expect(r.diagnostics).toEqual([]);
      const tasks = r.pipeline!.spec.tasks;
      expect(tasks.map((t) => [t.name, t.cells, t.inputs])).toEqual([
        ['load', [1], []],
        ['use', [3], ['x']],
      ]);
      expect(taskCode(JSON.stringify(nb), r.pipeline!, 'load').cells).toEqual([
        { index: 1, source: 'import json\nx = json.loads("1")' },
      ]);
    });

    it('with several worksheets keeps their cells in order, numbered across them', () => {
      const nb = v3([code('x = 1', ['task:a'])]);
      (nb.worksheets as unknown[]).push({ cells: [code('print(x)', ['task:b'])] });
      const r = compileNotebook(nb, { path: 'old.ipynb' });
      expect(r.pipeline?.spec.tasks.map((t) => [t.name, t.cells])).toEqual([
        ['a', [0]],
        ['b', [1]],
      ]);
    });

    it.each<[string, unknown, string]>([
      [
        'a code cell in another language',
        v3([code('x = 1', ['task:a']), { ...code('x <- 1'), language: 'r' }]),
        "old.ipynb: nbformat 3 notebook: cell 2 is a 'r' code cell, and the converted notebook would run it as Python",
      ],
      [
        'a broken worksheet',
        v3([], { worksheets: [{ cells: 'none' }] }),
        'old.ipynb: not a readable nbformat 3 notebook: worksheets.0.cells: Invalid input: expected array, received string',
      ],
      [
        'nbformat 2',
        { nbformat: 2, worksheets: [] },
        'old.ipynb: nbformat 2 notebooks cannot be read (nbformat 4 is read, nbformat 3 is converted): open and save it in Jupyter to convert it',
      ],
    ])('is refused with a message that says so: %s', (_what, nb, message) => {
      const r = compileNotebook(nb, { path: 'old.ipynb' });
      expect(r.pipeline).toBeUndefined();
      expect(r.diagnostics.map(formatDiagnostic)).toEqual([message]);
    });
  });

  it('accepts the notebook as JSON text too', () => {
    const r = compileNotebook(JSON.stringify(notebook([[['task:a'], 'x = 1']])), { path: 'a.ipynb' });
    expect(r.pipeline?.spec.tasks[0]?.name).toBe('a');
  });

  it('setting tags on a setup cell warn that they have no effect', () => {
    const r = compile([
      [['gpu:1'], 'import os'],
      [['task:a'], 'x = 1'],
    ]);
    expect(r.pipeline).toBeDefined();
    expect(r.diagnostics.map(formatDiagnostic)).toEqual([
      'nb/demo.ipynb: cell 1: warning: task settings on a setup cell have no effect (setup cells run inside every task)',
    ]);
  });

  it('reports cell roles for the editor', () => {
    const r = compile([
      'import os',
      [['parameters'], 'n = 1'],
      [['task:a'], 'x = 1'],
      [['skip'], 'pass'],
      { type: 'markdown', source: 'm' },
    ]);
    expect(r.cells).toEqual([
      { index: 0, role: 'setup' },
      { index: 1, role: 'parameters' },
      { index: 2, role: 'task', task: 'a' },
      { index: 3, role: 'skipped', task: 'a' },
    ]);
  });
});
