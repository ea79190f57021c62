/**
 * The whole server with the Kubernetes executor: jobs submitted through the HTTP API run as batch/v1
 * Jobs on the testbed (real apiserver, scheduler, controller-manager; kwok nodes), and
 * GET /api/inventory reports the cluster's GPU and MIG resources.
 */
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import * as k8s from '@kubernetes/client-node';
import { InventorySchema, JobSchema } from '@cellpipe/schema';
import { TokenAuthenticator } from '../src/auth/token-authenticator.js';
import { KubernetesExecutor } from '../src/executors/kubernetes/executor.js';
import { createApp, type CellpipeApp } from '../src/http/app.js';
import { createJobService } from '../src/engine.js';
import type { JobService } from '../src/jobs/job-service.js';
import { request as pipelineRequest, taskOf, waitForJob } from './jobs-fixtures.js';
import { BUILD_TIMEOUT_MS, createNamespace, runnerArchive, startTestbed, type Testbed } from './kubernetes-bed.js';

jest.setTimeout(120_000);

const TOKEN = 'k8s-test-token-0001';
const auth = { Authorization: `Bearer ${TOKEN}` };
/** Testbed steering annotations per task name. */
const steer: Record<string, Record<string, string>> = {
  flaky: { 'testbed.cellpipe.io/outcome': 'fail', 'testbed.cellpipe.io/exit-code': '2' },
  broken: { 'testbed.cellpipe.io/outcome': 'fail', 'testbed.cellpipe.io/exit-code': '5' },
};

let bed: Testbed;
let home: string;
let service: JobService;
let app: CellpipeApp;
let shutdown: AbortController;
let ns: string;

beforeAll(async () => {
  bed = startTestbed();
  ns = await createNamespace(bed.kc, 'server');
  home = mkdtempSync(join(tmpdir(), 'cellpipe-k8s-server-'));
  const executor = new KubernetesExecutor({
    kubeConfig: bed.kc,
    // The tests look at each task's Job after the job ended.
    config: { namespace: ns, keepFinishedJobs: true },
    runnerArchive: runnerArchive(),
    podAnnotations: (spec) => steer[spec.taskName] ?? {},
    warn: () => undefined,
  });
  service = createJobService({ home, executor, retryBackoffMs: 50 });
  await service.start();
  shutdown = new AbortController();
  app = createApp({
    service,
    authenticator: new TokenAuthenticator([{ token: TOKEN, user: 'alice', admin: false }]),
    shutdown: shutdown.signal,
    logError: () => undefined,
  });
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  shutdown?.abort();
  await service?.close();
  if (home) rmSync(home, { recursive: true, force: true });
  bed?.stop();
});

test('a submitted GPU + MIG pipeline runs as Kubernetes Jobs in dependency order', async () => {
  const body = pipelineRequest([
    { name: 'train', code: 'x = 1\n', resources: { gpu: 4 } },
    { name: 'evaluate', code: 'y = 2\n', resources: { mig: '3g.20gb' }, dependsOn: ['train'] },
  ]);
  const res = await request(app).post('/api/jobs').set(auth).send(body).expect(201);
  const id = JobSchema.parse(res.body).id;
  expect(JobSchema.parse(res.body).executor).toBe('kubernetes');

  const job = await waitForJob(service, id);
  expect(job.state).toBe('succeeded');
  const train = taskOf(job, 'train');
  const evaluate = taskOf(job, 'evaluate');
  expect(train.placement).toMatch(/^gpu-h100-\d\//);
  expect(evaluate.placement).toMatch(/^mig-a100-mixed-0\//);
  expect(Date.parse(evaluate.startedAt!)).toBeGreaterThanOrEqual(Date.parse(train.finishedAt!));

  const jobs = await bed.kc
    .makeApiClient(k8s.BatchV1Api)
    .listNamespacedJob({ namespace: ns, labelSelector: `cellpipe.io/job=${id}` });
  expect(jobs.items.map((j) => j.metadata?.labels?.['cellpipe.io/task']).sort()).toEqual(['evaluate', 'train']);
  expect(jobs.items.every((j) => j.metadata?.labels?.['cellpipe.io/user'] === 'alice')).toBe(true);
});

test('a failing pod fails its task with the exit code, after the retries the spec asks for', async () => {
  const body = pipelineRequest([{ name: 'flaky', code: 'raise SystemExit(2)\n', retries: 1, resources: { gpu: 1 } }]);
  const res = await request(app).post('/api/jobs').set(auth).send(body).expect(201);
  const job = await waitForJob(service, JobSchema.parse(res.body).id);
  expect(job.state).toBe('failed');
  const flaky = taskOf(job, 'flaky');
  expect(flaky.attempt).toBe(2);
  expect(flaky.exitCode).toBe(2);
  expect(flaky.error?.reason).toBe('exit');
});

test('a failing pod fails its task and skips its dependents; independent tasks still run', async () => {
  const body = pipelineRequest([
    { name: 'broken', code: 'pass\n', resources: { gpu: 1 } },
    { name: 'consumer', code: 'pass\n', dependsOn: ['broken'] },
    { name: 'downstream', code: 'pass\n', dependsOn: ['consumer'] },
    { name: 'independent', code: 'pass\n' },
  ]);
  const res = await request(app).post('/api/jobs').set(auth).send(body).expect(201);
  const job = await waitForJob(service, JobSchema.parse(res.body).id);
  expect(job.state).toBe('failed');
  expect(job.tasks.map((t) => [t.name, t.state])).toEqual([
    ['broken', 'failed'],
    ['consumer', 'skipped'],
    ['downstream', 'skipped'],
    ['independent', 'succeeded'],
  ]);
  expect(taskOf(job, 'broken')).toMatchObject({ exitCode: 5, error: { reason: 'exit' } });
  // The skipped tasks never reached the cluster.
  const jobs = await bed.kc
    .makeApiClient(k8s.BatchV1Api)
    .listNamespacedJob({ namespace: ns, labelSelector: `cellpipe.io/job=${job.id}` });
  expect(jobs.items.map((j) => j.metadata?.labels?.['cellpipe.io/task']).sort()).toEqual(['broken', 'independent']);
});

test('GET /api/inventory lists allocatable, used and free per nvidia.com resource', async () => {
  const res = await request(app).get('/api/inventory').set(auth).expect(200);
  const inv = InventorySchema.parse(res.body);
  expect(inv.executor).toBe('kubernetes');
  const by = Object.fromEntries(inv.resources.map((r) => [r.resource, r]));
  expect(by['nvidia.com/gpu']).toMatchObject({ allocatable: 16 });
  expect(by['nvidia.com/mig-1g.10gb']).toMatchObject({ allocatable: 7 });
  // The mixed node's two slices and the single-strategy node's two; with migStrategy auto a task
  // asking for 3g.20gb goes to the mixed node, so only its two are free.
  expect(by['nvidia.com/mig-3g.20gb']).toMatchObject({ allocatable: 4, used: 0, free: 2 });
  for (const r of inv.resources.filter((x) => x.resource !== 'nvidia.com/mig-3g.20gb'))
    expect(r.free).toBe(r.allocatable - r.used);
});
