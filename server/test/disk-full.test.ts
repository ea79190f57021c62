/**
 * A full disk, for real: the server's home on a small tmpfs mounted for this test, a task that fills
 * it. New submissions get a clear 507, the task that could not write its result ends failed with
 * reason disk-full, the server survives, and everything goes on once space is freed. Needs root (to
 * mount); skipped with the reason printed otherwise.
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobSchema, type Job } from '@cellpipe/schema';
import { startServer, type RunningServer } from '../src/main.js';
import { notebook, request, taskOf, until } from './jobs-fixtures.js';

jest.setTimeout(180_000);

let mountPoint: string | undefined;
let skipReason: string | undefined;
if (process.getuid?.() !== 0) skipReason = 'mounting a tmpfs needs root';
else {
  mountPoint = mkdtempSync(join(tmpdir(), 'cellpipe-full-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'cellpipe-test', mountPoint], { encoding: 'utf8' });
  if (r.status !== 0) {
    skipReason = `could not mount a tmpfs: ${(r.stderr || r.error?.message || '').trim()}`;
    rmSync(mountPoint, { recursive: true, force: true });
    mountPoint = undefined;
  }
}
if (skipReason) console.log(`skipping the disk-full test: ${skipReason}`);
const onTmpfs = mountPoint ? describe : describe.skip;

onTmpfs('on a full disk', () => {
  let server: RunningServer;
  const warnings: string[] = [];
  const warn = console.warn;

  beforeAll(async () => {
    console.warn = (m: unknown) => warnings.push(String(m));
    const home = join(mountPoint!, 'home');
    mkdirSync(home);
    server = await startServer({ home, port: 0, gpus: '' }, { logError: () => undefined });
  });
  afterAll(async () => {
    console.warn = warn;
    await server?.close();
    spawnSync('umount', [mountPoint!]);
    rmSync(mountPoint!, { recursive: true, force: true });
  });

  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const job = async (id: string): Promise<Job> => JobSchema.parse((await api('GET', `/api/jobs/${id}`)).body);

  test('507 for new work, disk-full for the task that could not write its result, and all resumes', async () => {
    // A task that fills the disk, then ends: the runner cannot write its result.json.
    const fill =
      "import os\npath = os.path.join(os.environ['CELLPIPE_OUTPUT_DIR'], 'fill')\n" +
      "try:\n    with open(path, 'wb') as f:\n        while True:\n            f.write(b'\\0' * 65536)\n" +
      'except OSError:\n    pass\n';
    const filler = await api('POST', '/api/jobs', request([{ name: 'filler', code: fill }]));
    expect(filler.status).toBe(201);
    const fillerId = (filler.body as { id: string }).id;
    const fillFile = join(mountPoint!, 'home', 'jobs', fillerId, 'artifacts', 'filler', 'files', 'fill');
    const free = () =>
      Number(spawnSync('df', ['--output=avail', '-B1', mountPoint!], { encoding: 'utf8' }).stdout.split('\n')[1]);
    await until(() => existsSync(fillFile) && free() === 0, 'the task to fill the disk', 60_000);

    // A new job (its code is bigger than what the database's log could reuse) cannot be stored: 507.
    const bulky = Array.from({ length: 10 }, (_, i) => `x${i} = "${'b'.repeat(500_000)}"`);
    const big = {
      ...request([{ name: 'big', code: 'pass' }]),
      files: { 'test.ipynb': JSON.stringify(notebook(['pass', ...bulky])) },
    };
    (big.pipeline!.spec.tasks[0] as { cells: number[] }).cells = [0, ...bulky.map((_, i) => i + 1)];
    const refused = await api('POST', '/api/jobs', big);
    expect(refused).toEqual({
      status: 507,
      body: {
        error: {
          code: 'insufficient_storage',
          message:
            "the server's disk is full, so nothing new can be stored; jobs resume once space is freed (ask the server's administrator)",
        },
      },
    });

    // The filler ends while the disk is full: its end is stored at once, or waits (with a warning)
    // for space to come back. Either way the server keeps answering.
    const settled = async () =>
      (await job(fillerId)).state === 'failed' || warnings.some((w) => /the disk is full/.test(w));
    const until2 = Date.now() + 60_000;
    while (!(await settled()) && Date.now() < until2) await new Promise((r) => setTimeout(r, 250));
    expect(await settled()).toBe(true);

    // Space comes back: the filler's end is stored with its reason, and new work runs.
    rmSync(fillFile);
    let fillerJob = await job(fillerId);
    const deadline = Date.now() + 90_000;
    while (fillerJob.state !== 'failed' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      fillerJob = await job(fillerId);
    }
    expect(taskOf(fillerJob, 'filler')).toMatchObject({
      state: 'failed',
      error: {
        reason: 'disk-full',
        message: expect.stringMatching(/^the task could not write its result: the disk holding .* is full$/),
      },
    });
    const after = await api('POST', '/api/jobs', big);
    expect(after.status).toBe(201);
    const afterId = (after.body as { id: string }).id;
    let afterJob = await job(afterId);
    while (!['succeeded', 'failed'].includes(afterJob.state)) {
      await new Promise((r) => setTimeout(r, 250));
      afterJob = await job(afterId);
    }
    expect(afterJob.state).toBe('succeeded');
  });
});
