/**
 * Restarts with the Kubernetes executor on the testbed:
 *  - the engine (JobService + KubernetesExecutor, from server/dist) runs in a child process and is
 *    SIGKILLed mid-job, then started again on the same SQLite home: the job finishes and no task's
 *    Job or pod was created twice;
 *  - the kube-apiserver is killed and started again mid-job: the executor's watches recover
 *    (connection errors, 410 Gone → relist) and the job still ends with the right states.
 */
import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import type { Job } from '@cellpipe/schema';
import { KubernetesExecutor } from '../src/executors/kubernetes/executor.js';
import { createJobService } from '../src/engine.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { attachEngine, kill9, type Engine } from './engine-child.js';
import { request as pipelineRequest, taskOf, until, waitForJob } from './jobs-fixtures.js';
import {
  BUILD_TIMEOUT_MS,
  createNamespace,
  eventually,
  restartApiserver,
  startApiserver,
  stopApiserver,
  runnerArchive,
  startTestbed,
  type Testbed,
} from './kubernetes-bed.js';

jest.setTimeout(180_000);

const serverDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(serverDir, 'dist');
const runnerPath = join(serverDir, 'dist', 'cellpipe_runner.pyz');

const delay = (d: string): Record<string, string> => ({ 'testbed.cellpipe.io/delay': d });

let bed: Testbed;
let ns: string;
let batch: k8s.BatchV1Api;
let core: k8s.CoreV1Api;
const homes: string[] = [];

beforeAll(async () => {
  bed = startTestbed();
  ns = await createNamespace(bed.kc, 'restart');
  batch = bed.kc.makeApiClient(k8s.BatchV1Api);
  core = bed.kc.makeApiClient(k8s.CoreV1Api);
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
  bed?.stop();
});

function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'cellpipe-k8s-restart-'));
  homes.push(home);
  return home;
}

/** Per task of a job: how many Jobs and pods the apiserver holds, by the executor's labels. */
async function objectsPerTask(jobId: string): Promise<{ jobs: Record<string, number>; pods: Record<string, number> }> {
  const selector = `cellpipe.io/job=${jobId}`;
  const count = (items: { metadata?: k8s.V1ObjectMeta }[]): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const i of items) {
      const task = i.metadata?.labels?.['cellpipe.io/task'] ?? '?';
      out[task] = (out[task] ?? 0) + 1;
    }
    return out;
  };
  const jobs = await batch.listNamespacedJob({ namespace: ns, labelSelector: selector });
  const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: selector });
  return { jobs: count(jobs.items), pods: count(pods.items) };
}

// ------------------------------------------------------------------ engine in a child process

/**
 * The engine as the server runs it (JobService with the KubernetesExecutor), built from server/dist,
 * in a child process driven over IPC like crash.test.ts drives dist/engine-process.js.
 */
const ENGINE_SOURCE = `
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import { createJobService } from ${JSON.stringify(pathToFileURL(join(dist, 'engine.js')).href)};
import { KubernetesExecutor } from ${JSON.stringify(pathToFileURL(join(dist, 'executors', 'kubernetes', 'executor.js')).href)};
const cfg = JSON.parse(process.env.CELLPIPE_TEST_ENGINE);
const kubeConfig = new k8s.KubeConfig();
kubeConfig.loadFromFile(cfg.kubeconfig);
const executor = new KubernetesExecutor({
  kubeConfig,
  config: { namespace: cfg.namespace, keepFinishedJobs: true },
  runnerArchive: readFileSync(cfg.runner),
  podAnnotations: (spec) => cfg.steer[spec.taskName] ?? {},
  warn: () => undefined,
});
const service = createJobService({ home: cfg.home, executor, retryBackoffMs: 50 });
const send = (msg) => { if (process.connected) process.send(msg); };
service.events.on('job', (job) => send({ type: 'job', job }));
service.events.on('task', (event) => send({ type: 'task', event }));
await service.start();
process.on('message', (msg) => {
  if (msg.type !== 'submit') return;
  service.submit(msg.owner, msg.request).then(
    (job) => send({ type: 'reply', id: msg.id, job }),
    (err) => send({ type: 'reply', id: msg.id, error: String(err) }),
  );
});
process.on('disconnect', () => void service.close().then(() => process.exit(0)));
send({ type: 'ready' });
`;

function startEngine(home: string, steer: Record<string, Record<string, string>>): Promise<Engine> {
  return attachEngine(
    spawn(process.execPath, ['--input-type=module', '-e', ENGINE_SOURCE], {
      cwd: serverDir,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      env: {
        ...process.env,
        CELLPIPE_TEST_ENGINE: JSON.stringify({
          home,
          kubeconfig: bed.kubeconfigPath,
          namespace: ns,
          runner: runnerPath,
          steer,
        }),
      },
    }),
  );
}

async function stopEngine(engine: Engine): Promise<void> {
  if (engine.child.exitCode !== null || engine.child.signalCode !== null) return;
  const exited = new Promise((r) => engine.child.once('exit', r));
  engine.child.disconnect();
  await exited;
}

const running = (engine: Engine, jobId: string, task: string): boolean =>
  engine.tasks.some((e) => e.jobId === jobId && e.task.name === task && e.task.state === 'running');

test('kill -9 of the engine mid-job: the restarted engine finishes the job and creates no Job or pod twice', async () => {
  expect(existsSync(join(dist, 'executors', 'kubernetes', 'executor.js'))).toBe(true);
  const home = newHome();
  const steer = {
    // Ends while the engine is down: the restarted engine reads the end from the Job.
    ends_while_down: delay('2s'),
    // Still running when the engine comes back: followed, not started again.
    still_running: delay('12s'),
  };
  const req = pipelineRequest([
    { name: 'prep', code: 'x = 1\n' },
    { name: 'ends_while_down', code: 'pass\n', dependsOn: ['prep'] },
    { name: 'still_running', code: 'pass\n', dependsOn: ['prep'], resources: { gpu: 1 } },
    { name: 'final', code: 'pass\n', dependsOn: ['ends_while_down', 'still_running'] },
  ]);

  let engine = await startEngine(home, steer);
  let job: Job;
  try {
    job = await engine.submit('alice', req);
    await until(
      () => running(engine, job.id, 'ends_while_down') && running(engine, job.id, 'still_running'),
      'both middle tasks to run',
      60_000,
    );
  } finally {
    await kill9(engine);
  }

  // While the engine is down, one pod ends; the other is still running.
  await eventually('ends_while_down to succeed while the engine is down', async () => {
    const pods = await core.listNamespacedPod({
      namespace: ns,
      labelSelector: `cellpipe.io/job=${job.id},cellpipe.io/task=ends_while_down`,
    });
    return pods.items[0]?.status?.phase === 'Succeeded' ? true : undefined;
  });
  const stillPods = await core.listNamespacedPod({
    namespace: ns,
    labelSelector: `cellpipe.io/job=${job.id},cellpipe.io/task=still_running`,
  });
  expect(stillPods.items.map((p) => p.status?.phase)).toEqual(['Running']);

  engine = await startEngine(home, steer);
  try {
    await until(
      () => ['succeeded', 'failed', 'cancelled'].includes(engine.jobs.get(job.id)?.state ?? ''),
      'the job to finish',
      90_000,
    );
  } finally {
    await stopEngine(engine);
  }

  const store = new SqliteStore(join(home, 'cellpipe.db'));
  try {
    expect(store.getJob(job.id)?.state).toBe('succeeded');
    const tasks = store.getTasks(job.id);
    expect(tasks.map((t) => [t.name, t.state, t.attempt])).toEqual([
      ['prep', 'succeeded', 1],
      ['ends_while_down', 'succeeded', 1],
      ['still_running', 'succeeded', 1],
      ['final', 'succeeded', 1],
    ]);
    for (const t of tasks) expect(store.attempts(job.id, t.name)).toHaveLength(1);
    expect(store.openAttempts()).toEqual([]);
  } finally {
    store.close();
  }
  // The apiserver's view: one Job and one pod per task, none created again by the second engine.
  const once = { prep: 1, ends_while_down: 1, still_running: 1, final: 1 };
  expect(await objectsPerTask(job.id)).toEqual({ jobs: once, pods: once });

  // Every task's log holds its container's log once, also for the two the restarted engine followed
  // again from the start of the container's log.
  const containerLog = readFileSync(join(bed.dir, 'kwok', 'container.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ').slice(3).join(' ') + '\n')
    .join('');
  for (const task of Object.keys(once)) {
    expect([task, readFileSync(join(home, 'jobs', job.id, 'tasks', task, 'attempt-1.log'), 'utf8')]).toEqual([
      task,
      containerLog,
    ]);
  }
  // Start and end are the container's, not when the restarted engine learnt of them.
  const store2 = new SqliteStore(join(home, 'cellpipe.db'));
  try {
    for (const task of ['ends_while_down', 'still_running']) {
      const pod = (
        await core.listNamespacedPod({
          namespace: ns,
          labelSelector: `cellpipe.io/job=${job.id},cellpipe.io/task=${task}`,
        })
      ).items[0];
      const terminated = pod?.status?.containerStatuses?.[0]?.state?.terminated;
      const t = store2.getTasks(job.id).find((x) => x.name === task);
      // Container times are whole seconds: one that falls before the hand-over is the hand-over.
      const handedOver = store2.attempts(job.id, task)[0]!.createdAt;
      const containerStart = new Date(terminated!.startedAt!).toISOString();
      expect([task, t?.startedAt, t?.finishedAt]).toEqual([
        task,
        Date.parse(containerStart) < Date.parse(handedOver) ? handedOver : containerStart,
        new Date(terminated!.finishedAt!).toISOString(),
      ]);
      expect(store2.attempts(job.id, task)[0]).toMatchObject({
        startedAt: t?.startedAt,
        finishedAt: t?.finishedAt,
      });
    }
  } finally {
    store2.close();
  }
});

// ------------------------------------------------------------------ apiserver restart

test('a kube-apiserver restart mid-job: the watches recover and the job ends with the right states', async () => {
  const warnings: string[] = [];
  const executor = new KubernetesExecutor({
    kubeConfig: bed.kc,
    // Kept, so the end can show one Job and one pod per task.
    config: { namespace: ns, keepFinishedJobs: true },
    runnerArchive: runnerArchive(),
    podAnnotations: (spec) =>
      ({
        long_a: delay('10s'),
        long_b: delay('10s'),
        broken: { ...delay('10s'), 'testbed.cellpipe.io/outcome': 'fail', 'testbed.cellpipe.io/exit-code': '4' },
      })[spec.taskName] ?? {},
    warn: (m) => warnings.push(m),
  });
  const service = createJobService({ home: newHome(), executor, retryBackoffMs: 50 });
  await service.start();
  try {
    const submitted = await service.submit(
      'alice',
      pipelineRequest([
        { name: 'long_a', code: 'pass\n', resources: { gpu: 1 } },
        { name: 'long_b', code: 'pass\n', resources: { mig: '1g.10gb' } },
        { name: 'broken', code: 'pass\n' },
        { name: 'after', code: 'pass\n', dependsOn: ['long_a', 'long_b'] },
        { name: 'after_broken', code: 'pass\n', dependsOn: ['broken'] },
      ]),
    );
    await waitForJob(service, submitted.id, (j) =>
      ['long_a', 'long_b', 'broken'].every((n) => taskOf(j, n).state === 'running'),
    );

    await restartApiserver(bed);

    const job = await waitForJob(service, submitted.id);
    expect(job.state).toBe('failed');
    expect(job.tasks.map((t) => [t.name, t.state, t.attempt])).toEqual([
      ['long_a', 'succeeded', 1],
      ['long_b', 'succeeded', 1],
      ['broken', 'failed', 1],
      ['after', 'succeeded', 1],
      ['after_broken', 'skipped', 0],
    ]);
    expect(taskOf(job, 'broken')).toMatchObject({ exitCode: 4, error: { reason: 'exit' } });
    // The outage was seen (and recovered from) by the watches.
    expect(warnings.some((w) => /watch/.test(w))).toBe(true);
    expect(await objectsPerTask(job.id)).toEqual({
      jobs: { long_a: 1, long_b: 1, broken: 1, after: 1 },
      pods: { long_a: 1, long_b: 1, broken: 1, after: 1 },
    });
  } finally {
    await service.close();
  }
});

test('a cancel while the kube-apiserver is down is retried until it answers; the job ends cancelled and its pod is gone', async () => {
  const executor = new KubernetesExecutor({
    kubeConfig: bed.kc,
    config: { namespace: ns },
    runnerArchive: runnerArchive(),
    podAnnotations: (spec) => (spec.taskName === 'long' ? delay('300s') : {}),
    warn: () => undefined,
  });
  const service = createJobService({ home: newHome(), executor, retryBackoffMs: 50 });
  await service.start();
  try {
    const submitted = await service.submit('alice', pipelineRequest([{ name: 'long', code: 'pass\n' }]));
    await waitForJob(service, submitted.id, (j) => taskOf(j, 'long').state === 'running');

    await stopApiserver(bed);
    await service.cancel(submitted.id);
    // The delete failed: the task says so, and the request is tried again.
    const stopping = await waitForJob(service, submitted.id, (j) => taskOf(j, 'long').stopping?.error !== undefined);
    expect(taskOf(stopping, 'long')).toMatchObject({ state: 'running', stopping: { reason: 'cancelled' } });
    await startApiserver(bed);

    const job = await waitForJob(service, submitted.id);
    expect(job.state).toBe('cancelled');
    expect(taskOf(job, 'long')).toMatchObject({ state: 'cancelled', attempt: 1, error: { reason: 'cancelled' } });
    expect(taskOf(job, 'long').stopping).toBeUndefined();
    await eventually('the cancelled pod to be gone', async () => {
      const { pods } = await objectsPerTask(job.id);
      return Object.keys(pods).length === 0 ? true : undefined;
    });
  } finally {
    await service.close();
  }
});
