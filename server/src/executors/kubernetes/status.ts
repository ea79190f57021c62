/**
 * What one attempt's Job and pod say about it, as a Cellpipe executor event. Pure: the executor feeds
 * it the informer's current objects after every change and reports only when the answer changes.
 */
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import type { FailureReason } from '../executor.js';
import { jobQueue, kueueWaitingReason, type Workload } from './kueue.js';

/**
 * When the task's container ran, as its status tells (ISO 8601), and on which node; absent where it
 * never started.
 */
export interface RunTimes {
  startedAt?: string;
  finishedAt?: string;
  node?: string;
}

export type AttemptStatus =
  | { kind: 'waiting'; reason: string }
  | ({ kind: 'running'; pod: string; node: string } & Omit<RunTimes, 'node'>)
  | ({ kind: 'succeeded'; pod?: string; exitCode: number } & RunTimes)
  | ({ kind: 'failed'; pod?: string; exitCode?: number; reason: FailureReason; message: string } & RunTimes);

/** Waiting reasons of a container that mean the image will not come without a change. */
const IMAGE_PULL_FAILURES = new Set(['ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
/** Waiting reasons that mean the pod spec itself cannot run. */
const CONFIG_FAILURES = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

function jobCondition(job: V1Job, type: string) {
  return job.status?.conditions?.find((c) => c.type === type && c.status === 'True');
}

function newestPod(pods: readonly V1Pod[]): V1Pod | undefined {
  // Timestamps are Date objects from a list and strings from a watch; compare them as times.
  const time = (p: V1Pod) => new Date(p.metadata?.creationTimestamp ?? 0).getTime();
  return [...pods].sort((a, b) => time(b) - time(a))[0];
}

function terminatedOf(pod: V1Pod | undefined) {
  return pod?.status?.containerStatuses?.find((c) => c.state?.terminated)?.state?.terminated;
}

/** Timestamps are Date objects from a list and strings from a watch. */
function iso(t: Date | string | undefined): string | undefined {
  if (!t) return undefined;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

/**
 * The container's own start and end: the truth about when the task ran, however late the server
 * learns of it (after a restart, a slow watch). Before the container starts, nothing.
 */
function runTimes(pod: V1Pod | undefined): RunTimes {
  const state = pod?.status?.containerStatuses?.[0]?.state;
  const terminated = state?.terminated;
  const out: RunTimes = {};
  const startedAt = iso(terminated?.startedAt ?? state?.running?.startedAt);
  const finishedAt = iso(terminated?.finishedAt);
  if (startedAt) out.startedAt = startedAt;
  if (finishedAt) out.finishedAt = finishedAt;
  if (startedAt && pod?.spec?.nodeName) out.node = pod.spec.nodeName;
  return out;
}

/** Classify a failed pod: OOM, eviction/preemption, or a plain non-zero exit. */
function podFailure(pod: V1Pod | undefined): { reason: FailureReason; message: string; exitCode?: number } {
  const term = terminatedOf(pod);
  const exitCode = term?.exitCode;
  if (term?.reason === 'OOMKilled') {
    return {
      reason: 'oom',
      exitCode,
      message: `the container ran out of memory (OOMKilled, exit code ${String(exitCode)})`,
    };
  }
  const disruption = pod?.status?.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True');
  if (disruption || pod?.status?.reason === 'Evicted' || pod?.status?.reason === 'Preempting') {
    return {
      reason: 'evicted',
      exitCode,
      message: disruption?.message ?? pod?.status?.message ?? 'the pod was evicted',
    };
  }
  if (term) {
    const detail = term.message ? `: ${term.message}` : '';
    return {
      reason: 'exit',
      exitCode,
      message: `the container exited with code ${String(exitCode)} (${term.reason ?? 'Error'})${detail}`,
    };
  }
  return { reason: 'exit', message: pod?.status?.message ?? 'the pod failed' };
}

/** `workload`: the Job's Kueue Workload, when the Job is queued in Kueue and Kueue made one. */
export function attemptStatus(
  job: V1Job | undefined,
  pods: readonly V1Pod[],
  workload?: Workload,
): AttemptStatus | undefined {
  if (!job) return undefined;
  const pod = newestPod(pods);
  const podName = pod?.metadata?.name;

  const times = runTimes(pod);
  if (jobCondition(job, 'Complete') || jobCondition(job, 'SuccessCriteriaMet')) {
    return { kind: 'succeeded', pod: podName, exitCode: terminatedOf(pod)?.exitCode ?? 0, ...times };
  }
  const failed = jobCondition(job, 'Failed') ?? jobCondition(job, 'FailureTarget');
  if (failed) {
    if (failed.reason === 'DeadlineExceeded') {
      return {
        kind: 'failed',
        pod: podName,
        reason: 'timeout',
        message: failed.message ?? 'the Job ran past its deadline',
        ...times,
      };
    }
    const f = podFailure(pod);
    return { kind: 'failed', pod: podName, ...f, ...times };
  }
  if (job.spec?.suspend) {
    const queue = jobQueue(job);
    return { kind: 'waiting', reason: queue ? kueueWaitingReason(queue, workload) : 'the Job is suspended' };
  }
  if (!pod) return { kind: 'waiting', reason: 'waiting for the Job controller to create the pod' };

  const phase = pod.status?.phase;
  if (phase === 'Failed') return { kind: 'failed', pod: podName, ...podFailure(pod), ...times };
  // A succeeded pod is the attempt's end (restartPolicy Never, one completion): the Job controller
  // batches pod updates for up to a second before it marks the Job Complete, and that is not waited for.
  if (phase === 'Succeeded')
    return { kind: 'succeeded', pod: podName, exitCode: terminatedOf(pod)?.exitCode ?? 0, ...times };
  if (phase === 'Running') return { ...times, kind: 'running', pod: podName ?? '', node: pod.spec?.nodeName ?? '' };

  // Pending: unschedulable (scheduler's words, verbatim), image trouble, or starting.
  const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False') {
    return { kind: 'waiting', reason: scheduled.message || scheduled.reason || 'waiting to be scheduled' };
  }
  for (const cs of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const waiting = cs.state?.waiting;
    if (!waiting?.reason) continue;
    if (IMAGE_PULL_FAILURES.has(waiting.reason)) {
      return {
        kind: 'failed',
        pod: podName,
        reason: 'image-pull',
        message: `cannot pull image ${cs.image}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`,
      };
    }
    if (CONFIG_FAILURES.has(waiting.reason)) {
      return {
        kind: 'failed',
        pod: podName,
        reason: 'config',
        message: `${waiting.reason}: ${waiting.message ?? ''}`.trim(),
      };
    }
    if (waiting.reason !== 'ContainerCreating' && waiting.reason !== 'PodInitializing') {
      return { kind: 'waiting', reason: `${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` };
    }
  }
  return {
    kind: 'waiting',
    reason: pod.spec?.nodeName ? `starting on ${pod.spec.nodeName}` : 'waiting to be scheduled',
  };
}
