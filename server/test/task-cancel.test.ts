/**
 * Cancelling one task through the HTTP API, against the real engine: a SQLite file, the local executor
 * and python3 processes running the real task runner.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jest } from '@jest/globals';
import request from 'supertest';
import { JobSchema, type Job } from '@cellpipe/schema';
import { appendLine, request as pipelineRequest, processAlive, taskOf, until, waitForJob } from './jobs-fixtures.js';
import { auth, startApp, type TestApp } from './http-helpers.js';

jest.setTimeout(90_000);

let t: TestApp;
let scratch: string;
beforeAll(async () => {
  t = await startApp();
});
afterAll(async () => {
  await t.cleanup();
});
beforeEach(() => {
  scratch = mkdtempSync(join(tmpdir(), 'cellpipe-task-cancel-'));
});
afterEach(() => rmSync(scratch, { recursive: true, force: true }));

const lines = (file: string): string[] =>
  existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
/** Python that waits (bounded) until a file exists. */
const waitFor = (file: string): string =>
  `import os, time\nfor _ in range(1200):\n    if os.path.exists(${JSON.stringify(file)}): break\n    time.sleep(0.05)\nelse:\n    raise RuntimeError('never saw ${file}')\n`;
/** Python that records its pid and a child's pid, then sleeps: a task that only a stop ends. */
const spawnAndSleep = (pids: string): string =>
  'import os, subprocess, time\n' +
  "child = subprocess.Popen(['sleep', '120'])\n" +
  `${appendLine(pids, '{os.getpid()} {child.pid}').replace('_f.write(', '_f.write(f')}` +
  'time.sleep(120)\n';

async function submit(body: object): Promise<string> {
  const res = await request(t.app).post('/api/jobs').set(auth('alice')).send(body).expect(201);
  return JobSchema.parse(res.body).id;
}
const cancelTask = (who: 'alice' | 'bob' | 'root', id: string, task: string) =>
  request(t.app).post(`/api/jobs/${id}/tasks/${task}/cancel`).set(auth(who));

test('cancelling a running task kills its processes, skips its downstream and lets an independent branch finish', async () => {
  const pids = join(scratch, 'pids');
  const go = join(scratch, 'go');
  const id = await submit(
    pipelineRequest([
      { name: 'slow', code: spawnAndSleep(pids) },
      { name: 'after', code: 'pass\n', dependsOn: ['slow'] },
      { name: 'other', code: waitFor(go) },
      { name: 'other-next', code: 'pass\n', dependsOn: ['other'] },
    ]),
  );
  await until(() => lines(pids).length === 1, 'slow to start');

  // Another user learns nothing about the job; the owner's request is checked before anything stops.
  const foreign = await cancelTask('bob', id, 'slow').expect(404);
  expect(foreign.body).toEqual({ error: { code: 'not_found', message: `job ${id} not found` } });
  const unknown = await cancelTask('alice', id, 'nope').expect(404);
  expect(unknown.body.error.message).toBe(`job ${id} has no task "nope"`);
  await cancelTask('alice', id, 'Not A Name!').expect(400);
  expect(taskOf(t.service.get(id)!, 'slow').state).toBe('running');

  const res = await cancelTask('alice', id, 'slow').expect(200);
  const slowNow = taskOf(JobSchema.parse(res.body), 'slow');
  // Either still stopping (the process's grace period) or already gone.
  if (slowNow.state === 'running') expect(slowNow.stopping).toMatchObject({ reason: 'cancelled', by: 'alice' });
  else expect(slowNow.state).toBe('cancelled');

  await until(() => taskOf(t.service.get(id)!, 'slow').state === 'cancelled', 'slow to be cancelled');
  for (const pid of lines(pids).flatMap((l) => l.split(' ').map(Number))) expect(processAlive(pid)).toBe(false);
  let job: Job = t.service.get(id)!;
  expect(taskOf(job, 'slow').error).toMatchObject({ reason: 'cancelled', by: 'alice' });
  expect(taskOf(job, 'after').state).toBe('skipped');
  expect(taskOf(job, 'after').error).toMatchObject({
    reason: 'upstream',
    message: "upstream task 'slow' was cancelled",
  });
  // The independent branch was not touched: it goes on and finishes.
  expect(job.state).toBe('running');
  expect(taskOf(job, 'other').state).toBe('running');
  writeFileSync(go, '');
  job = await waitForJob(t.service, id);
  expect(taskOf(job, 'other').state).toBe('succeeded');
  expect(taskOf(job, 'other-next').state).toBe('succeeded');
  // A job with a task its user cancelled did not succeed.
  expect(job.state).toBe('failed');
  expect(job.error).toBe('1 task cancelled: slow');

  // The task already ended.
  const again = await cancelTask('alice', id, 'slow').expect(409);
  expect(again.body.error).toEqual({ code: 'conflict', message: `task "slow" of job ${id} already ended (cancelled)` });
  await cancelTask('alice', id, 'other').expect(409);
});

test('an admin cancels a task that has not started: it ends at once and its downstream is skipped', async () => {
  const pids = join(scratch, 'pids');
  const id = await submit(
    pipelineRequest([
      { name: 'first', code: spawnAndSleep(pids) },
      { name: 'second', code: 'pass\n', dependsOn: ['first'] },
      { name: 'third', code: 'pass\n', dependsOn: ['second'] },
    ]),
  );
  await until(() => lines(pids).length === 1, 'first to start');
  const res = await cancelTask('root', id, 'second').expect(200);
  const second = taskOf(JobSchema.parse(res.body), 'second');
  expect(second.state).toBe('cancelled');
  expect(second.error).toEqual({ message: 'the task was cancelled by root', reason: 'cancelled', by: 'root' });
  await until(() => taskOf(t.service.get(id)!, 'third').state === 'skipped', 'third to be skipped');
  // The upstream task is left running.
  expect(taskOf(t.service.get(id)!, 'first').state).toBe('running');
  await cancelTask('alice', id, 'first').expect(200);
  const job = await waitForJob(t.service, id);
  expect(job.tasks.map((x) => [x.name, x.state])).toEqual([
    ['first', 'cancelled'],
    ['second', 'cancelled'],
    ['third', 'skipped'],
  ]);
  expect(job.error).toBe('2 tasks cancelled: first, second');
});

test('under fail-fast, cancelling one task stops the whole job', async () => {
  const pids = join(scratch, 'pids');
  const id = await submit(
    pipelineRequest(
      [
        { name: 'a', code: spawnAndSleep(pids) },
        { name: 'b', code: spawnAndSleep(pids) },
      ],
      { failurePolicy: 'fail-fast' },
    ),
  );
  await until(() => lines(pids).length === 2, 'both tasks to start');
  await cancelTask('alice', id, 'a').expect(200);
  const job = await waitForJob(t.service, id);
  expect(job.state).toBe('failed');
  expect(job.error).toBe("task 'a' was cancelled (fail-fast)");
  expect(taskOf(job, 'a').error).toMatchObject({ reason: 'cancelled', by: 'alice' });
  expect(taskOf(job, 'b').state).toBe('cancelled');
  expect(taskOf(job, 'b').error?.reason).toBe('aborted');
  for (const pid of lines(pids).flatMap((l) => l.split(' ').map(Number))) expect(processAlive(pid)).toBe(false);
});
