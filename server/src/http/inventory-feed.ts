/**
 * The inventory as a live feed for `GET /api/events?inventory=1`: who holds and who waits for each
 * GPU/MIG resource changes only when a task changes, so the inventory is recomputed after task events
 * (coalesced over `debounceMs`) and sent to every subscriber when it differs from the last one sent.
 * Every user sees the same inventory (it names holders, as /api/inventory does), so one computation
 * serves all streams.
 */
import type { Inventory } from '@cellpipe/schema';
import type { JobServiceApi } from '../jobs/job-service.js';

export type InventoryListener = (inventory: Inventory) => void;

export class InventoryFeed {
  private readonly listeners = new Set<InventoryListener>();
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  private readonly onTask = (): void => this.schedule();

  constructor(
    private readonly service: JobServiceApi,
    private readonly debounceMs = 250,
    private readonly logError: (message: string, err: unknown) => void = (m, e) => console.error(m, e),
  ) {}

  /** Sends the current inventory to `listener` at once, then every change; call the result to stop. */
  subscribe(listener: InventoryListener): () => void {
    if (this.listeners.size === 0) this.service.events.on('task', this.onTask);
    this.listeners.add(listener);
    this.service.inventory().then(
      (inventory) => {
        if (this.listeners.has(listener)) listener(inventory);
      },
      (err: unknown) => this.logError('inventory for a new event stream failed:', err),
    );
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size > 0) return;
      this.service.events.off('task', this.onTask);
      clearTimeout(this.timer);
      this.timer = undefined;
      this.last = '';
    };
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.service.inventory().then(
        (inventory) => {
          const text = JSON.stringify(inventory);
          if (text === this.last) return;
          this.last = text;
          for (const listener of this.listeners) listener(inventory);
        },
        (err: unknown) => this.logError('inventory update failed:', err),
      );
    }, this.debounceMs);
    this.timer.unref();
  }
}
