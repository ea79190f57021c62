/**
 * Hands out whole GPUs and MIG devices to task attempts, one holder per device, and says in plain
 * words why a request has to wait or can never be met.
 */
import type { InventoryResource, Resources } from '@cellpipe/schema';
import { GPU_RESOURCE, migResource, type Device } from './inventory.js';

export interface Holder {
  user: string;
  jobId: string;
  task: string;
  since: string;
}

export interface Need {
  resource: string;
  count: number;
}

export type Allocation = { ok: true; devices: Device[] } | { ok: false; reason: string };

/** What a task's resources ask of the GPU inventory (nothing for CPU-only tasks). */
export function gpuNeed(resources: Resources): Need | undefined {
  if (resources.mig) return { resource: migResource(resources.mig), count: 1 };
  if (resources.gpu && resources.gpu > 0) return { resource: GPU_RESOURCE, count: resources.gpu };
  return undefined;
}

export class GpuAllocator {
  private readonly held = new Map<string, { key: string; holder: Holder }>();
  private readonly byKey = new Map<string, string[]>();

  constructor(private inventoryDevices: Device[]) {}

  get devices(): Device[] {
    return this.inventoryDevices;
  }

  /** Replace the inventory (discovery finished after start-up); held devices stay held. */
  setDevices(devices: Device[]): void {
    this.inventoryDevices = devices;
  }

  private ofResource(resource: string): Device[] {
    return this.devices.filter((d) => d.resource === resource);
  }

  /** A reason when the inventory can never satisfy the need, even with every device free. */
  impossible(need: Need | undefined): string | undefined {
    if (!need) return undefined;
    const total = this.ofResource(need.resource).length;
    if (total >= need.count) return undefined;
    const have = this.resources()
      .map((r) => `${r.resource}: ${r.allocatable}`)
      .join(', ');
    return `needs ${need.count} ${need.resource} but this machine has ${total} (inventory: ${have || 'no GPUs'})`;
  }

  tryAcquire(key: string, holder: Holder, need: Need | undefined): Allocation {
    if (!need) return { ok: true, devices: [] };
    const all = this.ofResource(need.resource);
    const free = all.filter((d) => !this.held.has(d.id));
    if (free.length < need.count) {
      const what = need.count > 1 ? `${need.count} free ${need.resource}` : `a free ${need.resource}`;
      return { ok: false, reason: `waiting for ${what} (${free.length} of ${all.length} free)` };
    }
    const devices = free.slice(0, need.count);
    this.claim(
      key,
      holder,
      devices.map((d) => d.id),
    );
    return { ok: true, devices };
  }

  /** Re-claim devices an attempt held before a restart (ids unknown to the inventory are ignored). */
  claim(key: string, holder: Holder, ids: string[]): void {
    const known = ids.filter((id) => this.devices.some((d) => d.id === id));
    for (const id of known) this.held.set(id, { key, holder });
    this.byKey.set(key, [...(this.byKey.get(key) ?? []), ...known]);
  }

  release(key: string): void {
    for (const id of this.byKey.get(key) ?? []) {
      if (this.held.get(id)?.key === key) this.held.delete(id);
    }
    this.byKey.delete(key);
  }

  resources(): InventoryResource[] {
    const names = [...new Set(this.devices.map((d) => d.resource))].sort();
    return names.map((resource) => {
      const devs = this.ofResource(resource);
      const holders = new Map<string, InventoryResource['holders'][number]>();
      let used = 0;
      for (const d of devs) {
        const h = this.held.get(d.id);
        if (!h) continue;
        used++;
        const existing = holders.get(h.key);
        if (existing) existing.count++;
        else
          holders.set(h.key, {
            user: h.holder.user,
            jobId: h.holder.jobId,
            task: h.holder.task,
            since: h.holder.since,
            count: 1,
          });
      }
      return { resource, allocatable: devs.length, used, free: devs.length - used, holders: [...holders.values()] };
    });
  }
}
