/**
 * What a task can put into the store is bounded: its error text and traceback (cut with a visible
 * note), its result.json (read only when small enough, never through a link or a FIFO) and the list
 * of its output files. Real python3 tasks through the whole engine, and real files for the reader.
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Executor } from '../src/executors/executor.js';
import { LocalExecutor } from '../src/executors/local/local-executor.js';
import { readResultFile } from '../src/executors/result-file.js';
import { request, startService, taskOf, waitForJob, type TestHome } from './jobs-fixtures.js';

jest.setTimeout(90_000);

describe('through the engine', () => {
  let h: TestHome;
  beforeAll(async () => {
    // The executor reads result.json, so it gets resultBytes (the registry hands it the configured limits).
    h = await startService({
      limits: { errorBytes: 4096, artifactsPerTask: 5 },
      executor: new LocalExecutor({ resultBytes: 256 * 1024, killGraceMs: 1000 }),
    });
  });
  afterAll(async () => {
    await h.cleanup();
  });

  test('a huge exception message and traceback are cut to errorBytes with a note', async () => {
    const job = await h.service.submit(
      'alice',
      // A 20 KB source line shows in the traceback.
      request([{ name: 'loud', code: `x = 1 / 0 + len("${'p'.repeat(20_000)}")` }]),
    );
    const done = await waitForJob(h.service, job.id);
    const error = taskOf(done, 'loud').error!;
    expect(error.ename).toBe('ZeroDivisionError');
    // The traceback keeps its end: the exception and the innermost frames.
    expect(Buffer.byteLength(error.traceback!)).toBeLessThan(4096 + 200);
    expect(error.traceback).toMatch(/^\[cellpipe: cut to 4 KB of \d+(\.\d)? KB \(limits\.errorBytes\)\]\n…/);
    expect(error.traceback).toMatch(/ZeroDivisionError: division by zero\s*$/);

    const big = await h.service.submit('alice', request([{ name: 'big', code: 'raise ValueError("v" * 100_000)' }]));
    const bigError = taskOf(await waitForJob(h.service, big.id), 'big').error!;
    expect(bigError.message).toMatch(/^ValueError: vvvv/);
    expect(bigError.message).toMatch(/… \[cellpipe: cut to 4 KB of 97\.\d KB \(limits\.errorBytes\)\]$/);
    // The runner cut it to the task's errorBytes, note included, so the server's cut left it alone.
    expect(Buffer.byteLength(bigError.message)).toBeLessThanOrEqual(4096);
    expect(bigError.message.match(/\[cellpipe: cut to/g)).toHaveLength(1);
  });

  test('a result.json over resultBytes is not read: the task fails with reason result-too-large', async () => {
    // The runner keeps result.json under the orchestrator's resultBytes (8 MB here), not under this
    // executor's 256 KB: 100 magics of 3 KB each that the stdlib engine skips make 100 notes of 3 KB.
    const magics = Array.from({ length: 100 }, () => `%config C.x = "${'x'.repeat(3000)}"`).join('\n');
    const job = await h.service.submit(
      'alice',
      request([{ name: 'huge', code: magics, env: { CELLPIPE_RUNNER_ENGINE: 'stdlib' } }]),
    );
    const task = taskOf(await waitForJob(h.service, job.id), 'huge');
    expect(task.state).toBe('failed');
    expect(task.error).toMatchObject({
      reason: 'result-too-large',
      message: expect.stringMatching(
        /^the task's result\.json is \d+(\.\d)? KB, over the limit of 256 KB \(limits\.resultBytes\)$/,
      ),
    });
  });

  test('output files beyond artifactsPerTask are counted, not listed', async () => {
    const code =
      'import os\nfor i in range(8):\n    open(os.path.join(os.environ["CELLPIPE_OUTPUT_DIR"], f"f{i}.txt"), "w").write("x")';
    const job = await h.service.submit('alice', request([{ name: 'files', code }]));
    const task = taskOf(await waitForJob(h.service, job.id), 'files');
    expect(task.state).toBe('succeeded');
    expect(task.artifacts).toEqual(['f0.txt', 'f1.txt', 'f2.txt', 'f3.txt', 'f4.txt']);
    expect(task.artifactsOmitted).toBe(3);
  });
});

describe('readResultFile', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'cellpipe-result-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('reads a small regular file; refuses links, FIFOs, large files and bad JSON without blocking', () => {
    const ok = join(dir, 'ok.json');
    writeFileSync(ok, '{"status": "succeeded"}');
    expect(readResultFile(ok, 1024)).toEqual({ result: { status: 'succeeded' } });
    expect(readResultFile(join(dir, 'missing.json'), 1024)).toEqual({ missing: true });

    // A task that points its result at a file only the server may read gets nothing out of it.
    const secret = join(dir, 'token');
    writeFileSync(secret, '{"status": "succeeded", "error": {"message": "the admin token"}}');
    const link = join(dir, 'link.json');
    symlinkSync(secret, link);
    expect(readResultFile(link, 1024)).toMatchObject({ error: { reason: 'result-unreadable' } });

    // A FIFO nobody writes to would block a plain read forever.
    const fifo = join(dir, 'fifo.json');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expect(readResultFile(fifo, 1024)).toEqual({
      error: { reason: 'result-unreadable', message: "the task's result.json is not a regular file" },
    });

    const large = join(dir, 'large.json');
    writeFileSync(large, `{"x": "${'y'.repeat(5000)}"}`);
    expect(readResultFile(large, 1024)).toEqual({
      error: {
        reason: 'result-too-large',
        message: "the task's result.json is 4.9 KB, over the limit of 1 KB (limits.resultBytes)",
      },
    });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"status": ');
    expect(readResultFile(bad, 1024)).toEqual({
      error: { reason: 'result-unreadable', message: "the task's result.json is not valid JSON" },
    });
  });
});

test('an executor that sends its log as events (Kubernetes) is cut at logBytesPerAttempt with the same note', async () => {
  const executor: Executor = {
    name: 'streaming',
    inventory: async () => ({ executor: 'streaming', resources: [] }),
    async start(spec, report) {
      setImmediate(() => {
        report({ type: 'running', handle: { id: spec.taskId } });
        for (let i = 0; i < 100; i++) report({ type: 'log', chunk: `${'z'.repeat(99)}\n` });
        report({ type: 'exited', exitCode: 0 });
      });
    },
    cancel: async () => undefined,
    reattach: async () => 'not-found',
    close: async () => undefined,
  };
  const own = await startService({ executor, limits: { logBytesPerAttempt: 1050 } });
  try {
    const job = await own.service.submit('alice', request([{ name: 'pod', code: 'pass' }]));
    expect(taskOf(await waitForJob(own.service, job.id), 'pod').state).toBe('succeeded');
    let log = '';
    for await (const c of own.service.readLogs(job.id, 'pod')) log += c;
    expect(log.startsWith(`${'z'.repeat(99)}\n`.repeat(10) + 'z'.repeat(50))).toBe(true);
    expect(log.slice(1050)).toBe(
      "\n[cellpipe] this attempt's log reached 1050 bytes (limits.logBytesPerAttempt); later output is dropped, the task goes on\n",
    );
  } finally {
    await own.cleanup();
  }
});
