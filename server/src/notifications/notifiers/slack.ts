/**
 * A Slack incoming webhook: a message of Block Kit blocks (the outcome as the header; outcome,
 * duration, pipeline and owner as fields; the failing task with its error and cell; the results; a
 * button opening the job in JupyterLab) and a plain `text` fallback for notifications.
 *
 * Slack's documented limits (docs.slack.dev/reference/block-kit): header text 150 characters; section
 * text 3000, at most 10 fields of 2000 each; context at most 10 elements; button text 75, url 3000;
 * at most 50 blocks a message. Text is cut to fit here; server/test/notifiers.test.ts checks every
 * message against those limits. User text is escaped as mrkdwn requires (&, <, >).
 */
import type { JobEndEvent, ResultValue } from '@cellpipe/schema';
import type { DeliveryContext, Notifier, NotifierTarget, OutgoingRequest } from './notifier.js';

const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const FIELDS_MAX = 10;
const BUTTON_MAX = 75;
const URL_MAX = 3000;

/** Slack's mrkdwn control characters (docs.slack.dev/messaging/formatting-message-text#escaping). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * At most `max` characters, with an ellipsis when cut. Counted in UTF-16 units (what a JavaScript
 * length is), never fewer than Slack's count, and never splitting a character.
 */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  let out = '';
  for (const ch of text) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}

function duration(ms: number | undefined): string {
  if (ms === undefined) return 'unknown';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** An ended job is succeeded, failed or cancelled; the others cannot reach a notifier. */
const EMOJI: Record<JobEndEvent['job']['state'], string> = {
  succeeded: '✅',
  failed: '❌',
  cancelled: '⏹️',
  running: '',
  pending: '',
};

function value(v: ResultValue): string {
  return typeof v === 'string' ? v : String(v);
}

const mrkdwn = (text: string, max: number) => ({ type: 'mrkdwn', text: cut(text, max) });

function failureBlock(event: JobEndEvent): Record<string, unknown> | undefined {
  const failed = event.failedTask;
  if (!failed) return undefined;
  const where = failed.error.cell !== undefined ? ` (cell ${failed.error.cell})` : '';
  const head = `*Failed task:* \`${escapeMrkdwn(failed.name)}\`${where}\n`;
  const error =
    failed.error.ename && !failed.error.message.startsWith(`${failed.error.ename}:`)
      ? `${failed.error.ename}: ${failed.error.message}`
      : failed.error.message;
  // The code block's fences are kept whole however long the error is.
  const room = SECTION_MAX - head.length - 6;
  return { type: 'section', text: mrkdwn(`${head}\`\`\`${cut(escapeMrkdwn(error), room)}\`\`\``, SECTION_MAX) };
}

function resultBlocks(event: JobEndEvent): Record<string, unknown>[] {
  const all = Object.entries(event.results).flatMap(([task, values]) =>
    Object.entries(values).map(([name, v]) => `*${escapeMrkdwn(`${task}.${name}`)}*\n${escapeMrkdwn(value(v))}`),
  );
  if (!all.length) return [];
  const blocks: Record<string, unknown>[] = [
    { type: 'section', text: mrkdwn('*Results*', SECTION_MAX) },
    { type: 'section', fields: all.slice(0, FIELDS_MAX).map((f) => mrkdwn(f, FIELD_MAX)) },
  ];
  if (all.length > FIELDS_MAX) {
    blocks.push({
      type: 'context',
      elements: [mrkdwn(`and ${all.length - FIELDS_MAX} more in the job view`, SECTION_MAX)],
    });
  }
  return blocks;
}

/** The message for one job's end (exported for the tests that check it against Slack's limits). */
export function slackMessage(event: JobEndEvent): { text: string; blocks: Record<string, unknown>[] } {
  const job = event.job;
  const title = `${job.name} ${job.state}`;
  const pipeline =
    job.pipeline.version !== undefined ? `${job.pipeline.name} v${job.pipeline.version}` : job.pipeline.name;
  const fields = [
    `*Outcome*\n${EMOJI[job.state]} ${job.state}`,
    `*Duration*\n${duration(job.durationMs)}`,
    `*Pipeline*\n${escapeMrkdwn(pipeline)}`,
    `*Owner*\n${escapeMrkdwn(job.owner)}`,
    `*Tasks*\n${event.tasks.succeeded} of ${event.tasks.total} succeeded`,
  ];
  if (job.scheduleId) fields.push(`*Schedule*\n${escapeMrkdwn(job.scheduleId)}`);
  const blocks: Record<string, unknown>[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: cut(`${EMOJI[job.state]} ${title}`, HEADER_MAX), emoji: true },
    },
    { type: 'section', fields: fields.map((f) => mrkdwn(f, FIELD_MAX)) },
  ];
  const failure = failureBlock(event);
  if (failure) blocks.push(failure);
  else if (job.error && job.state !== 'succeeded')
    blocks.push({ type: 'section', text: mrkdwn(escapeMrkdwn(job.error), SECTION_MAX) });
  blocks.push(...resultBlocks(event));
  if (event.link && event.link.length <= URL_MAX) {
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: cut('Open in JupyterLab', BUTTON_MAX) },
          url: event.link,
          action_id: 'cellpipe-open-job',
        },
      ],
    });
  }
  blocks.push({ type: 'context', elements: [mrkdwn(`Cellpipe job \`${job.id}\``, SECTION_MAX)] });
  // The fallback shown in notifications and by clients that cannot show blocks.
  return { text: cut(`Cellpipe: ${title}`, SECTION_MAX), blocks };
}

export const slackNotifier: Notifier = {
  kind: 'slack',
  signed: false,
  request(event: JobEndEvent, target: NotifierTarget, ctx: DeliveryContext): OutgoingRequest {
    return {
      url: target.url,
      headers: { 'content-type': 'application/json', 'idempotency-key': ctx.idempotencyKey },
      body: JSON.stringify(slackMessage(event)),
    };
  },
};
