/**
 * Deterministic Kubernetes names and labels for Cellpipe objects. Names are derived only from the
 * job id, task name and attempt, so a restarted server finds the objects it created before, and a
 * repeated create of the same attempt hits AlreadyExists instead of starting a second copy.
 */
import { createHash } from 'node:crypto';

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'cellpipe';
export const JOB_LABEL = 'cellpipe.io/job';
export const TASK_LABEL = 'cellpipe.io/task';
export const ATTEMPT_LABEL = 'cellpipe.io/attempt';
export const USER_LABEL = 'cellpipe.io/user';
/** The team the job counts toward (a team name is a valid label value). */
export const TEAM_LABEL = 'cellpipe.io/team';
/** Exact values live in annotations: label values are too restricted for user names and task names. */
export const TASK_ANNOTATION = 'cellpipe.io/task-name';
export const USER_ANNOTATION = 'cellpipe.io/user';
export const TASK_ID_ANNOTATION = 'cellpipe.io/task-id';
export const KUEUE_QUEUE_LABEL = 'kueue.x-k8s.io/queue-name';
/** The label the Job controller puts on its pods (batch/v1, stable since 1.27). */
export const JOB_NAME_LABEL = 'batch.kubernetes.io/job-name';

const DNS_LABEL_MAX = 63;

function shortHash(value: string, length = 6): string {
  return createHash('sha256').update(value).digest('hex').slice(0, length);
}

/** Lower-case DNS-1123 label characters only, no leading/trailing '-'. */
function slug(value: string, max: number): string {
  const s = value
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, max)
    .replace(/^-+|-+$/g, '');
  return s || 'x';
}

/** Owner object of everything a Cellpipe job creates: deleting it cascades to Jobs, pods and payloads. */
export function ownerName(jobId: string): string {
  return `cp-${slug(jobId, 40)}`;
}

/**
 * `cp-<job>-<task>-<hash>-<attempt>`, at most 52 characters so the Job controller's pod names
 * (`<job>-<5 chars>`) and the job-name label stay within 63.
 */
export function jobName(jobId: string, taskName: string, attempt: number): string {
  const tail = `-${shortHash(`${jobId}/${taskName}`)}-${attempt}`;
  const head = `cp-${slug(jobId, 32)}-`;
  const room = 52 - head.length - tail.length;
  return `${head}${slug(taskName, Math.max(room, 1))}${tail}`;
}

/**
 * A valid label value (<= 63 chars, alphanumeric at both ends, [-_.A-Za-z0-9] inside). Values that
 * had to change carry a hash so two different inputs never share one label value.
 */
export function labelValue(value: string): string {
  const valid = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(value) && value.length <= DNS_LABEL_MAX;
  if (valid) return value;
  const cleaned = value
    .replace(/[^-A-Za-z0-9_.]+/g, '_')
    .slice(0, DNS_LABEL_MAX - 7)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return `${cleaned || 'x'}-${shortHash(value)}`;
}

export function attemptLabels(
  jobId: string,
  taskName: string,
  attempt: number,
  owner: string,
  team?: string,
): Record<string, string> {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [JOB_LABEL]: labelValue(jobId),
    [TASK_LABEL]: labelValue(taskName),
    [ATTEMPT_LABEL]: String(attempt),
    [USER_LABEL]: labelValue(owner),
    ...(team ? { [TEAM_LABEL]: labelValue(team) } : {}),
  };
}

export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;

/** Check a name we were handed (namespace, service account, ...) before it reaches a pod spec. */
export function isDnsLabel(value: string): boolean {
  return value.length <= DNS_LABEL_MAX && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(value);
}

export function isDnsSubdomain(value: string): boolean {
  return value.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value);
}
