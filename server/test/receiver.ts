/** A real HTTP server standing in for a webhook or Slack receiver: it records every request it gets. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** The status each next request gets (default 200). */
  answer: (req: Received) => { status: number; body?: string; headers?: Record<string, string> };
  /** Resolves once `n` requests have arrived (bounded: a missing delivery fails the test, not hangs it). */
  waitFor(n: number, limitMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

/** Listens on `port` (default: any free one) on loopback. */
export async function startReceiver(port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const receiver: Receiver = {
    url: '',
    port: 0,
    received,
    answer: () => ({ status: 200, body: 'ok' }),
    waitFor(n, limitMs = 60_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${received.length} of ${n} requests arrived`)), limitMs);
        const check = (): void => {
          if (received.length < n) return;
          clearTimeout(timer);
          resolve(received.slice());
        };
        waiters.push(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry: Received = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      };
      received.push(entry);
      const a = receiver.answer(entry);
      res.writeHead(a.status, { 'content-type': 'text/plain', ...a.headers });
      res.end(a.body ?? '');
      for (const w of waiters) w();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  receiver.port = (server.address() as AddressInfo).port;
  receiver.url = `http://127.0.0.1:${receiver.port}`;
  return receiver;
}
