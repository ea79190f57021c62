/**
 * The Kubernetes testbed itself: a real kube-apiserver, controller-manager and
 * scheduler with kwok-simulated GPU/MIG nodes, driven through @kubernetes/client-node.
 */
import { jest } from '@jest/globals';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { BUILD_TIMEOUT_MS, createNamespace, eventually, startTestbed, type Testbed } from './kubernetes-bed.js';

jest.setTimeout(120_000);

let bed: Testbed;
let core: k8s.CoreV1Api;
let batch: k8s.BatchV1Api;
let ns: string;

beforeAll(async () => {
  bed = startTestbed();
  core = bed.kc.makeApiClient(k8s.CoreV1Api);
  batch = bed.kc.makeApiClient(k8s.BatchV1Api);
  ns = await createNamespace(bed.kc, 'testbed');
}, BUILD_TIMEOUT_MS);

afterAll(() => {
  bed?.stop();
});

function job(name: string, resources: Record<string, string>, annotations: Record<string, string> = {}): k8s.V1Job {
  return {
    metadata: { name },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { annotations },
        spec: {
          restartPolicy: 'Never',
          containers: [
            {
              name: 'task',
              image: 'python:3.11-slim',
              command: ['python3', '-c', 'print("hi")'],
              resources: { requests: resources, limits: resources },
            },
          ],
        },
      },
    },
  };
}

function condition(j: k8s.V1Job, type: string): k8s.V1JobCondition | undefined {
  return j.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

test('fake nodes advertise whole GPUs and MIG slices with GPU operator labels', async () => {
  const nodes = (await core.listNode({ labelSelector: 'testbed.cellpipe.io/node=true' })).items;
  const ready = nodes.filter((n) => n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
  expect(ready).toHaveLength(nodes.length);

  const gpuNodes = nodes.filter((n) => n.status?.allocatable?.['nvidia.com/gpu'] === '8');
  expect(gpuNodes.length).toBeGreaterThanOrEqual(2);
  expect(gpuNodes[0]?.metadata?.labels?.['nvidia.com/gpu.product']).toBe('NVIDIA-H100-80GB-HBM3');

  const mixed = nodes.find((n) => n.metadata?.labels?.['nvidia.com/mig.strategy'] === 'mixed');
  expect(mixed?.status?.allocatable).toMatchObject({
    'nvidia.com/mig-1g.10gb': '7',
    'nvidia.com/mig-3g.20gb': '2',
  });
  const single = nodes.find((n) => n.metadata?.labels?.['nvidia.com/mig.strategy'] === 'single');
  expect(single?.metadata?.labels?.['nvidia.com/gpu.product']).toMatch(/-MIG-3g\.20gb$/);
  expect(single?.status?.allocatable?.['nvidia.com/gpu']).toBe('2');
});

test('a Job asking for a MIG slice is scheduled on the MIG node and succeeds', async () => {
  await batch.createNamespacedJob({ namespace: ns, body: job('mig-ok', { 'nvidia.com/mig-3g.20gb': '1' }) });
  const done = await eventually('Job mig-ok to complete', async () => {
    const j = await batch.readNamespacedJob({ name: 'mig-ok', namespace: ns });
    return condition(j, 'Complete') ? j : undefined;
  });
  expect(done.status?.succeeded).toBe(1);

  const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'job-name=mig-ok' })).items;
  expect(pods).toHaveLength(1);
  expect(pods[0]?.spec?.nodeName).toBe('mig-a100-mixed-0');
  expect(pods[0]?.status?.phase).toBe('Succeeded');
  expect(pods[0]?.status?.containerStatuses?.[0]?.state?.terminated?.exitCode).toBe(0);
});

test('a pod annotated to fail fails its Job with the steered exit code and reason', async () => {
  await batch.createNamespacedJob({
    namespace: ns,
    body: job(
      'gpu-fail',
      { 'nvidia.com/gpu': '1' },
      {
        'testbed.cellpipe.io/outcome': 'fail',
        'testbed.cellpipe.io/exit-code': '137',
        'testbed.cellpipe.io/reason': 'OOMKilled',
      },
    ),
  });
  const failed = await eventually('Job gpu-fail to fail', async () => {
    const j = await batch.readNamespacedJob({ name: 'gpu-fail', namespace: ns });
    return condition(j, 'Failed') ? j : undefined;
  });
  expect(condition(failed, 'Failed')?.reason).toBe('BackoffLimitExceeded');

  const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'job-name=gpu-fail' })).items;
  expect(pods[0]?.status?.phase).toBe('Failed');
  expect(pods[0]?.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
    exitCode: 137,
    reason: 'OOMKilled',
  });
});

test('a request no node can hold stays Pending with the scheduler reason', async () => {
  await batch.createNamespacedJob({ namespace: ns, body: job('too-big', { 'nvidia.com/gpu': '9' }) });
  const reason = await eventually('an Unschedulable condition', async () => {
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'job-name=too-big' })).items;
    const c = pods[0]?.status?.conditions?.find((x) => x.type === 'PodScheduled' && x.status === 'False');
    return c?.reason === 'Unschedulable' ? c.message : undefined;
  });
  expect(reason).toMatch(/0\/\d+ nodes are available: .*Insufficient nvidia\.com\/gpu/);
  await batch.deleteNamespacedJob({ name: 'too-big', namespace: ns, body: { propagationPolicy: 'Foreground' } });
});

test('container logs are served by kwok through the apiserver', async () => {
  await batch.createNamespacedJob({
    namespace: ns,
    body: job('logs', { cpu: '100m' }, { 'testbed.cellpipe.io/delay': '30s' }),
  });
  const pod = await eventually('a running pod of Job logs', async () => {
    const pods = (await core.listNamespacedPod({ namespace: ns, labelSelector: 'job-name=logs' })).items;
    return pods[0]?.status?.phase === 'Running' ? pods[0] : undefined;
  });
  const text = await core.readNamespacedPodLog({ name: pod.metadata!.name!, namespace: ns, container: 'task' });
  expect(text).toContain('cellpipe testbed: simulated work done');
});

test('down stops every process the bed started', () => {
  if (process.env.CELLPIPE_K8S_TESTBED_DIR) return; // a shared bed is left running on purpose
  const pidDir = join(bed.dir, 'pids');
  const pids = readdirSync(pidDir).map((f) => Number(readFileSync(join(pidDir, f), 'utf8').trim()));
  expect(pids).toHaveLength(5);
  bed.stop();
  // A process is gone when /proc has no entry for it or only a zombie (PID 1 may not reap orphans).
  const alive = pids.filter((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  });
  expect(alive).toEqual([]);
});
