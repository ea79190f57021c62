/**
 * Cellpipe resources -> Kubernetes container resources and node constraints, and the check that some
 * node could ever hold a request. Nothing is dropped or rewritten silently: a request that no node
 * advertises is refused with a message naming the resource.
 */
import type { Resources } from '@cellpipe/schema';
import type { V1Node, V1NodeSelectorRequirement, V1Taint, V1Toleration } from '@kubernetes/client-node';

export const GPU_RESOURCE = 'nvidia.com/gpu';
export const MIG_STRATEGY_LABEL = 'nvidia.com/mig.strategy';
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';

/**
 * How MIG slices are advertised (NVIDIA device plugin):
 * - mixed: each profile is its own resource, `nvidia.com/mig-3g.20gb: 1`;
 * - single: slices are `nvidia.com/gpu` on nodes whose product label ends in `-MIG-3g.20gb`;
 * - auto: read the nodes, prefer mixed where a node advertises the profile's resource.
 */
export type MigStrategy = 'auto' | 'mixed' | 'single';

export function migResource(profile: string): string {
  return `nvidia.com/mig-${profile}`;
}

/** Product label suffix the GPU operator sets on single-strategy MIG nodes. */
export function singleStrategyProfile(node: V1Node): string | undefined {
  const labels = node.metadata?.labels ?? {};
  if (labels[MIG_STRATEGY_LABEL] !== 'single') return undefined;
  const m = /-MIG-(\d+g\.\d+gb(?:\+me)?)$/i.exec(labels[GPU_PRODUCT_LABEL] ?? '');
  return m?.[1]?.toLowerCase();
}

export interface Placement {
  /** requests == limits for extended resources; cpu only as a request; memory as both. */
  requests: Record<string, string>;
  limits: Record<string, string>;
  /** Extra node affinity (single-strategy MIG: the products that carry the profile). */
  affinity: V1NodeSelectorRequirement[];
  /** The extended resource and count the task holds, for messages and inventory. */
  accelerator?: { resource: string; count: number };
}

export class UnsatisfiableError extends Error {
  override readonly name = 'UnsatisfiableError';
}

function quantityToNumber(q: string | undefined): number {
  if (!q) return 0;
  const n = Number(q);
  return Number.isFinite(n) ? n : 0;
}

/** Where the executor's pods may go: its node selector and tolerations, and how MIG is advertised. */
export interface PlacementOptions {
  migStrategy: MigStrategy;
  nodeSelector: Record<string, string>;
  tolerations?: readonly V1Toleration[];
}

/** The scheduler's rule: a toleration matches a taint by key (or any key with Exists), value and effect. */
function tolerates(taint: V1Taint, tolerations: readonly V1Toleration[]): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (!t.key) return t.operator === 'Exists';
    if (t.key !== taint.key) return false;
    return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
  });
}

/** Nodes the executor's pods could be scheduled on at all (resources aside). */
export function usableNodes(nodes: readonly V1Node[], opts: PlacementOptions): V1Node[] {
  return nodes.filter((node) => {
    const labels = node.metadata?.labels ?? {};
    if (node.spec?.unschedulable) return false;
    if (!Object.entries(opts.nodeSelector).every(([k, v]) => labels[k] === v)) return false;
    return (node.spec?.taints ?? []).every(
      (taint) => taint.effect === 'PreferNoSchedule' || tolerates(taint, opts.tolerations ?? []),
    );
  });
}

/**
 * Which way a MIG profile is asked for. `auto` prefers mixed (the profile's own resource) wherever a
 * usable node advertises it, else single (slices as nvidia.com/gpu on nodes labelled with the profile).
 */
export function migStrategyFor(
  profile: string,
  candidates: readonly V1Node[],
  strategy: MigStrategy,
): 'mixed' | 'single' {
  if (strategy !== 'auto') return strategy;
  const mixed = candidates.some((n) => quantityToNumber(n.status?.allocatable?.[migResource(profile)]) > 0);
  const single = candidates.some(
    (n) =>
      singleStrategyProfile(n) === profile.toLowerCase() && quantityToNumber(n.status?.allocatable?.[GPU_RESOURCE]) > 0,
  );
  return mixed || !single ? 'mixed' : 'single';
}

/**
 * Map resources onto what the cluster advertises. `nodes` is the current node list (from the
 * informer); an empty list means "unknown" and only the static mapping is done.
 */
export function placeResources(resources: Resources, nodes: readonly V1Node[], opts: PlacementOptions): Placement {
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  const affinity: V1NodeSelectorRequirement[] = [];
  let accelerator: Placement['accelerator'];
  const candidates = usableNodes(nodes, opts);

  if (resources.cpu) requests.cpu = resources.cpu;
  if (resources.memory) {
    requests.memory = resources.memory;
    limits.memory = resources.memory;
  }

  if (resources.gpu) {
    accelerator = { resource: GPU_RESOURCE, count: resources.gpu };
    // Whole GPUs never land on single-strategy MIG nodes, whose nvidia.com/gpu are slices.
    const singles = candidates.filter((n) => singleStrategyProfile(n));
    if (singles.length > 0) {
      affinity.push({ key: MIG_STRATEGY_LABEL, operator: 'NotIn', values: ['single'] });
    }
    if (nodes.length > 0) {
      const best = Math.max(
        0,
        ...candidates
          .filter((n) => !singleStrategyProfile(n))
          .map((n) => quantityToNumber(n.status?.allocatable?.[GPU_RESOURCE])),
      );
      if (best < resources.gpu) {
        throw new UnsatisfiableError(
          best === 0
            ? `no node advertises ${GPU_RESOURCE}`
            : `no node has ${resources.gpu} ${GPU_RESOURCE} (the largest has ${best})`,
        );
      }
    }
  } else if (resources.mig) {
    const profile = resources.mig;
    const resource = migResource(profile);
    const mixed = candidates.filter((n) => quantityToNumber(n.status?.allocatable?.[resource]) > 0);
    const single = candidates.filter(
      (n) =>
        singleStrategyProfile(n) === profile.toLowerCase() &&
        quantityToNumber(n.status?.allocatable?.[GPU_RESOURCE]) > 0,
    );
    if (migStrategyFor(profile, candidates, opts.migStrategy) === 'mixed') {
      accelerator = { resource, count: 1 };
      if (nodes.length > 0 && mixed.length === 0) {
        throw new UnsatisfiableError(`no node advertises ${resource} (MIG profile ${profile})`);
      }
    } else {
      accelerator = { resource: GPU_RESOURCE, count: 1 };
      const products = [...new Set(single.map((n) => n.metadata?.labels?.[GPU_PRODUCT_LABEL] ?? ''))]
        .filter(Boolean)
        .sort();
      if (nodes.length > 0 && products.length === 0) {
        throw new UnsatisfiableError(`no single-strategy MIG node offers profile ${profile}`);
      }
      if (products.length > 0) affinity.push({ key: GPU_PRODUCT_LABEL, operator: 'In', values: products });
      else affinity.push({ key: MIG_STRATEGY_LABEL, operator: 'In', values: ['single'] });
    }
  }

  if (accelerator) {
    requests[accelerator.resource] = String(accelerator.count);
    limits[accelerator.resource] = String(accelerator.count);
  }
  return { requests, limits, affinity, accelerator };
}
