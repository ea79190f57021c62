/** Shared helpers for the engine's tests: notebooks, pipelines, a service in a temp home, waiting for jobs. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  isTerminalJobState,
  PipelineSchema,
  type Job,
  type Pipeline,
  type PipelineInput,
  type SubmitJobRequest,
  type TaskInput,
} from '@cellpipe/schema';
import { createJobService, type EngineOptions } from '../src/engine.js';
import type { Executor } from '../src/executors/executor.js';
import { LocalExecutor } from '../src/executors/local/local-executor.js';
import { parseDeclaredGpus } from '../src/gpu/inventory.js';
import type { JobService } from '../src/jobs/job-service.js';

export function notebook(cells: string[]): Record<string, unknown> {
  return taggedNotebook(cells.map((source) => ({ source })));
}

export interface NotebookCell {
  source: string;
  tags?: string[];
}

/** An nbformat 4.5 notebook of code cells with their tags. */
export function taggedNotebook(cells: NotebookCell[]): Record<string, unknown> {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: cells.map((c, i) => ({
      cell_type: 'code',
      id: `c${i}`,
      metadata: c.tags ? { tags: c.tags } : {},
      source: c.source,
      outputs: [],
      execution_count: null,
    })),
  };
}

/**
 * A pipeline whose tasks each run one cell of a generated notebook: `tasks` maps a task to its code.
 * Returns the SubmitJobRequest (pipeline + files).
 */
export function request(
  tasks: (Omit<TaskInput, 'cells'> & { code: string })[],
  spec: Omit<Partial<PipelineInput['spec']>, 'tasks'> = {},
  extra: Partial<SubmitJobRequest> = {},
): SubmitJobRequest {
  const cells = tasks.map((t) => t.code);
  const pipeline: Pipeline = PipelineSchema.parse({
    apiVersion: 'cellpipe.io/v1',
    kind: 'Pipeline',
    metadata: { name: 'test' },
    spec: {
      source: { notebook: 'test.ipynb' },
      ...spec,
      tasks: tasks.map(({ code: _code, ...t }, i) => ({ ...t, cells: [i + (spec.setupCells?.length ?? 0)] })),
    },
  });
  const setupCount = spec.setupCells?.length ?? 0;
  const allCells = [...Array.from({ length: setupCount }, () => 'pass'), ...cells];
  return { pipeline, files: { 'test.ipynb': JSON.stringify(notebook(allCells)) }, ...extra };
}

export interface TestHome {
  home: string;
  service: JobService;
  cleanup(): Promise<void>;
}

/** A local executor as tests use it: a declared GPU inventory (none by default), a short kill grace. */
export function testExecutor(gpus = ''): LocalExecutor {
  return new LocalExecutor({ devices: parseDeclaredGpus(gpus), killGraceMs: 1000 });
}

export interface ServiceOptions extends Partial<Omit<EngineOptions, 'executor'>> {
  executor?: Executor;
  /** Declared GPUs of the default local executor. */
  gpus?: string;
}

export async function startService(options: ServiceOptions = {}): Promise<TestHome> {
  const { gpus, executor, home = mkdtempSync(join(tmpdir(), 'cellpipe-test-')), ...engine } = options;
  const service = createJobService({
    home,
    retryBackoffMs: 50,
    ...engine,
    executor: executor ?? testExecutor(gpus),
  });
  await service.start();
  return {
    home,
    service,
    async cleanup() {
      await stopActiveJobs(service);
      await service.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/**
 * Cancels every job a test left unfinished and waits for them to end. Tasks outlive a closed service by
 * design (a restart re-attaches to them), so without this a task could still write into the home while
 * it is removed, or outlive the test.
 */
export async function stopActiveJobs(service: JobService): Promise<void> {
  const active = service.list({ limit: 1000 }).items.filter((j) => !isTerminalJobState(j.state));
  await Promise.all(
    active.map(async (j) => {
      await service.cancel(j.id);
      await waitForJob(service, j.id);
    }),
  );
}

/** Resolves with the job once it satisfies `until` (default: finished). */
export function waitForJob(
  service: JobService,
  id: string,
  until: (job: Job) => boolean = (j) => isTerminalJobState(j.state),
): Promise<Job> {
  return new Promise((resolve) => {
    const check = (): boolean => {
      const job = service.get(id);
      if (job && until(job)) {
        service.events.off('job', onJob);
        service.events.off('task', onJob);
        resolve(job);
        return true;
      }
      return false;
    };
    const onJob = (): void => void check();
    service.events.on('job', onJob);
    service.events.on('task', onJob);
    check();
  });
}

export const taskOf = (job: Job, name: string): Job['tasks'][number] => {
  const t = job.tasks.find((x) => x.name === name);
  if (!t) throw new Error(`no task ${name}`);
  return t;
};

/** Python that appends one line to a file: how tests count runs without timing anything. */
export const appendLine = (file: string, text: string): string =>
  `with open(${JSON.stringify(file)}, 'a') as _f:\n    _f.write(${JSON.stringify(text)} + '\\n')\n`;

/** Polls a condition the engine does not announce (a file a task writes). Bounded so a bug fails, not hangs. */
export async function until(check: () => boolean, what = 'condition', limitMs = 30_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** True while a process exists and is not a zombie (a zombie has exited; only its parent's reaping is left). */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
