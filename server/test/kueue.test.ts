/**
 * Kueue as the GPU queue: the engine with the Kubernetes executor on the test bed, with the real
 * Kueue controller (built from its Go module; scripts/k8s-testbed.sh kueue up) and its two
 * ClusterQueues team-a and team-b (one nvidia.com/gpu each, one cohort). Each job counts toward its
 * owner's team (teams from the configuration) and its Jobs are labelled for that team's LocalQueue
 * (kubernetes.teamQueues); Kueue admits, queues and preempts them; the task waits with the Workload's
 * reason, and a preemption is a requeue: the task waits again and succeeds with the same attempt.
 */
import { jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';
import type { Job, TaskRun } from '@cellpipe/schema';
import { Teams } from '../src/auth/teams.js';
import { KubernetesExecutor } from '../src/executors/kubernetes/executor.js';
import { jobName } from '../src/executors/kubernetes/names.js';
import { JobLayout } from '../src/store/layout.js';
import { request, startService, taskOf, waitForJob, type TestHome } from './jobs-fixtures.js';
import {
  BUILD_TIMEOUT_MS,
  createNamespace,
  describeWithKueue,
  eventually,
  runnerArchive,
  startKueue,
  startTestbed,
  type Testbed,
} from './kubernetes-bed.js';

jest.setTimeout(240_000);

/** How long each task's pod runs on the kwok nodes. */
const RUN_FOR: Record<string, string> = { long1: '15s', long2: '15s', short: '1s', reclaim: '3s' };

describeWithKueue('Kueue queues, admits and preempts the Jobs of tasks', () => {
  let bed: Testbed;
  let h: TestHome;
  let ns: string;
  let batch: k8s.BatchV1Api;

  beforeAll(async () => {
    bed = startTestbed();
    startKueue(bed);
    ns = await createNamespace(bed.kc, 'kueue');
    const custom = bed.kc.makeApiClient(k8s.CustomObjectsApi);
    batch = bed.kc.makeApiClient(k8s.BatchV1Api);
    for (const team of ['team-a', 'team-b']) {
      await custom.createNamespacedCustomObject({
        group: 'kueue.x-k8s.io',
        version: 'v1beta2',
        namespace: ns,
        plural: 'localqueues',
        body: {
          apiVersion: 'kueue.x-k8s.io/v1beta2',
          kind: 'LocalQueue',
          metadata: { name: team, namespace: ns },
          spec: { clusterQueue: team },
        },
      });
    }
    const executor = new KubernetesExecutor({
      kubeConfig: bed.kc,
      config: { namespace: ns, teamQueues: { vision: 'team-a', nlp: 'team-b' } },
      runnerArchive: runnerArchive(),
      podAnnotations: (spec) => ({ 'testbed.cellpipe.io/delay': RUN_FOR[spec.taskName] ?? '1s' }),
      warn: () => undefined,
    });
    const teams = new Teams({ vision: { users: ['alice'] }, nlp: { users: ['bob'] } });
    h = await startService({ executor, teamOf: (owner) => teams.primaryOfUser(owner) });
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await h?.cleanup();
    bed?.stop();
  });

  test('admission, queueing across two teams, and a preemption handled as a requeue', async () => {
    const gpu = { gpu: 1 };
    // Each task's states in the order the monitor sees them.
    const states = new Map<string, string[]>();
    h.service.events.on('task', ({ task }) => {
      const seen = states.get(task.name) ?? [];
      if (seen.at(-1) !== task.state) states.set(task.name, [...seen, task.state]);
    });
    // team-a's own GPU and team-b's idle one (borrowed): two of alice's three tasks are admitted.
    const a = await h.service.submit(
      'alice',
      request([
        { name: 'long1', code: 'x = 1\n', resources: gpu, retries: 0 },
        { name: 'long2', code: 'y = 2\n', resources: gpu, retries: 0 },
        { name: 'short', code: 'z = 3\n', resources: gpu, retries: 0 },
      ]),
    );
    const running = (j: Job): TaskRun[] => j.tasks.filter((t) => t.state === 'running');
    const admitted = await waitForJob(
      h.service,
      a.id,
      (j) =>
        running(j).length === 2 &&
        j.tasks.some((t) =>
          /^waiting in Kueue LocalQueue team-a: .*insufficient unused quota/.test(t.waitingReason ?? ''),
        ),
    );
    const waiting = admitted.tasks.find((t) => t.state === 'queued')!;
    expect(waiting.waitingReason).toMatch(
      /insufficient unused quota for nvidia\.com\/gpu in flavor h100, 1 more needed/,
    );
    // Handed to the executor, which created its Job unsuspended: Kueue's webhook suspended it.
    expect(waiting.attempt).toBe(1);
    const queuedJob = await batch.readNamespacedJob({ name: jobName(a.id, waiting.name, 1), namespace: ns });
    expect(queuedJob.spec?.suspend).toBe(true);
    expect(queuedJob.metadata?.labels?.['kueue.x-k8s.io/queue-name']).toBe('team-a');

    // team-b takes back the GPU it lent: Kueue preempts one of alice's running tasks.
    const b = await h.service.submit('bob', request([{ name: 'reclaim', code: 'w = 4\n', resources: gpu }]));
    const preempted = await waitForJob(h.service, a.id, (j) => j.tasks.some((t) => t.requeues === 1));
    const victim = preempted.tasks.find((t) => t.requeues === 1)!;
    // Which of alice's running tasks Kueue picks is its own choice (the one admitted last, borrowing).
    expect(victim).toMatchObject({ state: 'queued', attempt: 1 });
    expect(victim.waitingReason).toMatch(
      /^preempted by Kueue: another queue of the cohort took back quota it had lent/,
    );
    expect((await waitForJob(h.service, b.id)).state).toBe('succeeded');

    // Everything of alice's runs in the end, the preempted task with its one attempt (no retry used).
    const done = await waitForJob(h.service, a.id);
    expect(done.state).toBe('succeeded');
    expect(taskOf(done, victim.name)).toMatchObject({ state: 'succeeded', attempt: 1, maxAttempts: 1, requeues: 1 });
    expect(done.tasks.filter((t) => t.name !== victim.name).every((t) => t.requeues === undefined)).toBe(true);
    expect(states.get(victim.name)).toEqual(['queued', 'running', 'queued', 'running', 'succeeded']);
    const log = readFileSync(new JobLayout(h.home).logPath(a.id, victim.name, 1), 'utf8');
    expect(log).toMatch(/\[cellpipe\] requeued: preempted by Kueue/);

    // No Workload is left behind the ended Jobs.
    await eventually('the Workloads to go with their Jobs', async () => {
      const list = (await bed.kc.makeApiClient(k8s.CustomObjectsApi).listNamespacedCustomObject({
        group: 'kueue.x-k8s.io',
        version: 'v1beta2',
        namespace: ns,
        plural: 'workloads',
      })) as {
        items: unknown[];
      };
      return list.items.length === 0 ? true : undefined;
    });
  });
});
