/**
 * A notification survives a crash of the server: `cellpipe serve` (server/dist, built by `npm run
 * build`) delivers a job's end to an endpoint that is down, is SIGKILLed while the delivery waits for
 * its next try, and is started again on the same home once the endpoint is up: the receiver gets the
 * notification exactly once. Real parts throughout: the CLI process, its SQLite file, python3 tasks,
 * a real HTTP receiver.
 *
 * @slow (npm test runs it; npm run test:fast leaves it out)
 */
import { jest } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isTerminalJobState, JobEndEventSchema, type Delivery } from '@cellpipe/schema';
import { cliJs, kill, serve } from './serve-fixtures.js';
import { request, until } from './jobs-fixtures.js';
import { startReceiver, type Receiver } from './receiver.js';

jest.setTimeout(180_000);

let home: string;
let server: ChildProcess | undefined;
let receiver: Receiver | undefined;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'cellpipe-notify-restart-'));
  // Retried every second or two; local receivers are allowed.
  writeFileSync(
    join(home, 'config.yaml'),
    [
      'labUrl: http://lab.example.org:8888',
      'notifications:',
      '  privateNetworks: all',
      '  firstRetry: 1s',
      '  maxRetryDelay: 2s',
      '  timeout: 5s',
      '',
    ].join('\n'),
  );
});
afterEach(async () => {
  if (server && server.exitCode === null && server.signalCode === null) await kill(server, 'SIGTERM');
  await receiver?.close();
  rmSync(home, { recursive: true, force: true });
});

async function poll<T>(get: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  let value = await get();
  const deadline = Date.now() + 90_000;
  while (!ok(value)) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
    value = await get();
  }
  return value;
}

test('kill -9 while a delivery to a dead endpoint waits: delivered once after the restart', async () => {
  expect(existsSync(cliJs)).toBe(true);
  // A port nothing listens on (yet).
  const probe = await startReceiver();
  const port = probe.port;
  await probe.close();

  let { child, client } = await serve(home);
  server = child;
  const target = await client.createTarget({ name: 'ops', kind: 'webhook', url: `http://127.0.0.1:${port}/hook` });
  const submitted = await client.submit({
    ...request([{ name: 'a', code: 'import cellpipe\ncellpipe.report(ok=True)' }]),
    notify: [{ on: 'always', targets: ['ops'] }],
  });
  const job = await poll(
    () => client.getJob(submitted.id),
    (j) => isTerminalJobState(j.state),
    'the job',
  );
  expect(job.state).toBe('succeeded');
  const failedOnce = await poll(
    () => client.deliveries(job.id),
    (d) => (d.items[0]?.attempts.length ?? 0) >= 1,
    'a first attempt',
  );
  expect(failedOnce.items[0]).toMatchObject({ state: 'pending', target: 'ops' });
  expect(failedOnce.items[0]!.attempts[0]!.error).toMatch(/ECONNREFUSED/);

  await kill(child, 'SIGKILL');
  receiver = await startReceiver(port);
  ({ child, client } = await serve(home));
  server = child;

  const [got] = await receiver.waitFor(1, 90_000);
  const event = JobEndEventSchema.parse(JSON.parse(got!.body));
  expect(event).toMatchObject({
    id: `${job.id}.ops`,
    job: { id: job.id, state: 'succeeded' },
    results: { a: { ok: true } },
  });
  expect(event.link).toBe(`http://lab.example.org:8888/lab?cellpipe-job=${job.id}`);
  expect(got!.headers['idempotency-key']).toBe(`${job.id}.ops`);
  expect(target.secret).toBeDefined();

  const delivered = await poll(
    () => client.deliveries(job.id),
    (d) => d.items[0]?.state === 'delivered',
    'the delivered state',
  );
  const d: Delivery = delivered.items[0]!;
  expect(d.attempts.at(-1)).toMatchObject({ statusCode: 200 });
  expect(d.attempts.slice(0, -1).every((a) => a.statusCode === undefined && /ECONNREFUSED/.test(a.error ?? ''))).toBe(
    true,
  );
  // Delivered means never tried again: still one request once the retry interval has passed.
  await until(() => Date.now() - got!.at > 2500, 'the retry interval');
  expect(receiver.received).toHaveLength(1);
});
