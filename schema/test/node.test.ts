/** loadPipelineFile against real files in a temporary directory. */
import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPipelineFile } from '../src/node.js';
import { formatDiagnostic } from '../src/index.js';
import { notebook } from './helpers.js';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cellpipe-load-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = (rel: string, text: string) => {
  const p = join(dir, rel);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
};

const yamlWith = (tasks: string, extra = '') =>
  `apiVersion: cellpipe.io/v1\nkind: Pipeline\nmetadata:\n  name: t\nspec:\n${extra}  tasks:\n${tasks}`;

const nbText = JSON.stringify(notebook([[['task:a'], 'x = 1']]));

describe('loadPipelineFile', () => {
  it('loads the multi-file example with the texts of every file it names', async () => {
    const r = await loadPipelineFile(join(examples, 'multi-file/pipeline.yaml'));
    expect(r.diagnostics).toEqual([]);
    expect(r.pipeline?.spec.tasks.map((t) => [t.name, t.dependsOn])).toEqual([
      ['ingest', []],
      ['clean', ['ingest']],
      ['summarize', ['clean']],
    ]);
    expect(Object.keys(r.files).sort()).toEqual(['clean.py', 'ingest.ipynb', 'summarize.ipynb']);
    expect(r.files['clean.py']).toBe(readFileSync(join(examples, 'multi-file/clean.py'), 'utf8'));
  });

  it('keys files by the path as the spec writes it, subdirectories included', async () => {
    write('sub/a.py', 'print(1)\n');
    write('nb/x.ipynb', nbText);
    const p = write(
      'p.yaml',
      yamlWith(
        '    - {name: a, source: {kind: script, path: ./sub/a.py}}\n    - {name: b, source: {kind: notebook, path: nb/x.ipynb}}\n',
      ),
    );
    const r = await loadPipelineFile(p);
    expect(r.diagnostics).toEqual([]);
    expect(Object.keys(r.files).sort()).toEqual(['./sub/a.py', 'nb/x.ipynb']);
  });

  it('loads the notebook of cell tasks named by spec.source.notebook', async () => {
    write('n.ipynb', nbText);
    const p = write('p.yaml', yamlWith('    - {name: a, cells: [0]}\n', '  source: {notebook: n.ipynb}\n'));
    const r = await loadPipelineFile(p);
    expect(r.diagnostics).toEqual([]);
    expect(r.files).toEqual({ 'n.ipynb': nbText });
  });

  it('checks that cell tasks name code cells of the source notebook', async () => {
    write('n.ipynb', JSON.stringify(notebook([{ type: 'markdown', source: '# t' }, 'x = 1'])));
    const p = write('p.yaml', yamlWith('    - {name: a, cells: [1, 0, 5]}\n', '  source: {notebook: n.ipynb}\n'));
    const r = await loadPipelineFile(p);
    expect(r.diagnostics.map(formatDiagnostic).map((m) => m.replace(p, 'p.yaml'))).toEqual([
      "p.yaml:8:28: task 'a': spec.tasks[0].cells[1]: cell index 0 (cell 1) of n.ipynb is a markdown cell",
      "p.yaml:8:31: task 'a': spec.tasks[0].cells[2]: cell index 5 (cell 6) of n.ipynb does not exist (the notebook has 2 cells)",
    ]);
  });

  it('reports every missing or escaping file with its YAML position', async () => {
    write('ok.py', 'print(1)\n');
    writeFileSync(join(dir, '..', 'outside-cellpipe-test.py'), 'print(2)\n');
    symlinkSync(join(dir, '..', 'outside-cellpipe-test.py'), join(dir, 'link.py'));
    const p = write(
      'p.yaml',
      yamlWith(
        [
          '    - {name: a, source: {kind: script, path: ok.py}}',
          '    - {name: b, source: {kind: script, path: missing.py}}',
          '    - {name: c, source: {kind: script, path: ../outside-cellpipe-test.py}}',
          '    - {name: d, source: {kind: script, path: link.py}}',
          '    - {name: e, source: {kind: notebook, path: /abs/x.ipynb}}',
          '',
        ].join('\n'),
      ),
    );
    const r = await loadPipelineFile(p);
    rmSync(join(dir, '..', 'outside-cellpipe-test.py'));
    expect(r.pipeline).toBeUndefined();
    expect(r.files).toEqual({});
    const msgs = r.diagnostics.map(formatDiagnostic).map((m) => m.replace(p, 'p.yaml'));
    expect(msgs).toEqual([
      "p.yaml:8:46: task 'b': spec.tasks[1].source.path: missing.py: file not found next to the pipeline",
      `p.yaml:9:46: task 'c': spec.tasks[2].source.path: path '../outside-cellpipe-test.py' must not leave the pipeline's directory ("..")`,
      "p.yaml:10:46: task 'd': spec.tasks[3].source.path: link.py leads outside the pipeline's directory",
      "p.yaml:11:48: task 'e': spec.tasks[4].source.path: path '/abs/x.ipynb' must be relative to the pipeline's directory",
    ]);
  });

  it('rejects a referenced notebook that is not nbformat JSON', async () => {
    write('bad.ipynb', '{"cells": [');
    const p = write('p.yaml', yamlWith('    - {name: a, source: {kind: notebook, path: bad.ipynb}}\n'));
    const r = await loadPipelineFile(p);
    expect(r.diagnostics.map(formatDiagnostic).join('\n')).toMatch(/bad\.ipynb: notebook is not valid JSON/);
  });

  it('loads a notebook and returns its text under its base name', async () => {
    const r = await loadPipelineFile(join(examples, 'quickstart.ipynb'));
    expect(r.diagnostics).toEqual([]);
    expect(r.pipeline?.spec.source).toEqual({ notebook: 'quickstart.ipynb' });
    expect(Object.keys(r.files)).toEqual(['quickstart.ipynb']);
  });

  it('loads a script as a one-task pipeline', async () => {
    const p = write('train_model.py', 'import os\nprint(os.getcwd())\n');
    const r = await loadPipelineFile(p);
    expect(r.pipeline?.spec.tasks).toMatchObject([
      { name: 'train_model', source: { kind: 'script', path: 'train_model.py' } },
    ]);
    expect(r.files).toEqual({ 'train_model.py': 'import os\nprint(os.getcwd())\n' });
  });

  it.each<[string, string, RegExp]>([
    ['missing file', 'nope.ipynb', /file not found: .*nope\.ipynb/],
    ['unsupported extension', 'x.txt', /unsupported pipeline file 'x\.txt'/],
    ['unparsable notebook', 'bad.ipynb', /notebook is not valid JSON/],
  ])('%s', async (_name, file, pattern) => {
    write('x.txt', 'hello');
    write('bad.ipynb', '{');
    const r = await loadPipelineFile(join(dir, file));
    expect(r.pipeline).toBeUndefined();
    expect(r.diagnostics.map(formatDiagnostic).join('\n')).toMatch(pattern);
  });
});
