/**
 * Kueue (kueue.sigs.k8s.io) as the cluster's GPU queue: which LocalQueue a task's Job goes to, and
 * what the Job's Workload says about it, in words a researcher understands.
 *
 * A Job labelled `kueue.x-k8s.io/queue-name` is suspended by Kueue's own admission webhook, which
 * also creates a Workload for it (owned by the Job). Kueue reserves quota in the LocalQueue's
 * ClusterQueue (borrowing from its cohort where allowed) and unsuspends the Job; to preempt it, it
 * suspends the Job again (its pods are deleted) and queues the Workload anew. The Workload's
 * conditions say why a Job waits (QuotaReserved: Pending or Inadmissible, with Kueue's message) and
 * why it was stopped (Evicted / Preempted).
 */
import type { KubernetesObject, V1Job } from '@kubernetes/client-node';
import type { LaunchSpec } from '../executor.js';
import { KUEUE_QUEUE_LABEL } from './names.js';
import type { KubernetesExecutorConfig } from './options.js';

export const KUEUE_GROUP = 'kueue.x-k8s.io';
/** The Workload API version Kueue serves as its storage version since v0.15. */
export const WORKLOAD_VERSION = 'v1beta2';

export interface WorkloadCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** The parts of a Workload the executor reads (see cachedWorkload). */
export interface Workload extends KubernetesObject {
  spec?: { queueName?: string };
  status?: {
    conditions?: WorkloadCondition[];
    admission?: { clusterQueue?: string };
    schedulingStats?: { evictions?: { reason?: string; count?: number }[] };
  };
}

/** Whether the executor hands its Jobs to Kueue at all. */
export function usesKueue(cfg: KubernetesExecutorConfig): boolean {
  return Boolean(cfg.queueName) || Object.keys(cfg.userQueues).length > 0 || Object.keys(cfg.teamQueues).length > 0;
}

/**
 * The LocalQueue of an attempt's Job: the owner's own (`userQueues`), else their team's
 * (`teamQueues`), else `queueName`. Undefined: the Job is not queued (Kueue leaves it alone).
 */
export function queueFor(cfg: KubernetesExecutorConfig, spec: Pick<LaunchSpec, 'owner' | 'team'>): string | undefined {
  const own = Object.hasOwn(cfg.userQueues, spec.owner) ? cfg.userQueues[spec.owner] : undefined;
  const team =
    spec.team !== undefined && Object.hasOwn(cfg.teamQueues, spec.team) ? cfg.teamQueues[spec.team] : undefined;
  return own ?? team ?? cfg.queueName;
}

/** The Job a Workload was made for (its controller owner). */
export function workloadJobName(wl: Workload): string | undefined {
  return wl.metadata?.ownerReferences?.find((o) => o.kind === 'Job' && o.apiVersion.startsWith('batch/'))?.name;
}

/** What the cache keeps of a Workload: its owner, queue, conditions and admission. */
export function cachedWorkload(wl: Workload): Workload {
  return {
    metadata: {
      name: wl.metadata?.name,
      namespace: wl.metadata?.namespace,
      uid: wl.metadata?.uid,
      ownerReferences: wl.metadata?.ownerReferences?.filter((o) => o.kind === 'Job'),
    },
    spec: { queueName: wl.spec?.queueName },
    status: {
      conditions: wl.status?.conditions?.map(({ type, status, reason, message }) => ({
        type,
        status,
        reason,
        message,
      })),
      admission: wl.status?.admission && { clusterQueue: wl.status.admission.clusterQueue },
      schedulingStats: wl.status?.schedulingStats && { evictions: wl.status.schedulingStats.evictions },
    },
  };
}

function condition(wl: Workload | undefined, type: string): WorkloadCondition | undefined {
  return wl?.status?.conditions?.find((c) => c.type === type);
}

const isTrue = (c: WorkloadCondition | undefined): boolean => c?.status === 'True';

/** Kueue's preemption reasons, said plainly. */
const PREEMPTION_REASONS: Record<string, string> = {
  InClusterQueue: 'a higher-priority workload in the same ClusterQueue needed the quota',
  InCohortReclamation: 'another queue of the cohort took back quota it had lent',
  InCohortReclaimWhileBorrowing: 'another queue of the cohort, itself borrowing, took back quota',
  InCohortFairSharing: 'fair sharing in the cohort gave the quota to another queue',
};

/** Why Kueue last stopped the Workload, in a few words, and Kueue's own message; none when it did not. */
function eviction(wl: Workload | undefined): { short: string; message?: string } | undefined {
  const evicted = condition(wl, 'Evicted');
  if (!isTrue(evicted)) return undefined;
  const preempted = condition(wl, 'Preempted');
  if (isTrue(preempted)) {
    const why = PREEMPTION_REASONS[preempted!.reason ?? ''] ?? preempted!.reason ?? 'no reason given';
    return { short: `preempted by Kueue: ${why}`, message: preempted!.message };
  }
  return { short: `evicted by Kueue (${evicted!.reason ?? 'no reason given'})`, message: evicted!.message };
}

/**
 * Why Kueue stopped a Workload that had been admitted (a preemption, or another eviction), with
 * Kueue's message (which names the preemptor and the queues); undefined when it was not evicted.
 */
export function evictionOf(wl: Workload | undefined): string | undefined {
  const e = eviction(wl);
  return e && `${e.short}${e.message ? ` (${e.message})` : ''}`;
}

/**
 * Why a queued Job (suspended, labelled for Kueue) has not started, from its Workload: Kueue's own
 * message for a Workload without quota ("insufficient unused quota for nvidia.com/gpu in flavor h100,
 * 1 more needed"), what makes it inadmissible ("LocalQueue x doesn't exist"), or how far admission got.
 */
export function kueueWaitingReason(queue: string, wl: Workload | undefined): string {
  if (!wl) return `queued for Kueue in LocalQueue ${queue} (no Workload yet)`;
  const cq = wl.status?.admission?.clusterQueue;
  const reserved = condition(wl, 'QuotaReserved');
  const evicted = eviction(wl);
  if (isTrue(condition(wl, 'Admitted'))) return `admitted by Kueue${cq ? ` in ClusterQueue ${cq}` : ''}; starting`;
  if (isTrue(reserved)) return `quota reserved in Kueue ClusterQueue ${cq ?? '?'}; waiting for its admission checks`;
  if (reserved?.reason === 'Inadmissible') {
    return `Kueue cannot admit it from LocalQueue ${queue}${reserved.message ? `: ${reserved.message}` : ''}`;
  }
  const before = evicted ? `${evicted.short}; ` : '';
  if (reserved?.message) return `${before}waiting in Kueue LocalQueue ${queue}: ${reserved.message}`;
  return `${before}queued in Kueue LocalQueue ${queue}`;
}

/** The LocalQueue a Job was created for (its label), if it is Kueue's. */
export function jobQueue(job: V1Job): string | undefined {
  return job.metadata?.labels?.[KUEUE_QUEUE_LABEL];
}
