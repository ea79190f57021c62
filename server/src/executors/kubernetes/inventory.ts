/**
 * GET /api/inventory for the Kubernetes executor: per nvidia.com/* resource, what the nodes can
 * hold (allocatable), what bound, unfinished pods request (used), what is left (free), and who holds
 * it. Pure: computed from the node and pod informers' current objects.
 *
 * Single-strategy MIG nodes advertise their slices as nvidia.com/gpu; they are listed under the
 * profile's name (nvidia.com/mig-<profile>), which is what users ask for.
 */
import type { Inventory, InventoryResource } from '@cellpipe/schema';
import type { V1Container, V1Node, V1Pod } from '@kubernetes/client-node';
import { JOB_LABEL, MANAGED_BY, MANAGED_BY_LABEL, TASK_ANNOTATION, USER_ANNOTATION } from './names.js';
import { GPU_RESOURCE, migResource, singleStrategyProfile } from './resources.js';

const ACCELERATOR_PREFIX = 'nvidia.com/';

function toCount(q: string | undefined): number {
  if (!q) return 0;
  const n = Number(q);
  return Number.isFinite(n) ? Math.floor(n) : 0;
}

/** Name under which a node's resource is listed (single-strategy slices by profile). */
function listedName(node: V1Node | undefined, resource: string): string {
  if (resource === GPU_RESOURCE && node) {
    const profile = singleStrategyProfile(node);
    if (profile) return migResource(profile);
  }
  return resource;
}

/** Effective request of a pod for one resource: max(sum of containers, largest init container). */
function podRequest(pod: V1Pod, resource: string): number {
  const amount = (c: V1Container) => toCount(c.resources?.requests?.[resource] ?? c.resources?.limits?.[resource]);
  const sum = (pod.spec?.containers ?? []).reduce((acc, c) => acc + amount(c), 0);
  const init = Math.max(0, ...(pod.spec?.initContainers ?? []).map(amount));
  return Math.max(sum, init);
}

function isAccelerator(resource: string): boolean {
  return resource.startsWith(ACCELERATOR_PREFIX);
}

export function computeInventory(nodes: readonly V1Node[], pods: readonly V1Pod[]): Inventory {
  const byName = new Map<string, InventoryResource>();
  const entry = (name: string): InventoryResource => {
    let e = byName.get(name);
    if (!e) {
      e = { resource: name, allocatable: 0, used: 0, free: 0, holders: [] };
      byName.set(name, e);
    }
    return e;
  };
  const nodeByName = new Map<string, V1Node>();
  for (const node of nodes) {
    const name = node.metadata?.name;
    if (!name) continue;
    nodeByName.set(name, node);
    for (const [resource, q] of Object.entries(node.status?.allocatable ?? {})) {
      if (!isAccelerator(resource)) continue;
      entry(listedName(node, resource)).allocatable += toCount(q);
    }
  }

  for (const pod of pods) {
    const nodeName = pod.spec?.nodeName;
    const phase = pod.status?.phase;
    // Only bound, unfinished pods hold devices.
    if (!nodeName || phase === 'Succeeded' || phase === 'Failed') continue;
    const node = nodeByName.get(nodeName);
    const resources = new Set<string>();
    for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
      for (const r of Object.keys({ ...c.resources?.requests, ...c.resources?.limits })) {
        if (isAccelerator(r)) resources.add(r);
      }
    }
    for (const resource of resources) {
      const count = podRequest(pod, resource);
      if (count <= 0) continue;
      const e = entry(listedName(node, resource));
      e.used += count;
      const labels = pod.metadata?.labels ?? {};
      const annotations = pod.metadata?.annotations ?? {};
      const ours = labels[MANAGED_BY_LABEL] === MANAGED_BY;
      e.holders.push({
        user: ours ? (annotations[USER_ANNOTATION] ?? 'unknown') : `(not cellpipe) ${pod.metadata?.namespace ?? ''}`,
        jobId: ours ? (labels[JOB_LABEL] ?? '') : '',
        task: ours ? (annotations[TASK_ANNOTATION] ?? '') : (pod.metadata?.name ?? ''),
        since: pod.status?.startTime ? new Date(pod.status.startTime).toISOString() : undefined,
        node: nodeName,
        count,
      });
    }
  }

  const resources = [...byName.values()]
    .map((e) => ({ ...e, free: Math.max(0, e.allocatable - e.used) }))
    .sort((a, b) => a.resource.localeCompare(b.resource));
  for (const r of resources)
    r.holders.sort((a, b) => (a.node ?? '').localeCompare(b.node ?? '') || a.task.localeCompare(b.task));
  return { executor: 'kubernetes', resources };
}
