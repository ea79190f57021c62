/**
 * KubernetesExecutor against a real control plane (kube-apiserver, controller-manager, scheduler)
 * with kwok-simulated GPU and MIG nodes. The executor runs as a ServiceAccount bound by
 * deploy/rbac.yaml, so the shipped RBAC is proven sufficient too.
 */
import { jest } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import type { Resources } from '@cellpipe/schema';
import type { LaunchSpec } from '../src/executors/executor.js';
import { KubernetesExecutor } from '../src/executors/kubernetes/executor.js';
import { jobName } from '../src/executors/kubernetes/names.js';
import { startServer } from '../src/main.js';
import { Recorder } from './executor-contract.js';
import { BUILD_TIMEOUT_MS, eventually, startTestbed, type Testbed } from './kubernetes-bed.js';

jest.setTimeout(180_000);

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const runnerArchive = readFileSync(join(root, 'server', 'dist', 'cellpipe_runner.pyz'));
const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
const serverNs = `cp-srv-${suffix}`;
const tasksNs = `cp-tasks-${suffix}`;
/** Where task pods would reach the server (no pod runs on kwok nodes). */
const SERVER_URL = 'http://cellpipe.test:8765';

let bed: Testbed;
let admin: k8s.KubeConfig;
let core: k8s.CoreV1Api;
let batch: k8s.BatchV1Api;
let saKubeConfig: k8s.KubeConfig;
const executors: KubernetesExecutor[] = [];
/** Testbed steering annotations per task name (kwok stages read them). */
const steer = new Map<string, Record<string, string>>();
const workDir = mkdtempSync(join(tmpdir(), 'cellpipe-k8s-exec-'));

/** Applies deploy/rbac.yaml with its namespaces renamed to this run's. */
async function applyRbac(): Promise<void> {
  const text = readFileSync(join(root, 'deploy', 'rbac.yaml'), 'utf8')
    .replaceAll('namespace: cellpipe-tasks', `namespace: ${tasksNs}`)
    .replaceAll('namespace: cellpipe', `namespace: ${serverNs}`)
    .replaceAll('name: cellpipe-inventory', `name: cellpipe-inventory-${suffix}`);
  const client = k8s.KubernetesObjectApi.makeApiClient(admin);
  for (const obj of k8s.loadAllYaml(text) as k8s.KubernetesObject[]) {
    await client.create(obj);
  }
}

async function serviceAccountKubeConfig(): Promise<k8s.KubeConfig> {
  const tr = await core.createNamespacedServiceAccountToken({
    name: 'cellpipe-server',
    namespace: serverNs,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const cluster = admin.getCurrentCluster()!;
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'bed', server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
    users: [{ name: 'cellpipe-server', token: tr.status!.token }],
    contexts: [{ name: 'bed', cluster: 'bed', user: 'cellpipe-server', namespace: tasksNs }],
    currentContext: 'bed',
  });
  return kc;
}

function newExecutor(config: Record<string, unknown> = {}, notebookImage?: string): KubernetesExecutor {
  const ex = new KubernetesExecutor({
    kubeConfig: saKubeConfig,
    runnerArchive,
    // Kept unless a test says otherwise: most tests look at the Jobs after the attempts ended.
    config: { namespace: tasksNs, keepFinishedJobs: true, ...config },
    notebookImage,
    podAnnotations: (spec) => steer.get(spec.taskName) ?? {},
    warn: () => undefined,
  });
  executors.push(ex);
  return ex;
}

function launch(jobId: string, taskName: string, resources: Resources, extra: Partial<LaunchSpec> = {}): LaunchSpec {
  const taskDir = join(workDir, jobId, taskName);
  return {
    jobId,
    taskName,
    taskId: `${jobId}.${taskName}`,
    attempt: 1,
    owner: 'ada@example.org',
    resources,
    env: { MODE: 'test' },
    taskDir,
    payload: { 'task.json': JSON.stringify({ task: taskName, cells: ['print(1)'] }) },
    logPath: join(taskDir, 'log.txt'),
    resultPath: join(taskDir, 'result.json'),
    artifactRoot: join(workDir, jobId, 'artifacts'),
    ...extra,
  };
}

beforeAll(async () => {
  bed = startTestbed();
  admin = bed.kc;
  core = admin.makeApiClient(k8s.CoreV1Api);
  batch = admin.makeApiClient(k8s.BatchV1Api);
  for (const name of [serverNs, tasksNs]) await core.createNamespace({ body: { metadata: { name } } });
  await applyRbac();
  // Objects the pod-spec test refers to; they must exist for the apiserver to admit the pods.
  await admin.makeApiClient(k8s.SchedulingV1Api).createPriorityClass({
    body: { metadata: { name: `cellpipe-batch-${suffix}` }, value: 1000, globalDefault: false },
  });
  await core.createNamespacedServiceAccount({ namespace: tasksNs, body: { metadata: { name: 'task-runner' } } });
  await eventually('ServiceAccount default in the tasks namespace', async () => {
    await core.readNamespacedServiceAccount({ name: 'default', namespace: tasksNs });
    return true;
  });
  saKubeConfig = await serviceAccountKubeConfig();
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  for (const ex of executors) await ex.close();
  bed?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

test('a GPU + MIG pipeline runs its tasks in dependency order on the right nodes', async () => {
  const ex = newExecutor();
  const jobId = `pipe${suffix}`;
  const tasks: { name: string; resources: Resources; deps: string[] }[] = [
    { name: 'prepare', resources: { cpu: '2', memory: '4Gi' }, deps: [] },
    { name: 'train', resources: { gpu: 2, memory: '32Gi' }, deps: ['prepare'] },
    { name: 'eval_small', resources: { mig: '1g.10gb' }, deps: ['train'] },
    { name: 'eval_large', resources: { mig: '3g.20gb' }, deps: ['train'] },
    { name: 'report', resources: { cpu: '500m' }, deps: ['eval_small', 'eval_large'] },
  ];
  const finished: string[] = [];
  const recorders = new Map<string, Recorder>();
  const startedAfter = new Map<string, string[]>();
  const done = new Set<string>();

  // A minimal orchestrator: start every task whose dependencies all succeeded.
  await new Promise<void>((resolveAll, rejectAll) => {
    const pump = (): void => {
      for (const t of tasks) {
        if (recorders.has(t.name) || !t.deps.every((d) => done.has(d))) continue;
        const rec = new Recorder();
        recorders.set(t.name, rec);
        startedAfter.set(t.name, [...finished]);
        ex.start(launch(jobId, t.name, t.resources), rec.report).catch(rejectAll);
        rec
          .exited()
          .then((e) => {
            if (e.error) return rejectAll(new Error(`${t.name} failed: ${e.error.reason}: ${e.error.message}`));
            finished.push(t.name);
            done.add(t.name);
            if (done.size === tasks.length) resolveAll();
            else pump();
          })
          .catch(rejectAll);
      }
    };
    pump();
  });

  for (const t of tasks) {
    for (const d of t.deps) expect(startedAfter.get(t.name)).toContain(d);
  }
  const placement = (name: string) => {
    const running = recorders.get(name)!.events.find((e) => e.type === 'running');
    return running?.type === 'running' ? running.placement : undefined;
  };
  expect(placement('train')).toMatch(/^gpu-h100-\d\//);
  expect(placement('eval_small')).toMatch(/^mig-a100-mixed-0\//);
  expect(placement('eval_large')).toMatch(/^mig-a100-mixed-0\//);

  // The log was saved from the pod (served by kwok through the apiserver) before the end was reported.
  // Streamed while running and completed at the end: the whole log arrives exactly once.
  const trainEvents = recorders.get('train')!.events;
  const log = trainEvents.map((e) => (e.type === 'log' ? e.chunk : '')).join('');
  expect(log).toBe(
    'cellpipe testbed: container started\ncellpipe testbed: simulated work done\ncellpipe testbed: a line on stderr\n',
  );
  expect(trainEvents.at(-1)).toMatchObject({ type: 'exited', exitCode: 0 });
  // Start and end are the container's, as the pod reports them.
  const trainPod = (
    await core.listNamespacedPod({
      namespace: tasksNs,
      labelSelector: `cellpipe.io/job=${jobId},cellpipe.io/task=train`,
    })
  ).items[0];
  const terminated = trainPod?.status?.containerStatuses?.[0]?.state?.terminated;
  expect(trainEvents.at(-1)).toEqual({
    type: 'exited',
    exitCode: 0,
    startedAt: new Date(terminated!.startedAt!).toISOString(),
    finishedAt: new Date(terminated!.finishedAt!).toISOString(),
  });
  expect(trainEvents.find((e) => e.type === 'running')).toMatchObject({
    startedAt: new Date(terminated!.startedAt!).toISOString(),
  });

  // Every Job is owned by the job's ConfigMap: deleting it cascades.
  const jobs = (await batch.listNamespacedJob({ namespace: tasksNs, labelSelector: `cellpipe.io/job=${jobId}` })).items;
  expect(jobs).toHaveLength(tasks.length);
  for (const j of jobs)
    expect(j.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'ConfigMap', name: `cp-${jobId}` });
  await ex.deleteJobObjects(jobId);
  await eventually('cascade deletion of the pipeline Jobs', async () => {
    const left = await batch.listNamespacedJob({ namespace: tasksNs, labelSelector: `cellpipe.io/job=${jobId}` });
    return left.items.length === 0 ? true : undefined;
  });
});

test('pod specs with every option are accepted by the apiserver', async () => {
  const ex = newExecutor({
    nodeSelector: { type: 'kwok' },
    tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    priorityClassName: `cellpipe-batch-${suffix}`,
    serviceAccountName: 'task-runner',
    imagePullSecrets: ['registry-creds'],
    labels: { team: 'vision' },
    annotations: { 'example.org/cost-center': '42' },
    ttlSecondsAfterFinished: 600,
  });
  const spec = launch(
    `opts${suffix}`,
    'all_options',
    { mig: '3g.20gb', cpu: '1', memory: '1Gi' },
    { timeoutMs: 3_600_000, image: 'registry.example.org/ml/train:1.2' },
  );
  const rec = new Recorder();
  await ex.start(spec, rec.report);
  const exited = await rec.exited();
  expect(exited.error).toBeUndefined();

  const job = await batch.readNamespacedJob({ name: jobName(spec.jobId, spec.taskName, 1), namespace: tasksNs });
  expect(job.spec?.backoffLimit).toBe(0);
  expect(job.spec?.activeDeadlineSeconds).toBe(3600);
  expect(job.spec?.podFailurePolicy?.rules).toHaveLength(2);
  expect(job.metadata?.labels).toMatchObject({
    'app.kubernetes.io/managed-by': 'cellpipe',
    'cellpipe.io/job': spec.jobId,
    'cellpipe.io/task': 'all_options',
    'cellpipe.io/user': expect.stringMatching(/^ada_example.org-[0-9a-f]{6}$/),
    team: 'vision',
  });
  const pod = job.spec!.template.spec!;
  expect(pod.restartPolicy).toBe('Never');
  expect(pod.priorityClassName).toBe(`cellpipe-batch-${suffix}`);
  expect(pod.serviceAccountName).toBe('task-runner');
  expect(pod.containers[0]?.resources?.limits).toMatchObject({ 'nvidia.com/mig-3g.20gb': '1', memory: '1Gi' });
  expect(pod.containers[0]?.image).toBe('registry.example.org/ml/train:1.2');

  // The payload travels in the pod's annotations and is mounted as task.json by the downward API,
  // where the runner's command line reads it; the attempt is this one Job and nothing else.
  const running = await core.listNamespacedPod({
    namespace: tasksNs,
    labelSelector: `batch.kubernetes.io/job-name=${job.metadata!.name!}`,
  });
  const annotations = running.items[0]?.metadata?.annotations ?? {};
  const payloadKey = Object.keys(annotations).find((k) => annotations[k] === spec.payload['task.json']);
  expect(payloadKey).toBeDefined();
  const payloadVolume = pod.volumes?.find((v) => v.name === 'payload');
  expect(payloadVolume?.downwardAPI?.items).toEqual([
    { path: 'task.json', fieldRef: { apiVersion: 'v1', fieldPath: `metadata.annotations['${payloadKey}']` } },
  ]);
  const mount = pod.containers[0]?.volumeMounts?.find((m) => m.name === 'payload');
  expect(pod.containers[0]?.command?.at(-1)).toBe(`${mount?.mountPath}/task.json`);
  const configMaps = await core.listNamespacedConfigMap({
    namespace: tasksNs,
    labelSelector: `cellpipe.io/job=${spec.jobId}`,
  });
  expect(configMaps.items.map((c) => c.metadata?.name)).toEqual([`cp-${spec.jobId}`]);
});

test('tasks that name no image run in the notebook image, pinned to the digest its running pod reports', async () => {
  const notebookImage = 'registry.example.org/ml/notebook:2.1';
  const digest = `sha256:${'ab12'.repeat(16)}`;
  const notebookPod = `jupyter-ada-${suffix}`;
  // The researcher's notebook server as JupyterHub runs it, in another namespace; its kubelet
  // (kwok here) reports the digest it pulled for the tag.
  await core.createNamespacedPod({
    namespace: serverNs,
    body: {
      metadata: {
        name: notebookPod,
        annotations: { 'testbed.cellpipe.io/image-id': `registry.example.org/ml/notebook@${digest}` },
      },
      spec: { nodeName: 'cpu-0', containers: [{ name: 'notebook', image: notebookImage }] },
    },
  });
  await eventually('the notebook pod reporting its image digest', async () => {
    const pod = await core.readNamespacedPod({ name: notebookPod, namespace: serverNs });
    return pod.status?.containerStatuses?.[0]?.imageID ? true : undefined;
  });

  const ex = newExecutor({}, notebookImage);
  const jobId = `img${suffix}`;
  const specs = [
    launch(jobId, 'notebook_image', {}),
    launch(jobId, 'own_image', {}, { image: 'registry.example.org/ml/train:1.2' }),
  ];
  for (const spec of specs) {
    const rec = new Recorder();
    await ex.start(spec, rec.report);
    expect((await rec.exited()).error).toBeUndefined();
  }
  const imageOf = async (task: string) =>
    (await batch.readNamespacedJob({ name: jobName(jobId, task, 1), namespace: tasksNs })).spec?.template.spec
      ?.containers[0]?.image;
  expect(await imageOf('notebook_image')).toBe(`registry.example.org/ml/notebook@${digest}`);
  expect(await imageOf('own_image')).toBe('registry.example.org/ml/train:1.2');
  // Without the notebook image the fallback is a plain Python image.
  const plain = newExecutor();
  const spec = launch(jobId, 'no_notebook', {});
  const rec = new Recorder();
  await plain.start(spec, rec.report);
  await rec.exited();
  expect(await imageOf('no_notebook')).toBe('python:3.11-slim');
});

test("by default an attempt's Job and pod are deleted once its end and log are saved", async () => {
  const ex = newExecutor({ keepFinishedJobs: false });
  const spec = launch(`gc${suffix}`, 'tidy', { cpu: '100m' });
  const rec = new Recorder();
  await ex.start(spec, rec.report);
  const exited = await rec.exited();
  expect(exited).toMatchObject({ type: 'exited', exitCode: 0 });
  const log = rec.events.map((e) => (e.type === 'log' ? e.chunk : '')).join('');
  expect(log).toContain('cellpipe testbed: simulated work done');
  const selector = `cellpipe.io/job=${spec.jobId}`;
  await eventually('the finished Job and its pod deleted', async () => {
    const jobs = await batch.listNamespacedJob({ namespace: tasksNs, labelSelector: selector });
    const pods = await core.listNamespacedPod({ namespace: tasksNs, labelSelector: selector });
    return jobs.items.length === 0 && pods.items.length === 0 ? true : undefined;
  });
  // Once the job has ended, its owner ConfigMap (the runner's copy) goes too.
  const owners = () => core.listNamespacedConfigMap({ namespace: tasksNs, labelSelector: selector });
  expect((await owners()).items.map((c) => c.metadata?.name)).toEqual([`cp-${spec.jobId}`]);
  await ex.jobEnded(spec.jobId);
  await ex.jobEnded(spec.jobId); // idempotent
  await eventually('the owner ConfigMap deleted', async () => ((await owners()).items.length === 0 ? true : undefined));
});

test('with keepFinishedJobs the ended job keeps its owner ConfigMap (and so its Jobs) until it is deleted', async () => {
  const ex = newExecutor({ keepFinishedJobs: true });
  const spec = launch(`keep${suffix}`, 'kept', { cpu: '100m' });
  const rec = new Recorder();
  await ex.start(spec, rec.report);
  await rec.exited();
  await ex.jobEnded(spec.jobId);
  const selector = `cellpipe.io/job=${spec.jobId}`;
  expect((await core.listNamespacedConfigMap({ namespace: tasksNs, labelSelector: selector })).items).toHaveLength(1);
  expect((await batch.listNamespacedJob({ namespace: tasksNs, labelSelector: selector })).items).toHaveLength(1);
});

test('the server refuses to start, naming each missing right, when its identity lacks the RBAC it needs', async () => {
  // With deploy/rbac.yaml applied nothing is missing.
  expect(await newExecutor().checkAccess()).toEqual([]);

  // A ServiceAccount nobody granted anything.
  await core.createNamespacedServiceAccount({ namespace: serverNs, body: { metadata: { name: 'nobody' } } });
  const tr = await core.createNamespacedServiceAccountToken({
    name: 'nobody',
    namespace: serverNs,
    body: { spec: { audiences: [], expirationSeconds: 600 } },
  });
  const cluster = admin.getCurrentCluster()!;
  const kubeconfig = join(workDir, 'nobody.kubeconfig');
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'bed', server: cluster.server, caData: cluster.caData, skipTLSVerify: false }],
    users: [{ name: 'nobody', token: tr.status!.token }],
    contexts: [{ name: 'bed', cluster: 'bed', user: 'nobody' }],
    currentContext: 'bed',
  });
  writeFileSync(kubeconfig, kc.exportConfig());
  const previous = process.env.KUBECONFIG;
  process.env.KUBECONFIG = kubeconfig;
  try {
    const home = mkdtempSync(join(workDir, 'home-'));
    await expect(
      startServer({ home, port: 0, executor: 'kubernetes', kubernetes: { namespace: tasksNs, serverUrl: SERVER_URL } }),
    ).rejects.toThrow(
      new RegExp(
        `lacks rights it needs:\\n  - create jobs\\.batch in namespace ${tasksNs}\\n[^]*- list nodes cluster-wide[^]*deploy/rbac\\.yaml`,
      ),
    );
  } finally {
    if (previous === undefined) delete process.env.KUBECONFIG;
    else process.env.KUBECONFIG = previous;
  }

  // The same identity chosen by the kubernetes.kubeconfig and kubernetes.context options instead.
  const home = mkdtempSync(join(workDir, 'home-'));
  await expect(
    startServer({
      home,
      port: 0,
      executor: 'kubernetes',
      kubernetes: { namespace: tasksNs, kubeconfig, context: 'bed', serverUrl: SERVER_URL },
    }),
  ).rejects.toThrow(/lacks rights it needs:\n  - create jobs\.batch/);
  await expect(
    startServer({
      home,
      port: 0,
      executor: 'kubernetes',
      kubernetes: { kubeconfig, context: 'elsewhere', serverUrl: SERVER_URL },
    }),
  ).rejects.toThrow(`kubernetes.context: ${kubeconfig} has no context "elsewhere" (it has: bed)`);
  await expect(
    startServer({
      home,
      port: 0,
      executor: 'kubernetes',
      kubernetes: { kubeconfig: join(workDir, 'missing'), serverUrl: SERVER_URL },
    }),
  ).rejects.toThrow(`kubernetes.kubeconfig: ${join(workDir, 'missing')} does not exist`);
});

test('a payload over the budget ends the attempt with a clear reason and creates no Job', async () => {
  const ex = newExecutor({ maxPayloadBytes: 50_000 });
  const spec = launch(
    `big${suffix}`,
    'huge_cell',
    {},
    {
      payload: {
        'task.json': JSON.stringify({ task: 'huge_cell', cells: [`data = ${JSON.stringify('x'.repeat(60_000))}`] }),
      },
    },
  );
  const rec = new Recorder();
  await ex.start(spec, rec.report);
  const exited = await rec.exited();
  expect(exited.error?.reason).toBe('payload-too-large');
  expect(exited.error?.message).toMatch(/over the 50000 byte budget/);
  const jobs = await batch.listNamespacedJob({ namespace: tasksNs, labelSelector: `cellpipe.io/job=${spec.jobId}` });
  expect(jobs.items).toEqual([]);
});

test('single-strategy MIG: the slice is an nvidia.com/gpu on a node whose product names the profile', async () => {
  const ex = newExecutor({ migStrategy: 'single' });
  const rec = new Recorder();
  await ex.start(launch(`single${suffix}`, 'slice', { mig: '3g.20gb' }), rec.report);
  const running = await rec.until('running');
  expect(running.placement).toMatch(/^mig-a100-single-0\//);
  expect((await rec.exited()).error).toBeUndefined();
});

test('a MIG request waits with the scheduler reason until a slice frees; cancel removes the pod', async () => {
  const ex = newExecutor();
  const jobId = `wait${suffix}`;
  const holders = ['hold_a', 'hold_b'].map((name) => {
    steer.set(name, { 'testbed.cellpipe.io/delay': '120s' });
    return { name, rec: new Recorder() };
  });
  for (const h of holders) await ex.start(launch(jobId, h.name, { mig: '3g.20gb' }), h.rec.report);
  for (const h of holders) await h.rec.until('running');

  const inv = await eventually('inventory to show both slices held', async () => {
    const i = await ex.inventory();
    const mig = i.resources.find((r) => r.resource === 'nvidia.com/mig-3g.20gb');
    return mig && mig.holders.filter((h) => h.jobId === jobId).length === 2 ? mig : undefined;
  });
  expect(
    inv.holders
      .filter((h) => h.jobId === jobId)
      .map((h) => h.task)
      .sort(),
  ).toEqual(['hold_a', 'hold_b']);
  expect(inv.holders.find((h) => h.jobId === jobId)).toMatchObject({
    user: 'ada@example.org',
    node: 'mig-a100-mixed-0',
    count: 1,
  });

  const waiter = new Recorder();
  await ex.start(launch(jobId, 'waiter', { mig: '3g.20gb' }), waiter.report);
  const waiting = await waiter.until('waiting', (e) => /Insufficient nvidia\.com\/mig-3g\.20gb/.test(e.reason));
  expect(waiting.reason).toMatch(/^0\/\d+ nodes are available: /);
  expect(waiter.events.some((e) => e.type === 'running')).toBe(false);

  await ex.cancel({ jobId, taskName: 'hold_a', taskId: `${jobId}.hold_a`, attempt: 1, reason: 'cancelled' });
  const cancelled = await holders[0]!.rec.exited();
  expect(cancelled.error).toEqual({ reason: 'cancelled', message: 'the attempt was cancelled' });
  const left = await core.listNamespacedPod({
    namespace: tasksNs,
    labelSelector: `batch.kubernetes.io/job-name=${jobName(jobId, 'hold_a', 1)}`,
  });
  expect(left.items).toHaveLength(0);

  const running = await waiter.until('running');
  expect(running.placement).toMatch(/^mig-a100-mixed-0\//);
  expect((await waiter.exited()).error).toBeUndefined();
  await ex.cancel({ jobId, taskName: 'hold_b', taskId: `${jobId}.hold_b`, attempt: 1, reason: 'cancelled' });
  await holders[1]!.rec.exited();
});

test('failures are reported with their reason: exit code, OOM, image pull, unschedulable', async () => {
  const ex = newExecutor();
  const jobId = `fail${suffix}`;
  steer.set('crash', { 'testbed.cellpipe.io/outcome': 'fail', 'testbed.cellpipe.io/exit-code': '3' });
  steer.set('oom', {
    'testbed.cellpipe.io/outcome': 'fail',
    'testbed.cellpipe.io/exit-code': '137',
    'testbed.cellpipe.io/reason': 'OOMKilled',
  });
  steer.set('bad_image', { 'testbed.cellpipe.io/outcome': 'image-pull-error' });
  const cases = {
    crash: new Recorder(),
    oom: new Recorder(),
    bad_image: new Recorder(),
    too_many_gpus: new Recorder(),
    no_such_profile: new Recorder(),
  };
  await ex.start(launch(jobId, 'crash', { gpu: 1 }), cases.crash.report);
  await ex.start(launch(jobId, 'oom', { memory: '1Gi' }), cases.oom.report);
  await ex.start(
    launch(jobId, 'bad_image', { cpu: '1' }, { image: 'registry.example.org/missing:1' }),
    cases.bad_image.report,
  );
  await ex.start(launch(jobId, 'too_many_gpus', { gpu: 9 }), cases.too_many_gpus.report);
  await ex.start(launch(jobId, 'no_such_profile', { mig: '7g.80gb' }), cases.no_such_profile.report);

  expect(await cases.crash.exited()).toMatchObject({ exitCode: 3, error: { reason: 'exit' } });
  expect(await cases.oom.exited()).toMatchObject({ exitCode: 137, error: { reason: 'oom' } });
  const pull = await cases.bad_image.exited();
  expect(pull.error?.reason).toBe('image-pull');
  expect(pull.error?.message).toContain('registry.example.org/missing:1');
  expect(await cases.too_many_gpus.exited()).toMatchObject({
    error: { reason: 'unschedulable', message: 'no node has 9 nvidia.com/gpu (the largest has 8)' },
  });
  expect(await cases.no_such_profile.exited()).toMatchObject({ error: { reason: 'unschedulable' } });
  // Nothing was created for requests refused up front.
  await expect(
    batch.readNamespacedJob({ name: jobName(jobId, 'too_many_gpus', 1), namespace: tasksNs }),
  ).rejects.toMatchObject({
    code: 404,
  });
});

test('a restarted executor finds its running Jobs by name and follows them; a second start is idempotent', async () => {
  const jobId = `restart${suffix}`;
  steer.set('long', { 'testbed.cellpipe.io/delay': '6s' });
  const first = newExecutor();
  const rec1 = new Recorder();
  const spec = launch(jobId, 'long', { gpu: 1 });
  await first.start(spec, rec1.report);
  const running = await rec1.until('running');
  await first.close();

  const second = newExecutor();
  expect(await second.reattach(launch(jobId, 'never_started', { gpu: 1 }), null, () => undefined)).toBe('not-found');
  const rec2 = new Recorder();
  expect(await second.reattach(spec, running.handle, rec2.report)).toBe('following');
  // Starting the same attempt again (here from a third process) does not create a second Job.
  const third = newExecutor();
  const rec3 = new Recorder();
  await third.start(spec, rec3.report);
  expect((await rec2.exited()).error).toBeUndefined();
  expect((await rec3.exited()).error).toBeUndefined();
  const jobs = await batch.listNamespacedJob({ namespace: tasksNs, labelSelector: `cellpipe.io/job=${jobId}` });
  expect(jobs.items).toHaveLength(1);
});
