/**
 * The executor contract: what the orchestrator relies on from every Executor, as one jest suite each
 * implementation runs against its real backend (local processes, the Kubernetes test bed ...).
 *
 * Adding an implementation is one file calling `describeExecutorContract(name, harness)`, where the
 * harness says how to build the executor and how to make an attempt behave (succeed, fail, run until
 * stopped) on that backend.
 */
import { jest } from '@jest/globals';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Resources } from '@cellpipe/schema';
import type { CancelRequest, Executor, ExecutorEvent, LaunchSpec } from '../src/executors/executor.js';
import { attemptUsage, parseRunnerResult } from '../src/orchestrator/result.js';
import { JobLayout } from '../src/store/layout.js';

/** What an attempt's code does. */
export type Behaviour =
  /** `allocateMiB`: writes that much memory first. */
  | { kind: 'succeed'; allocateMiB?: number }
  | { kind: 'fail' }
  /** Keeps running for about this long (or until stopped). */
  | { kind: 'run'; seconds: number };

export interface ContractHarness {
  /** Called once before the suite (start a test bed ...). */
  setup?(): Promise<void>;
  teardown?(): Promise<void>;
  /** A new executor, as a (re)started server builds it. The suite closes each one. */
  executor(): Executor | Promise<Executor>;
  /** A launch spec for one attempt of a fresh task that behaves as asked. */
  launch(behaviour: Behaviour, options?: LaunchOptions): LaunchSpec;
  /** A request this backend can never satisfy. */
  impossible: Resources;
  /** The executor reads the runner's result.json and reports it with `exited`. */
  readsResults: boolean;
  /**
   * The largest payload the executor ships; a larger one must end as `payload-too-large`.
   * Undefined: no limit (a payload of several megabytes runs).
   */
  payloadLimit?: number;
  /** How long the slowest backend takes for one short attempt from start to end (ms). */
  attemptTimeoutMs?: number;
}

export interface LaunchOptions {
  resources?: Resources;
  payloadBytes?: number;
  /** task.json `usage`, as the orchestrator writes it for this executor. */
  usage?: 'container' | 'process';
}

type Exited = Extract<ExecutorEvent, { type: 'exited' }>;

/** Python that behaves as asked, for harnesses whose attempts run the real task runner. */
function behaviourCode(b: Behaviour): string {
  if (b.kind === 'succeed') return b.allocateMiB ? `blob = b"x" * (${b.allocateMiB} * 1024 * 1024)\n` : 'x = 1\n';
  if (b.kind === 'fail') return 'raise RuntimeError("the task failed on purpose")\n';
  return `import time\ntime.sleep(${b.seconds})\n`;
}

/** The job id of every attempt `runnerLaunch` makes. */
export const CONTRACT_JOB_ID = 'contract';

/**
 * A launch spec whose task.json makes the real task runner behave as asked, with every path where a
 * server at home `root` keeps its job files (store/layout.ts), so the runner can write them on
 * whichever side it runs, and the task-data API finds them.
 */
export function runnerLaunch(
  root: string,
  taskName: string,
  behaviour: Behaviour,
  options: LaunchOptions = {},
): LaunchSpec {
  const jobId = CONTRACT_JOB_ID;
  const layout = new JobLayout(root);
  const taskDir = layout.attemptDir(jobId, taskName, 1);
  const artifactRoot = layout.artifactRoot(jobId);
  mkdirSync(taskDir, { recursive: true });
  mkdirSync(layout.filesDir(jobId, taskName), { recursive: true });
  const padding = options.payloadBytes ? `pad = ${JSON.stringify('x'.repeat(options.payloadBytes))}\n` : '';
  const taskJson = {
    jobId,
    taskId: `${jobId}.${taskName}`,
    taskName,
    attempt: 1,
    kind: 'cells',
    setup: [],
    cells: [{ index: 0, source: padding + behaviourCode(behaviour) }],
    cellOffset: 1,
    inputs: [],
    outputs: [],
    parameters: {},
    parametersCell: null,
    artifactRoot,
    outputDir: layout.outputDir(jobId, taskName),
    resultPath: layout.resultPath(jobId, taskName, 1),
    notebookPath: layout.notebookPath(jobId, taskName, 1),
    ...(options.usage ? { usage: options.usage } : {}),
  };
  const payload = JSON.stringify(taskJson);
  writeFileSync(join(taskDir, 'task.json'), payload);
  return {
    jobId,
    taskName,
    taskId: `${jobId}.${taskName}`,
    attempt: 1,
    owner: 'alice',
    resources: options.resources ?? {},
    env: {},
    taskDir,
    payload: { 'task.json': payload },
    logPath: layout.logPath(jobId, taskName, 1),
    resultPath: taskJson.resultPath,
    artifactRoot,
  };
}

/** Collects one attempt's events; `until` resolves on the first event that matches. */
export class Recorder {
  readonly events: ExecutorEvent[] = [];
  private waiters: { match: (e: ExecutorEvent) => boolean; resolve: (e: ExecutorEvent) => void }[] = [];

  readonly report = (e: ExecutorEvent): void => {
    this.events.push(e);
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(e)) return true;
      w.resolve(e);
      return false;
    });
  };

  until<T extends ExecutorEvent['type']>(
    type: T,
    match: (e: Extract<ExecutorEvent, { type: T }>) => boolean = () => true,
  ): Promise<Extract<ExecutorEvent, { type: T }>> {
    const pred = (e: ExecutorEvent): boolean => e.type === type && match(e as Extract<ExecutorEvent, { type: T }>);
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen as Extract<ExecutorEvent, { type: T }>);
    return new Promise((resolve) => {
      this.waiters.push({ match: pred, resolve: resolve as (e: ExecutorEvent) => void });
    });
  }

  exited(): Promise<Exited> {
    return this.until('exited');
  }

  types(): string[] {
    return this.events.filter((e) => e.type !== 'log').map((e) => e.type);
  }
}

export function cancelOf(spec: LaunchSpec, reason: CancelRequest['reason']): CancelRequest {
  return { jobId: spec.jobId, taskName: spec.taskName, taskId: spec.taskId, attempt: spec.attempt, reason };
}

/**
 * The orchestrator's reading of an end: the runner's result is the truth when there is one (an
 * attempt found again after a restart has no exit code); otherwise exit code 0 and no error.
 */
const succeeded = (e: Exited): boolean =>
  !e.error &&
  (e.result !== undefined
    ? (e.result as { status?: unknown }).status === 'succeeded' && (e.exitCode === undefined || e.exitCode === 0)
    : e.exitCode === 0);

export function describeExecutorContract(name: string, harness: ContractHarness): void {
  describe(`executor contract: ${name}`, () => {
    const open: Executor[] = [];
    const fresh = async (): Promise<Executor> => {
      const ex = await harness.executor();
      open.push(ex);
      return ex;
    };
    /** Closed (as a server that stops), so no test leans on another's executor. */
    let ex: Executor;

    beforeAll(async () => {
      await harness.setup?.();
    }, 90 * 60_000);
    afterAll(async () => {
      for (const e of open) await e.close();
      await harness.teardown?.();
    });
    beforeEach(async () => {
      ex = await fresh();
    });
    jest.setTimeout(harness.attemptTimeoutMs ?? 60_000);

    test('an attempt that succeeds: running (with a JSON handle), then exited with code 0, exactly once', async () => {
      const spec = harness.launch({ kind: 'succeed' });
      const rec = new Recorder();
      await ex.start(spec, rec.report);
      const end = await rec.exited();
      expect(succeeded(end)).toBe(true);
      expect(end.exitCode).toBe(0);
      if (harness.readsResults) expect(end.result).toMatchObject({ status: 'succeeded' });
      const running = await rec.until('running');
      expect(JSON.parse(JSON.stringify(running.handle))).toEqual(running.handle);
      const types = rec.types();
      expect(types.indexOf('running')).toBeLessThan(types.indexOf('exited'));
      expect(types.filter((t) => t === 'exited')).toHaveLength(1);
      expect(types.at(-1)).toBe('exited');
    });

    if (harness.readsResults)
      test('an attempt says what it used: peak memory and CPU seconds, as the orchestrator reads its end', async () => {
        const usage = ex.containerPerAttempt ? 'container' : 'process';
        const rec = new Recorder();
        await ex.start(harness.launch({ kind: 'succeed', allocateMiB: 32 }, { usage }), rec.report);
        const end = await rec.exited();
        expect(succeeded(end)).toBe(true);
        // The executor's own measurement, or the runner's in result.json where it has none.
        const used = attemptUsage(end.usage, parseRunnerResult(end.result)?.usage);
        expect(used?.peakMemoryBytes).toBeGreaterThanOrEqual(32 * 1024 * 1024);
        expect(used?.cpuSeconds).toBeGreaterThan(0);
      });

    test('an attempt that fails ends unsuccessfully with a non-zero exit code', async () => {
      const rec = new Recorder();
      await ex.start(harness.launch({ kind: 'fail' }), rec.report);
      const end = await rec.exited();
      expect(succeeded(end)).toBe(false);
      expect(end.exitCode).toBeGreaterThan(0);
      if (harness.readsResults) expect(end.result).toMatchObject({ status: 'failed' });
      else expect(end.error?.reason).toBe('exit');
    });

    test.each(['cancelled', 'timeout'] as const)(
      'cancel (%s) stops a running attempt, reports that reason, and is idempotent',
      async (reason) => {
        const spec = harness.launch({ kind: 'run', seconds: 300 });
        const rec = new Recorder();
        await ex.start(spec, rec.report);
        await rec.until('running');
        await ex.cancel(cancelOf(spec, reason));
        const end = await rec.exited();
        expect(end.error?.reason).toBe(reason);
        expect(succeeded(end)).toBe(false);
        // Stopping it again, or an attempt that never existed, changes nothing and does not throw.
        await ex.cancel(cancelOf(spec, reason));
        await ex.cancel(cancelOf({ ...spec, attempt: spec.attempt + 7 }, reason));
        expect(rec.types().filter((t) => t === 'exited')).toHaveLength(1);
      },
    );

    test('after a restart, reattach follows a running attempt to its end and does not start it again', async () => {
      const spec = harness.launch({ kind: 'run', seconds: 4 });
      const first = new Recorder();
      await ex.start(spec, first.report);
      const running = await first.until('running');
      await ex.close();

      const again = await fresh();
      const rec = new Recorder();
      expect(await again.reattach(spec, running.handle, rec.report)).toBe('following');
      const end = await rec.exited();
      expect(succeeded(end)).toBe(true);
      expect(first.types()).not.toContain('exited');
      // An attempt that was never handed over is not found (and only then may it be started).
      const never = harness.launch({ kind: 'succeed' });
      expect(await again.reattach(never, null, () => undefined)).toBe('not-found');
    });

    test('after a restart, reattach with no recorded handle finds an attempt that was started', async () => {
      const spec = harness.launch({ kind: 'run', seconds: 4 });
      const first = new Recorder();
      await ex.start(spec, first.report);
      await first.until('running');
      await ex.close();

      const again = await fresh();
      const rec = new Recorder();
      expect(await again.reattach(spec, null, rec.report)).toBe('following');
      expect(succeeded(await rec.exited())).toBe(true);
    });

    test('a request it can never satisfy ends at once as unschedulable, never running', async () => {
      const rec = new Recorder();
      await ex.start(harness.launch({ kind: 'succeed' }, { resources: harness.impossible }), rec.report);
      const end = await rec.exited();
      expect(end.error?.reason).toBe('unschedulable');
      expect(end.error?.message).toBeTruthy();
      expect(rec.types()).toEqual(['exited']);
    });

    const limit = harness.payloadLimit;
    if (limit !== undefined) {
      test('a payload over its limit ends as payload-too-large, naming the limit, never running', async () => {
        const rec = new Recorder();
        await ex.start(harness.launch({ kind: 'succeed' }, { payloadBytes: limit + 1024 }), rec.report);
        const end = await rec.exited();
        expect(end.error?.reason).toBe('payload-too-large');
        expect(end.error?.message).toContain(String(limit));
        expect(rec.types()).toEqual(['exited']);
      });
    } else {
      test('a payload of several megabytes runs', async () => {
        const rec = new Recorder();
        await ex.start(harness.launch({ kind: 'succeed' }, { payloadBytes: 5 * 1024 * 1024 }), rec.report);
        expect(succeeded(await rec.exited())).toBe(true);
      });
    }
  });
}
