/**
 * Task results through the real parts: task code calling `cellpipe.report(...)` and writing
 * metrics.json, run by the runner on python3 under the local executor, stored by the orchestrator in
 * SQLite with the attempt, returned by the HTTP API (task, job, and the comparison across runs of a
 * saved pipeline) and by `cellpipe status --json`.
 */
import { jest } from '@jest/globals';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import {
  JobSchema,
  PipelineResultsSchema,
  RESULT_NAME_MAX,
  RESULT_STRING_MAX,
  ResultNameSchema,
  ResultValueSchema,
} from '@cellpipe/schema';
import { LocalExecutor } from '../src/executors/local/local-executor.js';
import { auth, listen, startApp, TOKENS, type TestApp } from './http-helpers.js';
import { request as pipelineRequest, taskOf, waitForJob } from './jobs-fixtures.js';

jest.setTimeout(180_000);

const cliJs = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const RUNNER_SOURCES = fileURLToPath(new URL('../runner', import.meta.url));
const VENV_PYTHON = fileURLToPath(new URL('../../.venv/bin/python', import.meta.url));
const HAS_KERNEL =
  existsSync(VENV_PYTHON) &&
  spawnSync(VENV_PYTHON, ['-c', 'import jupyter_client, ipykernel'], { stdio: 'ignore' }).status === 0;

const LIMITS = { resultsPerTask: 8, resultsBytes: 400 };

let h: TestApp;
beforeAll(async () => {
  h = await startApp({}, { limits: LIMITS });
});
afterAll(async () => {
  await h.cleanup();
});

async function run(tasks: Parameters<typeof pipelineRequest>[0], owner = 'alice') {
  const job = await h.service.submit(owner, pipelineRequest(tasks));
  return waitForJob(h.service, job.id);
}

describe('what a task publishes', () => {
  test('cellpipe.report and metrics.json (nested objects flatten to dotted names); a later report wins', async () => {
    const job = await run([
      {
        name: 'train',
        code: [
          'import cellpipe, json, os',
          'cellpipe.report(accuracy=0.5, loss=0.12, note="baseline", converged=True)',
          'cellpipe.report(accuracy=0.93)',
          'cellpipe.report({"val/loss": 0.25})',
          'with open(os.path.join(os.environ["CELLPIPE_OUTPUT_DIR"], "metrics.json"), "w") as f:',
          '    json.dump({"epochs": 3, "train": {"loss": 0.2}}, f)',
        ].join('\n'),
      },
      { name: 'quiet', code: 'x = 1' },
    ]);
    expect(job.state).toBe('succeeded');
    const expected = {
      epochs: 3,
      'train.loss': 0.2,
      accuracy: 0.93,
      loss: 0.12,
      note: 'baseline',
      converged: true,
      'val/loss': 0.25,
    };
    expect(taskOf(job, 'train').results).toEqual(expected);
    expect(taskOf(job, 'quiet').results).toBeUndefined();
    expect(job.results).toEqual({ train: expected });
    // Stored with the attempt.
    const [attempt] = h.service.store.attempts(job.id, 'train');
    expect(attempt?.results).toEqual(expected);
  });

  test('numpy-like scalars publish through .item(); integers stay integers', async () => {
    const job = await run([
      {
        name: 'a',
        code: [
          'import cellpipe',
          'class Scalar:',
          '    def __init__(self, v): self.v = v',
          '    def item(self): return self.v',
          'cellpipe.report(steps=Scalar(1200), best=Scalar(0.875), flag=Scalar(False))',
        ].join('\n'),
      },
    ]);
    expect(taskOf(job, 'a').results).toEqual({ steps: 1200, best: 0.875, flag: false });
  });

  test.each([
    ['a list', 'cellpipe.report(scores=[1, 2])', "result 'scores' is a list: results are numbers, strings"],
    ['NaN', 'cellpipe.report(loss=float("nan"))', "result 'loss' is nan: numbers must be finite"],
    ['a bad name', 'cellpipe.report({"9lives": 1})', "result name '9lives': names start with a letter"],
    [
      'a long string',
      `cellpipe.report(note="x" * ${RESULT_STRING_MAX + 1})`,
      `result 'note' is a string of ${RESULT_STRING_MAX + 1} characters, over ${RESULT_STRING_MAX}`,
    ],
    [
      'too many results',
      'cellpipe.report(**{f"m{i}": i for i in range(9)})',
      'the results reported so far are 9 values, over the limit of 8 (limits.resultsPerTask)',
    ],
    [
      'too many bytes',
      'cellpipe.report(a="x" * 200)\ncellpipe.report(b="y" * 200)',
      'the results reported so far are 415 bytes as JSON, over the limit of 400 (limits.resultsBytes)',
    ],
  ])('%s raises in the cell that reported it, naming the result', async (_what, line, message) => {
    const job = await run([{ name: 'a', code: `import cellpipe\n${line}` }]);
    const t = taskOf(job, 'a');
    expect(t.state).toBe('failed');
    expect(t.error).toMatchObject({ ename: 'ResultError', cell: 1, reason: 'exception' });
    expect(t.error?.message).toContain(message);
  });

  test('a bad metrics.json fails a task that would have succeeded, with reason results', async () => {
    const job = await run([
      {
        name: 'a',
        code: [
          'import os',
          'with open(os.path.join(os.environ["CELLPIPE_OUTPUT_DIR"], "metrics.json"), "w") as f:',
          '    f.write(\'{"acc": [0.9]}\')',
        ].join('\n'),
      },
    ]);
    const t = taskOf(job, 'a');
    expect(t.state).toBe('failed');
    expect(t.error?.reason).toBe('results');
    expect(t.error?.message).toBe(
      "the task's results cannot be published: metrics.json: result 'acc' is a list: results are numbers, " +
        `strings (at most ${RESULT_STRING_MAX} characters) or booleans`,
    );
  });

  test('a task that fails keeps what it reported before failing', async () => {
    const job = await run([
      { name: 'a', code: 'import cellpipe\ncellpipe.report(epoch=3, loss=0.4)\nraise RuntimeError("diverged")' },
    ]);
    const t = taskOf(job, 'a');
    expect(t.state).toBe('failed');
    expect(t.error?.message).toBe('RuntimeError: diverged');
    expect(t.results).toEqual({ epoch: 3, loss: 0.4 });
  });

  test('reports from processes the task starts land in the same results', async () => {
    const job = await run([
      {
        name: 'a',
        code: [
          'import cellpipe, multiprocessing as mp',
          'def work(i):',
          '    import cellpipe',
          '    cellpipe.report(**{"worker%d" % i: i * 10})',
          'ps = [mp.get_context("fork").Process(target=work, args=(i,)) for i in range(3)]',
          '[p.start() for p in ps]; [p.join() for p in ps]',
          'cellpipe.report(workers=len(ps))',
        ].join('\n'),
      },
    ]);
    expect(taskOf(job, 'a').results).toEqual({ worker0: 0, worker1: 10, worker2: 20, workers: 3 });
  });

  (HAS_KERNEL ? test : test.skip)(
    'the kernel engine: cellpipe imports in the kernel and reports the same',
    async () => {
      const kernelApp = await startApp({}, { limits: LIMITS, executor: new LocalExecutor({ python: VENV_PYTHON }) });
      try {
        const job = await kernelApp.service.submit(
          'alice',
          pipelineRequest([
            {
              name: 'a',
              code: 'import cellpipe\nx = !echo 7\ncellpipe.report(shell=int(x[0]), engine="kernel")',
              env: { CELLPIPE_RUNNER_ENGINE: 'kernel' },
            },
          ]),
        );
        const done = await waitForJob(kernelApp.service, job.id);
        expect(taskOf(done, 'a').error).toBeUndefined();
        expect(taskOf(done, 'a').results).toEqual({ shell: 7, engine: 'kernel' });
      } finally {
        await kernelApp.cleanup();
      }
    },
  );
});

test("the runner's name and value rules are the schema's", () => {
  const names = [
    'accuracy',
    '_x',
    'val/loss',
    'train.loss',
    'a-b',
    '9lives',
    '',
    'has space',
    'é',
    'x'.repeat(RESULT_NAME_MAX),
    'x'.repeat(RESULT_NAME_MAX + 1),
  ];
  const values: unknown[] = [0, -1.5, 1e300, true, 'short', 's'.repeat(RESULT_STRING_MAX + 1), null, [1], { a: 1 }];
  const script = [
    'import json, sys',
    'from cellpipe_runner.reporting import ResultError, check_name, check_value, limits_from_env',
    'limits = limits_from_env({})',
    'names, values = json.load(sys.stdin)',
    'def ok(f, *a):',
    '    try:',
    '        f(*a)',
    '        return True',
    '    except ResultError:',
    '        return False',
    'print(json.dumps([[ok(check_name, n, limits) for n in names], [ok(check_value, "v", v, limits) for v in values]]))',
  ].join('\n');
  const r = spawnSync('python3', ['-c', script], {
    input: JSON.stringify([names, values]),
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: RUNNER_SOURCES },
  });
  expect(r.stderr).toBe('');
  const [pyNames, pyValues] = JSON.parse(r.stdout) as [boolean[], boolean[]];
  expect(pyNames).toEqual(names.map((n) => ResultNameSchema.safeParse(n).success));
  expect(pyValues).toEqual(values.map((v) => ResultValueSchema.safeParse(v).success));
});

describe('results in the API and the CLI', () => {
  test('per task and per job over HTTP, and in `cellpipe status` (text and --json)', async () => {
    const job = await run([{ name: 'fit', code: 'import cellpipe\ncellpipe.report(r2=0.81, model="ridge")' }]);
    const res = await request(h.app).get(`/api/jobs/${job.id}`).set(auth('alice')).expect(200);
    const wire = JobSchema.parse(res.body);
    expect(wire.results).toEqual({ fit: { r2: 0.81, model: 'ridge' } });
    expect(wire.tasks[0]?.results).toEqual({ r2: 0.81, model: 'ridge' });

    const server = await listen(h.app);
    try {
      const cli = (args: string[]) =>
        new Promise<string>((resolve, reject) =>
          execFile(
            process.execPath,
            [cliJs, ...args, '--url', server.url, '--token', TOKENS.alice],
            { encoding: 'utf8', timeout: 60_000 },
            (err, stdout) => (err ? reject(err) : resolve(stdout)),
          ),
        );
      const json = JobSchema.parse(JSON.parse(await cli(['status', job.id, '--json'])));
      expect(json.results).toEqual({ fit: { r2: 0.81, model: 'ridge' } });
      expect(await cli(['status', job.id])).toContain('results:\n  fit: r2=0.81, model="ridge"\n');
    } finally {
      await server.close();
    }
  });

  test('compared across the runs of a saved pipeline; only the owner (or an admin) reads them', async () => {
    const req = pipelineRequest(
      [
        { name: 'prep', code: 'rows = 100 * scale\nimport cellpipe\ncellpipe.report(rows=rows)', outputs: ['rows'] },
        {
          name: 'fit',
          code: 'import cellpipe\ncellpipe.report(accuracy=round(0.5 + scale / 10, 2), tag="s%d" % scale)',
          dependsOn: ['prep'],
          inputs: ['rows'],
        },
      ],
      { parameters: { scale: { default: 1 } } },
    );
    const pipeline = { ...req.pipeline!, metadata: { name: 'compare-me' } };
    await h.scheduling.pipelines.save('alice', { pipeline, files: req.files! });
    const first = await h.scheduling.pipelines.run('alice', 'compare-me', 'latest', { parameters: { scale: 1 } });
    await waitForJob(h.service, first.id);
    const second = await h.scheduling.pipelines.run('alice', 'compare-me', 'latest', { parameters: { scale: 3 } });
    await waitForJob(h.service, second.id);

    const res = await request(h.app).get('/api/pipelines/compare-me/results').set(auth('alice')).expect(200);
    const table = PipelineResultsSchema.parse(res.body);
    expect(table.columns).toEqual([
      { task: 'prep', name: 'rows', type: 'number' },
      { task: 'fit', name: 'accuracy', type: 'number' },
      { task: 'fit', name: 'tag', type: 'string' },
    ]);
    expect(table.total).toBe(2);
    expect(table.runs.map((r) => [r.jobId, r.version, r.state, r.parameters, r.results])).toEqual([
      [second.id, 1, 'succeeded', { scale: 3 }, { prep: { rows: 300 }, fit: { accuracy: 0.8, tag: 's3' } }],
      [first.id, 1, 'succeeded', { scale: 1 }, { prep: { rows: 100 }, fit: { accuracy: 0.6, tag: 's1' } }],
    ]);

    const limited = await request(h.app)
      .get('/api/pipelines/compare-me/results?limit=1&state=succeeded&version=1')
      .set(auth('alice'))
      .expect(200);
    expect(PipelineResultsSchema.parse(limited.body).runs.map((r) => r.jobId)).toEqual([second.id]);

    // Bob has no runs of his own by that name and may not read Alice's.
    const bobs = await request(h.app).get('/api/pipelines/compare-me/results').set(auth('bob')).expect(200);
    expect(PipelineResultsSchema.parse(bobs.body).runs).toEqual([]);
    const denied = await request(h.app)
      .get('/api/pipelines/compare-me/results?user=alice')
      .set(auth('bob'))
      .expect(403);
    expect(denied.body.error.message).toBe("only admins can read other users' results");
    const admin = await request(h.app).get('/api/pipelines/compare-me/results?user=alice').set(auth('root'));
    expect(PipelineResultsSchema.parse(admin.body).runs).toHaveLength(2);
    await request(h.app).get('/api/pipelines/compare-me/results?state=done').set(auth('alice')).expect(400);
  });
});
