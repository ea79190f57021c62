/**
 * The orchestrator against the real parts: SQLite file, python3 processes running the real task runner.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import type { TaskEvent } from '@cellpipe/schema';
import {
  appendLine,
  request,
  startService,
  processAlive,
  taskOf,
  until,
  waitForJob,
  type TestHome,
} from './jobs-fixtures.js';

jest.setTimeout(60_000);

let h: TestHome;
let scratch: string;

beforeAll(async () => {
  h = await startService();
});
afterAll(async () => {
  await h.cleanup();
});
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'cellpipe-scratch-'));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

const lines = (file: string): string[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];

/** Python that waits (bounded) until a file exists: a rendezvous that proves two tasks run at once. */
const waitFor = (file: string): string =>
  `import os, time\nfor _ in range(400):\n    if os.path.exists(${JSON.stringify(file)}): break\n    time.sleep(0.05)\nelse:\n    raise RuntimeError('never saw ${file}')\n`;
const touch = (file: string): string => `open(${JSON.stringify(file)}, 'w').close()\n`;

test('runs a diamond in dependency order, in parallel, passing variables and files', async () => {
  const A = join(scratch, 'b.ready');
  const B = join(scratch, 'c.ready');
  const job = await h.service.submit(
    'alice',
    request([
      { name: 'a', code: 'base = 20\n', outputs: ['base'] },
      {
        name: 'b',
        code: `${touch(A)}${waitFor(B)}left = base + 1\nimport os\nopen(os.path.join(os.environ['CELLPIPE_OUTPUT_DIR'], 'b.txt'), 'w').write('from b')\n`,
        dependsOn: ['a'],
        inputs: ['base'],
        outputs: ['left'],
      },
      {
        name: 'c',
        code: `${touch(B)}${waitFor(A)}right = base + 1\n`,
        dependsOn: ['a'],
        inputs: ['base'],
        outputs: ['right'],
      },
      {
        name: 'd',
        code:
          "import os\ntext = open(os.path.join(os.environ['CELLPIPE_INPUT_DIR'], 'b', 'files', 'b.txt')).read()\n" +
          `${appendLine(join(scratch, 'd.out'), '{left} {right} {text}').replace('_f.write(', '_f.write(f')}`,
        dependsOn: ['b', 'c'],
        inputs: ['left', 'right'],
      },
    ]),
  );
  expect(job.state).toBe('pending');
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('succeeded');
  expect(done.taskCounts.succeeded).toBe(4);
  expect(lines(join(scratch, 'd.out'))).toEqual(['21 21 from b']);
  expect(taskOf(done, 'b').artifacts).toEqual(['b.txt']);
  // Order from the persisted transition history.
  const history = (h.service.store as import('../src/store/sqlite-store.js').SqliteStore).transitions(job.id);
  const at = (task: string, to: string): number => history.findIndex((t) => t.task === task && t.to === to);
  expect(at('a', 'succeeded')).toBeLessThan(at('b', 'running'));
  expect(at('a', 'succeeded')).toBeLessThan(at('c', 'running'));
  expect(at('b', 'succeeded')).toBeLessThan(at('d', 'running'));
  expect(at('c', 'succeeded')).toBeLessThan(at('d', 'running'));
});

test('maxParallel bounds how many tasks of a job run at once', async () => {
  const marker = (name: string): string =>
    `import os, time, glob\nopen(${JSON.stringify(join(scratch, 'run-'))} + ${JSON.stringify(name)}, 'w').close()\n` +
    `n = len(glob.glob(${JSON.stringify(join(scratch, 'run-*'))}))\n` +
    `open(${JSON.stringify(join(scratch, 'seen'))}, 'a').write(str(n) + '\\n')\ntime.sleep(0.2)\n` +
    `os.remove(${JSON.stringify(join(scratch, 'run-'))} + ${JSON.stringify(name)})\n`;
  const job = await h.service.submit(
    'alice',
    request(
      ['t1', 't2', 't3'].map((name) => ({ name, code: marker(name) })),
      { maxParallel: 1 },
    ),
  );
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('succeeded');
  expect(lines(join(scratch, 'seen'))).toEqual(['1', '1', '1']);
});

test('a failure skips its dependents and lets independent branches finish (continue)', async () => {
  const job = await h.service.submit(
    'alice',
    request([
      { name: 'bad', code: 'raise ValueError("boom")\n' },
      { name: 'after', code: appendLine(join(scratch, 'after'), 'ran'), dependsOn: ['bad'] },
      { name: 'later', code: 'pass\n', dependsOn: ['after'] },
      { name: 'free', code: appendLine(join(scratch, 'free'), 'ran') },
    ]),
  );
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('failed');
  expect(done.error).toContain('bad');
  const bad = taskOf(done, 'bad');
  expect(bad.state).toBe('failed');
  expect(bad.error?.ename).toBe('ValueError');
  expect(bad.error?.message).toContain('boom');
  expect(bad.error?.cell).toBe(1);
  expect(taskOf(done, 'after').state).toBe('skipped');
  expect(taskOf(done, 'after').error?.message).toContain("upstream task 'bad'");
  expect(taskOf(done, 'later').state).toBe('skipped');
  expect(taskOf(done, 'free').state).toBe('succeeded');
  expect(lines(join(scratch, 'after'))).toEqual([]);
  expect(lines(join(scratch, 'free'))).toEqual(['ran']);
});

test('fail-fast cancels running and pending tasks and kills their processes', async () => {
  const pidFile = join(scratch, 'pid');
  const job = await h.service.submit(
    'alice',
    request(
      [
        {
          name: 'slow',
          code: `import os, time\n${appendLine(pidFile, '{os.getpid()}').replace('_f.write(', '_f.write(f')}time.sleep(60)\n`,
        },
        { name: 'bad', code: `${waitFor(pidFile)}raise RuntimeError("stop")\n` },
        { name: 'next', code: 'pass\n', dependsOn: ['bad'] },
      ],
      { failurePolicy: 'fail-fast' },
    ),
  );
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('failed');
  expect(done.error).toContain('fail-fast');
  expect(taskOf(done, 'bad').state).toBe('failed');
  expect(taskOf(done, 'slow').state).toBe('cancelled');
  expect(taskOf(done, 'next').state).toBe('cancelled');
  const pid = Number(lines(pidFile)[0]);
  expect(processAlive(pid)).toBe(false);
});

test('retries a failing task with backoff until it succeeds', async () => {
  const count = join(scratch, 'count');
  const code = `${appendLine(count, 'try')}n = len(open(${JSON.stringify(count)}).read().split())\nprint('attempt', n)\nif n < 3:\n    raise RuntimeError('flaky')\n`;
  const job = await h.service.submit('alice', request([{ name: 'flaky', code, retries: 2 }]));
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('succeeded');
  const t = taskOf(done, 'flaky');
  expect(t.attempt).toBe(3);
  expect(t.maxAttempts).toBe(3);
  expect(t.error).toBeUndefined();
  expect(lines(count)).toHaveLength(3);
  let first = '';
  for await (const chunk of h.service.readLogs(job.id, 'flaky', { attempt: 1 })) first += chunk;
  expect(first).toContain('attempt 1');
  expect(first).toContain('flaky');
  const attempts = h.service.store.attempts(job.id, 'flaky');
  expect(attempts.map((a) => [a.attempt, a.state, a.exitCode])).toEqual([
    [1, 'finished', 1],
    [2, 'finished', 1],
    [3, 'finished', 0],
  ]);
});

test('a retry budget that runs out fails the task', async () => {
  const job = await h.service.submit(
    'alice',
    request([{ name: 'never', code: 'raise SystemError("no")\n', retries: 1 }]),
  );
  const done = await waitForJob(h.service, job.id);
  expect(taskOf(done, 'never').state).toBe('failed');
  expect(taskOf(done, 'never').attempt).toBe(2);
});

test('a task that exceeds its timeout is killed and fails with reason timeout', async () => {
  const pidFile = join(scratch, 'pid');
  const job = await h.service.submit(
    'alice',
    request([
      {
        name: 'sleepy',
        code: `import os, time\n${appendLine(pidFile, '{os.getpid()}').replace('_f.write(', '_f.write(f')}time.sleep(60)\n`,
        timeout: '1s',
      },
    ]),
  );
  const done = await waitForJob(h.service, job.id);
  const t = taskOf(done, 'sleepy');
  expect(t.state).toBe('failed');
  expect(t.error?.reason).toBe('timeout');
  expect(t.error?.message).toContain('1s');
  expect(processAlive(Number(lines(pidFile)[0]))).toBe(false);
});

test('timeouts longer than a Node timer holds (25 and 30 days) do not fire early', async () => {
  const job = await h.service.submit(
    'alice',
    request([{ name: 'patient', code: 'import time\ntime.sleep(0.5)\n', timeout: '25d' }], { timeout: '30d' }),
  );
  const done = await waitForJob(h.service, job.id);
  expect(taskOf(done, 'patient').error).toBeUndefined();
  expect(done.state).toBe('succeeded');
});

test('a job that exceeds its timeout fails and its tasks stop', async () => {
  const job = await h.service.submit(
    'alice',
    request(
      [
        { name: 'long', code: 'import time\ntime.sleep(60)\n' },
        { name: 'then', code: 'pass\n', dependsOn: ['long'] },
      ],
      { timeout: '1s' },
    ),
  );
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('failed');
  expect(done.error).toContain('timeout of 1s');
  expect(taskOf(done, 'long').error?.reason).toBe('timeout');
  expect(taskOf(done, 'then').state).toBe('cancelled');
});

test('cancel kills the whole process group of running tasks and cancels the rest', async () => {
  const pids = join(scratch, 'pids');
  const spawnChild =
    'import os, subprocess, time\n' +
    "child = subprocess.Popen(['sleep', '60'])\n" +
    `${appendLine(pids, '{os.getpid()} {child.pid}').replace('_f.write(', '_f.write(f')}` +
    'time.sleep(60)\n';
  const job = await h.service.submit(
    'alice',
    request([
      { name: 'one', code: spawnChild },
      { name: 'two', code: spawnChild },
      { name: 'three', code: 'pass\n', dependsOn: ['one'] },
    ]),
  );
  await until(() => lines(pids).length === 2, 'both tasks to start');
  await h.service.cancel(job.id);
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('cancelled');
  expect(done.tasks.map((t) => t.state)).toEqual(['cancelled', 'cancelled', 'cancelled']);
  expect(taskOf(done, 'one').error?.reason).toBe('cancelled');
  for (const pid of lines(pids).flatMap((l) => l.split(' ').map(Number))) {
    expect(processAlive(pid)).toBe(false);
  }
  // Cancelling a finished job changes nothing.
  expect((await h.service.cancel(job.id)).state).toBe('cancelled');
});

test('re-run of failed tasks reuses succeeded upstream outputs and reruns the rest', async () => {
  const runs = join(scratch, 'runs');
  const fixed = join(scratch, 'fixed');
  const job = await h.service.submit(
    'alice',
    request([
      {
        name: 'prep',
        code: `${appendLine(runs, 'prep')}data = [1, 2, 3]\nimport os\nopen(os.path.join(os.environ['CELLPIPE_OUTPUT_DIR'], 'p.txt'), 'w').write('p')\n`,
        outputs: ['data'],
      },
      { name: 'other', code: appendLine(runs, 'other') },
      {
        name: 'train',
        code: `${appendLine(runs, 'train')}import os\nif not os.path.exists(${JSON.stringify(fixed)}):\n    raise RuntimeError('not yet')\ntotal = sum(data)\n`,
        dependsOn: ['prep'],
        inputs: ['data'],
        outputs: ['total'],
      },
      {
        name: 'report',
        code: `${appendLine(runs, 'report {total}').replace('_f.write(', '_f.write(f')}`,
        dependsOn: ['train'],
        inputs: ['total'],
      },
    ]),
  );
  const first = await waitForJob(h.service, job.id);
  expect(first.state).toBe('failed');
  expect(taskOf(first, 'report').state).toBe('skipped');
  rmSync(runs);
  writeFileSync(fixed, '');
  const rerun = await h.service.rerun(job.id, 'failed');
  expect(rerun.parentJobId).toBe(job.id);
  expect(taskOf(rerun, 'prep')).toMatchObject({ state: 'succeeded', reused: true });
  const done = await waitForJob(h.service, rerun.id);
  expect(done.state).toBe('succeeded');
  expect(taskOf(done, 'prep').reused).toBe(true);
  expect(taskOf(done, 'other').reused).toBe(true);
  expect(taskOf(done, 'train').reused).toBeUndefined();
  expect(taskOf(done, 'prep').artifacts).toEqual(['p.txt']);
  expect(lines(runs).sort()).toEqual(['report 6', 'train']);
  // Whole re-run runs everything again.
  const all = await h.service.rerun(job.id, 'all');
  expect((await waitForJob(h.service, all.id)).state).toBe('succeeded');
  expect(lines(runs).filter((l) => l === 'prep')).toHaveLength(1);
});

test("a re-run never changes an earlier job's files: a task writing to a reused output writes its own copy", async () => {
  const fixed = join(scratch, 'fixed');
  const outputOf = (jobId: string, task: string, file: string): string =>
    join(h.home, 'jobs', jobId, 'artifacts', task, 'files', file);
  const job = await h.service.submit(
    'alice',
    request([
      {
        name: 'prep',
        code: "import os\nopen(os.path.join(os.environ['CELLPIPE_OUTPUT_DIR'], 'data.txt'), 'w').write('original')\n",
      },
      {
        name: 'use',
        code:
          `import os\nif not os.path.exists(${JSON.stringify(fixed)}):\n    raise RuntimeError('not yet')\n` +
          "p = os.path.join(os.environ['CELLPIPE_INPUT_DIR'], 'prep', 'files', 'data.txt')\n" +
          "open(p, 'a').write(' changed by the re-run')\n" +
          'os.chmod(p, 0o600)\n',
        dependsOn: ['prep'],
      },
    ]),
  );
  expect((await waitForJob(h.service, job.id)).state).toBe('failed');
  writeFileSync(fixed, '');
  const rerun = await h.service.rerun(job.id, 'failed');
  expect(taskOf(rerun, 'prep').reused).toBe(true);
  expect((await waitForJob(h.service, rerun.id)).state).toBe('succeeded');
  expect(readFileSync(outputOf(rerun.id, 'prep', 'data.txt'), 'utf8')).toBe('original changed by the re-run');
  expect(readFileSync(outputOf(job.id, 'prep', 'data.txt'), 'utf8')).toBe('original');
  expect(statSync(outputOf(job.id, 'prep', 'data.txt')).nlink).toBe(1);
});

test('events announce only persisted state, in order, for every change', async () => {
  const seen: TaskEvent[] = [];
  const onTask = (e: TaskEvent): void => {
    // Whatever is announced is already in the database.
    const stored = h.service.store.getTasks(e.jobId).find((t) => t.name === e.task.name);
    expect(stored?.state).toBe(e.task.state);
    seen.push(e);
  };
  h.service.events.on('task', onTask);
  const job = await h.service.submit('alice', request([{ name: 'x', code: 'pass\n' }]));
  await waitForJob(h.service, job.id);
  h.service.events.off('task', onTask);
  const states = seen.filter((e) => e.jobId === job.id).map((e) => e.task.state);
  expect(states.filter((s, i) => s !== states[i - 1])).toEqual(['queued', 'running', 'succeeded']);
});

test('maxParallelPerUser bounds one user across jobs, not other users', async () => {
  const own = await startService({ maxParallelPerUser: 1 });
  try {
    const marker = (name: string): string =>
      `import os, time, glob\nopen(${JSON.stringify(join(scratch, 'run-'))} + ${JSON.stringify(name)}, 'w').close()\n` +
      `n = len(glob.glob(${JSON.stringify(join(scratch, 'run-*'))}))\n` +
      `open(${JSON.stringify(join(scratch, 'seen'))}, 'a').write(str(n) + '\\n')\ntime.sleep(0.2)\n` +
      `os.remove(${JSON.stringify(join(scratch, 'run-'))} + ${JSON.stringify(name)})\n`;
    const jobs = await Promise.all([
      own.service.submit(
        'dave',
        request([
          { name: 'x1', code: marker('x1') },
          { name: 'x2', code: marker('x2') },
        ]),
      ),
      own.service.submit('dave', request([{ name: 'y1', code: marker('y1') }])),
    ]);
    for (const j of jobs) expect((await waitForJob(own.service, j.id)).state).toBe('succeeded');
    expect(lines(join(scratch, 'seen'))).toEqual(['1', '1', '1']);
  } finally {
    await own.cleanup();
  }
});
