/**
 * Does the server have what a task asks for? A request no GPU or MIG slice of the inventory can
 * ever satisfy would wait forever (or fail as unschedulable): say so while the user types.
 */
import type { Inventory } from '@cellpipe/schema';

const GPU = 'nvidia.com/gpu';
const MIG_PREFIX = 'nvidia.com/mig-';

export function migProfiles(inventory: Inventory): string[] {
  return inventory.resources
    .filter((r) => r.resource.startsWith(MIG_PREFIX))
    .map((r) => r.resource.slice(MIG_PREFIX.length));
}

/** A warning for a request the inventory can never satisfy, or null. */
export function unsatisfiable(inventory: Inventory | null, request: { gpus: string; mig: string }): string | null {
  if (!inventory) return null;
  const gpus = /^\d+$/.test(request.gpus.trim()) ? Number(request.gpus.trim()) : 0;
  const mig = request.mig.trim();
  const where = inventory.executor === 'local' ? 'this machine' : `the ${inventory.executor} cluster`;
  if (gpus > 0) {
    const total = inventory.resources.find((r) => r.resource === GPU)?.allocatable ?? 0;
    if (gpus > total)
      return `${where} has ${total} whole GPU${total === 1 ? '' : 's'}; a task asking for ${gpus} can never start`;
  }
  if (mig) {
    const have = migProfiles(inventory);
    if (!have.includes(mig)) {
      return `${where} has no MIG ${mig} slices${have.length ? ` (it has ${have.join(', ')})` : ''}; the task can never start`;
    }
  }
  return null;
}
