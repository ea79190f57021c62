/**
 * What the executor's caches keep of the Jobs and pods they watch: the fields that attemptStatus,
 * computeInventory and the executor read, nothing else. A cached Job would otherwise hold a whole pod
 * template and a pod its full spec (command, env, volumes); with ten thousand live tasks those copies
 * are most of the server's memory.
 */
import type {
  V1Container,
  V1ContainerState,
  V1ContainerStatus,
  V1Job,
  V1ObjectMeta,
  V1Pod,
  V1PodCondition,
} from '@kubernetes/client-node';
import {
  JOB_LABEL,
  JOB_NAME_LABEL,
  KUEUE_QUEUE_LABEL,
  MANAGED_BY_LABEL,
  TASK_ANNOTATION,
  USER_ANNOTATION,
} from './names.js';

const POD_LABELS = [MANAGED_BY_LABEL, JOB_LABEL, JOB_NAME_LABEL, 'job-name'];
const POD_ANNOTATIONS = [USER_ANNOTATION, TASK_ANNOTATION];
const JOB_LABELS = [KUEUE_QUEUE_LABEL];

/**
 * One copy of each repeated value: every pod of a thousand-task job carries the same namespace,
 * condition types, image and scheduler message, and each watch event parses its own copies.
 * Bounded: values that never repeat must not pile up here.
 */
const INTERN_LIMIT = 10_000;
const interned = new Map<string, string>();
function intern<T extends string | undefined>(value: T): T {
  if (value === undefined) return value;
  const hit = interned.get(value);
  if (hit !== undefined) return hit as T;
  if (interned.size < INTERN_LIMIT) interned.set(value, value);
  return value;
}

function pick(from: Record<string, string> | undefined, keys: readonly string[]): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const k of keys) {
    const v = from?.[k];
    if (v !== undefined) (out ??= {})[k] = intern(v);
  }
  return out;
}

function meta(
  m: V1ObjectMeta | undefined,
  labels: readonly string[],
  annotations: readonly string[] = [],
): V1ObjectMeta {
  return {
    name: m?.name,
    namespace: intern(m?.namespace),
    uid: m?.uid,
    labels: pick(m?.labels, labels),
    annotations: pick(m?.annotations, annotations),
    creationTimestamp: m?.creationTimestamp,
    deletionTimestamp: m?.deletionTimestamp,
  };
}

const condition = (c: V1PodCondition) => ({
  type: intern(c.type),
  status: intern(c.status),
  reason: intern(c.reason),
  message: intern(c.message),
});

const container = (c: V1Container): V1Container => ({ name: intern(c.name), resources: c.resources });

function state(s: V1ContainerState | undefined): V1ContainerState | undefined {
  if (!s) return s;
  const w = s.waiting;
  const t = s.terminated;
  return {
    running: s.running,
    waiting: w && { reason: intern(w.reason), message: intern(w.message) },
    terminated: t && {
      exitCode: t.exitCode,
      reason: intern(t.reason),
      message: t.message,
      startedAt: t.startedAt,
      finishedAt: t.finishedAt,
    },
  };
}

const containerStatus = (c: V1ContainerStatus): V1ContainerStatus => ({
  name: intern(c.name),
  image: intern(c.image),
  imageID: intern(c.imageID),
  ready: c.ready,
  restartCount: c.restartCount,
  state: state(c.state),
});

export function cachedJob(job: V1Job): V1Job {
  return {
    metadata: meta(job.metadata, JOB_LABELS),
    spec: job.spec && { suspend: job.spec.suspend, template: {} },
    status: job.status && { conditions: job.status.conditions?.map(condition) },
  };
}

export function cachedPod(pod: V1Pod): V1Pod {
  const spec = pod.spec;
  const status = pod.status;
  return {
    metadata: meta(pod.metadata, POD_LABELS, POD_ANNOTATIONS),
    spec: spec && {
      nodeName: intern(spec.nodeName),
      containers: spec.containers.map(container),
      initContainers: spec.initContainers?.map(container),
    },
    status: status && {
      phase: intern(status.phase),
      reason: intern(status.reason),
      message: status.message,
      startTime: status.startTime,
      conditions: status.conditions?.map(condition),
      containerStatuses: status.containerStatuses?.map(containerStatus),
      initContainerStatuses: status.initContainerStatuses?.map(containerStatus),
    },
  };
}
