/**
 * The notifier contract, run for every kind in the registry: what each one must do with any job end
 * (deterministic bodies across attempts, the target's secrets kept out of the body, the link
 * carried), then what each kind promises on its own: the webhook's signature, the Slack message
 * within Block Kit's documented limits.
 */
import { createHmac } from 'node:crypto';
import { JobEndEventSchema, NotifierKindSchema, type JobEndEvent } from '@cellpipe/schema';
import { NOTIFIERS } from '../src/notifications/notifiers/registry.js';
import { cut, escapeMrkdwn, slackMessage } from '../src/notifications/notifiers/slack.js';
import { signature } from '../src/notifications/notifiers/webhook.js';
import { SlackWebhookMessageSchema } from './slack-block-kit.js';

const TARGET = {
  name: 'hook',
  url: 'https://hooks.example.org/T000/B000/secret-path',
  secret: 'a-shared-secret-0123456789',
};

function event(overrides: Partial<JobEndEvent> = {}, job: Partial<JobEndEvent['job']> = {}): JobEndEvent {
  return JobEndEventSchema.parse({
    type: 'job.finished',
    id: 'k1abc.hook',
    at: '2026-05-01T10:00:00.000Z',
    job: {
      id: 'k1abcdefgh',
      name: 'train',
      owner: 'alice',
      state: 'succeeded',
      createdAt: '2026-05-01T09:00:00.000Z',
      startedAt: '2026-05-01T09:00:01.000Z',
      finishedAt: '2026-05-01T10:00:00.000Z',
      durationMs: 3_599_000,
      pipeline: { name: 'train', version: 3, hash: 'a'.repeat(64) },
      parameters: { lr: 0.01 },
      ...job,
    },
    tasks: { total: 2, succeeded: 2, failed: 0, other: 0 },
    results: { fit: { accuracy: 0.93, loss: 0.12 } },
    link: 'https://hub.example.org/hub/user-redirect/lab?cellpipe-job=k1abcdefgh',
    ...overrides,
  });
}

const failed = (): JobEndEvent =>
  event(
    {
      tasks: { total: 3, succeeded: 1, failed: 1, other: 1 },
      failedTask: {
        name: 'fit',
        error: { message: 'ValueError: bad <input> & more', ename: 'ValueError', cell: 7, reason: 'exception' },
      },
    },
    { state: 'failed', error: '1 task failed: fit' },
  );

const EVENTS: [string, JobEndEvent][] = [
  ['a success with results', event()],
  ['a failure', failed()],
  [
    'a cancel without a link or results',
    event({ results: {}, link: undefined }, { state: 'cancelled', error: 'cancelled' }),
  ],
  [
    'a failure with long texts and many results',
    event(
      {
        failedTask: { name: 'fit', error: { message: 'x'.repeat(10_000), cell: 2 } },
        results: Object.fromEntries(
          Array.from({ length: 4 }, (_, t) => [
            `task${t}`,
            Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`metric${i}`, 's'.repeat(256)])),
          ]),
        ),
      },
      { state: 'failed', name: '🚀'.repeat(200), owner: 'o'.repeat(300) },
    ),
  ],
];

test('every kind the schema lists has a notifier', () => {
  expect(Object.keys(NOTIFIERS).sort()).toEqual([...NotifierKindSchema.options].sort());
});

describe.each(Object.values(NOTIFIERS).map((n) => [n.kind, n] as const))('the %s notifier', (_kind, notifier) => {
  test.each(EVENTS)('%s: a JSON POST to the target, identical on every attempt, no secrets in it', (_what, e) => {
    const first = notifier.request(e, TARGET, { idempotencyKey: e.id, attempt: 1, now: Date.parse(e.at) });
    const later = notifier.request(e, TARGET, { idempotencyKey: e.id, attempt: 4, now: Date.parse(e.at) + 60_000 });
    expect(first.url).toBe(TARGET.url);
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.headers['idempotency-key']).toBe(e.id);
    expect(later.body).toBe(first.body);
    expect(() => JSON.parse(first.body) as unknown).not.toThrow();
    expect(first.body).not.toContain(TARGET.secret);
    expect(first.body).not.toContain('secret-path');
  });

  test('carries the link to the job when there is one', () => {
    const e = event();
    expect(notifier.request(e, TARGET, { idempotencyKey: e.id, attempt: 1, now: 0 }).body).toContain(e.link);
  });
});

describe('webhook', () => {
  const webhook = NOTIFIERS.webhook;

  test('the body is the event; the signature is HMAC-SHA256 of "<timestamp>.<body>" with the secret', () => {
    const e = failed();
    const now = Date.parse('2026-05-01T10:00:05.250Z');
    const req = webhook.request(e, TARGET, { idempotencyKey: e.id, attempt: 2, now });
    expect(JobEndEventSchema.parse(JSON.parse(req.body))).toEqual(e);
    const timestamp = req.headers['x-cellpipe-timestamp'];
    expect(timestamp).toBe(String(Math.floor(now / 1000)));
    const expected = createHmac('sha256', TARGET.secret).update(`${timestamp}.${req.body}`).digest('hex');
    expect(req.headers['x-cellpipe-signature']).toBe(`sha256=${expected}`);
    expect(signature('another-secret-000000', timestamp!, req.body)).not.toBe(req.headers['x-cellpipe-signature']);
    expect(req.headers['x-cellpipe-delivery']).toBe(e.id);
    expect(req.headers['x-cellpipe-event']).toBe('job.finished');
  });

  test('a target without a secret sends no signature', () => {
    const e = event();
    const { secret: _s, ...unsigned } = TARGET;
    expect(webhook.request(e, unsigned, { idempotencyKey: e.id, attempt: 1, now: 0 }).headers).not.toHaveProperty(
      'x-cellpipe-signature',
    );
  });
});

describe('slack', () => {
  test.each(EVENTS)("%s: within Block Kit's documented limits", (_what, e) => {
    const body = JSON.parse(
      NOTIFIERS.slack.request(e, TARGET, { idempotencyKey: e.id, attempt: 1, now: 0 }).body,
    ) as unknown;
    const parsed = SlackWebhookMessageSchema.safeParse(body);
    expect(parsed.error?.issues).toBeUndefined();
  });

  test.each<[string, (m: { text: string; blocks: Record<string, unknown>[] }) => void]>([
    ['a header of 151 characters', (m) => void ((m.blocks[0]!.text as { text: string }).text = 'h'.repeat(151))],
    [
      'a section of 11 fields',
      (m) => void (m.blocks[1]!.fields = Array.from({ length: 11 }, () => ({ type: 'mrkdwn', text: 'f' }))),
    ],
    ['a section without text or fields', (m) => void m.blocks.push({ type: 'section' })],
    ['51 blocks', (m) => void m.blocks.push(...Array.from({ length: 51 }, () => ({ type: 'divider' })))],
    ['an empty text', (m) => void (m.text = '')],
    ['mrkdwn in a header', (m) => void ((m.blocks[0]!.text as { type: string }).type = 'mrkdwn')],
  ])('the Block Kit schema refuses %s', (_what, spoil) => {
    const message = structuredClone(slackMessage(failed()));
    expect(SlackWebhookMessageSchema.safeParse(message).success).toBe(true);
    spoil(message);
    expect(SlackWebhookMessageSchema.safeParse(message).success).toBe(false);
  });

  test('outcome, duration, the failing task with its error and cell (escaped), results and the link', () => {
    const message = slackMessage(failed());
    expect(message.text).toBe('Cellpipe: train failed');
    expect(message.blocks).toEqual([
      { type: 'header', text: { type: 'plain_text', text: '❌ train failed', emoji: true } },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: '*Outcome*\n❌ failed' },
          { type: 'mrkdwn', text: '*Duration*\n59 min 59 s' },
          { type: 'mrkdwn', text: '*Pipeline*\ntrain v3' },
          { type: 'mrkdwn', text: '*Owner*\nalice' },
          { type: 'mrkdwn', text: '*Tasks*\n1 of 3 succeeded' },
        ],
      },
      {
        type: 'section',
        text: { type: 'mrkdwn', text: '*Failed task:* `fit` (cell 7)\n```ValueError: bad &lt;input&gt; &amp; more```' },
      },
      { type: 'section', text: { type: 'mrkdwn', text: '*Results*' } },
      {
        type: 'section',
        fields: [
          { type: 'mrkdwn', text: '*fit.accuracy*\n0.93' },
          { type: 'mrkdwn', text: '*fit.loss*\n0.12' },
        ],
      },
      {
        type: 'actions',
        elements: [
          {
            type: 'button',
            text: { type: 'plain_text', text: 'Open in JupyterLab' },
            url: 'https://hub.example.org/hub/user-redirect/lab?cellpipe-job=k1abcdefgh',
            action_id: 'cellpipe-open-job',
          },
        ],
      },
      { type: 'context', elements: [{ type: 'mrkdwn', text: 'Cellpipe job `k1abcdefgh`' }] },
    ]);
  });

  test('more than ten results: ten fields and a count of the rest', () => {
    const results = { t: Object.fromEntries(Array.from({ length: 13 }, (_, i) => [`m${i}`, i])) };
    const blocks = slackMessage(event({ results })).blocks;
    const fields = blocks.find(
      (b) => Array.isArray(b.fields) && (b.fields as { text: string }[])[0]!.text.startsWith('*t.'),
    );
    expect((fields!.fields as unknown[]).length).toBe(10);
    expect(blocks).toContainEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: 'and 3 more in the job view' }],
    });
  });

  test.each([
    ['short', 10, 'short'],
    ['a'.repeat(12), 10, `${'a'.repeat(9)}…`],
    ['🚀🚀🚀🚀🚀🚀', 7, '🚀🚀🚀…'],
  ])('cut(%j, %d) = %j (UTF-16 units, whole characters)', (text, max, expected) => {
    expect(cut(text, max)).toBe(expected);
    expect(cut(text, max).length).toBeLessThanOrEqual(max);
  });

  test('escapes what mrkdwn would read as markup', () => {
    expect(escapeMrkdwn('<!channel> & <https://x|y>')).toBe('&lt;!channel&gt; &amp; &lt;https://x|y&gt;');
  });
});
