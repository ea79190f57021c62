/**
 * The Kubernetes objects of one Cellpipe task attempt:
 * - an owner ConfigMap per Cellpipe job (holds the runner; deleting it cascades to everything below),
 * - a batch/v1 Job per attempt (one pod, restartPolicy Never, backoffLimit 0: retries are the
 *   orchestrator's), owned by the owner ConfigMap. The attempt's payload (task.json) travels in its
 *   pod template's annotations and reaches the container as a file through a downward API volume.
 * - with the `server` data store, a Secret per attempt holding its data token (created before the
 *   Job, owned by the owner ConfigMap, deleted when the attempt ends): a token is a credential, so it
 *   travels as one, not in annotations anyone who may read pods can see. The pod's task.json then
 *   points at scratch space in the pod and at the server's task-data API.
 */
import type {
  V1ConfigMap,
  V1Secret,
  V1DownwardAPIVolumeFile,
  V1EnvVar,
  V1Job,
  V1OwnerReference,
  V1PodSpec,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import type { LaunchSpec } from '../executor.js';
import { serverStoreTaskJson } from '../server-store.js';
import { taskEnvironment } from '../task-env.js';
import {
  JOB_LABEL,
  KUEUE_QUEUE_LABEL,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  TASK_ANNOTATION,
  TASK_ID_ANNOTATION,
  USER_ANNOTATION,
  TEAM_LABEL,
  USER_LABEL,
  attemptLabels,
  jobName,
  labelValue,
  ownerName,
} from './names.js';
import { queueFor } from './kueue.js';
import type { DataVolume, KubernetesExecutorConfig } from './options.js';
import type { Placement } from './resources.js';

export const CONTAINER_NAME = 'task';
export const RUNNER_FILE = 'cellpipe_runner.pyz';
const RUNNER_DIR = '/cellpipe/runner';
const TASK_DIR = '/cellpipe/task';
/** `server` store: the pod's scratch space (the task.json paths) and its data token. */
const WORK_DIR = '/cellpipe/work';
const TOKEN_DIR = '/cellpipe/token';
const TOKEN_KEY = 'token';
/** One annotation per payload file; the file name must be a valid annotation name (<= 63 chars). */
const PAYLOAD_ANNOTATION_PREFIX = 'payload.cellpipe.io/';
const ANNOTATION_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** The apiserver refuses an object whose annotations (keys and values) exceed 256 KiB. */
const ANNOTATIONS_LIMIT_BYTES = 256 * 1024;
/** A ConfigMap's data may not exceed 1 MiB. */
const CONFIG_MAP_LIMIT_BYTES = 1024 * 1024;

export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

function annotationBytes(annotations: Record<string, string>): number {
  return Object.entries(annotations).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
}

/** The owner ConfigMap holds the runner's zipapp (binary, so base64 in binaryData). */
export function ownerConfigMap(
  spec: LaunchSpec,
  runnerArchive: Buffer,
  cfg: KubernetesExecutorConfig,
  namespace = cfg.namespace,
): V1ConfigMap {
  const encoded = runnerArchive.toString('base64');
  if (encoded.length > CONFIG_MAP_LIMIT_BYTES)
    throw new PayloadError(
      `the task runner is ${encoded.length} bytes in base64, over the ${CONFIG_MAP_LIMIT_BYTES} byte ConfigMap limit`,
    );
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: ownerName(spec.jobId),
      namespace,
      labels: {
        ...cfg.labels,
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [JOB_LABEL]: labelValue(spec.jobId),
        [USER_LABEL]: labelValue(spec.owner),
        ...(spec.team ? { [TEAM_LABEL]: spec.team } : {}),
      },
      annotations: { [USER_ANNOTATION]: spec.owner },
    },
    binaryData: { [RUNNER_FILE]: encoded },
  };
}

/** The payload as pod annotations, checked against the limits before anything is created. */
function payloadAnnotations(spec: LaunchSpec, cfg: KubernetesExecutorConfig): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [file, content] of Object.entries(spec.payload)) {
    if (!ANNOTATION_NAME.test(file))
      throw new PayloadError(`payload file name ${JSON.stringify(file)} is not a valid annotation name`);
    out[PAYLOAD_ANNOTATION_PREFIX + file] = content;
  }
  const size = annotationBytes(out);
  if (size > cfg.maxPayloadBytes) {
    throw new PayloadError(
      `the task payload is ${size} bytes, over the ${cfg.maxPayloadBytes} byte budget; move large data into files the task reads`,
    );
  }
  return out;
}

/**
 * How an attempt's pod passes its data: `server` (over HTTP, with its token), `volume` (the shared
 * dataVolume), or `none`: the `server` store without a serverUrl, which only an executor built
 * directly can have (the registry refuses it), where pods never run.
 */
export function dataPath(cfg: KubernetesExecutorConfig): 'server' | 'volume' | 'none' {
  if (cfg.dataStore === 'volume') return 'volume';
  return cfg.serverUrl ? 'server' : 'none';
}

export function tokenSecretName(spec: LaunchSpec): string {
  return `${jobName(spec.jobId, spec.taskName, spec.attempt)}-data`;
}

/** The Secret that carries an attempt's data token into its pod (`server` store). */
export function tokenSecret(
  spec: LaunchSpec,
  cfg: KubernetesExecutorConfig,
  token: string,
  ownerUid: string,
  namespace = cfg.namespace,
): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: tokenSecretName(spec),
      namespace,
      labels: { ...cfg.labels, ...attemptLabels(spec.jobId, spec.taskName, spec.attempt, spec.owner, spec.team) },
      ownerReferences: [ownerReference(spec.jobId, ownerUid)],
    },
    type: 'Opaque',
    stringData: { [TOKEN_KEY]: token },
  };
}

function dataVolumeSource(v: DataVolume): V1Volume {
  if (v.claimName) return { name: 'data', persistentVolumeClaim: { claimName: v.claimName } };
  if (v.nfs) return { name: 'data', nfs: { server: v.nfs.server, path: v.nfs.path } };
  return { name: 'data', hostPath: { path: v.hostPath!, type: 'Directory' } };
}

export interface JobSpecInput {
  spec: LaunchSpec;
  cfg: KubernetesExecutorConfig;
  /** Where the Job goes (its team's namespace); default the executor's. */
  namespace?: string;
  placement: Placement;
  /** The container image (the task's own, or the executor's default already resolved). */
  image: string;
  /** Extra pod annotations (a test cluster's steering annotations, for example). */
  podAnnotations?: Record<string, string>;
  /** Server variables the configuration passes on to every task (`passEnv`). */
  passedEnv?: Record<string, string>;
}

/** The owner ConfigMap as the owner of an attempt's Job: deleting it cascades to the Job and its pod. */
export function ownerReference(jobId: string, ownerUid: string): V1OwnerReference {
  return { apiVersion: 'v1', kind: 'ConfigMap', name: ownerName(jobId), uid: ownerUid, blockOwnerDeletion: true };
}

/**
 * The attempt's Job, without its owner reference (set with `ownerReference` once the owner exists).
 * Throws PayloadError when the payload cannot travel with the pod.
 */
export function buildJob({
  spec,
  cfg,
  namespace = cfg.namespace,
  placement,
  image,
  podAnnotations,
  passedEnv,
}: JobSpecInput): V1Job {
  const name = jobName(spec.jobId, spec.taskName, spec.attempt);
  const labels: Record<string, string> = {
    ...cfg.labels,
    ...attemptLabels(spec.jobId, spec.taskName, spec.attempt, spec.owner, spec.team),
  };
  // On the Job only: Kueue queues the Job; its pod belongs to the Job, not to a queue of its own.
  const queue = queueFor(cfg, spec);
  const jobLabels = queue ? { ...labels, [KUEUE_QUEUE_LABEL]: queue } : labels;
  const annotations: Record<string, string> = {
    ...cfg.annotations,
    [TASK_ANNOTATION]: spec.taskName,
    [TASK_ID_ANNOTATION]: spec.taskId,
    [USER_ANNOTATION]: spec.owner,
  };
  // PATH, HOME and LANG come from the image; the rest is the rule every executor follows.
  const env: V1EnvVar[] = Object.entries(taskEnvironment(spec, { passed: passedEnv })).map(([name, value]) => ({
    name,
    value,
  }));
  const data = dataPath(cfg);
  const payload = payloadAnnotations(
    data === 'server'
      ? {
          ...spec,
          payload: {
            ...spec.payload,
            'task.json': serverStoreTaskJson(spec, {
              serverUrl: cfg.serverUrl!,
              workDir: WORK_DIR,
              tokenFile: `${TOKEN_DIR}/${TOKEN_KEY}`,
              retrySeconds: cfg.dataRetrySeconds,
            }),
          },
        }
      : spec,
    cfg,
  );
  const podTemplateAnnotations = { ...annotations, ...podAnnotations, ...payload };
  const total = annotationBytes(podTemplateAnnotations);
  if (total > ANNOTATIONS_LIMIT_BYTES) {
    throw new PayloadError(
      `the pod's annotations (task payload included) are ${total} bytes, over Kubernetes' ${ANNOTATIONS_LIMIT_BYTES} byte limit`,
    );
  }
  const payloadFiles: V1DownwardAPIVolumeFile[] = Object.keys(spec.payload).map((file) => ({
    path: file,
    fieldRef: { fieldPath: `metadata.annotations['${PAYLOAD_ANNOTATION_PREFIX}${file}']` },
  }));
  const volumes: V1Volume[] = [
    { name: 'runner', configMap: { name: ownerName(spec.jobId), items: [{ key: RUNNER_FILE, path: RUNNER_FILE }] } },
    { name: 'payload', downwardAPI: { items: payloadFiles } },
  ];
  const mounts: V1VolumeMount[] = [
    { name: 'runner', mountPath: RUNNER_DIR, readOnly: true },
    { name: 'payload', mountPath: TASK_DIR, readOnly: true },
  ];
  if (data === 'volume') {
    volumes.push(dataVolumeSource(cfg.dataVolume!));
    mounts.push({ name: 'data', mountPath: cfg.dataVolume!.mountPath });
  } else if (data === 'server') {
    volumes.push(
      { name: 'work', emptyDir: {} },
      { name: 'token', secret: { secretName: tokenSecretName(spec), items: [{ key: TOKEN_KEY, path: TOKEN_KEY }] } },
    );
    mounts.push({ name: 'work', mountPath: WORK_DIR }, { name: 'token', mountPath: TOKEN_DIR, readOnly: true });
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
        image,
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
    metadata: { name, namespace, labels: jobLabels, annotations },
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
      // A queued Job is created unsuspended: Kueue's admission webhook suspends it until Kueue admits
      // it. Where Kueue is down and its webhooks removed, the Job runs unqueued rather than never.
      template: {
        metadata: { labels, annotations: podTemplateAnnotations },
        spec: podSpec,
      },
    },
  };
}
