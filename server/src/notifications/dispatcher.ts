/**
 * Delivers the outbox: every pending row is attempted when due, at least once, until its target
 * answers 2xx or its time is up. A failed attempt is tried again after an exponential backoff (the
 * receiver's Retry-After when it sends one); a refusal that will not change (a 4xx other than 408,
 * 425 and 429, an address the target may not reach, a deleted target) ends it at once. Every attempt
 * is stored with its status code or error and the next try, so the job view shows them.
 *
 * Nothing of this runs in the job's path: the job's end only wrote the rows. Rows are read from the
 * store each time, so a restarted server carries on with what was pending; a row held for an attempt
 * (its lease) is due again once the attempt's time is over, which is what happens to an attempt a
 * crash interrupted: it is made again, with the same idempotency key.
 */
import type { Clock } from '../clock.js';
import type { OutboxRecord, OutboxStore, TargetRecord, TargetStore } from '../store/notification-store.js';
import { send, type SendOptions, type SendResult } from './http-sender.js';
import { notifierFor } from './notifiers/registry.js';

export interface RetryPolicy {
  /** Delay before the second attempt; each later one doubles it. */
  firstDelayMs: number;
  maxDelayMs: number;
  /** No attempt starts later than this after the job ended. */
  giveUpAfterMs: number;
}

export interface DispatcherOptions {
  store: OutboxStore & Pick<TargetStore, 'target'>;
  clock: Clock;
  retry: RetryPolicy;
  timeoutMs: number;
  /** Whether a target's deliveries may reach private networks. */
  mayReachPrivate: (target: TargetRecord) => boolean;
  /** Deliveries in flight at once. */
  concurrency?: number;
  log: (message: string, err?: unknown) => void;
  /** Tests replace the network. */
  send?: (req: Parameters<typeof send>[0], options: SendOptions) => Promise<SendResult>;
}

/** 4xx answers that may change on their own: try again. */
const TRANSIENT_4XX = new Set([408, 425, 429]);

export function backoffMs(policy: RetryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** Math.max(0, attempt - 1));
}

export class Dispatcher {
  private readonly o: DispatcherOptions;
  private readonly concurrency: number;
  private readonly send: NonNullable<DispatcherOptions['send']>;
  private readonly inflight = new Map<number, Promise<void>>();
  private cancelTimer?: () => void;
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;

  constructor(options: DispatcherOptions) {
    this.o = options;
    this.concurrency = options.concurrency ?? 4;
    this.send = options.send ?? send;
  }

  /** Look at the outbox now (after rows were written, and when the timer fires). */
  kick(): void {
    if (this.closed) return;
    try {
      this.fill();
      this.arm();
    } catch (err) {
      // The store refused (a full disk): look again later.
      this.o.log('cellpipe: notifications: cannot read the outbox', err);
      this.armAt(this.o.clock.now() + this.o.retry.firstDelayMs);
    }
  }

  /** Resolves once nothing is in flight (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.all(this.inflight.values());
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    await this.idle();
  }

  private fill(): void {
    const free = this.concurrency - this.inflight.size;
    if (free <= 0) return;
    const now = this.o.clock.now();
    for (const row of this.o.store.due(now, free)) {
      // Held until the attempt's time is over: not due again meanwhile, and due again after a crash.
      this.o.store.lease(row.id, now + this.o.timeoutMs + 1000);
      const run = this.attempt(row).then(
        () => undefined,
        (err: unknown) => this.o.log(`cellpipe: notifications: delivery ${row.id} failed unexpectedly`, err),
      );
      this.inflight.set(
        row.id,
        run.finally(() => {
          this.inflight.delete(row.id);
          this.kick();
        }),
      );
    }
  }

  private arm(): void {
    const next = this.o.store.nextDue();
    if (next === undefined) return;
    this.armAt(next);
  }

  private armAt(at: number): void {
    if (this.closed || (this.cancelTimer && this.timerAt <= at)) return;
    this.cancelTimer?.();
    this.timerAt = at;
    this.cancelTimer = this.o.clock.after(Math.max(0, at - this.o.clock.now()), () => {
      this.cancelTimer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.kick();
    });
  }

  private async attempt(row: OutboxRecord): Promise<void> {
    const target = row.targetId ? this.o.store.target(row.targetId) : undefined;
    if (!target) {
      this.o.store.recordAttempt(row.id, undefined, {
        state: 'failed',
        error: `the target '${row.targetName}' was deleted before the notification could be delivered`,
      });
      return;
    }
    const number = row.attempts + 1;
    const at = this.o.clock.now();
    const request = notifierFor(target.kind).request(
      row.event,
      { name: target.name, url: target.url, ...(target.secret ? { secret: target.secret } : {}) },
      { idempotencyKey: row.key, attempt: number, now: at },
    );
    const result = await this.send(request, {
      timeoutMs: this.o.timeoutMs,
      publicOnly: !this.o.mayReachPrivate(target),
    });
    const attempt = {
      attempt: number,
      at: new Date(at).toISOString(),
      durationMs: result.durationMs,
      ...(result.status !== undefined ? { status: result.status } : {}),
      ...(result.error ? { error: result.error } : {}),
    };
    if (result.status !== undefined && result.status >= 200 && result.status < 300) {
      this.o.store.recordAttempt(row.id, attempt, {
        state: 'delivered',
        deliveredAt: new Date(this.o.clock.now()).toISOString(),
      });
      return;
    }
    const error = result.error ?? 'no answer';
    const refused = result.status === undefined && /inside a private network/.test(error);
    const permanent =
      refused ||
      (result.status !== undefined && result.status >= 400 && result.status < 500 && !TRANSIENT_4XX.has(result.status));
    if (permanent) {
      this.o.store.recordAttempt(row.id, attempt, { state: 'failed', error });
      return;
    }
    // A receiver's Retry-After is honoured even past maxDelay; giveUpAfter still bounds it.
    const wait = Math.max(backoffMs(this.o.retry, number), result.retryAfterMs ?? 0);
    const nextAt = this.o.clock.now() + wait;
    if (nextAt > row.giveUpAt) {
      this.o.store.recordAttempt(row.id, attempt, {
        state: 'failed',
        error: `gave up after ${number} attempt${number > 1 ? 's' : ''}: ${error}`,
      });
      return;
    }
    this.o.store.recordAttempt(row.id, attempt, { state: 'pending', nextAt, error });
  }
}
