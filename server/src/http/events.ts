/**
 * GET /api/events: server-sent events of job and task changes. A stream filtered to one job starts
 * with a snapshot (the job, then each task) so a client that subscribes after submitting misses
 * nothing; the snapshot is taken in the same tick the listeners are attached, so no change falls in
 * between. Non-admins only receive events of their own jobs. With `inventory=1` the stream also
 * carries the GPU/MIG inventory (holders and waiting queues) whenever it changes.
 */
import type { Request, Response } from 'express';
import { JobIdSchema, JobSummarySchema, type JobSummary, type TaskEvent } from '@cellpipe/schema';
import { z } from 'zod';
import type { JobServiceApi } from '../jobs/job-service.js';
import { principal } from './auth-middleware.js';
import type { Access } from './access.js';
import { InventoryFeed } from './inventory-feed.js';
import { inventoryView, type InventoryHolders } from './inventory-view.js';
import { SseWriter } from './sse-writer.js';
import { input } from './validate.js';

export const EventsSchemas = {
  query: z.object({
    job: JobIdSchema.optional(),
    token: z.string().optional(),
    /** `inventory=1`: also `event: inventory` with the whole inventory, at once and on every change. */
    inventory: z.enum(['1', 'true']).optional(),
  }),
};

export interface EventsOptions {
  access: Access;
  /** Who sees holders' names in the inventory events (inventory-view.ts). */
  inventoryHolders: InventoryHolders;
  heartbeatMs: number;
  shutdown?: AbortSignal;
  logError?: (message: string, err: unknown) => void;
  /** A slow reader's stream was dropped (it reconnects). */
  onDrop?: (user: string, bufferedBytes: number) => void;
}

/** Job owners by id, so task events (which carry only the job id) can be filtered without a store read. */
class OwnerCache {
  private readonly owners = new Map<string, string>();
  constructor(
    private readonly service: JobServiceApi,
    private readonly max = 10_000,
  ) {}
  remember(id: string, owner: string): void {
    if (this.owners.size >= this.max) this.owners.clear();
    this.owners.set(id, owner);
  }
  owner(id: string): string | undefined {
    let owner = this.owners.get(id);
    if (owner === undefined) {
      owner = this.service.get(id)?.owner;
      if (owner !== undefined) this.remember(id, owner);
    }
    return owner;
  }
}

export function eventsHandler(service: JobServiceApi, options: EventsOptions) {
  const owners = new OwnerCache(service);
  const inventory = new InventoryFeed(service, undefined, options.logError);
  service.events.on('job', (job) => owners.remember(job.id, job.owner));

  const { access } = options;
  return async (req: Request, res: Response): Promise<void> => {
    const p = principal(res);
    const { query } = input(res, EventsSchemas);
    const jobFilter = query.job;
    const first = jobFilter ? access.visibleJob(service, p, jobFilter) : undefined;

    res.status(200);
    res.set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();

    const stream = new SseWriter(res, {
      limit: service.limits.eventBufferBytes,
      graceMs: options.heartbeatMs,
      onDrop: (bytes) => options.onDrop?.(p.user, bytes),
    });
    let seq = 0;
    const send = (event: 'job' | 'task' | 'inventory', data: unknown) => {
      seq += 1;
      stream.write(`id: ${seq}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };

    const onJob = (job: JobSummary) => {
      if (jobFilter ? job.id !== jobFilter : !access.canSee(p, job.owner)) return;
      send('job', job);
    };
    const onTask = (ev: TaskEvent) => {
      if (jobFilter) {
        if (ev.jobId !== jobFilter) return;
      } else {
        const owner = owners.owner(ev.jobId);
        if (owner === undefined || !access.canSee(p, owner)) return;
      }
      send('task', ev);
    };
    service.events.on('job', onJob);
    service.events.on('task', onTask);

    stream.write('retry: 3000\n\n');
    if (first) {
      send('job', JobSummarySchema.parse(first));
      for (const task of first.tasks) send('task', { jobId: first.id, task });
    }

    const unsubscribeInventory = query.inventory
      ? inventory.subscribe((inv) => send('inventory', inventoryView(inv, p, options.inventoryHolders, access.teams)))
      : undefined;

    const heartbeat = setInterval(() => {
      stream.check();
      stream.write(': ping\n\n');
    }, options.heartbeatMs);
    heartbeat.unref();

    await new Promise<void>((resolve) => {
      const done = () => {
        clearInterval(heartbeat);
        service.events.off('job', onJob);
        service.events.off('task', onTask);
        unsubscribeInventory?.();
        options.shutdown?.removeEventListener('abort', done);
        if (!res.writableEnded) res.end();
        resolve();
      };
      // res 'close' fires when the client goes away (req 'close' may fire once the request is read).
      res.on('close', done);
      res.on('error', done);
      if (options.shutdown?.aborted) done();
      else options.shutdown?.addEventListener('abort', done, { once: true });
    });
  };
}
