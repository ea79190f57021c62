/**
 * The pure parts of the Kubernetes executor's Kueue mode: which LocalQueue a Job goes to, how it is
 * created (labelled, not suspended), and what a Workload says about a waiting or preempted Job. The
 * Workloads below are Kueue v0.19.2's own, as the test bed's Kueue wrote them; kueue.test.ts runs the
 * same code against that Kueue.
 */
import type { V1Job } from '@kubernetes/client-node';
import type { LaunchSpec } from '../src/executors/executor.js';
import { cachedJob } from '../src/executors/kubernetes/cached.js';
import { buildJob } from '../src/executors/kubernetes/job-spec.js';
import {
  cachedWorkload,
  evictionOf,
  kueueWaitingReason,
  queueFor,
  usesKueue,
  workloadJobName,
  type Workload,
} from '../src/executors/kubernetes/kueue.js';
import { KubernetesExecutorConfigSchema } from '../src/executors/kubernetes/options.js';
import { attemptStatus } from '../src/executors/kubernetes/status.js';

const config = KubernetesExecutorConfigSchema.parse({
  namespace: 'ml',
  queueName: 'shared',
  teamQueues: { vision: 'vision-lq' },
  userQueues: { alice: 'alice-lq' },
});

const spec = (owner: string, team?: string): LaunchSpec => ({
  jobId: 'job123',
  taskName: 'train',
  taskId: 'job123.train',
  attempt: 1,
  owner,
  ...(team ? { team } : {}),
  resources: { gpu: 1 },
  env: {},
  taskDir: '/jobs/job123/tasks/train/attempt-1',
  payload: { 'task.json': '{}' },
  logPath: '/jobs/job123/tasks/train/attempt-1.log',
  resultPath: '/jobs/job123/tasks/train/attempt-1/result.json',
  artifactRoot: '/jobs/job123/artifacts',
});

const workloadOf = (conditions: NonNullable<Workload['status']>['conditions'], clusterQueue?: string): Workload =>
  cachedWorkload({
    apiVersion: 'kueue.x-k8s.io/v1beta2',
    kind: 'Workload',
    metadata: {
      name: 'job-cp-job123-train-1a2b3c-1-ad185',
      namespace: 'ml',
      labels: { 'kueue.x-k8s.io/job-uid': '72a4c365-b828-489b-90a1-bc4e1f0757b7' },
      ownerReferences: [
        {
          apiVersion: 'batch/v1',
          kind: 'Job',
          name: 'cp-job123-train-1a2b3c-1',
          uid: '72a4c365-b828-489b-90a1-bc4e1f0757b7',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: { queueName: 'team-a' },
    status: { conditions, ...(clusterQueue ? { admission: { clusterQueue } } : {}) },
  } as Workload);

const PREEMPTED =
  'Preempted to accommodate a workload (UID: 9e90f209-38be-4732-a63f-7cd33f841e55, JobUID: 9acabb0a-1d62-4f56-9cdd-459cd1c33233) due to reclamation within the cohort; preemptor path: /gpu-pool/team-b; preemptee path: /gpu-pool/team-a';
const NO_QUOTA =
  "couldn't assign flavors to pod set main: insufficient unused quota for nvidia.com/gpu in flavor h100, 2 more needed";

/** A Workload Kueue preempted and queued again (its conditions as Kueue set them). */
const preempted = workloadOf([
  { type: 'QuotaReserved', status: 'False', reason: 'Pending', message: NO_QUOTA },
  { type: 'Evicted', status: 'True', reason: 'Preempted', message: PREEMPTED },
  { type: 'Admitted', status: 'False', reason: 'NoReservation', message: 'The workload has no reservation' },
  { type: 'Preempted', status: 'True', reason: 'InCohortReclamation', message: PREEMPTED },
  { type: 'Requeued', status: 'True', reason: 'Preempted', message: PREEMPTED },
  { type: 'PodsReady', status: 'False', reason: 'WaitForStart', message: 'Not all pods are ready or succeeded' },
]);

describe('the LocalQueue of a Job', () => {
  test("the owner's own queue, else their team's, else the default; none configured: not queued", () => {
    expect(queueFor(config, { owner: 'alice', team: 'vision' })).toBe('alice-lq');
    expect(queueFor(config, { owner: 'bob', team: 'vision' })).toBe('vision-lq');
    expect(queueFor(config, { owner: 'bob', team: 'nlp' })).toBe('shared');
    expect(queueFor(config, { owner: 'bob' })).toBe('shared');
    const teamsOnly = KubernetesExecutorConfigSchema.parse({ teamQueues: { vision: 'vision-lq' } });
    expect(queueFor(teamsOnly, { owner: 'bob', team: 'nlp' })).toBeUndefined();
    expect(usesKueue(teamsOnly)).toBe(true);
    expect(usesKueue(KubernetesExecutorConfigSchema.parse({}))).toBe(false);
    // Names from the configuration that reach a label are checked there.
    expect(() => KubernetesExecutorConfigSchema.parse({ teamQueues: { vision: 'Not_A_Name' } })).toThrow(
      /must be a DNS subdomain/,
    );
  });

  test('is a label of the Job alone, and the Job is created unsuspended (Kueue suspends it)', () => {
    const job = buildJob({
      spec: spec('bob', 'vision'),
      cfg: config,
      placement: { requests: {}, limits: { 'nvidia.com/gpu': '1' }, affinity: [] },
      image: 'python:3.11-slim',
    });
    expect(job.metadata!.labels!['kueue.x-k8s.io/queue-name']).toBe('vision-lq');
    expect(job.spec!.template.metadata!.labels!['kueue.x-k8s.io/queue-name']).toBeUndefined();
    expect(job.spec!.suspend).toBeUndefined();
    const plain = buildJob({
      spec: spec('bob'),
      cfg: KubernetesExecutorConfigSchema.parse({}),
      placement: { requests: {}, limits: {}, affinity: [] },
      image: 'python:3.11-slim',
    });
    expect(plain.metadata!.labels!['kueue.x-k8s.io/queue-name']).toBeUndefined();
  });
});

describe('what a Workload says', () => {
  test('it belongs to the Job that owns it', () => {
    expect(workloadJobName(preempted)).toBe('cp-job123-train-1a2b3c-1');
  });

  test("a Workload without quota waits with Kueue's own message", () => {
    const pending = workloadOf([{ type: 'QuotaReserved', status: 'False', reason: 'Pending', message: NO_QUOTA }]);
    expect(kueueWaitingReason('team-a', pending)).toBe(`waiting in Kueue LocalQueue team-a: ${NO_QUOTA}`);
    expect(evictionOf(pending)).toBeUndefined();
  });

  test('an inadmissible one says why it cannot be admitted', () => {
    const inadmissible = workloadOf([
      { type: 'QuotaReserved', status: 'False', reason: 'Inadmissible', message: "LocalQueue nope doesn't exist" },
    ]);
    expect(kueueWaitingReason('nope', inadmissible)).toBe(
      "Kueue cannot admit it from LocalQueue nope: LocalQueue nope doesn't exist",
    );
  });

  test('before Kueue made a Workload, and once admitted', () => {
    expect(kueueWaitingReason('team-a', undefined)).toBe('queued for Kueue in LocalQueue team-a (no Workload yet)');
    const admitted = workloadOf(
      [
        {
          type: 'QuotaReserved',
          status: 'True',
          reason: 'QuotaReserved',
          message: 'Quota reserved in ClusterQueue team-a',
        },
        { type: 'Admitted', status: 'True', reason: 'Admitted', message: 'The workload is admitted' },
      ],
      'team-a',
    );
    expect(kueueWaitingReason('team-a', admitted)).toBe('admitted by Kueue in ClusterQueue team-a; starting');
  });

  test('a preempted one says so in words, and the eviction keeps the preemptor Kueue names', () => {
    expect(kueueWaitingReason('team-a', preempted)).toBe(
      `preempted by Kueue: another queue of the cohort took back quota it had lent; waiting in Kueue LocalQueue team-a: ${NO_QUOTA}`,
    );
    expect(evictionOf(preempted)).toBe(
      `preempted by Kueue: another queue of the cohort took back quota it had lent (${PREEMPTED})`,
    );
  });

  test("a suspended, queued Job waits with its Workload's reason, judged alike from the executor's cache", () => {
    const job: V1Job = {
      metadata: { name: 'cp-job123-train-1a2b3c-1', labels: { 'kueue.x-k8s.io/queue-name': 'team-a' } },
      spec: { suspend: true, template: {} },
      status: {},
    };
    const expected = { kind: 'waiting', reason: kueueWaitingReason('team-a', preempted) };
    expect(attemptStatus(job, [], preempted)).toEqual(expected);
    expect(attemptStatus(cachedJob(job), [], preempted)).toEqual(expected);
    expect(attemptStatus({ ...job, metadata: { name: 'x' } }, [])).toEqual({
      kind: 'waiting',
      reason: 'the Job is suspended',
    });
  });
});
