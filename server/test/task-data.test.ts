/**
 * The task-data API (/api/task-data) and the runner's ServerStore against a real server (real HTTP,
 * a real SQLite file, the real runner in python3): the data path of task pods that share no file
 * system with the server. Attempts are held open by a scripted executor where a test needs a token
 * to stay valid, or run as processes that share nothing with the server (ProcessPodExecutor).
 */
import { jest } from '@jest/globals';
import { spawn, type SpawnOptions } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Job } from '@cellpipe/schema';
import { hashAttemptToken, mintAttemptToken } from '../src/auth/attempt-token.js';
import type {
  AttemptHandle,
  CancelRequest,
  Executor,
  ExecutorEvent,
  LaunchSpec,
  ReportFn,
} from '../src/executors/executor.js';
import type { JobService } from '../src/jobs/job-service.js';
import { auth, listen, startApp, type TestApp } from './http-helpers.js';
import { request as pipelineRequest, taskOf, waitForJob } from './jobs-fixtures.js';
import { ProcessPodExecutor } from './process-pod-executor.js';

jest.setTimeout(60_000);

const serverDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const runnerPath = join(serverDir, 'dist', 'cellpipe_runner.pyz');

/** Attempts stay running until a test ends them; it sees each attempt's launch spec (and token). */
class HoldingExecutor implements Executor {
  readonly name = 'holding';
  readonly specs = new Map<string, LaunchSpec>();
  private readonly reports = new Map<string, ReportFn>();
  inventory = async () => ({ executor: this.name, resources: [] });
  async start(spec: LaunchSpec, report: ReportFn): Promise<void> {
    this.specs.set(spec.taskName, spec);
    this.reports.set(spec.taskName, report);
    report({ type: 'running', handle: { task: spec.taskName } });
  }
  async cancel(r: CancelRequest): Promise<void> {
    this.reports.get(r.taskName)?.({ type: 'exited', error: { reason: r.reason, message: 'stopped' } });
  }
  async reattach(spec: LaunchSpec, _h: AttemptHandle | null, report: ReportFn): Promise<'following'> {
    this.specs.set(spec.taskName, { ...this.specs.get(spec.taskName)!, ...spec, dataToken: undefined });
    this.reports.set(spec.taskName, report);
    return 'following';
  }
  async close(): Promise<void> {}
  end(task: string, event: ExecutorEvent = { type: 'exited', exitCode: 0 }): void {
    this.reports.get(task)!(event);
  }
  token(task: string): string {
    const t = this.specs.get(task)?.dataToken;
    if (!t) throw new Error(`no token for ${task}`);
    return t;
  }
}

function run(cmd: string, args: string[], options: SpawnOptions): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stderr }));
  });
}

interface Reply {
  status: number;
  body: Buffer;
  json(): { error?: { message: string }; bytes?: number };
}

/** One request with a streamed body; `abortAfter` cuts the body off after that many bytes. */
function send(
  url: string,
  method: string,
  token: string | undefined,
  body?: Buffer,
  options: { abortAfter?: number; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body) headers['Content-Length'] = String(body.length);
    const req = httpRequest(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          body: buf,
          json: () => JSON.parse(buf.toString('utf8')) as ReturnType<Reply['json']>,
        });
      });
    });
    req.on('error', reject);
    if (body && options.abortAfter !== undefined) {
      req.write(body.subarray(0, options.abortAfter), () => {
        setTimeout(() => {
          req.destroy();
          resolve({ status: 0, body: Buffer.alloc(0), json: () => ({}) });
        }, 100);
      });
      return;
    }
    req.end(body);
  });
}

describe('the task-data API', () => {
  let t: TestApp;
  let holding: HoldingExecutor;
  let base: string;
  let close: () => Promise<void>;
  let job: Job;
  const service = (): JobService => t.service;

  beforeEach(async () => {
    holding = new HoldingExecutor();
    t = await startApp({}, { executor: holding, limits: { uploadBytes: 64 * 1024 } });
    const served = await listen(t.app);
    close = served.close;
    base = `${served.url}/api/task-data`;
    job = await service().submit(
      'alice',
      pipelineRequest([
        { name: 'gen', code: 'samples = [1, 2]\nother = 3\n', outputs: ['samples', 'other'] },
        { name: 'use', code: 'total = sum(samples)\n', dependsOn: ['gen'], inputs: ['samples'], outputs: ['total'] },
      ]),
    );
    await waitForJob(service(), job.id, (j) => taskOf(j, 'gen').state === 'running');
  });
  afterEach(async () => {
    await close();
    await t.cleanup();
  });

  const at = (task: string, rest: string, attempt = 1) => `${base}/${job.id}/${task}/${attempt}/${rest}`;

  /** gen saves `samples` and succeeds; use starts and gets a token of its own. */
  async function genDone(): Promise<void> {
    expect((await send(at('gen', 'vars/samples'), 'PUT', holding.token('gen'), Buffer.from('pickled'))).status).toBe(
      200,
    );
    holding.end('gen');
    await waitForJob(service(), job.id, (j) => taskOf(j, 'use').state === 'running');
  }

  test("a token writes its task's outputs and reads its inputs where the local executor keeps them", async () => {
    const layout = service().layout;
    const put = await send(at('gen', 'vars/samples'), 'PUT', holding.token('gen'), Buffer.from('pickled'));
    expect([put.status, put.json()]).toEqual([200, { bytes: 7 }]);
    expect(readFileSync(join(layout.outputDir(job.id, 'gen'), 'vars', 'samples.pkl'), 'utf8')).toBe('pickled');
    holding.end('gen');
    await waitForJob(service(), job.id, (j) => taskOf(j, 'use').state === 'running');

    const read = await send(at('use', 'inputs/gen/samples'), 'GET', holding.token('use'));
    expect([read.status, read.body.toString()]).toEqual([200, 'pickled']);
    // A download that broke off resumes from where it stopped.
    const rest = await send(at('use', 'inputs/gen/samples'), 'GET', holding.token('use'), undefined, {
      headers: { Range: 'bytes=3-' },
    });
    expect([rest.status, rest.body.toString()]).toEqual([206, 'kled']);

    // Artifacts, the executed notebook and result.json land where the monitor reads them.
    const token = holding.token('use');
    expect((await send(at('use', 'files/plots/a%20b.txt'), 'PUT', token, Buffer.from('art'))).status).toBe(200);
    expect((await send(at('use', 'notebook'), 'PUT', token, Buffer.from('{"cells": []}'))).status).toBe(200);
    expect((await send(at('use', 'vars/total'), 'PUT', token, Buffer.from('3'))).status).toBe(200);
    const result = { status: 'succeeded', outputs: ['total'] };
    expect((await send(at('use', 'result'), 'PUT', token, Buffer.from(JSON.stringify(result)))).status).toBe(200);
    expect(JSON.parse(readFileSync(layout.resultPath(job.id, 'use', 1), 'utf8'))).toEqual(result);
    holding.end('use');
    const done = await waitForJob(service(), job.id);
    expect(taskOf(done, 'use').artifacts).toEqual(['plots/a b.txt']);
    const api = await listen(t.app);
    try {
      const notebook = await send(`${api.url}/api/jobs/${job.id}/tasks/use/notebook`, 'GET', undefined, undefined, {
        headers: auth('alice'),
      });
      expect([notebook.status, notebook.body.toString()]).toEqual([200, '{"cells": []}']);
      const artifact = await send(
        `${api.url}/api/jobs/${job.id}/tasks/use/artifacts/plots/a%20b.txt`,
        'GET',
        undefined,
        undefined,
        { headers: auth('alice') },
      );
      expect([artifact.status, artifact.body.toString()]).toEqual([200, 'art']);
    } finally {
      await api.close();
    }
    // Nothing of the uploads is left behind.
    expect(readdirSync(join(layout.attemptDir(job.id, 'use', 1), '.uploads'))).toEqual([]);
  });

  test('a token opens its own attempt only, reads only its inputs, writes only its outputs, and dies with it', async () => {
    const gen = holding.token('gen');
    const refused = async (url: string, method: string, token: string | undefined, status: number, text: RegExp) => {
      const r = await send(url, method, token, method === 'PUT' ? Buffer.from('x') : undefined);
      expect([r.status, r.json().error?.message]).toEqual([status, expect.stringMatching(text)]);
    };
    await refused(at('gen', 'vars/samples'), 'PUT', undefined, 401, /data token is required/);
    await refused(at('gen', 'vars/samples'), 'PUT', 'alice-token-0001', 401, /data token is required/);
    await refused(at('gen', 'vars/samples'), 'PUT', mintAttemptToken().token, 401, /not valid/);
    // gen's token on another attempt's files: the next attempt of gen, another task, another job.
    await refused(at('gen', 'vars/samples', 2), 'PUT', gen, 403, /belongs to another attempt/);
    await refused(at('use', 'vars/total'), 'PUT', gen, 403, /belongs to another attempt/);
    await refused(`${base}/zzzzzzzzzz/gen/1/vars/samples`, 'PUT', gen, 403, /belongs to another attempt/);
    await refused(at('gen', 'vars/total'), 'PUT', gen, 403, /'total' is not an output of task 'gen'/);

    await genDone();
    const use = holding.token('use');
    await refused(at('use', 'inputs/gen/other'), 'GET', use, 403, /task 'use' does not read 'other' from task 'gen'/);
    await refused(at('use', 'files/a%2F..%2F..%2Fx'), 'PUT', use, 400, /artifact paths may not contain/);
    // gen's attempt has ended: its token is worth nothing, also for its own files.
    await refused(at('gen', 'vars/samples'), 'PUT', gen, 401, /its attempt has ended/);
    expect(service().store.openAttemptByToken(hashAttemptToken(gen))).toBeUndefined();
  });

  test('an input the upstream task did not save: 404 naming the input and the task', async () => {
    holding.end('gen'); // succeeded without uploading `samples`
    await waitForJob(service(), job.id, (j) => taskOf(j, 'use').state === 'running');
    const r = await send(at('use', 'inputs/gen/samples'), 'GET', holding.token('use'));
    expect([r.status, r.json().error?.message]).toEqual([
      404,
      "input 'samples' from task 'gen' is not on the server: task 'gen' did not save it",
    ]);
  });

  test('an upload over uploadBytes, or one that breaks off, leaves the previous file intact and nothing else', async () => {
    const token = holding.token('gen');
    const target = join(service().layout.outputDir(job.id, 'gen'), 'vars', 'samples.pkl');
    expect((await send(at('gen', 'vars/samples'), 'PUT', token, Buffer.from('first'))).status).toBe(200);
    const big = await send(at('gen', 'vars/samples'), 'PUT', token, Buffer.alloc(64 * 1024 + 1));
    expect([big.status, big.json().error?.message]).toEqual([
      413,
      "output 'samples' is 64 KB, over the limit of 64 KB (limits.uploadBytes)",
    ]);
    await send(at('gen', 'vars/samples'), 'PUT', token, Buffer.alloc(32 * 1024, 1), { abortAfter: 1000 });
    // The server saw the upload break off and cleaned up after it.
    const uploads = join(service().layout.attemptDir(job.id, 'gen', 1), '.uploads');
    const deadline = Date.now() + 10_000;
    while (readdirSync(uploads).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(uploads)).toEqual([]);
    expect(readFileSync(target, 'utf8')).toBe('first');
  });

  test('an open attempt keeps its token across a restart of the server', async () => {
    const token = holding.token('gen');
    // The same home, store and executor, as a server that was killed and started again.
    await close();
    await service().close();
    t = await startApp({}, { executor: holding, home: t.home });
    const served = await listen(t.app);
    close = served.close;
    const r = await send(
      `${served.url}/api/task-data/${job.id}/gen/1/vars/samples`,
      'PUT',
      token,
      Buffer.from('after restart'),
    );
    expect(r.status).toBe(200);
  });

  test("the runner's ServerStore passes the store contract against this server", async () => {
    // The contract reads what `up` saves as `down` while both attempts are open: `down`'s token is
    // minted as the orchestrator would once `up` has ended.
    const j = await service().submit(
      'alice',
      pipelineRequest([
        { name: 'up', code: 'x = y = rows = gen = nothing = 1\n', outputs: ['x', 'y', 'rows', 'gen', 'nothing'] },
        {
          name: 'down',
          code: 'x, y, rows, gen, nothing\n',
          dependsOn: ['up'],
          inputs: ['x', 'y', 'rows', 'gen', 'nothing'],
        },
      ]),
    );
    await waitForJob(service(), j.id, (x) => taskOf(x, 'up').state === 'running');
    const down = mintAttemptToken();
    service().store.apply({
      attempts: [
        {
          jobId: j.id,
          task: 'down',
          attempt: 1,
          state: 'starting',
          handle: null,
          createdAt: new Date().toISOString(),
          tokenHash: down.hash,
        },
      ],
    });
    // Not spawnSync: this process is the server.
    const r = await run('python3', ['-m', 'unittest', 'tests.test_data.ServerStoreTest', '-v'], {
      cwd: join(serverDir, 'runner'),
      env: {
        ...process.env,
        CELLPIPE_TEST_SERVER_STORE: JSON.stringify({
          url: base,
          job: j.id,
          tokens: { up: holding.token('up'), down: down.token },
        }),
      },
    });
    expect(r.stderr).toMatch(/Ran \d+ tests/);
    expect([r.status, r.stderr]).toEqual([0, expect.not.stringMatching(/skipped|FAIL|ERROR/)]);
  });
});

describe('tasks that share no files with the server', () => {
  let t: TestApp;
  let served: { url: string; server: Server; close(): Promise<void> } | undefined;
  let url = '';
  let drop: (spec: LaunchSpec) => void;

  beforeEach(async () => {
    drop = () => undefined;
    const executor = new ProcessPodExecutor({
      serverUrl: () => url,
      runnerPath,
      retrySeconds: 60,
      beforeStart: (spec) => drop(spec),
    });
    t = await startApp({}, { executor });
    served = await listen(t.app);
    url = served.url;
  });
  afterEach(async () => {
    await served?.close();
    await t.cleanup();
  });

  test('variables flow between tasks, and artifacts, notebooks and results reach the server', async () => {
    const job = await t.service.submit(
      'alice',
      pipelineRequest([
        {
          name: 'gen',
          // A class made by a call and a closure: they pass by value, through the server too.
          code:
            'import collections\nS = collections.namedtuple("S", "x")\n' +
            'samples = [S(i) for i in range(10)]\nscale = (lambda k: lambda v: v * k)(2)\n',
          outputs: ['samples', 'scale'],
        },
        {
          name: 'use',
          code:
            'import os, json\ntotal = sum(scale(s.x) for s in samples)\n' +
            'open(os.path.join(os.environ["CELLPIPE_OUTPUT_DIR"], "total.json"), "w").write(json.dumps(total))\ntotal\n',
          dependsOn: ['gen'],
          inputs: ['samples', 'scale'],
          outputs: ['total'],
        },
      ]),
    );
    const done = await waitForJob(t.service, job.id);
    expect(done.state).toBe('succeeded');
    expect(taskOf(done, 'use').artifacts).toEqual(['total.json']);
    expect(readFileSync(await t.service.taskFile(job.id, 'use', { artifact: 'total.json' }), 'utf8')).toBe('90');
    const notebook = readFileSync(await t.service.taskFile(job.id, 'use', 'notebook'), 'utf8');
    expect(notebook).toContain('"text/plain": "90"');
  });

  test('a file a task writes in its working folder, which no other task sees here, gets a warning', async () => {
    const job = await t.service.submit(
      'alice',
      pipelineRequest([
        {
          name: 'gen',
          code:
            'import os\nopen("scratch.csv", "w").write("a,1")\n' +
            'open(os.path.join(os.environ["CELLPIPE_OUTPUT_DIR"], "kept.csv"), "w").write("a,1")\n',
        },
      ]),
    );
    const done = await waitForJob(t.service, job.id);
    expect(done.state).toBe('succeeded');
    expect(taskOf(done, 'gen').artifacts).toEqual(['kept.csv']);
    expect(done.warnings).toEqual([
      expect.objectContaining({
        kind: 'file-not-shared',
        task: 'gen',
        message: expect.stringContaining(
          "task 'gen' wrote 'scratch.csv' in its working folder, which no other task of the job sees on this executor",
        ),
      }),
    ]);
  });

  test('a task whose server stops answering keeps trying, and its data arrives once the server is back', async () => {
    const job = await t.service.submit(
      'alice',
      pipelineRequest([
        { name: 'slow', code: 'import time\ntime.sleep(2)\nvalue = 41 + 1\n', outputs: ['value'] },
        { name: 'after', code: 'value\n', dependsOn: ['slow'], inputs: ['value'] },
      ]),
    );
    await waitForJob(t.service, job.id, (j) => taskOf(j, 'slow').state === 'running');
    const port = Number(new URL(url).port);
    await served!.close();
    // Down while the task ends and tries to upload its output, result and notebook.
    await new Promise((r) => setTimeout(r, 4000));
    const again = createServer(t.app);
    await new Promise<void>((r) => again.listen(port, '127.0.0.1', r));
    served = {
      url,
      server: again,
      close: () =>
        new Promise<void>((r) => {
          again.close(() => r());
          again.closeAllConnections();
        }),
    };
    const done = await waitForJob(t.service, job.id);
    expect([taskOf(done, 'slow').state, taskOf(done, 'after').state]).toEqual(['succeeded', 'succeeded']);
    expect([taskOf(done, 'slow').attempt, taskOf(done, 'after').attempt]).toEqual([1, 1]);
    expect(readFileSync(t.service.logPath(job.id, 'slow'), 'utf8')).toMatch(
      /\[cellpipe\] uploading vars\/value: the server is not answering .*; trying again for up to 60 s/,
    );
    expect(readFileSync(await t.service.taskFile(job.id, 'after', 'notebook'), 'utf8')).toContain('"text/plain": "42"');
  });

  test('a failing cell, a value that cannot be pickled and a missing input each fail the task, saying why', async () => {
    const unpicklable = await t.service.submit(
      'alice',
      pipelineRequest([
        { name: 'gen', code: 'samples = [1]\nstream = (i for i in samples)\n', outputs: ['samples', 'stream'] },
      ]),
    );
    expect(taskOf(await waitForJob(t.service, unpicklable.id), 'gen').error).toMatchObject({
      reason: 'serialization',
      message: expect.stringMatching(/^output 'stream' \(type generator\) of task 'gen'.* cannot be pickled/),
    });

    const failing = await t.service.submit(
      'alice',
      pipelineRequest([
        { name: 'fine', code: 'a = 1\n', outputs: ['a'] },
        { name: 'boom', code: 'b = a + 1\nc = b / 0\n', dependsOn: ['fine'], inputs: ['a'] },
      ]),
    );
    const boom = taskOf(await waitForJob(t.service, failing.id), 'boom');
    expect(boom.error).toMatchObject({ reason: 'exception', cell: 2 });
    // IPython's traceback (the default engine), or Python's where IPython is not installed.
    expect(boom.error?.traceback).toMatch(/(Cell In\[2\]|<cell 2>"), line 2[^]*ZeroDivisionError: division by zero/);

    // The value `gen` saved is gone from the server by the time `use` starts.
    drop = (spec) => {
      if (spec.taskName === 'use') rmSync(join(t.service.layout.outputDir(spec.jobId, 'gen'), 'vars', 'samples.pkl'));
    };
    const missing = await t.service.submit(
      'alice',
      pipelineRequest([
        { name: 'gen', code: 'samples = 1\n', outputs: ['samples'] },
        { name: 'use', code: 'samples\n', dependsOn: ['gen'], inputs: ['samples'] },
      ]),
    );
    expect(taskOf(await waitForJob(t.service, missing.id), 'use').error).toMatchObject({
      reason: 'input',
      message: expect.stringMatching(/^input 'samples' from task 'gen' not found: http:\/\/.*\/inputs\/gen\/samples /),
    });
  });
});
