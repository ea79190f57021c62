/**
 * Streams that cannot hold the server's memory, proven with real sockets that stop reading: a log
 * download waits for its reader (the server stops reading the file), each user may only have so many
 * log streams open, and an event stream that falls too far behind is dropped.
 *
 * @slow (npm test runs it; npm run test:fast leaves it out)
 */
import { jest } from '@jest/globals';
import { writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import type { JobSummary } from '@cellpipe/schema';
import type { ReadLogsOptions } from '../src/jobs/job-service.js';
import { request as pipelineRequest, waitForJob } from './jobs-fixtures.js';
import { auth, listen, SseStream, startApp, TOKENS, type TestApp } from './http-helpers.js';

jest.setTimeout(120_000);

const MiB = 1024 * 1024;
let t: TestApp;
let server: Awaited<ReturnType<typeof listen>>;
const warnings: string[] = [];
/** Bytes the server has read from log files for responses so far. */
let logBytesRead = 0;
let jobId: string;

beforeAll(async () => {
  t = await startApp(
    { heartbeatMs: 200, logWarn: (m) => warnings.push(m) },
    { limits: { logStreamsPerUser: 3, eventBufferBytes: 64 * 1024 } },
  );
  // Count what the log route pulls out of the service.
  const readLogs = t.service.readLogs.bind(t.service);
  t.service.readLogs = async function* (id: string, task: string, options?: ReadLogsOptions) {
    for await (const chunk of readLogs(id, task, options)) {
      logBytesRead += Buffer.byteLength(chunk);
      yield chunk;
    }
  };
  server = await listen(t.app);
  const job = await t.service.submit('alice', pipelineRequest([{ name: 'big', code: 'pass' }]));
  await waitForJob(t.service, job.id);
  jobId = job.id;
  // A 64 MiB log, as a chatty task leaves one.
  writeFileSync(t.service.logPath(jobId, 'big', 1), 'x'.repeat(64 * MiB));
});
afterAll(async () => {
  await server.close();
  await t.cleanup();
});

/** A raw HTTP GET whose response is never read (the socket is paused: the kernel's buffers fill up). */
function stalledGet(path: string, token: string): Promise<Socket> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${token}\r\n\r\n`);
      socket.pause();
      resolve(socket);
    });
    socket.on('error', reject);
  });
}

/** Resumes a paused socket and reads it to its end; resolves with everything it received. */
function drain(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (text += d));
    socket.on('close', () => resolve(text));
    socket.resume();
  });
}

/** Resolves once `read()` has not changed for `quietMs` (the server stopped making progress). */
async function settled(read: () => number, quietMs = 1000, limitMs = 30_000): Promise<number> {
  const deadline = Date.now() + limitMs;
  let last = read();
  let since = Date.now();
  while (Date.now() - since < quietMs) {
    if (Date.now() > deadline) throw new Error('the server never stopped reading');
    await new Promise((r) => setTimeout(r, 100));
    const now = read();
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
  return last;
}

test('a log download to a reader that stops reading stops reading the file; the reader gets it all later', async () => {
  logBytesRead = 0;
  const path = `/api/jobs/${jobId}/tasks/big/logs`;
  const sockets = await Promise.all([1, 2, 3].map(() => stalledGet(path, TOKENS.alice)));
  const read = await settled(() => logBytesRead);
  // Each connection holds what the kernel's socket buffers take plus about one chunk, not the log.
  expect(read).toBeLessThan(3 * 24 * MiB);
  expect(read).toBeGreaterThan(0);
  const texts = await Promise.all(sockets.map(drain));
  for (const text of texts) {
    expect(text.startsWith('HTTP/1.1 200')).toBe(true);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    expect(body.split('x').length - 1).toBe(64 * MiB);
  }
});

test('log streams per user are limited (429); other users are not affected; a closed stream frees its slot', async () => {
  const path = `/api/jobs/${jobId}/tasks/big/logs?follow=1`;
  const open = await Promise.all([1, 2, 3].map(() => stalledGet(path, TOKENS.alice)));
  // Wait until the server counts all three (their first bytes were sent).
  await settled(() => logBytesRead);
  const fourth = await fetch(`${server.url}${path}`, { headers: auth('alice') });
  expect(fourth.status).toBe(429);
  expect(await fourth.json()).toEqual({
    error: {
      code: 'too_many_streams',
      message:
        'you have 3 log streams open, the most one user may have (limits.logStreamsPerUser); close one and retry',
    },
  });
  // An admin reading alice's logs uses the admin's own slots.
  const asRoot = await fetch(`${server.url}/api/jobs/${jobId}/tasks/big/logs`, { headers: auth('root') });
  expect(asRoot.status).toBe(200);
  await asRoot.body?.cancel();

  open[0]!.destroy();
  let again: Response | undefined;
  for (let i = 0; i < 50 && again?.status !== 200; i++) {
    await again?.body?.cancel();
    await new Promise((r) => setTimeout(r, 100));
    again = await fetch(`${server.url}/api/jobs/${jobId}/tasks/big/logs`, { headers: auth('alice') });
  }
  expect(again?.status).toBe(200);
  await again?.body?.cancel();
  for (const s of open) s.destroy();
});

test('an event stream whose reader falls behind is dropped; a reader that keeps up gets every event', async () => {
  const before = t.service.events.listenerCount('job');
  const stalled = await stalledGet('/api/events', TOKENS.root);
  const reading = new SseStream(`${server.url}/api/events`, auth('root'));
  await reading.ready;
  await new Promise<void>((resolve) => {
    const check = () => (t.service.events.listenerCount('job') === before + 2 ? resolve() : setTimeout(check, 20));
    check();
  });
  warnings.length = 0;

  // 20 MiB of job events, in bursts of 20: far more than the socket buffers and the 64 KiB limit.
  const summary: JobSummary = {
    ...(t.service.list({ limit: 1 }).items[0] as JobSummary),
    name: 'n'.repeat(10 * 1024),
  };
  for (let i = 0; i < 2000; i++) {
    t.service.events.emit('job', { ...summary, error: `event ${i}` });
    if (i % 20 === 19) await new Promise((r) => setImmediate(r));
  }
  await reading.until(() => reading.events.length >= 2000, 'the reading client to get every event');
  expect(reading.events.map((e) => (e.data as JobSummary).error)).toEqual(
    Array.from({ length: 2000 }, (_, i) => `event ${i}`),
  );
  // The stalled one is gone (its listeners removed, its socket closed); the reading one stays.
  await new Promise<void>((resolve) => {
    const check = () => (t.service.events.listenerCount('job') === before + 1 ? resolve() : setTimeout(check, 50));
    check();
  });
  expect(warnings).toEqual([expect.stringMatching(/^cellpipe: dropped the event stream of root: \d+ bytes unsent/)]);
  const received = await drain(stalled);
  expect(received.startsWith('HTTP/1.1 200')).toBe(true);
  reading.close();
});
