/**
 * Fair use of GPUs with the Kubernetes executor on the test bed (real apiserver, scheduler and Job
 * controller; kwok GPU and MIG nodes): a task over its owner's share waits in the server with the
 * reason, and no Kubernetes object is created for it until its turn comes.
 */
import { jest } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { KubernetesExecutor } from '../src/executors/kubernetes/executor.js';
import { GpuLimits } from '../src/gpu/fair-share.js';
import { request, startService, taskOf, waitForJob, type TestHome } from './jobs-fixtures.js';
import {
  BUILD_TIMEOUT_MS,
  createNamespace,
  eventually,
  runnerArchive,
  startTestbed,
  type Testbed,
} from './kubernetes-bed.js';

jest.setTimeout(120_000);

let bed: Testbed;
let h: TestHome;
let ns: string;
let batch: k8s.BatchV1Api;

beforeAll(async () => {
  bed = startTestbed();
  ns = await createNamespace(bed.kc, 'fair');
  batch = bed.kc.makeApiClient(k8s.BatchV1Api);
  const executor = new KubernetesExecutor({
    kubeConfig: bed.kc,
    config: { namespace: ns },
    runnerArchive: runnerArchive(),
    // Long enough to hold the device while the test looks.
    podAnnotations: () => ({ 'testbed.cellpipe.io/delay': '10s' }),
    warn: () => undefined,
  });
  h = await startService({ executor, gpuLimits: new GpuLimits({ user: { gpu: 1, 'mig-3g.20gb': 1 } }) });
}, BUILD_TIMEOUT_MS);

afterAll(async () => {
  await h?.cleanup();
  bed?.stop();
});

/** The Jobs of one Cellpipe job in the namespace. */
async function jobsOf(id: string): Promise<string[]> {
  const list = await batch.listNamespacedJob({ namespace: ns, labelSelector: `cellpipe.io/job=${id}` });
  return list.items.map((j) => j.metadata!.annotations!['cellpipe.io/task-name']!).sort();
}

test("a task over its owner's share waits with no Job created; other users' tasks run meanwhile", async () => {
  const gpu = { gpu: 1 };
  const mig = { mig: '3g.20gb' };
  const alice = await h.service.submit(
    'alice',
    request([
      { name: 'gpu1', code: 'a = 1\n', resources: gpu },
      { name: 'gpu2', code: 'b = 1\n', resources: gpu },
      { name: 'slice1', code: 'c = 1\n', resources: mig },
      { name: 'slice2', code: 'd = 1\n', resources: mig },
    ]),
  );
  const bob = await h.service.submit('bob', request([{ name: 'mine', code: 'e = 1\n', resources: gpu }]));
  const held = await waitForJob(
    h.service,
    alice.id,
    (j) => j.tasks.filter((t) => t.waitingReason?.startsWith('waiting: user alice')).length === 2,
  );
  const waiting = held.tasks.filter((t) => t.waitingReason).map((t) => [t.name, t.waitingReason, t.attempt]);
  expect(waiting).toEqual(
    expect.arrayContaining([
      [expect.stringMatching(/^gpu[12]$/), 'waiting: user alice already uses 1 of 1 nvidia.com/gpu', 0],
      [expect.stringMatching(/^slice[12]$/), 'waiting: user alice already uses 1 of 1 nvidia.com/mig-3g.20gb', 0],
    ]),
  );
  // Only the tasks within the share have Jobs; bob's runs beside them.
  const created = await eventually('the Jobs of the tasks within the share', async () => {
    const names = await jobsOf(alice.id);
    return names.length >= 2 ? names : undefined;
  });
  expect(created).toHaveLength(2);
  expect(created.some((name) => waiting.some(([w]) => w === name))).toBe(false);
  await waitForJob(h.service, bob.id, (j) => taskOf(j, 'mine').state !== 'queued');

  const [a, b] = await Promise.all([waitForJob(h.service, alice.id), waitForJob(h.service, bob.id)]);
  expect(a.state).toBe('succeeded');
  expect(b.state).toBe('succeeded');
  expect(a.tasks.every((t) => t.attempt === 1 && t.waitingReason === undefined)).toBe(true);
});
