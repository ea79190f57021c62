/** Pipeline YAML: round trip, and errors that name the field path and the line/column. */
import { compileNotebook, formatDiagnostic, parsePipelineYaml, pipelineToYaml } from '../src/index.js';
import { notebook } from './helpers.js';

const valid = `apiVersion: cellpipe.io/v1
kind: Pipeline
metadata:
  name: chain
spec:
  tasks:
    - name: a
      source: { kind: script, path: a.py }
    - name: b
      source: { kind: notebook, path: nb/b.ipynb }
      dependsOn: [a]
      resources: { gpu: 1 }
`;

function errs(text: string): string[] {
  const r = parsePipelineYaml(text, { file: 'p.yaml' });
  expect(r.pipeline).toBeUndefined();
  return r.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic);
}

describe('parsePipelineYaml', () => {
  it('reads a valid pipeline and fills defaults', () => {
    const r = parsePipelineYaml(valid, { file: 'p.yaml' });
    expect(r.diagnostics).toEqual([]);
    expect(r.pipeline?.spec.tasks.map((t) => [t.name, t.source, t.dependsOn, t.resources, t.retries])).toEqual([
      ['a', { kind: 'script', path: 'a.py' }, [], {}, undefined],
      ['b', { kind: 'notebook', path: 'nb/b.ipynb' }, ['a'], { gpu: 1 }, undefined],
    ]);
  });

  it.each<[string, string, string]>([
    [
      'gpu:-1',
      valid.replace('gpu: 1', 'gpu: -1'),
      "p.yaml:12:25: task 'b': spec.tasks[1].resources.gpu: Too small: expected number to be >=0",
    ],
    [
      'gpu: two',
      valid.replace('gpu: 1', 'gpu: two'),
      "p.yaml:12:25: task 'b': spec.tasks[1].resources.gpu: Invalid input: expected number, received string",
    ],
    [
      'mig: huge',
      valid.replace('gpu: 1', 'mig: huge'),
      `p.yaml:12:25: task 'b': spec.tasks[1].resources.mig: MIG profile must look like "1g.10gb" or "3g.20gb"`,
    ],
    [
      'unknown key',
      valid.replace('      dependsOn: [a]', '      dependOn: [a]'),
      "p.yaml:11:7: task 'b': spec.tasks[1].dependOn: unknown field 'dependOn'",
    ],
    [
      'missing field',
      valid.replace('  name: chain\n', '  description: x\n'),
      'p.yaml:4:3: metadata.name: Invalid input: expected string, received undefined',
    ],
    [
      'wrong apiVersion',
      valid.replace('cellpipe.io/v1', 'cellpipe.io/v2'),
      'p.yaml:1:13: apiVersion: Invalid input: expected "cellpipe.io/v1"',
    ],
    [
      'unknown dependsOn',
      valid.replace('dependsOn: [a]', 'dependsOn: [zz]'),
      "p.yaml:11:19: task 'b': spec.tasks[1].dependsOn[0]: unknown dependsOn target 'zz'",
    ],
    [
      'duplicate task',
      valid.replace('- name: b', '- name: a').replace('dependsOn: [a]', 'dependsOn: []'),
      "p.yaml:9:13: task 'a': spec.tasks[1].name: duplicate task name 'a' (also task 1)",
    ],
    [
      'path escapes',
      valid.replace('path: a.py', 'path: ../a.py'),
      `p.yaml:8:37: task 'a': spec.tasks[0].source.path: path '../a.py' must not leave the pipeline's directory ("..")`,
    ],
    [
      'absolute path',
      valid.replace('path: a.py', 'path: /etc/passwd'),
      "p.yaml:8:37: task 'a': spec.tasks[0].source.path: path '/etc/passwd' must be relative to the pipeline's directory",
    ],
    [
      'cells without a notebook',
      valid.replace('source: { kind: script, path: a.py }', 'cells: [1]'),
      "p.yaml:7:7: task 'a': spec.tasks[0].source: task 'a' runs notebook cells but spec.source.notebook is not set",
    ],
    [
      'inputsFrom outside inputs',
      valid.replace('dependsOn: [a]', 'dependsOn: [a]\n      inputsFrom: { df: a }'),
      "task 'b': spec.tasks[1].inputsFrom.df: inputsFrom names 'df', which is not in inputs",
    ],
    [
      'inputsFrom not a dependency',
      valid.replace('dependsOn: [a]', 'dependsOn: []\n      inputs: [df]\n      inputsFrom: { df: a }'),
      "task 'b': spec.tasks[1].inputsFrom.df: input 'df' comes from 'a', which is not upstream of 'b' (not reachable through dependsOn)",
    ],
    [
      'inputsFrom without the output',
      valid.replace('dependsOn: [a]', 'dependsOn: [a]\n      inputs: [df]\n      inputsFrom: { df: a }'),
      "task 'b': spec.tasks[1].inputsFrom.df: input 'df' comes from 'a', which does not output it",
    ],
    [
      'input nobody outputs',
      valid.replace('dependsOn: [a]', 'dependsOn: [a]\n      inputs: [df]'),
      "p.yaml:12:16: task 'b': spec.tasks[1].inputs[0]: task 'b' reads 'df' but no upstream task outputs it",
    ],
    ['yaml syntax', 'apiVersion: [unclosed\nkind: Pipeline\n', 'p.yaml:2:1: '],
  ])('%s', (_name, text, expected) => {
    expect(errs(text).join('\n')).toContain(expected);
  });

  it('accepts an inputsFrom naming any upstream task, not only a direct dependency', () => {
    const text = `${valid}    - name: c
      source: { kind: script, path: c.py }
      dependsOn: [b]
      inputs: [df]
      inputsFrom: { df: a }
`.replace('source: { kind: script, path: a.py }', 'source: { kind: script, path: a.py }\n      outputs: [df]');
    const r = parsePipelineYaml(text, { file: 'p.yaml' });
    expect(r.diagnostics).toEqual([]);
    expect(r.pipeline?.spec.tasks[2]?.inputsFrom).toEqual({ df: 'a' });
  });

  it('keeps an explicit retries: 0 under a default, and leaves an unset one unset', () => {
    const text = valid
      .replace('spec:\n', 'spec:\n  defaults: { retries: 3 }\n')
      .replace('      resources: { gpu: 1 }', '      resources: { gpu: 1 }\n      retries: 0');
    const p = parsePipelineYaml(text, { file: 'p.yaml' }).pipeline!;
    expect(p.spec.tasks.map((t) => t.retries)).toEqual([undefined, 0]);
    expect(parsePipelineYaml(pipelineToYaml(p)).pipeline).toEqual(p);
  });

  it('names the cycle with its position', () => {
    const text = valid.replace('    - name: a\n', '    - name: a\n      dependsOn: [b]\n');
    expect(errs(text)).toEqual(["p.yaml:8:18: task 'a': spec.tasks[0].dependsOn: cycle: a → b → a"]);
  });

  it('reports several errors together', () => {
    const text = valid
      .replace('gpu: 1', 'gpu: -1')
      .replace('path: a.py', 'path: ""')
      .replace('name: chain', 'name: 9chain');
    expect(errs(text)).toHaveLength(3);
  });

  it('an empty file is an error', () => {
    expect(errs('')).toEqual(['p.yaml:1:1: the file is empty']);
  });
});

describe('pipelineToYaml', () => {
  it('round-trips a compiled notebook', () => {
    const nb = notebook([
      'import os',
      [['parameters'], 'lr = 0.1\nlayers = []'],
      [['task:a', 'gpu:1', 'retries:2', 'env:X=1'], 'x = 1'],
      [['task:b', 'mig:1g.10gb'], 'print(x)'],
    ]);
    const p = compileNotebook(nb, { path: 'demo.ipynb' }).pipeline!;
    const text = pipelineToYaml(p);
    expect(text).not.toContain('retries: 0');
    const back = parsePipelineYaml(text, { file: 'demo.yaml' });
    expect(back.diagnostics).toEqual([]);
    expect(back.pipeline).toEqual(p);
  });

  it('round-trips a multi-file pipeline', () => {
    const p = parsePipelineYaml(valid).pipeline!;
    expect(parsePipelineYaml(pipelineToYaml(p)).pipeline).toEqual(p);
  });
});

describe('wire schemas', () => {
  it('a compile result parses with CompileResultSchema', async () => {
    const { CompileResultSchema } = await import('../src/index.js');
    const r = compileNotebook(notebook([[['task:a', 'after:zz'], 'x = 1']]), { path: 'w.ipynb' });
    const wire = JSON.parse(JSON.stringify({ pipeline: r.pipeline, diagnostics: r.diagnostics })) as unknown;
    expect(CompileResultSchema.parse(wire).diagnostics[0]).toMatchObject({ severity: 'error', cell: 1, task: 'a' });
  });
});
