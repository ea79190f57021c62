/**
 * What the executor's caches keep of the Jobs and pods they watch: the fields that attemptStatus,
 * computeInventory and the executor read, nothing else. A cached Job would otherwise hold a whole pod
 * template and a pod its full spec (command, env, volumes); with ten thousand live tasks those copies
 * are most of the server's memory.
 */
import type {
  V1Container,
  V1ContainerStatus,
  V1Job,
  V1ObjectMeta,
  V1Pod,
  V1PodCondition,
} from '@kubernetes/client-node';
import { TASK_ANNOTATION, USER_ANNOTATION } from './names.js';

const POD_ANNOTATIONS = [USER_ANNOTATION, TASK_ANNOTATION];

function meta(m: V1ObjectMeta | undefined, annotations: readonly string[] = []): V1ObjectMeta {
  const kept: V1ObjectMeta = {
    name: m?.name,
    namespace: m?.namespace,
    uid: m?.uid,
    labels: m?.labels,
    creationTimestamp: m?.creationTimestamp,
    deletionTimestamp: m?.deletionTimestamp,
  };
  const picked = annotations.filter((a) => m?.annotations?.[a] !== undefined);
  if (picked.length) kept.annotations = Object.fromEntries(picked.map((a) => [a, m!.annotations![a]!]));
  return kept;
}

const condition = (c: V1PodCondition) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message });

const container = (c: V1Container): V1Container => ({ name: c.name, resources: c.resources });

const containerStatus = (c: V1ContainerStatus): V1ContainerStatus => ({
  name: c.name,
  image: c.image,
  imageID: c.imageID,
  ready: c.ready,
  restartCount: c.restartCount,
  state: c.state,
});

export function cachedJob(job: V1Job): V1Job {
  return {
    metadata: meta(job.metadata),
    spec: job.spec && { suspend: job.spec.suspend, template: {} },
    status: job.status && { conditions: job.status.conditions?.map(condition) },
  };
}

export function cachedPod(pod: V1Pod): V1Pod {
  const spec = pod.spec;
  const status = pod.status;
  return {
    metadata: meta(pod.metadata, POD_ANNOTATIONS),
    spec: spec && {
      nodeName: spec.nodeName,
      containers: spec.containers.map(container),
      initContainers: spec.initContainers?.map(container),
    },
    status: status && {
      phase: status.phase,
      reason: status.reason,
      message: status.message,
      startTime: status.startTime,
      conditions: status.conditions?.map(condition),
      containerStatuses: status.containerStatuses?.map(containerStatus),
      initContainerStatuses: status.initContainerStatuses?.map(containerStatus),
    },
  };
}
