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
  const r = compileNotebook(splitAtHeadings(nb, options).notebook, { path: 'nb/demo.ipynb' });
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
    const out = splitAtHeadings(nb).notebook;
    expect(JSON.stringify(nb)).toBe(before);
    expect(out.cells[1]!.metadata).toEqual({ cellpipe: { task: 'a' } });
  });
});

describe('splitAtHeadings joins sections a value cannot pass between', () => {
  const splitWithNotes = (cells: CellArg[]) =>
    splitAtHeadings(NotebookSchema.parse(notebook(cells)), { path: 'nb/demo.ipynb' });

  const countdown = 'def countdown(n):\n    while n > 0:\n        yield n\n        n -= 1';

  it('a generator made in one section and advanced in the next two: the three run as one task', () => {
    const r = splitWithNotes([
      md('# Iterators'),
      countdown,
      md('## Start a countdown'),
      'it = countdown(5)\nnext(it)',
      md('## Take some more'),
      'next(it), next(it)',
      md('## Drain it'),
      'rest = list(it)',
      md('## Something else'),
      'print(rest)',
    ]);
    expect(r.compiled.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(tasks(r.compiled.pipeline!)).toEqual([
      ['iterators', [1]],
      ['start-a-countdown', [3, 5, 7]],
      ['something-else', [9]],
    ]);
    // What the tasks read: the generator stays in its task; the list it gave passes on.
    expect(r.compiled.pipeline!.spec.tasks[2]!.inputs).toEqual(['rest']);
    expect(r.notes.map(formatDiagnostic)).toEqual([
      "nb/demo.ipynb: cell 4, task 'start-a-countdown': note: sections 'Start a countdown', 'Take some more', 'Drain it' run as one task ('start-a-countdown'), because 'it' is a generator (made by calling countdown()) and cannot pass between tasks",
    ]);
    // The notebook returned is the one compiled: compiling it again gives the same pipeline.
    expect(compileNotebook(r.notebook, { path: 'nb/demo.ipynb' }).pipeline).toEqual(r.compiled.pipeline);
  });

  it('a job manager (an IPython.lib alias) made in one section and used two sections later joins the section between', () => {
    const r = splitWithNotes([
      'from IPython.lib import backgroundjobs as bg\nimport time',
      md('# Start jobs'),
      'jobs = bg.BackgroundJobManager()\njobs.new(time.sleep, 1)',
      md('# Unrelated'),
      'x = 2 ** 10',
      md('# Status'),
      'jobs.status()',
      md('# Later'),
      'print(x)',
    ]);
    expect(tasks(r.compiled.pipeline!)).toEqual([
      ['preamble', [0]],
      ['start-jobs', [2, 4, 6]],
      ['later', [8]],
    ]);
    expect(r.compiled.pipeline!.spec.tasks[2]!.inputsFrom).toEqual({ x: 'start-jobs' });
    expect(r.notes).toHaveLength(1);
    expect(r.notes[0]).toMatchObject({ severity: 'info', cell: 3, task: 'start-jobs', file: 'nb/demo.ipynb' });
    expect(r.notes[0]!.message).toBe(
      "sections 'Start jobs', 'Unrelated', 'Status' run as one task ('start-jobs'), because 'jobs' is an object that holds threads or operating-system resources (made by IPython.lib.backgroundjobs.BackgroundJobManager()) and cannot pass between tasks",
    );
  });

  it('two values joining overlapping sections make one task, and the note names both', () => {
    const r = splitWithNotes([
      md('# Open'),
      'f = open("data.txt")',
      md('# Both'),
      'g = (line for line in f)',
      md('# Read'),
      'print(next(g))',
    ]);
    expect(tasks(r.compiled.pipeline!)).toEqual([['open', [1, 3, 5]]]);
    expect(r.notes.map((n) => n.message)).toEqual([
      "sections 'Open', 'Both', 'Read' run as one task ('open'), because these cannot pass between tasks: 'f' is an open file (made by open()); 'g' is a generator (a generator expression)",
    ]);
  });

  it('the cells before the first heading join too, and a heading without words is named by its task', () => {
    const r = splitWithNotes(['import csv\nrows = csv.reader(open("data.csv"))', md('#'), 'print(next(rows))']);
    expect(tasks(r.compiled.pipeline!)).toEqual([['preamble', [0, 2]]]);
    expect(r.notes.map((n) => n.message)).toEqual([
      "the cells before the first heading and section 'section-1' run as one task ('preamble'), because 'rows' is a CSV reader or writer (made by csv.reader()) and cannot pass between tasks",
    ]);
  });

  it('values pickle can save keep every section a task of its own', () => {
    const r = splitWithNotes([
      'import io',
      md('# Make'),
      'xs = [1, 2]\nbuf = io.StringIO()',
      md('# Change'),
      'xs.append(3)\nbuf.write("x")',
      md('# Use'),
      'print(xs, buf.getvalue())',
    ]);
    expect(r.notes).toEqual([]);
    expect(tasks(r.compiled.pipeline!)).toEqual([
      ['preamble', [0]],
      ['make', [2]],
      ['change', [4]],
      ['use', [6]],
    ]);
  });

  it("the notebook's own tasks are never joined: the compile error stays", () => {
    const cells: CellArg[] = [
      countdown,
      md('# Start'),
      [['task:start'], 'it = countdown(3)'],
      md('# More'),
      'print(next(it))',
    ];
    const r = splitWithNotes(cells);
    expect(r.notes).toEqual([]);
    expect(r.compiled.pipeline).toBeUndefined();
    expect(r.compiled.diagnostics.filter((d) => d.severity === 'error').map((d) => d.unpassable)).toEqual([
      { name: 'it', what: 'a generator (made by calling countdown())', from: 'start', to: 'more' },
    ]);
  });

  it("a section's value does not join across a tagged task between them", () => {
    const r = splitWithNotes([
      md('# Make'),
      'f = open("data.txt")',
      [['task:mine'], 'y = 1'],
      md('# Read'),
      'print(f.read(), y)',
    ]);
    expect(r.notes).toEqual([]);
    expect(r.compiled.diagnostics.filter((d) => d.severity === 'error').map((d) => d.unpassable?.to)).toEqual(['read']);
  });
});
