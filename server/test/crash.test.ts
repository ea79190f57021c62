/**
 * Crash safety: the engine runs in a child process (server/dist, built by `npm run build`), gets
 * SIGKILLed while tasks run, and is started again on the same home. Nothing may be lost and no task
 * may run twice; tasks count their runs by appending to files.
 *
 * @slow (npm test runs it; npm run test:fast leaves it out)
 */
import { jest } from '@jest/globals';
import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { attachEngine, kill9, type Engine } from './engine-child.js';
import { appendLine, processAlive, request, until } from './jobs-fixtures.js';

jest.setTimeout(120_000);

const here = dirname(fileURLToPath(import.meta.url));
const entry = join(here, '..', 'dist', 'engine-process.js');

function startEngine(home: string): Promise<Engine> {
  return attachEngine(
    fork(entry, ['--home', home, '--gpus', 'gpu:1', '--retry-backoff-ms', '50'], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
}

const lines = (file: string): string[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
const waitFile = (file: string): string =>
  `import os, time\nfor _ in range(1200):\n    if os.path.exists(${JSON.stringify(file)}): break\n    time.sleep(0.05)\nelse:\n    raise RuntimeError('never released')\n`;

let home: string;
let scratch: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'cellpipe-crash-home-'));
  scratch = mkdtempSync(join(tmpdir(), 'cellpipe-crash-'));
});
afterEach(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

test('kill -9 of the server mid-job loses nothing and runs no task twice', async () => {
  expect(existsSync(entry)).toBe(true);
  const runs = join(scratch, 'runs');
  const pids = join(scratch, 'pids');
  const releaseDown = join(scratch, 'release-while-down');
  const releaseUp = join(scratch, 'release-after-restart');
  const record = (name: string): string =>
    `import os\n${appendLine(runs, name)}${appendLine(pids, `${name} {os.getpid()}`).replace('_f.write(', '_f.write(f')}`;
  const req = request([
    { name: 'prep', code: `${record('prep')}value = 7\n`, outputs: ['value'] },
    // Ends while the server is down: its result.json is the truth.
    {
      name: 'ends_while_down',
      code: `${record('ends_while_down')}${waitFile(releaseDown)}doubled = value * 2\n`,
      dependsOn: ['prep'],
      inputs: ['value'],
      outputs: ['doubled'],
    },
    // Still running after the restart: followed by pid + start time, holding its GPU.
    {
      name: 'still_running',
      code: `${record('still_running')}${waitFile(releaseUp)}`,
      dependsOn: ['prep'],
      resources: { gpu: 1 },
    },
    // Killed (no result) while the server is down: lost, then retried.
    {
      name: 'lost',
      code: `${record('lost')}import time\nif open(${JSON.stringify(runs)}).read().split().count('lost') < 2:\n    time.sleep(60)\n`,
      dependsOn: ['prep'],
      retries: 1,
    },
    {
      name: 'final',
      code: `${record('final')}assert doubled == 14\n`,
      dependsOn: ['ends_while_down', 'still_running', 'lost'],
      inputs: ['doubled'],
    },
  ]);

  let engine = await startEngine(home);
  const job = await engine.submit('alice', req);
  const pidOf = (name: string): number | undefined => {
    const l = lines(pids).find((x) => x.startsWith(`${name} `));
    return l ? Number(l.split(' ')[1]) : undefined;
  };
  await until(
    () =>
      ['ends_while_down', 'still_running', 'lost'].every((n) => pidOf(n) !== undefined) &&
      engine.tasks.filter((e) => e.jobId === job.id && e.task.state === 'running').length >= 4,
    'three tasks running',
  );
  await kill9(engine);

  // While the server is down: one task finishes, one is killed without leaving a result.
  writeFileSync(releaseDown, '');
  await until(() => !processAlive(pidOf('ends_while_down')!), 'ends_while_down to finish');
  process.kill(pidOf('lost')!, 'SIGKILL');
  await until(() => !processAlive(pidOf('lost')!), 'lost to die');
  expect(processAlive(pidOf('still_running')!)).toBe(true);

  engine = await startEngine(home);
  try {
    // The restarted engine follows the live task (and holds its GPU) until it is released.
    await until(() => lines(runs).filter((l) => l === 'lost').length === 2, 'the lost task to be retried');
    writeFileSync(releaseUp, '');
    await until(
      () => ['succeeded', 'failed', 'cancelled'].includes(engine.jobs.get(job.id)?.state ?? ''),
      'the job to finish',
      60_000,
    );
  } finally {
    engine.child.disconnect();
    await new Promise((r) => engine.child.once('exit', r));
  }
  const store = new SqliteStore(join(home, 'cellpipe.db'));
  try {
    const stored = store.getJob(job.id)!;
    const tasks = store.getTasks(job.id);
    const byName = Object.fromEntries(tasks.map((t) => [t.name, t]));
    expect(stored.state).toBe('succeeded');
    expect(tasks.map((t) => [t.name, t.state])).toEqual([
      ['prep', 'succeeded'],
      ['ends_while_down', 'succeeded'],
      ['still_running', 'succeeded'],
      ['lost', 'succeeded'],
      ['final', 'succeeded'],
    ]);
    // Every task ran exactly once, except the one whose process died without a result.
    expect(lines(runs).sort()).toEqual(['ends_while_down', 'final', 'lost', 'lost', 'prep', 'still_running']);
    expect(byName.lost!.attempt).toBe(2);
    expect(store.attempts(job.id, 'lost').map((a) => a.reason ?? 'ok')).toEqual(['lost', 'ok']);
    expect(byName.ends_while_down!.attempt).toBe(1);
    expect(store.openAttempts()).toEqual([]);
  } finally {
    store.close();
  }
});

test('an attempt persisted as starting but never spawned is started after a restart', async () => {
  const runs = join(scratch, 'runs');
  // Prepare a home with one job, stop the engine before anything runs, then fake "crashed right after
  // persisting the attempt": the engine process is killed between the commit and the spawn.
  let engine = await startEngine(home);
  const job = await engine.submit(
    'alice',
    request([{ name: 'only', code: `import time\n${appendLine(runs, 'only')}time.sleep(0.2)\n` }]),
  );
  await until(() => lines(runs).length === 1, 'the task to run');
  await until(() => engine.jobs.get(job.id)?.state === 'succeeded', 'the job to finish');
  await kill9(engine);
  const store = new SqliteStore(join(home, 'cellpipe.db'));
  const at = new Date().toISOString();
  // Rewind the job to "attempt 2 handed to the executor, never spawned".
  store.apply({
    job: { id: job.id, state: 'running', finishedAt: undefined },
    tasks: [{ jobId: job.id, task: { ...store.getTasks(job.id)[0]!, state: 'queued', attempt: 2, maxAttempts: 2 } }],
    attempts: [{ jobId: job.id, task: 'only', attempt: 2, state: 'starting', handle: null, createdAt: at }],
  });
  store.close();
  const { mkdirSync, readFileSync: read } = await import('node:fs');
  const attemptDir = join(home, 'jobs', job.id, 'tasks', 'only', 'attempt-2');
  mkdirSync(attemptDir, { recursive: true });
  const taskJson = JSON.parse(read(join(home, 'jobs', job.id, 'tasks', 'only', 'attempt-1', 'task.json'), 'utf8'));
  writeFileSync(
    join(attemptDir, 'task.json'),
    JSON.stringify({
      ...taskJson,
      attempt: 2,
      resultPath: join(attemptDir, 'result.json'),
      notebookPath: join(attemptDir, 'executed.ipynb'),
    }),
  );
  engine = await startEngine(home);
  try {
    await until(() => engine.jobs.get(job.id)?.state === 'succeeded', 'the job to finish again');
  } finally {
    engine.child.disconnect();
    await new Promise((r) => engine.child.once('exit', r));
  }
  expect(lines(runs)).toEqual(['only', 'only']);
});

test('a cancel persisted before a crash is finished by the restarted engine', async () => {
  const pids = join(scratch, 'pids');
  let engine = await startEngine(home);
  const job = await engine.submit(
    'alice',
    request([
      {
        name: 'long',
        code: `import os, time\n${appendLine(pids, '{os.getpid()}').replace('_f.write(', '_f.write(f')}time.sleep(60)\n`,
      },
      { name: 'after', code: 'pass\n', dependsOn: ['long'] },
    ]),
  );
  await until(() => lines(pids).length === 1, 'the task to start');
  await kill9(engine);
  // What cancel() persists first (the job's error mark), as if the crash came right after it.
  const store = new SqliteStore(join(home, 'cellpipe.db'));
  store.apply({ job: { id: job.id, error: 'cancelled' } });
  store.close();
  const pid = Number(lines(pids)[0]);
  expect(processAlive(pid)).toBe(true);
  engine = await startEngine(home);
  try {
    await until(() => engine.jobs.get(job.id)?.state === 'cancelled', 'the job to be cancelled');
  } finally {
    engine.child.disconnect();
    await new Promise((r) => engine.child.once('exit', r));
  }
  expect(processAlive(pid)).toBe(false);
  const after = new SqliteStore(join(home, 'cellpipe.db'));
  try {
    expect(after.getTasks(job.id).map((t) => [t.name, t.state])).toEqual([
      ['long', 'cancelled'],
      ['after', 'cancelled'],
    ]);
  } finally {
    after.close();
  }
});
