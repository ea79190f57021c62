/**
 * The runner's dataclass mirror (server/runner/cellpipe_runner/contract.py) agrees with the zod schemas
 * of schema/src/runner-contract.ts: the JSON Schema generated from them goes to a real python3 that
 * compares fields, types, optionality and allowed values.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runnerContractJsonSchema } from '@cellpipe/schema';
import { newJob, runTask, task, useRunnerRoot } from './runner-fixtures.js';

const CHECK = fileURLToPath(new URL('../runner/tests/check_contract.py', import.meta.url));

type Node = Record<string, unknown> & { properties?: Record<string, Node>; required?: string[]; items?: Node };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'cellpipe-contract-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(schema: Record<string, unknown>): { code: number | null; lines: string[] } {
  const path = join(dir, `schema-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(schema));
  const r = spawnSync('python3', [CHECK, path], { encoding: 'utf8' });
  if (r.stderr) throw new Error(r.stderr);
  return { code: r.status, lines: r.stdout.split('\n').filter(Boolean) };
}

function edited(edit: (defs: { TaskJson: Node; RunnerResult: Node }) => void): Record<string, unknown> {
  const schema = structuredClone(runnerContractJsonSchema()) as { $defs: { TaskJson: Node; RunnerResult: Node } };
  edit(schema.$defs);
  return schema;
}

test('the dataclasses and the zod schemas agree', () => {
  expect(check(runnerContractJsonSchema())).toEqual({ code: 0, lines: [] });
});

describe('the check notices a disagreement', () => {
  test.each<[string, (defs: { TaskJson: Node; RunnerResult: Node }) => void, string]>([
    [
      'a field only the schema has',
      (d) => {
        d.TaskJson.properties!.extra = { type: 'string' };
      },
      'TaskJson.extra: in the schema, not in the dataclass Task',
    ],
    [
      'a field only the dataclass has',
      (d) => {
        delete d.TaskJson.properties!.outputOrigins;
      },
      'TaskJson.outputOrigins: in the dataclass Task, not in the schema',
    ],
    [
      'optionality',
      (d) => {
        d.TaskJson.required!.push('attempt');
      },
      'TaskJson.attempt: optional in the dataclass, required in the schema',
    ],
    [
      'a type inside a list',
      (d) => {
        d.TaskJson.properties!.cells!.items!.properties!.index = { type: 'string' };
      },
      'TaskJson.cells[].index: the dataclass says integer, the schema says string',
    ],
    [
      'allowed values',
      (d) => {
        d.RunnerResult.properties!.status = { type: 'string', enum: ['succeeded', 'failed'] };
      },
      "RunnerResult.status: allowed values differ: dataclass ['cancelled', 'failed', 'succeeded'], schema ['failed', 'succeeded']",
    ],
    [
      'a number the dataclass reads as an integer',
      (d) => {
        d.RunnerResult.properties!.usage!.properties!.cpuSeconds = { type: 'integer' };
      },
      'RunnerResult.usage.cpuSeconds: the dataclass says number, the schema says integer',
    ],
    [
      'null',
      (d) => {
        d.RunnerResult.properties!.notes!.items!.properties!.cell = { type: 'integer' };
      },
      'RunnerResult.notes[].cell: may be null in the dataclass, not in the schema',
    ],
  ])('%s', (_what, edit, line) => {
    const r = check(edited(edit));
    expect(r.code).toBe(1);
    expect(r.lines).toContain(line);
  });
});

describe("the runner's usage in result.json", () => {
  useRunnerRoot();

  // The cgroup files and nvidia-smi differ from machine to machine: runner/tests/test_usage.py reads
  // fake ones. Here the real runner writes the field and the contract's schema takes it (runTask).
  test.each<['container' | 'process']>([['container'], ['process']])('task.json usage %s', async (mode) => {
    const job = newJob();
    const run = await runTask(
      task(job, 'alloc', { usage: mode, cells: [{ index: 0, source: 'blob = b"x" * (32 * 1024 * 1024)' }] }),
    );
    expect(run.code).toBe(0);
    const usage = run.result.usage!;
    expect(usage.peakMemoryBytes).toBeGreaterThanOrEqual(32 * 1024 * 1024);
    expect(usage.cpuSeconds).toBeGreaterThan(0);
    if (mode === 'process') expect(usage.sources).toEqual({ memory: 'rusage', cpu: 'rusage' });
  });
});
