/**
 * The notifier seam: one implementation per kind of target (notifiers/registry.ts builds them), each
 * turning a job's end into the HTTP request its kind of receiver understands. Delivery itself
 * (sending, retries, the outbox) is the same for every kind and lives outside.
 */
import type { JobEndEvent, NotifierKind } from '@cellpipe/schema';

/** What a notifier knows of its target: the secrets, which never leave the server otherwise. */
export interface NotifierTarget {
  name: string;
  url: string;
  secret?: string;
}

export interface DeliveryContext {
  /** The same for every attempt of one delivery (and the event's `id`). */
  idempotencyKey: string;
  /** 1-based. */
  attempt: number;
  /** ms since the epoch: when this attempt is made. */
  now: number;
}

export interface OutgoingRequest {
  url: string;
  headers: Record<string, string>;
  /** JSON text. */
  body: string;
}

export interface Notifier {
  readonly kind: NotifierKind;
  /** Deliveries are signed with the target's shared secret (a target of this kind gets one). */
  readonly signed: boolean;
  /**
   * The request that delivers `event` to `target`. Pure: the same event and key give the same body on
   * every attempt, so a receiver that deduplicates by the key sees one notification.
   */
  request(event: JobEndEvent, target: NotifierTarget, ctx: DeliveryContext): OutgoingRequest;
}
