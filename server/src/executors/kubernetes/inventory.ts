/**
 * GET /api/inventory for the Kubernetes executor: per nvidia.com/* resource, what the nodes can
 * hold (allocatable), what bound, unfinished pods request (used), what a task asking for it could
 * still get (free), and who holds it. Pure: computed from the node and pod informers' current objects.
 *
 * Single-strategy MIG nodes advertise their slices as nvidia.com/gpu; they are listed under the
 * profile's name (nvidia.com/mig-<profile>), which is what users ask for. allocatable and used count
 * every node; free counts only the nodes the executor would place such a task on (its node selector
 * and tolerations, and for a MIG profile the strategy placeResources picks), so slices that
 * `migStrategy: auto` never uses are not offered as free.
 */
import type { Inventory, InventoryResource } from '@cellpipe/schema';
import type { V1Container, V1Node, V1Pod } from '@kubernetes/client-node';
import { JOB_LABEL, MANAGED_BY, MANAGED_BY_LABEL, TASK_ANNOTATION, USER_ANNOTATION } from './names.js';
import {
  GPU_RESOURCE,
  migResource,
  migStrategyFor,
  singleStrategyProfile,
  usableNodes,
  type PlacementOptions,
} from './resources.js';

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

/** Nodes whose free devices of a listed resource a task asking for it could use. */
function servingNodes(listed: string, usable: readonly V1Node[], opts: PlacementOptions): V1Node[] {
  const profile = /^nvidia\.com\/mig-(.+)$/.exec(listed)?.[1];
  if (!profile) return usable.filter((n) => !singleStrategyProfile(n));
  const strategy = migStrategyFor(profile, usable, opts.migStrategy);
  return usable.filter((n) =>
    strategy === 'single' ? singleStrategyProfile(n) === profile.toLowerCase() : !singleStrategyProfile(n),
  );
}

const ANYWHERE: PlacementOptions = { migStrategy: 'auto', nodeSelector: {} };

export function computeInventory(
  nodes: readonly V1Node[],
  pods: readonly V1Pod[],
  placement: PlacementOptions = ANYWHERE,
): Inventory {
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
  /** `<node>\0<listed resource>` → allocatable and used on that node. */
  const perNode = new Map<string, { allocatable: number; used: number }>();
  const onNode = (node: string, listed: string) => {
    const key = `${node}\0${listed}`;
    let e = perNode.get(key);
    if (!e) perNode.set(key, (e = { allocatable: 0, used: 0 }));
    return e;
  };
  for (const node of nodes) {
    const name = node.metadata?.name;
    if (!name) continue;
    nodeByName.set(name, node);
    for (const [resource, q] of Object.entries(node.status?.allocatable ?? {})) {
      if (!isAccelerator(resource)) continue;
      const listed = listedName(node, resource);
      entry(listed).allocatable += toCount(q);
      onNode(name, listed).allocatable += toCount(q);
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
      const listed = listedName(node, resource);
      const e = entry(listed);
      e.used += count;
      onNode(nodeName, listed).used += count;
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

  const usable = usableNodes(nodes, placement);
  const free = (listed: string): number =>
    servingNodes(listed, usable, placement).reduce((sum, n) => {
      const e = perNode.get(`${n.metadata?.name ?? ''}\0${listed}`);
      return sum + (e ? Math.max(0, e.allocatable - e.used) : 0);
    }, 0);
  const resources = [...byName.values()]
    .map((e) => ({ ...e, free: free(e.resource) }))
    .sort((a, b) => a.resource.localeCompare(b.resource));
  for (const r of resources)
    r.holders.sort((a, b) => (a.node ?? '').localeCompare(b.node ?? '') || a.task.localeCompare(b.task));
  return { executor: 'kubernetes', resources };
}
