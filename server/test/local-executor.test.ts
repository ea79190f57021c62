/** The local executor on its own: real runner processes, log files, re-attaching by pid + start time. */
import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutorEvent, LaunchSpec } from '../src/executors/executor.js';
import { ATTEMPT_ENV, defaultRunnerPath, LocalExecutor } from '../src/executors/local/local-executor.js';
import { processStartTime } from '../src/executors/local/process.js';
import { parseDeclaredGpus } from '../src/gpu/inventory.js';
import { processAlive, until } from './jobs-fixtures.js';

jest.setTimeout(60_000);

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'cellpipe-local-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function launch(name: string, code: string, extra: Partial<LaunchSpec> = {}): LaunchSpec {
  const taskDir = join(root, name, 'attempt-1');
  const artifactRoot = join(root, 'artifacts');
  mkdirSync(taskDir, { recursive: true });
  mkdirSync(join(artifactRoot, name, 'files'), { recursive: true });
  const taskJson = {
    jobId: 'job123',
    taskId: `job123.${name}`,
    taskName: name,
    attempt: 1,
    kind: 'cells',
    setup: [],
    cells: [{ index: 0, source: code }],
    cellOffset: 1,
    inputs: [],
    outputs: [],
    parameters: {},
    parametersCell: null,
    artifactRoot,
    outputDir: join(artifactRoot, name),
    resultPath: join(taskDir, 'result.json'),
    notebookPath: join(taskDir, 'executed.ipynb'),
  };
  const payload = JSON.stringify(taskJson);
  writeFileSync(join(taskDir, 'task.json'), payload);
  return {
    jobId: 'job123',
    taskName: name,
    taskId: `job123.${name}`,
    attempt: 1,
    owner: 'alice',
    resources: {},
    env: { GREETING: 'hi' },
    taskDir,
    payload: { 'task.json': payload },
    logPath: join(root, name, 'attempt-1.log'),
    resultPath: taskJson.resultPath,
    artifactRoot,
    ...extra,
  };
}

function collect(): {
  events: ExecutorEvent[];
  report: (e: ExecutorEvent) => void;
  exited: () => Promise<Extract<ExecutorEvent, { type: 'exited' }>>;
} {
  const events: ExecutorEvent[] = [];
  return {
    events,
    report: (e) => events.push(e),
    exited: async () => {
      await until(() => events.some((e) => e.type === 'exited'), 'the attempt to end');
      return events.find((e): e is Extract<ExecutorEvent, { type: 'exited' }> => e.type === 'exited')!;
    },
  };
}

test('runs the runner with the task env; output goes straight to the log file; result.json is read', async () => {
  const ex = new LocalExecutor({ killGraceMs: 500 });
  const c = collect();
  const spec = launch('hello', "import os\nprint(os.environ['GREETING'], os.environ['CELLPIPE_TASK_NAME'])\n");
  await ex.start(spec, c.report);
  const end = await c.exited();
  expect(c.events[0]).toMatchObject({ type: 'running', placement: 'local' });
  const handle = (c.events[0] as Extract<ExecutorEvent, { type: 'running' }>).handle;
  expect(typeof handle.pid).toBe('number');
  expect(typeof handle.startTime).toBe('number');
  expect(end).toMatchObject({ type: 'exited', exitCode: 0, result: { status: 'succeeded' } });
  expect(readFileSync(spec.logPath, 'utf8')).toContain('hi hello');
  await ex.close();
});

test('a missing python interpreter fails the attempt with a clear error', async () => {
  const ex = new LocalExecutor({ python: '/nonexistent/python3' });
  const c = collect();
  await ex.start(launch('nopy', 'pass\n'), c.report);
  const end = await c.exited();
  expect(end.error?.reason).toBe('spawn');
  expect(end.error?.message).toContain('/nonexistent/python3');
  await ex.close();
});

test('reattach finds an attempt spawned but never recorded, and does not start it again', async () => {
  // The orphan runs until the test lets it end: a fixed sleep could end before reattach looks.
  const go = join(root, 'go');
  const spec = launch(
    'orphan',
    `import os, time\nwhile not os.path.exists(${JSON.stringify(go)}):\n    time.sleep(0.05)\nprint('orphan done')\n`,
  );
  // What a crashed server left behind: the runner running detached with its attempt marker.
  const child = spawn('python3', [defaultRunnerPath(), join(spec.taskDir, 'task.json')], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, [ATTEMPT_ENV]: `${spec.taskId}#1` },
  });
  child.unref();
  await until(() => processStartTime(child.pid!) !== undefined, 'the orphan to start');
  const ex = new LocalExecutor({ pollMs: 50 });
  try {
    const c = collect();
    expect(await ex.reattach(spec, null, c.report)).toBe('following');
    expect(c.events[0]).toMatchObject({ type: 'running', handle: { pid: child.pid } });
    writeFileSync(go, '');
    const end = await c.exited();
    expect(end.result).toMatchObject({ status: 'succeeded' });
    expect(end.error).toBeUndefined();
  } finally {
    writeFileSync(go, ''); // never leave the orphan waiting
    await ex.close();
  }
});

test('reattach does not mistake a reused pid for the task; nothing found means not-found', async () => {
  const ex = new LocalExecutor({ pollMs: 50 });
  const c = collect();
  // Our own pid is alive, but with another start time it is not the task's process.
  const handle = { pid: process.pid, startTime: (processStartTime(process.pid) ?? 0) + 1, devices: '' };
  expect(await ex.reattach(launch('reused', 'pass\n'), handle, c.report)).toBe('following');
  const end = await c.exited();
  expect(end.error?.reason).toBe('lost');
  const d = collect();
  expect(await ex.reattach(launch('never', 'pass\n'), null, d.report)).toBe('not-found');
  await ex.close();
});

test('a waiting attempt can be cancelled, and a held GPU passes to the next waiter on exit', async () => {
  const ex = new LocalExecutor({ devices: parseDeclaredGpus('gpu:1'), killGraceMs: 300 });
  const a = collect();
  const b = collect();
  const w = collect();
  await ex.start(launch('holder', 'import time\ntime.sleep(60)\n', { resources: { gpu: 1 } }), a.report);
  await ex.start(launch('waiter', 'pass\n', { resources: { gpu: 1 } }), b.report);
  await ex.start(launch('cancelme', 'pass\n', { resources: { gpu: 1 } }), w.report);
  await until(() => w.events.some((e) => e.type === 'waiting'), 'the third attempt to wait');
  await ex.cancel({
    jobId: 'job123',
    taskName: 'cancelme',
    taskId: 'job123.cancelme',
    attempt: 1,
    reason: 'cancelled',
  });
  expect(await w.exited()).toMatchObject({ error: { reason: 'cancelled' } });
  const holderPid = (a.events.find((e) => e.type === 'running') as Extract<ExecutorEvent, { type: 'running' }>).handle
    .pid as number;
  await ex.cancel({ jobId: 'job123', taskName: 'holder', taskId: 'job123.holder', attempt: 1, reason: 'timeout' });
  expect(await a.exited()).toMatchObject({ error: { reason: 'timeout' } });
  expect(processAlive(holderPid)).toBe(false);
  expect(await b.exited()).toMatchObject({ exitCode: 0 });
  expect(b.events.map((e) => e.type)).toEqual(['waiting', 'running', 'exited']);
  await ex.close();
});

test('tasks beyond the machine-wide slot limit wait for a slot', async () => {
  const ex = new LocalExecutor({ maxTasks: 1 });
  const a = collect();
  const b = collect();
  await ex.start(launch('one', 'import time\ntime.sleep(0.3)\n'), a.report);
  await ex.start(launch('two', 'pass\n'), b.report);
  expect(await a.exited()).toMatchObject({ exitCode: 0 });
  expect(await b.exited()).toMatchObject({ exitCode: 0 });
  expect(b.events[0]).toEqual({ type: 'waiting', reason: 'waiting for a free local task slot (1 of 1 in use)' });
  expect(b.events.map((e) => e.type)).toEqual(['waiting', 'running', 'exited']);
  await ex.close();
});
