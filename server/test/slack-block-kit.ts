/**
 * The parts of Slack's Block Kit a Cellpipe message uses, with the constraints Slack documents for
 * them, as zod schemas (Slack publishes no JSON Schema of its own). Sources, docs.slack.dev:
 * - reference/block-kit/composition-objects/text-object: `type` plain_text | mrkdwn; `text` 1 to 3000
 *   characters; `emoji` only on plain_text, `verbatim` only on mrkdwn.
 * - reference/block-kit/blocks/header-block: `text` a plain_text object of at most 150 characters;
 *   `block_id` at most 255.
 * - reference/block-kit/blocks/section-block: `text` (1 to 3000) or `fields` (at most 10, each at
 *   most 2000 characters); one of them is required.
 * - reference/block-kit/blocks/context-block: `elements`, image elements and text objects, at most 10.
 * - reference/block-kit/blocks/actions-block: `elements`, at most 25 interactive elements.
 * - reference/block-kit/block-elements/button-element: `text` plain_text of at most 75 characters,
 *   `action_id` at most 255, `url` at most 3000, `style` primary | danger.
 * - reference/block-kit/blocks (Blocks): at most 50 blocks in a message.
 * - messaging/sending-messages-using-incoming-webhooks: the payload's `text` is the notification
 *   fallback when `blocks` are sent.
 */
import { z } from 'zod';

const blockId = z.string().max(255).optional();

const plainText = (max: number) =>
  z.object({ type: z.literal('plain_text'), text: z.string().min(1).max(max), emoji: z.boolean().optional() }).strict();

const mrkdwn = (max: number) =>
  z.object({ type: z.literal('mrkdwn'), text: z.string().min(1).max(max), verbatim: z.boolean().optional() }).strict();

const textObject = (max: number) => z.union([plainText(max), mrkdwn(max)]);

const header = z.object({ type: z.literal('header'), text: plainText(150), block_id: blockId }).strict();

const section = z
  .object({
    type: z.literal('section'),
    text: textObject(3000).optional(),
    fields: z.array(textObject(2000)).min(1).max(10).optional(),
    block_id: blockId,
    expand: z.boolean().optional(),
  })
  .strict()
  .refine((s) => s.text !== undefined || s.fields !== undefined, { message: 'a section needs text or fields' });

const image = z.object({ type: z.literal('image'), image_url: z.string().url(), alt_text: z.string().min(1) }).strict();

const context = z
  .object({
    type: z.literal('context'),
    elements: z
      .array(z.union([textObject(3000), image]))
      .min(1)
      .max(10),
    block_id: blockId,
  })
  .strict();

const button = z
  .object({
    type: z.literal('button'),
    text: plainText(75),
    action_id: z.string().max(255).optional(),
    url: z.string().url().max(3000).optional(),
    value: z.string().max(2000).optional(),
    style: z.enum(['primary', 'danger']).optional(),
    accessibility_label: z.string().max(75).optional(),
  })
  .strict();

const actions = z
  .object({ type: z.literal('actions'), elements: z.array(button).min(1).max(25), block_id: blockId })
  .strict();

const divider = z.object({ type: z.literal('divider'), block_id: blockId }).strict();

export const SlackBlockSchema = z.union([header, section, context, actions, divider]);

/** An incoming webhook's JSON payload with blocks. */
export const SlackWebhookMessageSchema = z
  .object({
    text: z.string().min(1).max(3000),
    blocks: z.array(SlackBlockSchema).min(1).max(50),
  })
  .strict();
