/**
 * The pure parts of the Kubernetes executor: names, resource mapping, status and inventory. The
 * behaviour against a real apiserver is proven in kubernetes-executor.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Job, V1JobCondition, V1Node, V1Pod } from '@kubernetes/client-node';
import type { LaunchSpec } from '../src/executors/executor.js';
import { cachedJob, cachedPod } from '../src/executors/kubernetes/cached.js';
import { pinnedImage } from '../src/executors/kubernetes/image.js';
import { ownerConfigMap, RUNNER_FILE } from '../src/executors/kubernetes/job-spec.js';
import { computeInventory } from '../src/executors/kubernetes/inventory.js';
import { jobName, labelValue, ownerName } from '../src/executors/kubernetes/names.js';
import { KubernetesExecutorConfigSchema } from '../src/executors/kubernetes/options.js';
import { UnsatisfiableError, placeResources } from '../src/executors/kubernetes/resources.js';
import { attemptStatus as judge } from '../src/executors/kubernetes/status.js';

function node(name: string, labels: Record<string, string>, allocatable: Record<string, string>): V1Node {
  return { metadata: { name, labels }, status: { allocatable, capacity: allocatable } };
}

const nodes = [
  node('h100', { 'nvidia.com/gpu.product': 'NVIDIA-H100-80GB-HBM3' }, { 'nvidia.com/gpu': '8', cpu: '64' }),
  node(
    'mixed',
    { 'nvidia.com/mig.strategy': 'mixed' },
    { 'nvidia.com/mig-1g.10gb': '7', 'nvidia.com/mig-3g.20gb': '2' },
  ),
  node(
    'single',
    { 'nvidia.com/mig.strategy': 'single', 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB-MIG-3g.20gb' },
    { 'nvidia.com/gpu': '2' },
  ),
];
const opts = { migStrategy: 'auto' as const, nodeSelector: {} };

describe('names', () => {
  test('are deterministic DNS labels short enough for pod names', () => {
    const a = jobName('abc123', 'Train_Model-very-long-name-that-goes-on-and-on-and-on-forever', 12);
    expect(a).toBe(jobName('abc123', 'Train_Model-very-long-name-that-goes-on-and-on-and-on-forever', 12));
    expect(a.length).toBeLessThanOrEqual(52);
    expect(a).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(a).toMatch(/-12$/);
    expect(jobName('abc123', 'a_b', 1)).not.toBe(jobName('abc123', 'a-b', 1));
    expect(ownerName('abc123')).toBe('cp-abc123');
  });

  test('label values keep valid input and hash what they must change', () => {
    expect(labelValue('train')).toBe('train');
    expect(labelValue('ada@example.org')).toMatch(/^ada_example.org-[0-9a-f]{6}$/);
    expect(labelValue('ends_')).toMatch(/^ends-[0-9a-f]{6}$/);
    expect(labelValue('x'.repeat(80)).length).toBeLessThanOrEqual(63);
  });
});

describe('placeResources', () => {
  test('whole GPUs map to nvidia.com/gpu and stay off single-strategy MIG nodes', () => {
    const p = placeResources({ gpu: 2, cpu: '4', memory: '8Gi' }, nodes, opts);
    expect(p.requests).toEqual({ 'nvidia.com/gpu': '2', cpu: '4', memory: '8Gi' });
    expect(p.limits).toEqual({ 'nvidia.com/gpu': '2', memory: '8Gi' });
    expect(p.affinity).toEqual([{ key: 'nvidia.com/mig.strategy', operator: 'NotIn', values: ['single'] }]);
  });

  test('MIG in mixed strategy asks for the profile resource', () => {
    const p = placeResources({ mig: '3g.20gb' }, nodes, opts);
    expect(p.limits).toEqual({ 'nvidia.com/mig-3g.20gb': '1' });
    expect(p.affinity).toEqual([]);
  });

  test('MIG in single strategy asks for nvidia.com/gpu on the products carrying the profile', () => {
    const p = placeResources({ mig: '3g.20gb' }, nodes, { ...opts, migStrategy: 'single' });
    expect(p.limits).toEqual({ 'nvidia.com/gpu': '1' });
    expect(p.affinity).toEqual([
      { key: 'nvidia.com/gpu.product', operator: 'In', values: ['NVIDIA-A100-SXM4-40GB-MIG-3g.20gb'] },
    ]);
  });

  test('without node information (autoscaled pools) requests are mapped, not judged', () => {
    expect(placeResources({ gpu: 16 }, [], opts).limits).toEqual({ 'nvidia.com/gpu': '16' });
    expect(placeResources({ mig: '7g.80gb' }, [], opts).limits).toEqual({ 'nvidia.com/mig-7g.80gb': '1' });
  });

  test('requests no node can hold are refused with the resource named', () => {
    expect(() => placeResources({ gpu: 9 }, nodes, opts)).toThrow(
      new UnsatisfiableError('no node has 9 nvidia.com/gpu (the largest has 8)'),
    );
    expect(() => placeResources({ mig: '7g.80gb' }, nodes, opts)).toThrow(/nvidia.com\/mig-7g.80gb/);
    // A node the executor's pods do not tolerate cannot hold them either.
    const tainted = nodes.map((n) => ({ ...n, spec: { taints: [{ key: 'gpu', effect: 'NoSchedule' }] } }));
    expect(() => placeResources({ gpu: 1 }, tainted, opts)).toThrow(/no node advertises nvidia.com\/gpu/);
    expect(
      placeResources({ gpu: 1 }, tainted, { ...opts, tolerations: [{ key: 'gpu', operator: 'Exists' }] }).limits,
    ).toEqual({ 'nvidia.com/gpu': '1' });
    expect(() => placeResources({ gpu: 1 }, nodes, { ...opts, nodeSelector: { pool: 'none' } })).toThrow(
      UnsatisfiableError,
    );
  });
});

describe('attemptStatus', () => {
  const job = (conditions: V1JobCondition[] = []): V1Job => ({
    metadata: { name: 'j', labels: { 'kueue.x-k8s.io/queue-name': 'team-a' } },
    spec: { suspend: false, template: { spec: { containers: [{ name: 'task', command: ['python3'] }] } } },
    status: { conditions },
  });
  // Every judgement is made again from what the executor's cache keeps: it must come out the same.
  const attemptStatus = (j: V1Job, pods: V1Pod[]) => {
    const full = judge(j, pods);
    expect(judge(cachedJob(j), pods.map(cachedPod))).toEqual(full);
    return full;
  };
  const pod = (status: V1Pod['status'], nodeName?: string): V1Pod => ({
    metadata: { name: 'j-abcde', creationTimestamp: new Date() },
    spec: { containers: [{ name: 'task' }], nodeName },
    status,
  });

  test('unschedulable pods wait with the scheduler message verbatim', () => {
    const message =
      "0/5 nodes are available: 1 Insufficient nvidia.com/mig-3g.20gb, 4 node(s) didn't match Pod's node affinity/selector.";
    const s = attemptStatus(job(), [
      pod({
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }],
      }),
    ]);
    expect(s).toEqual({ kind: 'waiting', reason: message });
  });

  test('OOM, image pull and deadline are told apart', () => {
    const oom = attemptStatus(job([{ type: 'Failed', status: 'True', reason: 'PodFailurePolicy' }]), [
      pod({
        phase: 'Failed',
        containerStatuses: [
          {
            name: 'task',
            image: 'i',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: 137, reason: 'OOMKilled' } },
          },
        ],
      }),
    ]);
    expect(oom).toMatchObject({ kind: 'failed', reason: 'oom', exitCode: 137 });
    const pull = attemptStatus(job(), [
      pod(
        {
          phase: 'Pending',
          containerStatuses: [
            {
              name: 'task',
              image: 'bad:1',
              imageID: '',
              ready: false,
              restartCount: 0,
              state: { waiting: { reason: 'ImagePullBackOff' } },
            },
          ],
        },
        'n',
      ),
    ]);
    expect(pull).toMatchObject({ kind: 'failed', reason: 'image-pull' });
    const deadline = attemptStatus(
      job([
        {
          type: 'Failed',
          status: 'True',
          reason: 'DeadlineExceeded',
          message: 'Job was active longer than specified deadline',
        },
      ]),
      [],
    );
    expect(deadline).toMatchObject({ kind: 'failed', reason: 'timeout' });
  });

  test('running and succeeded', () => {
    expect(attemptStatus(job(), [pod({ phase: 'Running' }, 'gpu-0')])).toEqual({
      kind: 'running',
      pod: 'j-abcde',
      node: 'gpu-0',
    });
    expect(attemptStatus(job([{ type: 'Complete', status: 'True' }]), [])).toMatchObject({
      kind: 'succeeded',
      exitCode: 0,
    });
  });

  test("start and end are the container's own, from a list (Date) or a watch (string) alike", () => {
    const status = (state: NonNullable<NonNullable<V1Pod['status']>['containerStatuses']>[number]['state']) => ({
      phase: state?.terminated ? 'Succeeded' : 'Running',
      containerStatuses: [{ name: 'task', image: 'i', imageID: '', ready: true, restartCount: 0, state }],
    });
    const running = attemptStatus(job(), [
      pod(status({ running: { startedAt: new Date('2026-01-02T03:04:05Z') } }), 'n'),
    ]);
    expect(running).toEqual({
      kind: 'running',
      pod: 'j-abcde',
      node: 'n',
      startedAt: '2026-01-02T03:04:05.000Z',
    });
    const ended = attemptStatus(job([{ type: 'Complete', status: 'True' }]), [
      pod(
        status({
          terminated: {
            exitCode: 0,
            startedAt: '2026-01-02T03:04:05Z' as unknown as Date,
            finishedAt: '2026-01-02T03:04:25Z' as unknown as Date,
          },
        }),
        'n',
      ),
    ]);
    expect(ended).toEqual({
      kind: 'succeeded',
      pod: 'j-abcde',
      exitCode: 0,
      startedAt: '2026-01-02T03:04:05.000Z',
      finishedAt: '2026-01-02T03:04:25.000Z',
      node: 'n',
    });
    // The pod's success ends the attempt before the Job controller gets round to marking the Job.
    expect(attemptStatus(job(), [pod(status({ terminated: { exitCode: 0 } }), 'n')])).toEqual({
      kind: 'succeeded',
      pod: 'j-abcde',
      exitCode: 0,
    });
  });

  test('the cache keeps only what is read: no pod template, pod command or foreign annotations', () => {
    const full = job();
    expect(cachedJob(full).spec?.template).toEqual({});
    const p: V1Pod = {
      metadata: {
        name: 'p',
        annotations: {
          'cellpipe.io/user': 'ada',
          'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(1000),
        },
      },
      spec: {
        containers: [{ name: 'task', command: ['python3', '-c', 'x'.repeat(1000)], env: [{ name: 'A', value: 'b' }] }],
      },
    };
    expect(cachedPod(p)).toEqual({
      metadata: { name: 'p', annotations: { 'cellpipe.io/user': 'ada' } },
      spec: { containers: [{ name: 'task' }] },
    });
  });
});

describe('computeInventory', () => {
  const holder = (
    name: string,
    nodeName: string,
    resource: string,
    count: number,
    phase = 'Running',
    ours = true,
  ): V1Pod => ({
    metadata: {
      name,
      namespace: 'tasks',
      labels: ours ? { 'app.kubernetes.io/managed-by': 'cellpipe', 'cellpipe.io/job': 'job1' } : {},
      annotations: ours ? { 'cellpipe.io/user': 'ada@example.org', 'cellpipe.io/task-name': name } : {},
    },
    spec: { nodeName, containers: [{ name: 'task', resources: { limits: { [resource]: String(count) } } }] },
    status: { phase },
  });

  test('sums allocatable, counts bound unfinished pods and names the holders', () => {
    const pods = [
      holder('train', 'h100', 'nvidia.com/gpu', 3),
      holder('done', 'h100', 'nvidia.com/gpu', 8, 'Succeeded'),
      holder('other', 'h100', 'nvidia.com/gpu', 1, 'Running', false),
      holder('eval', 'mixed', 'nvidia.com/mig-3g.20gb', 1),
      holder('slice', 'single', 'nvidia.com/gpu', 1),
    ];
    const inv = computeInventory(nodes, pods);
    // The executor computes it from its cache's copies.
    expect(computeInventory(nodes, pods.map(cachedPod))).toEqual(inv);
    expect(inv.executor).toBe('kubernetes');
    const by = Object.fromEntries(inv.resources.map((r) => [r.resource, r]));
    expect(by['nvidia.com/gpu']).toMatchObject({ allocatable: 8, used: 4, free: 4 });
    expect(by['nvidia.com/gpu']!.holders.map((h) => h.task)).toEqual(['other', 'train']);
    expect(by['nvidia.com/gpu']!.holders.find((h) => h.task === 'train')).toMatchObject({
      user: 'ada@example.org',
      jobId: 'job1',
      node: 'h100',
      count: 3,
    });
    // Single-strategy slices are listed under their profile, next to the mixed node's; with
    // migStrategy auto a task asking for the profile goes to the mixed node, so only its slice is free.
    expect(by['nvidia.com/mig-3g.20gb']).toMatchObject({ allocatable: 4, used: 2, free: 1 });
    expect(by['nvidia.com/mig-1g.10gb']).toMatchObject({ allocatable: 7, used: 0, free: 7 });
  });

  test('free counts only what a task asking for it could get', () => {
    const pods = [holder('eval', 'mixed', 'nvidia.com/mig-3g.20gb', 1), holder('slice', 'single', 'nvidia.com/gpu', 1)];
    const free = (placement: Parameters<typeof computeInventory>[2]) =>
      Object.fromEntries(computeInventory(nodes, pods, placement).resources.map((r) => [r.resource, r.free]));
    const auto = { migStrategy: 'auto' as const, nodeSelector: {} };
    // auto: the mixed node's profile resource; the single node's slices are never asked for.
    expect(free(auto)['nvidia.com/mig-3g.20gb']).toBe(1);
    // single: only the single-strategy node's slices.
    expect(free({ ...auto, migStrategy: 'single' })['nvidia.com/mig-3g.20gb']).toBe(1);
    // auto where the executor's selector leaves only the single node: its slices.
    expect(free({ ...auto, nodeSelector: { 'nvidia.com/mig.strategy': 'single' } })).toEqual({
      'nvidia.com/gpu': 0,
      'nvidia.com/mig-1g.10gb': 0,
      'nvidia.com/mig-3g.20gb': 1,
    });
    // A tainted node counts only for an executor that tolerates the taint.
    const tainted = nodes.map((n) =>
      n.metadata?.name === 'h100'
        ? { ...n, spec: { taints: [{ key: 'dedicated', value: 'ml', effect: 'NoSchedule' }] } }
        : n,
    );
    const gpuFree = (tolerations: { key?: string; operator?: string; value?: string; effect?: string }[]) =>
      computeInventory(tainted, [], { ...auto, tolerations }).resources.find((r) => r.resource === 'nvidia.com/gpu')
        ?.free;
    expect(gpuFree([])).toBe(0);
    expect(gpuFree([{ key: 'dedicated', operator: 'Equal', value: 'ml', effect: 'NoSchedule' }])).toBe(8);
    expect(gpuFree([{ key: 'dedicated', operator: 'Equal', value: 'other' }])).toBe(0);
    expect(gpuFree([{ operator: 'Exists' }])).toBe(8);
  });
});

test('the config rejects names that are not valid in a pod spec, naming the field', () => {
  const r = KubernetesExecutorConfigSchema.safeParse({ namespace: 'Bad_NS', tolerations: [{ key: 'a b' }] });
  expect(r.success).toBe(false);
  const paths = r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
  expect(paths).toEqual(expect.arrayContaining(['namespace', 'tolerations.0.key']));
});

describe('pinnedImage', () => {
  const digest = `sha256:${'0f'.repeat(32)}`;
  const running = (image: string, imageID: string): V1Pod => ({
    metadata: { name: 'jupyter-ada' },
    status: {
      phase: 'Running',
      containerStatuses: [{ name: 'notebook', image, imageID, ready: true, restartCount: 0 }],
    },
  });

  test('pins the image to the digest a running container of the same reference reports', () => {
    const pods = [
      running('registry.example.org:5000/ml/notebook:2.1', `registry.example.org:5000/ml/notebook@${digest}`),
    ];
    expect(pinnedImage('registry.example.org:5000/ml/notebook:2.1', pods)).toBe(
      `registry.example.org:5000/ml/notebook@${digest}`,
    );
  });

  test("Docker Hub's short names and the implicit latest tag are the same reference", () => {
    const pods = [running('docker.io/jupyter/scipy-notebook:latest', `docker.io/jupyter/scipy-notebook@${digest}`)];
    expect(pinnedImage('jupyter/scipy-notebook', pods)).toBe(`jupyter/scipy-notebook@${digest}`);
    const python = [running('docker.io/library/python:3.11', `docker.io/library/python@${digest}`)];
    expect(pinnedImage('python:3.11', python)).toBe(`python@${digest}`);
  });

  test('another tag, a local image id or an image already pinned give no pin', () => {
    const pods = [running('registry.example.org/ml/notebook:2.0', `registry.example.org/ml/notebook@${digest}`)];
    expect(pinnedImage('registry.example.org/ml/notebook:2.1', pods)).toBeUndefined();
    expect(
      pinnedImage('registry.example.org/ml/notebook:2.1', [running('registry.example.org/ml/notebook:2.1', digest)]),
    ).toBeUndefined();
    expect(pinnedImage(`registry.example.org/ml/notebook@${digest}`, pods)).toBeUndefined();
  });
});

describe('ownerConfigMap', () => {
  test('carries the runner zipapp in binaryData; decoded as the kubelet mounts it, it runs a task', () => {
    const archive = readFileSync(fileURLToPath(new URL('../dist/cellpipe_runner.pyz', import.meta.url)));
    const spec = { jobId: 'abc123', owner: 'alice' } as LaunchSpec;
    const cm = ownerConfigMap(spec, archive, KubernetesExecutorConfigSchema.parse({ namespace: 'tasks' }));
    expect(cm.data).toBeUndefined();
    const encoded = cm.binaryData![RUNNER_FILE]!;
    expect(encoded.length).toBeLessThan(512 * 1024);
    const dir = mkdtempSync(join(tmpdir(), 'cellpipe-cm-'));
    try {
      const runner = join(dir, RUNNER_FILE);
      writeFileSync(runner, Buffer.from(encoded, 'base64'));
      mkdirSync(join(dir, 'art'));
      const task = {
        jobId: 'abc123',
        taskId: 'abc123.a',
        taskName: 'a',
        artifactRoot: join(dir, 'art'),
        outputDir: join(dir, 'art', 'a'),
        resultPath: join(dir, 'result.json'),
        notebookPath: join(dir, 'executed.ipynb'),
        cells: [{ index: 0, source: 'print(6 * 7)' }],
      };
      writeFileSync(join(dir, 'task.json'), JSON.stringify(task));
      const r = spawnSync('python3', [runner, join(dir, 'task.json')], { cwd: dir, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('\n42\n');
      expect(JSON.parse(readFileSync(task.resultPath, 'utf8'))).toMatchObject({ status: 'succeeded' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('refuses a runner over the ConfigMap limit, naming its size', () => {
    const spec = { jobId: 'abc123', owner: 'alice' } as LaunchSpec;
    expect(() =>
      ownerConfigMap(spec, Buffer.alloc(800 * 1024), KubernetesExecutorConfigSchema.parse({ namespace: 'tasks' })),
    ).toThrow(/the task runner is 1092268 bytes in base64, over the 1048576 byte ConfigMap limit/);
  });
});
