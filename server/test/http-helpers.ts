/** A real app (real JobService, SQLite file, python3 tasks) behind token auth, for the HTTP tests. */
import { mkdtempSync } from 'node:fs';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenAuthenticator } from '../src/auth/token-authenticator.js';
import { createApp, type AppOptions, type CellpipeApp } from '../src/http/app.js';
import type { JobService } from '../src/jobs/job-service.js';
import { startService, type ServiceOptions } from './jobs-fixtures.js';
import { createScheduling, type Scheduling } from '../src/scheduling.js';
import { SqlitePipelineStore } from '../src/store/pipeline-store.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { SqliteNotificationStore } from '../src/store/notification-store.js';
import { NotificationService, type NotificationOptions } from '../src/notifications/notification-service.js';

export const TOKENS = { alice: 'alice-token-0001', bob: 'bob-token-00002', root: 'root-token-0003' };
export const auth = (who: keyof typeof TOKENS) => ({ Authorization: `Bearer ${TOKENS[who]}` });

export interface TestApp {
  home: string;
  service: JobService;
  scheduling: Scheduling;
  notifications: NotificationService;
  app: CellpipeApp;
  shutdown: AbortController;
  cleanup(): Promise<void>;
}

/** Notifications as tests use them: retried after 50 ms, any address reachable (test receivers are local). */
export const TEST_NOTIFICATIONS: Omit<NotificationOptions, 'store'> = {
  retry: { firstDelayMs: 50, maxDelayMs: 400, giveUpAfterMs: 60_000 },
  timeoutMs: 5000,
  privateNetworks: 'all',
  log: () => undefined,
};

export async function startApp(
  options: Partial<AppOptions> = {},
  serviceOptions: ServiceOptions = {},
  notificationOptions: Partial<Omit<NotificationOptions, 'store'>> = {},
): Promise<TestApp> {
  // Jobs, saved pipelines, schedules and notifications in one database, as the server has them.
  const home = serviceOptions.home ?? mkdtempSync(join(tmpdir(), 'cellpipe-http-'));
  const store = new SqliteStore(join(home, 'cellpipe.db'));
  const pipelineStore = new SqlitePipelineStore(store.db);
  const notifications = new NotificationService({
    ...TEST_NOTIFICATIONS,
    ...notificationOptions,
    store: new SqliteNotificationStore(store.db),
  });
  const checkNotify = notifications.check.bind(notifications);
  const { service, cleanup } = await startService({
    ...serviceOptions,
    home,
    store,
    versions: pipelineStore,
    onJobEnd: (job, tasks) => notifications.jobEnded(job, tasks),
    checkNotify,
  });
  const scheduling = createScheduling({ store, pipelineStore, jobs: service, log: () => undefined, checkNotify });
  await scheduling.start();
  notifications.start();
  const authenticator = new TokenAuthenticator([
    { token: TOKENS.alice, user: 'alice', admin: false },
    { token: TOKENS.bob, user: 'bob', admin: false },
    { token: TOKENS.root, user: 'root', admin: true },
  ]);
  const shutdown = new AbortController();
  const app = createApp({
    service,
    pipelines: scheduling.pipelines,
    schedules: scheduling.schedules,
    notifications,
    authenticator,
    taskData: { store, layout: service.layout, limits: service.limits },
    shutdown: shutdown.signal,
    logError: () => undefined,
    ...options,
  });
  return {
    home,
    service,
    scheduling,
    notifications,
    app,
    shutdown,
    async cleanup() {
      shutdown.abort();
      await notifications.close();
      await scheduling.close();
      await cleanup();
    },
  };
}

/** Listen on a free loopback port (for streaming tests supertest cannot read incrementally). */
export async function listen(app: CellpipeApp): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer(app);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

export interface SseEvent {
  event: string;
  data: unknown;
}

/** An open SSE stream collecting events; `comments` counts `:` lines (heartbeats). */
export class SseStream {
  readonly events: SseEvent[] = [];
  comments = 0;
  status = 0;
  private res?: IncomingMessage;
  private buffer = '';
  private waiters: (() => void)[] = [];
  readonly ready: Promise<void>;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.ready = new Promise((resolve, reject) => {
      const req = get(url, { headers }, (res) => {
        this.res = res;
        this.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => this.feed(chunk));
        resolve();
      });
      req.on('error', reject);
    });
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) this.comments += 1;
        else if (line.startsWith('event: ')) event = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length) this.events.push({ event, data: JSON.parse(data.join('\n')) });
    }
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once `check` holds (re-checked on each chunk); bounded so a bug fails instead of hanging. */
  async until(check: () => boolean, what: string, limitMs = 30_000): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  close(): void {
    this.res?.destroy();
  }
}
