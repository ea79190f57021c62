/**
 * A runner's warnings (result.json `warnings`) through the real parts: the local executor running the
 * runner on python3, the orchestrator and SQLite store, the HTTP API and `cellpipe status`.
 */
import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { JobSchema } from '@cellpipe/schema';
import type { Executor } from '../src/executors/executor.js';
import { LocalExecutor } from '../src/executors/local/local-executor.js';
import { auth, listen, startApp, TOKENS, type TestApp } from './http-helpers.js';
import { request as pipelineRequest, taskOf, waitForJob } from './jobs-fixtures.js';

jest.setTimeout(120_000);

const cliJs = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

/**
 * The local executor, with task b's inputs marked read-only on the way (what the compiler writes when
 * its analysis finds only reads, or the user declares them read-only): b does change one.
 */
function markingExecutor(): Executor {
  const local = new LocalExecutor({ killGraceMs: 1000 });
  return {
    name: 'local',
    inventory: () => local.inventory(),
    start(spec, report) {
      if (spec.taskName === 'b') {
        const path = join(spec.taskDir, 'task.json');
        const t = JSON.parse(readFileSync(path, 'utf8')) as { inputs: { readOnly?: boolean }[] };
        for (const input of t.inputs) input.readOnly = true;
        writeFileSync(path, JSON.stringify(t));
      }
      return local.start(spec, report);
    },
    cancel: (...a) => local.cancel(...a),
    reattach: (...a) => local.reattach(...a),
    close: () => local.close(),
  };
}

let h: TestApp;
beforeAll(async () => {
  h = await startApp({}, { executor: markingExecutor() });
});
afterAll(async () => {
  await h.cleanup();
});

test('a read-only input changed in place: a warning on the task and the job, in the API and in `cellpipe status`', async () => {
  const job = await h.service.submit(
    'alice',
    pipelineRequest([
      { name: 'a', code: 'xs = [3, 1, 2]\n', outputs: ['xs'] },
      { name: 'b', code: 'xs.sort()\n', dependsOn: ['a'], inputs: ['xs'] },
    ]),
  );
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('succeeded');
  const warning = {
    kind: 'input-mutated',
    variable: 'xs',
    cell: 2,
    message: expect.stringMatching(/^task 'b' changed input 'xs' \(from 'a'\) in place in cell 2/),
  };
  expect(taskOf(done, 'b').warnings).toEqual([warning]);
  expect(taskOf(done, 'a').warnings).toBeUndefined();
  expect(done.warnings).toEqual([{ task: 'b', ...warning }]);

  const res = await request(h.app).get(`/api/jobs/${job.id}`).set(auth('alice')).expect(200);
  const wire = JobSchema.parse(res.body);
  expect(wire.warnings).toEqual([{ task: 'b', ...warning }]);
  expect(wire.tasks.find((t) => t.name === 'b')?.warnings).toEqual([warning]);

  const server = await listen(h.app);
  try {
    // Asynchronously: the server answering it runs in this process.
    const status = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
      execFile(
        process.execPath,
        [cliJs, 'status', job.id, '--url', server.url, '--token', TOKENS.alice],
        { encoding: 'utf8', timeout: 60_000 },
        (err, stdout, stderr) => (err ? reject(err) : resolve({ stdout, stderr })),
      ),
    );
    expect(status.stderr).toBe('');
    expect(status.stdout).toContain('1 warning:\n');
    expect(status.stdout).toMatch(/^ {2}b \(cell 2\): task 'b' changed input 'xs' \(from 'a'\) in place in cell 2/m);
  } finally {
    await server.close();
  }
});
