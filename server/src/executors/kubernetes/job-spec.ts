/**
 * The Kubernetes objects of one Cellpipe task attempt:
 * - an owner ConfigMap per Cellpipe job (holds the runner; deleting it cascades to everything below),
 * - a batch/v1 Job per attempt (one pod, restartPolicy Never, backoffLimit 0: retries are the
 *   orchestrator's), owned by the owner ConfigMap,
 * - a payload ConfigMap per attempt (task.json), owned by its Job.
 */
import type {
  V1ConfigMap,
  V1EnvVar,
  V1Job,
  V1OwnerReference,
  V1PodSpec,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { LaunchSpec } from '../executor.js';
import {
  JOB_LABEL,
  KUEUE_QUEUE_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  TASK_ANNOTATION,
  TASK_ID_ANNOTATION,
  USER_ANNOTATION,
  USER_LABEL,
  attemptLabels,
  jobName,
  labelValue,
  ownerName,
  payloadName,
} from './names.js';
import type { KubernetesExecutorConfig } from './options.js';
import type { Placement } from './resources.js';

export const CONTAINER_NAME = 'task';
export const RUNNER_FILE = 'cellpipe_runner.py';
const RUNNER_DIR = '/cellpipe/runner';
const TASK_DIR = '/cellpipe/task';
/** ConfigMap keys: the characters Kubernetes allows in them. */
const CONFIG_MAP_KEY = /^[-._a-zA-Z0-9]{1,253}$/;

export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

export function payloadBytes(files: Record<string, string>): number {
  return Object.entries(files).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
}

export function ownerConfigMap(spec: LaunchSpec, runnerSource: string, cfg: KubernetesExecutorConfig): V1ConfigMap {
  const size = Buffer.byteLength(runnerSource);
  if (size > cfg.maxPayloadBytes)
    throw new PayloadError(`the task runner is ${size} bytes, over the ${cfg.maxPayloadBytes} byte ConfigMap budget`);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: ownerName(spec.jobId),
      namespace: cfg.namespace,
      labels: {
        ...cfg.labels,
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [JOB_LABEL]: labelValue(spec.jobId),
        [USER_LABEL]: labelValue(spec.owner),
      },
      annotations: { [USER_ANNOTATION]: spec.owner },
    },
    data: { [RUNNER_FILE]: runnerSource },
  };
}

export function payloadConfigMap(
  spec: LaunchSpec,
  job: { name: string; uid: string },
  cfg: KubernetesExecutorConfig,
): V1ConfigMap {
  for (const key of Object.keys(spec.payload)) {
    if (!CONFIG_MAP_KEY.test(key))
      throw new PayloadError(`payload file name ${JSON.stringify(key)} is not a valid ConfigMap key`);
  }
  const size = payloadBytes(spec.payload);
  if (size > cfg.maxPayloadBytes) {
    throw new PayloadError(
      `the task payload is ${size} bytes, over the ${cfg.maxPayloadBytes} byte ConfigMap budget; move large data into files the task reads`,
    );
  }
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: payloadName(spec.jobId, spec.taskName, spec.attempt),
      namespace: cfg.namespace,
      labels: { ...cfg.labels, ...attemptLabels(spec.jobId, spec.taskName, spec.attempt, spec.owner) },
      ownerReferences: [
        { apiVersion: 'batch/v1', kind: 'Job', name: job.name, uid: job.uid, blockOwnerDeletion: true },
      ],
    },
    data: spec.payload,
  };
}

export interface JobSpecInput {
  spec: LaunchSpec;
  cfg: KubernetesExecutorConfig;
  placement: Placement;
  ownerUid: string;
  /** Extra pod annotations (a test cluster's steering annotations, for example). */
  podAnnotations?: Record<string, string>;
}

export function buildJob({ spec, cfg, placement, ownerUid, podAnnotations }: JobSpecInput): V1Job {
  const name = jobName(spec.jobId, spec.taskName, spec.attempt);
  const labels: Record<string, string> = {
    ...cfg.labels,
    ...attemptLabels(spec.jobId, spec.taskName, spec.attempt, spec.owner),
  };
  if (cfg.queueName) labels[KUEUE_QUEUE_LABEL] = cfg.queueName;
  const annotations: Record<string, string> = {
    ...cfg.annotations,
    [TASK_ANNOTATION]: spec.taskName,
    [TASK_ID_ANNOTATION]: spec.taskId,
    [USER_ANNOTATION]: spec.owner,
  };
  const owner: V1OwnerReference = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    name: ownerName(spec.jobId),
    uid: ownerUid,
    blockOwnerDeletion: true,
  };

  const env: V1EnvVar[] = [
    ...Object.entries(spec.env).map(([k, v]) => ({ name: k, value: v })),
    { name: 'CELLPIPE_JOB_ID', value: spec.jobId },
    { name: 'CELLPIPE_TASK', value: spec.taskName },
    { name: 'CELLPIPE_ATTEMPT', value: String(spec.attempt) },
    { name: 'PYTHONUNBUFFERED', value: '1' },
  ];
  const volumes: V1Volume[] = [
    { name: 'runner', configMap: { name: ownerName(spec.jobId), items: [{ key: RUNNER_FILE, path: RUNNER_FILE }] } },
    { name: 'payload', configMap: { name: payloadName(spec.jobId, spec.taskName, spec.attempt) } },
  ];
  const mounts: V1VolumeMount[] = [
    { name: 'runner', mountPath: RUNNER_DIR, readOnly: true },
    { name: 'payload', mountPath: TASK_DIR, readOnly: true },
  ];
  if (cfg.dataVolume) {
    volumes.push({ name: 'data', persistentVolumeClaim: { claimName: cfg.dataVolume.claimName } });
    mounts.push({ name: 'data', mountPath: cfg.dataVolume.mountPath });
  }

  const podSpec: V1PodSpec = {
    restartPolicy: 'Never',
    enableServiceLinks: false,
    automountServiceAccountToken: Boolean(cfg.serviceAccountName),
    serviceAccountName: cfg.serviceAccountName,
    priorityClassName: cfg.priorityClassName,
    imagePullSecrets: cfg.imagePullSecrets.length ? cfg.imagePullSecrets.map((n) => ({ name: n })) : undefined,
    nodeSelector: Object.keys(cfg.nodeSelector).length ? cfg.nodeSelector : undefined,
    tolerations: cfg.tolerations.length ? cfg.tolerations : undefined,
    affinity: placement.affinity.length
      ? {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: placement.affinity }],
            },
          },
        }
      : undefined,
    volumes,
    containers: [
      {
        name: CONTAINER_NAME,
        image: spec.image ?? cfg.defaultImage,
        command: ['python3', `${RUNNER_DIR}/${RUNNER_FILE}`, `${TASK_DIR}/task.json`],
        env,
        volumeMounts: mounts,
        resources: {
          requests: Object.keys(placement.requests).length ? placement.requests : undefined,
          limits: Object.keys(placement.limits).length ? placement.limits : undefined,
        },
        securityContext: { allowPrivilegeEscalation: false },
        terminationMessagePolicy: 'FallbackToLogsOnError',
      },
    ],
  };

  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: cfg.namespace, labels, annotations, ownerReferences: [owner] },
    spec: {
      backoffLimit: 0,
      // Evictions and preemptions do not count against the attempt; exit code 137 (usually the OOM
      // killer) fails the Job with a message that names it.
      podFailurePolicy: {
        rules: [
          { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }] },
          { action: 'FailJob', onExitCodes: { containerName: CONTAINER_NAME, operator: 'In', values: [137] } },
        ],
      },
      // Never run a replacement pod while the old one still holds its GPU.
      podReplacementPolicy: 'Failed',
      activeDeadlineSeconds: spec.timeoutMs ? Math.max(1, Math.ceil(spec.timeoutMs / 1000)) : undefined,
      ttlSecondsAfterFinished: cfg.ttlSecondsAfterFinished,
      // Kueue admits a queued Job by unsuspending it.
      suspend: cfg.queueName ? true : undefined,
      template: {
        metadata: { labels, annotations: { ...annotations, ...podAnnotations } },
        spec: podSpec,
      },
    },
  };
}
