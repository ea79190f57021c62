/** runner-contract.schema.json is generated from schema/src/runner-contract.ts; the zod schemas accept what the server writes. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatJsonSchema, runnerContractJsonSchema, RunnerResultSchema, TaskJsonSchema } from '../src/index.js';

const committedPath = fileURLToPath(new URL('../runner-contract.schema.json', import.meta.url));

const base = {
  jobId: 'abc123',
  taskId: 'abc123.train',
  taskName: 'train',
  artifactRoot: '/data/jobs/abc123/artifacts',
  outputDir: '/data/jobs/abc123/artifacts/train',
  resultPath: '/data/jobs/abc123/tasks/train/attempt-1/result.json',
  notebookPath: '/data/jobs/abc123/tasks/train/attempt-1/executed.ipynb',
};

describe('runner-contract.schema.json', () => {
  it('is in sync with the zod schemas (regenerate with `npm run gen -w schema`)', () => {
    expect(readFileSync(committedPath, 'utf8')).toBe(formatJsonSchema(runnerContractJsonSchema()));
  });

  it('requires only the fields of the first release', () => {
    const schema = JSON.parse(readFileSync(committedPath, 'utf8')) as {
      $defs: { TaskJson: { required: string[] } };
    };
    expect(schema.$defs.TaskJson.required.sort()).toEqual(Object.keys(base).sort());
  });
});

describe('TaskJsonSchema', () => {
  it('accepts a task with definitions, read-only inputs and output origins', () => {
    const parsed = TaskJsonSchema.safeParse({
      ...base,
      cells: [{ index: 4, source: 'model.fit(X, y)' }],
      inputs: [{ name: 'model', from: 'init', readOnly: false }],
      definitions: [{ kind: 'class', names: ['Model'], cell: 1, line: 1, source: 'class Model:\n    pass' }],
      outputOrigins: { model: 4 },
    });
    expect(parsed.error).toBeUndefined();
  });

  it('names the field that is wrong', () => {
    const noCells = TaskJsonSchema.safeParse(base);
    expect(noCells.error?.issues[0]?.path).toEqual(['cells']);
    const relative = TaskJsonSchema.safeParse({ ...base, cells: [], outputDir: 'rel' });
    expect(relative.error?.issues[0]?.path).toEqual(['outputDir']);
    const badDefinition = TaskJsonSchema.safeParse({
      ...base,
      cells: [],
      definitions: [{ kind: 'import', names: ['np'], cell: 0, line: 0, source: 'import numpy as np' }],
    });
    expect(badDefinition.error?.issues[0]?.path).toEqual(['definitions', 0, 'line']);
  });

  it('lets a whole-notebook task leave its cells to the runner', () => {
    expect(TaskJsonSchema.safeParse({ ...base, kind: 'notebook', sourcePath: 'nb.ipynb' }).success).toBe(true);
  });
});

describe('RunnerResultSchema', () => {
  it('takes warnings with a variable, a task and a cell', () => {
    const result = {
      status: 'succeeded',
      startedAt: '2026-01-01T00:00:00.000Z',
      finishedAt: '2026-01-01T00:00:01.000Z',
      durationMs: 1000,
      cells: [{ index: 4, position: 5, role: 'task', durationMs: 3 }],
      outputs: [],
      outputDetails: [],
      artifacts: [],
      notes: [{ cell: null, message: 'n' }],
      warnings: [{ kind: 'input-mutated', message: 'm', variable: 'model', task: 'evaluate', cell: 4, position: 5 }],
      runner: { version: '1', engine: 'stdlib', python: '3.11.7' },
    };
    expect(RunnerResultSchema.safeParse(result).error).toBeUndefined();
    expect(RunnerResultSchema.safeParse({ ...result, warnings: [{ kind: 'x' }] }).error?.issues[0]?.path).toEqual([
      'warnings',
      0,
      'message',
    ]);
  });
});
