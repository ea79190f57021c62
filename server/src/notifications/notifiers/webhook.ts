/**
 * A generic webhook: the event as JSON, signed with the target's shared secret.
 *
 *   X-Cellpipe-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
 *   X-Cellpipe-Timestamp: <unix seconds of this attempt>
 *   Idempotency-Key / X-Cellpipe-Delivery: <the delivery's key, the same on every attempt>
 *
 * The timestamp is part of what is signed so a receiver can refuse old replays (Stripe's and Slack's
 * request-signing schemes work the same way); the README shows how to check it.
 */
import { createHmac } from 'node:crypto';
import type { JobEndEvent } from '@cellpipe/schema';
import { serverVersion } from '../../http/version.js';
import type { DeliveryContext, Notifier, NotifierTarget, OutgoingRequest } from './notifier.js';

export const SIGNATURE_HEADER = 'x-cellpipe-signature';
export const TIMESTAMP_HEADER = 'x-cellpipe-timestamp';

/** `sha256=<hex>` over `<timestamp>.<body>`. */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export const webhookNotifier: Notifier = {
  kind: 'webhook',
  signed: true,
  request(event: JobEndEvent, target: NotifierTarget, ctx: DeliveryContext): OutgoingRequest {
    const body = JSON.stringify(event);
    const timestamp = String(Math.floor(ctx.now / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': `cellpipe/${serverVersion()}`,
      'idempotency-key': ctx.idempotencyKey,
      'x-cellpipe-delivery': ctx.idempotencyKey,
      'x-cellpipe-event': event.type,
      [TIMESTAMP_HEADER]: timestamp,
    };
    if (target.secret) headers[SIGNATURE_HEADER] = signature(target.secret, timestamp, body);
    return { url: target.url, headers, body };
  },
};
