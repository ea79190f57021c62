/**
 * Every kind of notification target the server delivers to, by kind. The record's type makes a kind
 * the schema lists (NotifierKindSchema) without a notifier a compile error; each one passes the
 * contract suite in server/test/notifiers.test.ts.
 */
import type { NotifierKind } from '@cellpipe/schema';
import type { Notifier } from './notifier.js';
import { slackNotifier } from './slack.js';
import { webhookNotifier } from './webhook.js';

export const NOTIFIERS: Readonly<Record<NotifierKind, Notifier>> = {
  webhook: webhookNotifier,
  slack: slackNotifier,
};

export function notifierFor(kind: NotifierKind): Notifier {
  return NOTIFIERS[kind];
}
