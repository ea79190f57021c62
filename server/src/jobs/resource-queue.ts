/**
 * The waiting side of GET /api/inventory: for each GPU or MIG resource, the queued tasks that ask for
 * it, longest-waiting first, with the reason the executor gave. Pure: the executor says who holds what,
 * the store says who waits.
 */
import type { Inventory, InventoryResource, InventoryWaiter } from '@cellpipe/schema';
import { gpuNeed } from '../gpu/allocator.js';
import type { QueuedTaskRow } from '../store/store.js';

function waitedSince(w: InventoryWaiter): string {
  return w.since ?? '';
}

export function withWaitingQueues(inventory: Inventory, queued: readonly QueuedTaskRow[]): Inventory {
  const waiting = new Map<string, InventoryWaiter[]>();
  for (const { jobId, owner, task } of queued) {
    const need = gpuNeed(task.resources);
    if (!need) continue;
    const waiter: InventoryWaiter = { user: owner, jobId, task: task.name, count: need.count };
    if (task.queuedAt) waiter.since = task.queuedAt;
    if (task.waitingReason) waiter.reason = task.waitingReason;
    waiting.set(need.resource, [...(waiting.get(need.resource) ?? []), waiter]);
  }
  const resources: InventoryResource[] = inventory.resources.map((r) => ({ ...r, waiting: [] }));
  // A resource nobody has (a MIG profile no node offers) still shows its queue, as 0 of 0.
  for (const resource of waiting.keys()) {
    if (!resources.some((r) => r.resource === resource)) {
      resources.push({ resource, allocatable: 0, used: 0, free: 0, holders: [], waiting: [] });
    }
  }
  for (const r of resources) {
    r.waiting = [...(waiting.get(r.resource) ?? [])].sort((a, b) => waitedSince(a).localeCompare(waitedSince(b)));
  }
  return { ...inventory, resources };
}
