/** The JobService facade: submit (compile, freeze, validate), list, files, logs, remove. */
import { jest } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { API_VERSION, PipelineSchema, checkPipeline } from '@cellpipe/schema';
import { loadPipelineFile } from '@cellpipe/schema/node';
import type { Executor } from '../src/executors/executor.js';
import { ConflictError, NotFoundError, ValidationError } from '../src/jobs/job-service.js';
import { notebook, request, startService, taskOf, until, waitForJob, type TestHome } from './jobs-fixtures.js';

jest.setTimeout(60_000);

const examples = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');
let h: TestHome;
beforeAll(async () => {
  h = await startService();
});
afterAll(async () => {
  await h.cleanup();
});

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

test('a notebook is compiled at submit and runs with parameter overrides', async () => {
  const content = JSON.parse(readFileSync(join(examples, 'quickstart.ipynb'), 'utf8'));
  const job = await h.service.submit('alice', {
    notebook: { path: 'quickstart.ipynb', content },
    parameters: { n_samples: 100 },
  });
  expect(job.name).toBe(job.pipeline.metadata.name);
  expect(job.parameters.n_samples).toBe(100);
  const done = await waitForJob(h.service, job.id);
  expect(done.state).toBe('succeeded');
  let log = '';
  for await (const chunk of h.service.readLogs(job.id, 'generate')) log += chunk;
  expect(log).toContain('drew 100 samples');
  const report = taskOf(done, 'report');
  for (const artifact of report.artifacts) {
    const path = await h.service.taskFile(job.id, 'report', { artifact });
    expect(path.startsWith(h.home)).toBe(true);
  }
  const result = JSON.parse(readFileSync(await h.service.taskFile(job.id, 'report', 'result'), 'utf8'));
  expect(result.status).toBe('succeeded');
  const nb = JSON.parse(readFileSync(await h.service.taskFile(job.id, 'report', 'notebook'), 'utf8'));
  expect(Array.isArray(nb.cells)).toBe(true);
});

test('a pipeline with its files (notebooks and a script) runs as sent', async () => {
  const loaded = await loadPipelineFile(join(examples, 'multi-file', 'pipeline.yaml'));
  expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const job = await h.service.submit('alice', { pipeline: loaded.pipeline!, files: loaded.files });
  const done = await waitForJob(h.service, job.id);
  expect(done.tasks.map((t) => [t.name, t.state, t.error?.message])).toEqual([
    ['ingest', 'succeeded', undefined],
    ['clean', 'succeeded', undefined],
    ['summarize', 'succeeded', undefined],
  ]);
});

test("a whole-notebook task's own parameters cell runs before the overrides", async () => {
  const nb = notebook(['threshold = 1\n', 'print(f"threshold={threshold}")\n']);
  (nb.cells as { metadata: Record<string, unknown> }[])[0]!.metadata = { tags: ['parameters'] };
  const pipeline = PipelineSchema.parse({
    apiVersion: API_VERSION,
    kind: 'Pipeline',
    metadata: { name: 'whole' },
    spec: {
      parameters: { threshold: { default: 1, type: 'integer' } },
      tasks: [{ name: 'score', source: { kind: 'notebook', path: 'score.ipynb' } }],
    },
  });
  const job = await h.service.submit('alice', {
    pipeline,
    files: { 'score.ipynb': JSON.stringify(nb) },
    parameters: { threshold: 5 },
  });
  const done = await waitForJob(h.service, job.id);
  expect(taskOf(done, 'score').state).toBe('succeeded');
  let log = '';
  for await (const chunk of h.service.readLogs(job.id, 'score')) log += chunk;
  expect(log).toContain('threshold=5');
  expect(log).not.toContain('threshold=1');
});

test('bad submissions fail with the field path', async () => {
  const base = request([{ name: 'a', code: 'pass\n' }], { parameters: { lr: { default: 0.1, type: 'number' } } });
  let err = await rejection(h.service.submit('alice', { ...base, parameters: { nope: 1 } }));
  expect(err).toBeInstanceOf(ValidationError);
  expect((err as ValidationError).path).toBe('parameters.nope');
  expect(err.message).toContain("unknown parameter 'nope'");
  err = await rejection(h.service.submit('alice', { ...base, parameters: { lr: 'fast' } }));
  expect((err as ValidationError).path).toBe('parameters.lr');
  err = await rejection(h.service.submit('alice', { ...base, files: {} }));
  expect((err as ValidationError).path).toBe('files.test.ipynb');
  const cyclic = request([
    { name: 'a', code: 'pass\n', dependsOn: ['b'] },
    { name: 'b', code: 'pass\n', dependsOn: ['a'] },
  ]);
  err = await rejection(h.service.submit('alice', cyclic));
  expect(err.message).toContain('cycle: a → b → a');
  const unknownDep = request([{ name: 'a', code: 'pass\n', dependsOn: ['ghost'] }]);
  err = await rejection(h.service.submit('alice', unknownDep));
  expect((err as ValidationError).path).toBe('pipeline.spec.tasks.0.dependsOn.0');
  const noProducer = request([{ name: 'a', code: 'print(x)\n', inputs: ['x'] }]);
  err = await rejection(h.service.submit('alice', noProducer));
  expect((err as ValidationError).path).toBe('pipeline.spec.tasks.0.inputs.0');
  err = await rejection(h.service.submit('alice', { notebook: { path: 'bad.ipynb', content: { cells: 'no' } } }));
  expect(err).toBeInstanceOf(ValidationError);
  expect((err as ValidationError).path.startsWith('notebook')).toBe(true);
  // Nothing was stored for rejected submissions.
  expect(h.service.list({ owner: 'alice', limit: 100 }).items.every((j) => j.name !== 'bad')).toBe(true);
});

test('list filters by owner and state and pages newest first', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await h.service.submit('carol', request([{ name: 'a', code: 'pass\n' }]))).id);
  for (const id of ids) await waitForJob(h.service, id);
  const page1 = h.service.list({ owner: 'carol', limit: 2 });
  expect(page1.items.map((j) => j.id)).toEqual([ids[2], ids[1]]);
  expect(page1.items[0]!.taskCounts).toMatchObject({ succeeded: 1, failed: 0, pending: 0 });
  const page2 = h.service.list({ owner: 'carol', limit: 2, cursor: page1.nextCursor! });
  expect(page2.items.map((j) => j.id)).toEqual([ids[0]]);
  expect(h.service.list({ owner: 'carol', state: 'failed', limit: 10 }).items).toEqual([]);
  expect(h.service.list({ owner: 'nobody', limit: 10 }).items).toEqual([]);
  expect(h.service.get('zzzzzzzz')).toBeUndefined();
});

test('logs follow a running task to its end; files are resolved safely', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'cellpipe-jobs-'));
  try {
    const go = join(scratch, 'go');
    const job = await h.service.submit(
      'alice',
      request([
        {
          name: 'talk',
          code:
            `import os, time\nprint('first line', flush=True)\nfor _ in range(400):\n    if os.path.exists(${JSON.stringify(go)}): break\n    time.sleep(0.05)\n` +
            "print('last line')\nd = os.environ['CELLPIPE_OUTPUT_DIR']\nos.makedirs(os.path.join(d, 'sub'), exist_ok=True)\n" +
            "open(os.path.join(d, 'sub', 'x.txt'), 'w').write('x')\nos.symlink('/etc/passwd', os.path.join(d, 'escape'))\n",
        },
      ]),
    );
    const chunks: string[] = [];
    const reading = (async () => {
      for await (const c of h.service.readLogs(job.id, 'talk', { follow: true })) chunks.push(c);
    })();
    await until(() => chunks.join('').includes('first line'), 'the first line to stream');
    expect(chunks.join('')).not.toContain('last line');
    writeFileSync(go, '');
    await reading;
    expect(chunks.join('')).toContain('last line');
    const done = h.service.get(job.id)!;
    expect(taskOf(done, 'talk').artifacts).toEqual(['sub/x.txt']);
    expect(readFileSync(await h.service.taskFile(job.id, 'talk', { artifact: 'sub/x.txt' }), 'utf8')).toBe('x');
    await expect(h.service.taskFile(job.id, 'talk', { artifact: '../../../../etc/passwd' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(h.service.taskFile(job.id, 'talk', { artifact: '/etc/passwd' })).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(h.service.taskFile(job.id, 'talk', { artifact: 'escape' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(h.service.taskFile(job.id, 'talk', { artifact: 'missing.txt' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(h.service.taskFile(job.id, 'ghost', 'result')).rejects.toBeInstanceOf(NotFoundError);
    expect(() => h.service.logPath('nojob00', 'talk')).toThrow(NotFoundError);
    // A follow reader can be stopped.
    const ac = new AbortController();
    ac.abort();
    for await (const _ of h.service.readLogs(job.id, 'talk', { follow: true, signal: ac.signal })) void _;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('remove deletes finished jobs only', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'cellpipe-jobs-'));
  try {
    const go = join(scratch, 'go');
    const job = await h.service.submit(
      'alice',
      request([
        {
          name: 'wait',
          code: `import os, time\nwhile not os.path.exists(${JSON.stringify(go)}):\n    time.sleep(0.05)\n`,
        },
      ]),
    );
    await expect(h.service.remove(job.id)).rejects.toBeInstanceOf(ConflictError);
    writeFileSync(go, '');
    await waitForJob(h.service, job.id);
    await h.service.remove(job.id);
    expect(h.service.get(job.id)).toBeUndefined();
    await expect(h.service.remove(job.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(h.service.cancel(job.id)).rejects.toBeInstanceOf(NotFoundError);
    await expect(h.service.rerun(job.id, 'all')).rejects.toBeInstanceOf(NotFoundError);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('rerun failed of a job without failures is a conflict', async () => {
  const job = await h.service.submit('alice', request([{ name: 'a', code: 'pass\n' }]));
  await waitForJob(h.service, job.id);
  await expect(h.service.rerun(job.id, 'failed')).rejects.toBeInstanceOf(ConflictError);
});

test('an executor that only knows exit codes (no result.json) still drives the job; remove cleans up its objects', async () => {
  const deleted: string[] = [];
  const executor: Executor = {
    name: 'fake',
    inventory: async () => ({ executor: 'fake', resources: [] }),
    async start(spec, report) {
      setImmediate(() => {
        report({ type: 'running', handle: { id: spec.taskId }, placement: 'node-1' });
        report({ type: 'log', chunk: `hello from ${spec.taskName}\n` });
        report({ type: 'exited', exitCode: spec.taskName === 'bad' ? 3 : 0 });
      });
    },
    cancel: async () => undefined,
    reattach: async () => 'not-found',
    close: async () => undefined,
    deleteJobObjects: async (jobId) => void deleted.push(jobId),
  };
  const own = await startService({ executor });
  try {
    const job = await own.service.submit(
      'alice',
      request([
        { name: 'good', code: 'pass\n' },
        { name: 'bad', code: 'pass\n' },
      ]),
    );
    expect(job.executor).toBe('fake');
    const done = await waitForJob(own.service, job.id);
    expect(taskOf(done, 'good')).toMatchObject({ state: 'succeeded', exitCode: 0, placement: 'node-1' });
    expect(taskOf(done, 'bad')).toMatchObject({ state: 'failed', exitCode: 3, error: { reason: 'exit' } });
    let log = '';
    for await (const c of own.service.readLogs(job.id, 'good')) log += c;
    expect(log).toBe('hello from good\n');
    await own.service.remove(job.id);
    expect(deleted).toEqual([job.id]);
  } finally {
    await own.cleanup();
  }
});

test('inputs come from inputsFrom when named, else from the nearest upstream producer', async () => {
  const scratch = mkdtempSync(join(tmpdir(), 'cellpipe-jobs-'));
  try {
    const out = join(scratch, 'out');
    const req = request([
      { name: 'a', code: 'x = 1\n', outputs: ['x'] },
      { name: 'b', code: 'x = x + 1\n', dependsOn: ['a'], inputs: ['x'], outputs: ['x'] },
      {
        name: 'far',
        code: `open(${JSON.stringify(out)}, 'a').write(f'far {x}\\n')\n`,
        dependsOn: ['b'],
        inputs: ['x'],
        inputsFrom: { x: 'a' },
      },
      {
        name: 'near',
        code: `open(${JSON.stringify(out)}, 'a').write(f'near {x}\\n')\n`,
        dependsOn: ['b'],
        inputs: ['x'],
      },
    ]);
    // `cellpipe validate` runs the same graph check and accepts what the server runs.
    expect(checkPipeline(req.pipeline!)).toEqual([]);
    const job = await h.service.submit('alice', req);
    expect((await waitForJob(h.service, job.id)).state).toBe('succeeded');
    expect(readFileSync(out, 'utf8').trim().split('\n').sort()).toEqual(['far 1', 'near 2']);
    const bad = request([
      { name: 'a', code: 'x = 1\n', outputs: ['x'] },
      { name: 'c', code: 'pass\n', inputs: ['x'], inputsFrom: { x: 'a' } },
    ]);
    const err = await rejection(h.service.submit('alice', bad));
    expect((err as ValidationError).path).toBe('pipeline.spec.tasks.1.inputsFrom.x');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
});

test('pipeline defaults apply key by key: an explicit retries 0 stays 0, resources merge per key', async () => {
  const req = request(
    [
      { name: 'once', code: 'raise RuntimeError("no retry")\n', retries: 0, resources: { cpu: '2' } },
      { name: 'again', code: 'raise RuntimeError("retried")\n' },
    ],
    { defaults: { retries: 1, resources: { memory: '64Mi', cpu: '1' }, env: { A: '1' } } },
  );
  const job = await h.service.submit('alice', req);
  expect(taskOf(job, 'once')).toMatchObject({ maxAttempts: 1, resources: { memory: '64Mi', cpu: '2' } });
  expect(taskOf(job, 'again')).toMatchObject({ maxAttempts: 2, resources: { memory: '64Mi', cpu: '1' } });
  const done = await waitForJob(h.service, job.id);
  expect(taskOf(done, 'once').attempt).toBe(1);
  expect(taskOf(done, 'again').attempt).toBe(2);
});

test('parameters named constructor and toString are ordinary parameters: declared, overridden, injected', async () => {
  const req = request([{ name: 'show', code: 'print(f"constructor={constructor} toString={toString}")\n' }], {
    parameters: { constructor: { default: 1 }, toString: { default: 'a' } },
  });
  const job = await h.service.submit('alice', { ...req, parameters: { constructor: 5 } });
  expect(job.parameters).toEqual({ constructor: 5, toString: 'a' });
  expect((await waitForJob(h.service, job.id)).state).toBe('succeeded');
  let log = '';
  for await (const chunk of h.service.readLogs(job.id, 'show')) log += chunk;
  expect(log).toContain('constructor=5 toString=a');
});
