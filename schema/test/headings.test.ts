/** Splitting a notebook into tasks at its markdown headings. */
import {
  compileNotebook,
  formatDiagnostic,
  markdownHeadings,
  splitAtHeadings,
  taskNameFromHeading,
  type Pipeline,
  type SplitAtHeadingsOptions,
} from '../src/index.js';
import { NotebookSchema } from '../src/notebook.js';
import { notebook, type CellArg } from './helpers.js';

const md = (source: string): CellArg => ({ type: 'markdown', source });

function split(cells: CellArg[], options?: SplitAtHeadingsOptions): Pipeline {
  const nb = NotebookSchema.parse(notebook(cells));
  const r = compileNotebook(splitAtHeadings(nb, options), { path: 'nb/demo.ipynb' });
  if (!r.pipeline) throw new Error(r.diagnostics.map(formatDiagnostic).join('\n'));
  return r.pipeline;
}

const tasks = (p: Pipeline) => p.spec.tasks.map((t) => [t.name, t.cells]);

describe('markdownHeadings', () => {
  it('finds ATX, setext and HTML headings with their levels, not those inside code fences', () => {
    const text = [
      '# Title #',
      'Some text',
      '## Load the *data*',
      '```python',
      '# a comment, not a heading',
      '```',
      'Results',
      '-------',
      '<h3 id="x">Third</h3>',
      '####### seven hashes is a paragraph',
      '#hashtag is a paragraph',
    ].join('\n');
    expect(markdownHeadings(text)).toEqual([
      { level: 1, text: 'Title' },
      { level: 2, text: 'Load the *data*' },
      { level: 2, text: 'Results' },
      { level: 3, text: 'Third' },
    ]);
  });

  it('a dash line after a blank line is a rule, not a heading', () => {
    expect(markdownHeadings('text\n\n---\n')).toEqual([]);
  });
});

describe('taskNameFromHeading', () => {
  it.each([
    ['1. Load the Data', 'load-the-data'],
    ['**Données** `brutes` & [liens](http://x)', 'donnees-brutes-liens'],
    ['Step 2: fit()', 'step-2-fit'],
    ['数据', ''],
    ['a'.repeat(30) + ' ' + 'b'.repeat(40), 'a'.repeat(30)],
  ])('%s -> %s', (heading, name) => {
    expect(taskNameFromHeading(heading)).toBe(name);
  });
});

describe('splitAtHeadings', () => {
  it('starts a task at each heading; code before the first heading is a task too', () => {
    const p = split(['import math', md('# Intro\nwords'), 'x = 1', 'y = x + 1', md('## Use it'), 'print(math.pi, y)']);
    expect(tasks(p)).toEqual([
      ['preamble', [0]],
      ['intro', [2, 3]],
      ['use-it', [5]],
    ]);
    expect(p.spec.setupCells ?? []).toEqual([]);
    // The import crosses by source (use-it runs it again): only y flows between tasks.
    expect(p.spec.tasks[2]!.dependsOn).toEqual(['intro']);
    expect(p.spec.tasks[2]!.definitions.map((d) => d.source)).toEqual(['import math']);
  });

  it('gives repeated or empty names a unique suffix and skips sections without code', () => {
    const p = split([md('# Step'), 'a = 1', md('# Step'), md('# 数据'), 'b = a', md('# Step'), 'c = b']);
    expect(tasks(p)).toEqual([
      ['step', [1]],
      ['section-3', [4]],
      ['step-2', [6]],
    ]);
  });

  it('maxLevel leaves deeper headings inside their section', () => {
    const p = split([md('# A'), 'a = 1', md('### detail'), 'b = a', md('# B'), 'c = b'], { maxLevel: 2 });
    expect(tasks(p)).toEqual([
      ['a', [1, 3]],
      ['b', [5]],
    ]);
  });

  it("keeps the notebook's own tasks, setup and parameters cells", () => {
    const p = split([
      [['parameters'], 'n = 3'],
      md('# Load'),
      [['setup'], 'import os'],
      'xs = list(range(n))',
      md('# Train'),
      [['task:fit', 'gpu:1'], 'model = sum(xs)'],
      md('# Fit'),
      'print(model)',
    ]);
    expect(tasks(p)).toEqual([
      ['load', [3]],
      ['fit', [5]],
      ['fit-2', [7]],
    ]);
    expect(p.spec.tasks[1]!.resources?.gpu).toBe(1);
    expect(p.spec.setupCells).toEqual([0, 2]);
  });

  it('does not change the notebook it is given', () => {
    const nb = NotebookSchema.parse(notebook([md('# A'), 'a = 1']));
    const before = JSON.stringify(nb);
    const out = splitAtHeadings(nb);
    expect(JSON.stringify(nb)).toBe(before);
    expect(out.cells[1]!.metadata).toEqual({ cellpipe: { task: 'a' } });
  });
});
