import { compileNotebook, parsePipelineYaml, taskCode, TaskCodeReader } from '../src/index.js';
import { notebook } from './helpers.js';

describe('taskCode', () => {
  const nb = notebook([
    '%matplotlib inline\nimport os',
    [['parameters'], 'n = 1'],
    [['task:a'], 'x = n'],
    [['skip'], 'print("no")'],
    'y = x + 1',
    { type: 'markdown', source: '# b' },
    [['task:b'], 'print(y)'],
    [['setup'], 'def helper():\n    return 2'],
  ]);
  const pipeline = compileNotebook(nb, { path: 'n.ipynb' }).pipeline!;

  it('gives the setup cells (parameters cell included, in order) and the task cells with their sources', () => {
    expect(taskCode(nb, pipeline, 'a')).toEqual({
      setup: [
        { index: 0, source: '%matplotlib inline\nimport os' },
        { index: 1, source: 'n = 1' },
        { index: 7, source: 'def helper():\n    return 2' },
      ],
      cells: [
        { index: 2, source: 'x = n' },
        { index: 4, source: 'y = x + 1' },
      ],
    });
    expect(taskCode(JSON.stringify(nb), pipeline, 'b').cells).toEqual([{ index: 6, source: 'print(y)' }]);
  });

  it('gives a whole notebook for notebook tasks and the text for script tasks', () => {
    const p = parsePipelineYaml(
      'apiVersion: cellpipe.io/v1\nkind: Pipeline\nmetadata: {name: m}\nspec:\n  tasks:\n    - {name: nb, source: {kind: notebook, path: x.ipynb}}\n    - {name: py, source: {kind: script, path: x.py}}\n',
    ).pipeline!;
    expect(taskCode(nb, p, 'nb').cells.map((c) => c.index)).toEqual([0, 1, 2, 4, 6, 7]);
    expect(taskCode('print(1)\n', p, 'py')).toEqual({ setup: [], cells: [{ index: 0, source: 'print(1)\n' }] });
  });

  it('keeps the raises-exception tag the runner honours, and no other tag', () => {
    const tagged = notebook([
      [['task:a', 'raises-exception', 'hide-input'], '1 / 0'],
      [['setup', 'raises-exception'], 'import nope'],
      [['hide-input'], 'print(1)'],
    ]);
    const p = compileNotebook(tagged, { path: 't.ipynb' }).pipeline!;
    expect(taskCode(tagged, p, 'a')).toEqual({
      setup: [{ index: 1, source: 'import nope', tags: ['raises-exception'] }],
      cells: [
        { index: 0, source: '1 / 0', tags: ['raises-exception'] },
        { index: 2, source: 'print(1)' },
      ],
    });
  });

  it('throws for a task the pipeline does not have', () => {
    expect(() => taskCode(nb, pipeline, 'zz')).toThrow("has no task 'zz'");
  });

  it('a reader parses the notebook once for all the tasks of a pipeline', () => {
    const cells = Array.from({ length: 300 }, (_, i): [string[], string] => [[`task:t${i}`], `x${i} = ${i}`]);
    const big = compileNotebook(notebook(cells), { path: 'big.ipynb' }).pipeline!;
    let reads = 0;
    const content = new Proxy(notebook(cells), {
      get(target, prop, receiver) {
        if (prop === 'cells') reads++;
        return Reflect.get(target, prop, receiver) as unknown;
      },
    });
    const reader = new TaskCodeReader(big);
    for (const t of big.spec.tasks) expect(reader.code(content, t.name).cells).toHaveLength(1);
    expect(reader.code(content, 't299').cells).toEqual([{ index: 299, source: 'x299 = 299' }]);
    // Parsing per task would read the cells 300 times over.
    expect(reads).toBeLessThan(10);
  });
});
