/**
 * Running the task runner (the zipapp jest's global setup builds into server/dist) as a real python3
 * process on real task.json files in a temp dir: what the runner's suites share.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  RunnerResultSchema,
  TaskJsonSchema,
  type RunnerDefinition,
  type RunnerUsage,
  type RunnerWarning,
} from '@cellpipe/schema';

export const RUNNER = fileURLToPath(new URL('../dist/cellpipe_runner.pyz', import.meta.url));
export const BUILD = fileURLToPath(new URL('../runner/build.py', import.meta.url));
/** The project venv (scripts/python-env.sh) has nbformat: executed notebooks are checked with its validator. */
export const VENV_PYTHON = fileURLToPath(new URL('../../.venv/bin/python', import.meta.url));
export const venvHas = (modules: string): boolean =>
  existsSync(VENV_PYTHON) && spawnSync(VENV_PYTHON, ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0;
export const HAS_NBFORMAT = venvHas('nbformat');
/** The optional kernel engine needs jupyter_client + ipykernel: the project venv has them. */
export const HAS_KERNEL = venvHas('jupyter_client, ipykernel');

export interface Cell {
  index: number;
  source: string;
  tags?: string[];
}

export interface TaskJson {
  jobId: string;
  taskId: string;
  taskName: string;
  attempt: number;
  setup: Cell[];
  cells?: Cell[];
  cellOffset: number;
  kind: 'cells' | 'notebook' | 'script';
  inputs: { name: string; from: string; readOnly?: boolean }[];
  outputs: string[];
  parameters: Record<string, unknown>;
  parametersCell: number | null;
  artifactRoot: string;
  outputDir: string;
  resultPath: string;
  notebookPath: string;
  sourcePath?: string;
  engine?: 'stdlib' | 'ipython' | 'kernel' | 'auto';
  definitions?: RunnerDefinition[];
  outputOrigins?: Record<string, number>;
  limits?: { errorBytes: number; resultBytes: number };
  usage?: 'container' | 'process';
}

export interface RunnerError {
  message: string;
  ename?: string;
  traceback?: string;
  cell?: number;
  reason?: string;
}

export interface RunnerResult {
  runner: { engine: string; version: string; python: string };
  status: 'succeeded' | 'failed' | 'cancelled';
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  cells: { index: number; durationMs: number; position: number; role: string }[];
  outputs: string[];
  outputDetails: { name: string; type: string; bytes: number }[];
  artifacts: string[];
  notes: { cell: number | null; message: string }[];
  warnings: RunnerWarning[];
  error?: RunnerError;
  usage?: RunnerUsage;
}

export interface NotebookOutput {
  output_type: string;
  name?: string;
  text?: string;
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  execution_count?: number;
}

export interface NotebookCell {
  cell_type: string;
  id: string;
  execution_count: number | null;
  metadata: { tags?: string[]; cellpipe?: Record<string, unknown> };
  source: string[];
  outputs: NotebookOutput[];
}

export interface Notebook {
  nbformat: number;
  nbformat_minor: number;
  metadata: Record<string, unknown>;
  cells: NotebookCell[];
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let root: string | undefined;
/** Every executed notebook the tests make; a suite's last test can have nbformat validate them all. */
export const notebooksWritten: string[] = [];
/** Environment every runner of this test file gets (under what a test passes). */
let baseEnv: Record<string, string> = {};

/**
 * Registers the temp folder of a test file's jobs (made before its tests, removed after) and the
 * environment its runners get: `{ CELLPIPE_RUNNER_ENGINE: 'stdlib' }` for a suite of one engine.
 */
export function useRunnerRoot(env: Record<string, string> = {}): void {
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'cellpipe-runner-'));
    baseEnv = env;
  });
  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });
}

/** A job directory shared by the tasks of one test: artifacts/<task>/ plus one run dir per task. */
export function newJob(): string {
  if (!root) throw new Error('call useRunnerRoot() in the test file');
  const dir = mkdtempSync(join(root, 'job-'));
  mkdirSync(join(dir, 'artifacts'));
  return dir;
}

export function task(job: string, name: string, fields: Partial<TaskJson> = {}): TaskJson {
  return {
    jobId: 'job123',
    taskId: `job123-${name}`,
    taskName: name,
    attempt: 1,
    setup: [],
    cells: [],
    cellOffset: 1,
    kind: 'cells',
    inputs: [],
    outputs: [],
    parameters: {},
    parametersCell: null,
    artifactRoot: join(job, 'artifacts'),
    outputDir: join(job, 'artifacts', name),
    resultPath: join(job, 'runs', name, 'result.json'),
    notebookPath: join(job, 'runs', name, 'executed.ipynb'),
    ...fields,
  };
}

export interface SpawnOptions {
  cwd?: string;
  runner?: string;
  python?: string;
  /** Interpreter options before the runner's path (`-I -S`: no site-packages). */
  pythonArgs?: string[];
  env?: Record<string, string>;
  /** Skip checking task.json against TaskJsonSchema (names its identifier schema does not take yet). */
  unchecked?: boolean;
}

export function spawnRunner(taskJsonPath: string, cwd: string, opts: SpawnOptions = {}) {
  return spawn(opts.python ?? 'python3', [...(opts.pythonArgs ?? []), opts.runner ?? RUNNER, taskJsonPath], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...baseEnv, ...opts.env },
  });
}

export function collect(child: ReturnType<typeof spawnRunner>, onStdout?: (text: string) => void): Promise<Run> {
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    onStdout?.(stdout);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export function writeTask(t: TaskJson | unknown, path: string): string {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, typeof t === 'string' ? t : JSON.stringify(t, null, 2));
  return path;
}

export async function runTask(
  t: TaskJson,
  opts: SpawnOptions = {},
): Promise<Run & { result: RunnerResult; notebook: Notebook }> {
  // Every task.json these tests write and every result.json the runner writes is the contract's.
  if (!opts.unchecked) expect(TaskJsonSchema.safeParse(t).error).toBeUndefined();
  const path = writeTask(t, join(t.resultPath, '..', 'task.json'));
  const run = await collect(spawnRunner(path, opts.cwd ?? join(t.resultPath, '..'), opts));
  const result = JSON.parse(readFileSync(t.resultPath, 'utf8')) as RunnerResult;
  expect(RunnerResultSchema.safeParse(result).error).toBeUndefined();
  const notebook = JSON.parse(readFileSync(t.notebookPath, 'utf8')) as Notebook;
  notebooksWritten.push(t.notebookPath);
  return { ...run, result, notebook };
}

export function cellOf(nb: Notebook, index: number): NotebookCell {
  const cell = nb.cells.find((c) => c.metadata.cellpipe?.index === index);
  if (!cell) throw new Error(`no cell with index ${index} in the executed notebook`);
  return cell;
}

export function streamText(cell: NotebookCell, name = 'stdout'): string {
  return cell.outputs
    .filter((o) => o.output_type === 'stream' && o.name === name)
    .map((o) => o.text ?? '')
    .join('');
}

export const code = (index: number, ...lines: string[]): Cell => ({ index, source: lines.join('\n') });

/**
 * A notebook's import hook, as a cell's lines: `import made_here` (once `Finder()` is on
 * `sys.meta_path`) gives a module whose `answer` is 42.
 */
export const FINDER = [
  'import sys, importlib.abc, importlib.util',
  'class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):',
  '    def find_spec(self, name, path, target=None):',
  '        return importlib.util.spec_from_loader(name, self) if name == "made_here" else None',
  '    def create_module(self, spec):',
  '        return None',
  '    def exec_module(self, module):',
  '        module.answer = 42',
];
