/**
 * What a task sees of the server's environment: only the documented minimum (PATH, HOME, LANG, USER,
 * LOGNAME), the variables the configuration passes on by name, its own env and Cellpipe's CELLPIPE_*
 * — never the server's secrets. Proven with a real server configured from its environment and a real
 * python3 task, and on the pod spec the Kubernetes executor creates.
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CellpipeClient } from '../src/client/api-client.js';
import { loadConfig } from '../src/config.js';
import type { LaunchSpec } from '../src/executors/executor.js';
import { buildJob } from '../src/executors/kubernetes/job-spec.js';
import { KubernetesExecutorConfigSchema } from '../src/executors/kubernetes/options.js';
import { startServer, type RunningServer } from '../src/main.js';
import { request, taskOf } from './jobs-fixtures.js';

jest.setTimeout(60_000);

// One user: several on the local executor need local.runAs (multi-user.test.ts).
const SECRET_TOKENS = 'alice-secret-token-1=alice';
const SERVER_ENV = {
  CELLPIPE_TOKENS: SECRET_TOKENS,
  DATABASE_PASSWORD: 'hunter2',
  TEST_PROXY_URL: 'http://proxy.example:3128',
};

describe('local executor', () => {
  let home: string;
  let server: RunningServer | undefined;
  const saved: Record<string, string | undefined> = {};

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'cellpipe-env-'));
    // The server process's own environment, as `cellpipe serve` would have it.
    for (const [k, v] of Object.entries(SERVER_ENV)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
  });
  afterEach(async () => {
    await server?.close();
    server = undefined;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(home, { recursive: true, force: true });
  });

  test("a task gets the documented minimum, passEnv and its own env, never the server's secrets", async () => {
    const config = loadConfig({
      env: { ...process.env, CELLPIPE_HOME: home, CELLPIPE_PASS_ENV: 'TEST_PROXY_URL,NOT_SET_ANYWHERE' },
      flags: { port: 0, gpus: '' },
    });
    expect(config.tokens.map((t) => t.user)).toEqual(['alice']);
    server = await startServer({ ...config, homeToken: false });
    const client = new CellpipeClient({ url: server.url, token: 'alice-secret-token-1' });
    const job = await client.submit(
      request([
        {
          name: 'dump',
          env: { MY_SETTING: '42', CELLPIPE_JOB_ID: 'spoofed' },
          code: 'import json, os\nprint("ENV=" + json.dumps(dict(os.environ)))',
        },
      ]),
    );
    let final = await client.getJob(job.id);
    while (!['succeeded', 'failed'].includes(final.state)) {
      await new Promise((r) => setTimeout(r, 100));
      final = await client.getJob(job.id);
    }
    expect(taskOf(final, 'dump').state).toBe('succeeded');
    let log = '';
    for await (const chunk of client.logs(job.id, 'dump')) log += chunk;
    const env = JSON.parse(/^ENV=(.*)$/m.exec(log)![1]!) as Record<string, string>;

    expect(JSON.stringify(env)).not.toContain('secret-token');
    expect(env).not.toHaveProperty('CELLPIPE_TOKENS');
    expect(env).not.toHaveProperty('DATABASE_PASSWORD');
    expect(env).not.toHaveProperty('NOT_SET_ANYWHERE');
    // (An interpreter launcher such as a pyenv shim may put its own directories in front.)
    expect(env.PATH!.endsWith(process.env.PATH!)).toBe(true);
    expect(env).toMatchObject({
      LANG: process.env.LANG || 'C.UTF-8',
      TEST_PROXY_URL: SERVER_ENV.TEST_PROXY_URL,
      MY_SETTING: '42',
      // Cellpipe's own variables win over a task's attempt to set them.
      CELLPIPE_JOB_ID: job.id,
      CELLPIPE_TASK: 'dump',
      CELLPIPE_ATTEMPT: '1',
    });
    expect(env.HOME).toBeTruthy();
    // Nothing beyond the documented set: the base, passEnv, the task's env and CELLPIPE_*/runner ones.
    const allowed = new Set(['PATH', 'HOME', 'LANG', 'USER', 'LOGNAME', 'TEST_PROXY_URL', 'MY_SETTING']);
    // What a Jupyter kernel sets for its cells, as the default (ipython) engine does (nbshell.py).
    for (const k of ['TERM', 'CLICOLOR', 'FORCE_COLOR', 'CLICOLOR_FORCE', 'PAGER', 'GIT_PAGER', 'MPLBACKEND']) {
      allowed.add(k);
    }
    // What the interpreter (or its launcher) adds by itself to an empty environment is not ours.
    const own = spawnSync('python3', ['-c', 'import json, os; print(json.dumps(list(os.environ)))'], {
      env: { PATH: process.env.PATH },
      encoding: 'utf8',
    });
    for (const k of JSON.parse(own.stdout) as string[]) allowed.add(k);
    const extra = Object.keys(env).filter(
      (k) => !allowed.has(k) && !k.startsWith('CELLPIPE_') && k !== 'PYTHONUNBUFFERED',
    );
    expect(extra).toEqual([]);
  });
});

test('passEnv refuses the server’s own CELLPIPE_* variables', () => {
  expect(() =>
    loadConfig({ env: { CELLPIPE_HOME: tmpdir(), CELLPIPE_PASS_ENV: 'HTTP_PROXY,CELLPIPE_TOKENS' } }),
  ).toThrow(/CELLPIPE_PASS_ENV \(item 1\): the server's CELLPIPE_\* variables are its own configuration/);
});

test("the Kubernetes executor's pod gets passEnv, the task's env and CELLPIPE_*, nothing of the server", () => {
  const saved = process.env.CELLPIPE_TOKENS;
  process.env.CELLPIPE_TOKENS = SECRET_TOKENS;
  try {
    const spec: LaunchSpec = {
      jobId: 'job123',
      taskName: 'train',
      taskId: 'job123.train',
      attempt: 2,
      owner: 'alice',
      resources: {},
      env: { MY_SETTING: '42', CELLPIPE_ATTEMPT: '99' },
      taskDir: '/jobs/job123/tasks/train/attempt-2',
      payload: { 'task.json': '{}' },
      logPath: '/jobs/job123/tasks/train/attempt-2.log',
      resultPath: '/jobs/job123/tasks/train/attempt-2/result.json',
      artifactRoot: '/jobs/job123/artifacts',
    };
    const job = buildJob({
      spec,
      cfg: KubernetesExecutorConfigSchema.parse({}),
      placement: { requests: {}, limits: {}, affinity: [] },
      image: 'python:3.11-slim',
      passedEnv: { TEST_PROXY_URL: SERVER_ENV.TEST_PROXY_URL },
    });
    const env = job.spec!.template.spec!.containers[0]!.env!;
    expect(Object.fromEntries(env.map((e) => [e.name, e.value]))).toEqual({
      TEST_PROXY_URL: SERVER_ENV.TEST_PROXY_URL,
      MY_SETTING: '42',
      CELLPIPE_JOB_ID: 'job123',
      CELLPIPE_TASK: 'train',
      CELLPIPE_ATTEMPT: '2',
      PYTHONUNBUFFERED: '1',
    });
  } finally {
    if (saved === undefined) delete process.env.CELLPIPE_TOKENS;
    else process.env.CELLPIPE_TOKENS = saved;
  }
});
