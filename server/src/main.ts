/**
 * Composes a server: the executor (from the registry), the engine (engine.ts) and the HTTP app, bound
 * to one CELLPIPE_HOME.
 * `cellpipe serve` and the embedded server of `cellpipe run` both start here.
 */
import { chmodSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AuthConfigError, createAuthenticator } from './auth/registry.js';
import { Teams } from './auth/teams.js';
import { readServerFile, removeServerFile, pidAlive, writeServerFile } from './client/server-file.js';
import { ConfigError, ServerConfigSchema, type ServerConfigInput } from './config.js';
import { createJobService, type EngineOptions } from './engine.js';
import { GpuLimits } from './gpu/fair-share.js';
import { defaultRunnerPath } from './executors/local/local-executor.js';
import { createExecutor } from './executors/registry.js';
import { Access } from './http/access.js';
import { createApp } from './http/app.js';
import { serverVersion } from './http/version.js';
import type { JobService } from './jobs/job-service.js';
import { createScheduling, type Scheduling } from './scheduling.js';
import { SqliteAuditLog } from './store/audit-store.js';
import { JobLayout } from './store/layout.js';
import { SqlitePipelineStore } from './store/pipeline-store.js';
import { SqliteStore } from './store/sqlite-store.js';
import { SqliteNotificationStore } from './store/notification-store.js';
import { NotificationService } from './notifications/notification-service.js';
import { jobLink } from './links.js';
import { parseDuration } from '@cellpipe/schema';
import { SqliteUserDirectory } from './store/user-directory.js';

const DAY_MS = 24 * 3600 * 1000;

export interface StartServerOptions {
  /** Marks server.json as belonging to a `cellpipe run` for its own duration. */
  embedded?: boolean;
  /** SSE heartbeat interval (tests shorten it). */
  heartbeatMs?: number;
  /** Engine tuning (tests shorten the retry backoff). */
  engine?: Pick<EngineOptions, 'retryBackoffMs'> & { runnerPath?: string };
  logError?: (message: string, err: unknown) => void;
}

export interface RunningServer {
  url: string;
  host: string;
  port: number;
  home: string;
  /** The home token (the OS user's admin token), when enabled. */
  token?: string;
  service: JobService;
  /** Saved pipelines, schedules and the scheduler. */
  scheduling: Scheduling;
  /** Notification targets and the delivery of job ends. */
  notifications: NotificationService;
  close(): Promise<void>;
}

export class HomeLockedError extends Error {
  constructor(
    readonly home: string,
    readonly pid: number,
  ) {
    super(`another cellpipe server (pid ${pid}) is using ${home}`);
    this.name = 'HomeLockedError';
  }
}

const heldLocks = new Set<string>();

/**
 * After a reboot a stale lock's pid may belong to an unrelated process; where /proc tells what a
 * process runs, only a Node.js process can be a Cellpipe server.
 */
function mayBeServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('node');
  } catch {
    return true;
  }
}

/**
 * One server per home: `server.lock` is created exclusively and names its pid; a lock whose pid is
 * dead is left over from a crash and is taken over.
 */
export function acquireHomeLock(home: string): () => void {
  const path = join(home, 'server.lock');
  if (heldLocks.has(path)) throw new HomeLockedError(home, process.pid);
  for (let tries = 0; ; tries++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      heldLocks.add(path);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        heldLocks.delete(path);
        rmSync(path, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || tries > 2) throw err;
    }
    let pid = NaN;
    try {
      pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    } catch {
      // Vanished between open and read: try again.
    }
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid) && mayBeServer(pid)) {
      throw new HomeLockedError(home, pid);
    }
    rmSync(path, { force: true });
  }
}

function urlHost(host: string): string {
  // A wildcard bind is reached locally through loopback.
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

export async function startServer(input: ServerConfigInput, options: StartServerOptions = {}): Promise<RunningServer> {
  const config = ServerConfigSchema.parse(input);
  mkdirSync(config.home, { recursive: true, mode: 0o700 });
  // Readable by the server only, also when the folder was made beforehand: it holds the database
  // (every user's code and parameters) and the admin token.
  chmodSync(config.home, 0o700);
  const release = acquireHomeLock(config.home);
  const cleanups: (() => Promise<void> | void)[] = [release];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        (options.logError ?? console.error)('cellpipe: error while stopping', err);
      }
    }
  };
  try {
    let built: ReturnType<typeof createAuthenticator>;
    try {
      built = createAuthenticator(config);
    } catch (err) {
      if (err instanceof AuthConfigError) throw new ConfigError(err.message);
      throw err;
    }
    const { authenticator, token } = built;
    const executor = await createExecutor(config.executor, {
      config,
      runnerPath: options.engine?.runnerPath ?? defaultRunnerPath(),
      warn: (message) => console.warn(`cellpipe: ${message}`),
    });
    // Jobs, saved pipelines and schedules share one database: a schedule's fire and its job commit together.
    const store = new SqliteStore(new JobLayout(config.home).dbPath);
    const pipelineStore = new SqlitePipelineStore(store.db);
    const n = config.notifications;
    const notifications = new NotificationService({
      store: new SqliteNotificationStore(store.db),
      ...(config.labUrl ? { labUrl: config.labUrl } : {}),
      retry: {
        firstDelayMs: parseDuration(n.firstRetry),
        maxDelayMs: parseDuration(n.maxRetryDelay),
        giveUpAfterMs: parseDuration(n.giveUpAfter),
      },
      timeoutMs: parseDuration(n.timeout),
      privateNetworks: n.privateNetworks,
      ...(options.logError ? { log: options.logError } : {}),
    });
    const checkNotify: NonNullable<EngineOptions['checkNotify']> = (owner, rules, path) =>
      notifications.check(owner, rules, path);
    const directory = new SqliteUserDirectory(store.db);
    const teams = new Teams(config.teams, directory);
    const audit = new SqliteAuditLog(store.db);
    const engineOptions: EngineOptions = {
      home: config.home,
      executor,
      store,
      versions: pipelineStore,
      // The outbox row of each notification is written in the transaction that ends its job.
      onJobEnd: (job, tasks) => notifications.jobEnded(job, tasks),
      checkNotify,
      teamOf: (owner) => teams.primaryOfUser(owner),
    };
    if (config.jobsDir) engineOptions.jobsDir = config.jobsDir;
    if (config.maxParallelPerUser !== undefined) engineOptions.maxParallelPerUser = config.maxParallelPerUser;
    if (config.gpuLimits) engineOptions.gpuLimits = new GpuLimits(config.gpuLimits);
    engineOptions.limits = config.limits;
    if (options.engine?.retryBackoffMs !== undefined) engineOptions.retryBackoffMs = options.engine.retryBackoffMs;
    let service: JobService;
    try {
      service = createJobService(engineOptions);
    } catch (err) {
      await executor.close();
      throw err;
    }
    cleanups.push(() => service.close());
    await service.start();
    const scheduling = createScheduling({ store, pipelineStore, jobs: service, log: options.logError, checkNotify });
    cleanups.push(() => scheduling.close());
    await scheduling.start();
    notifications.start();
    cleanups.push(() => notifications.close());

    const pruneAudit = () => audit.prune(new Date(Date.now() - config.auditRetentionDays * DAY_MS).toISOString());
    pruneAudit();
    const pruning = setInterval(pruneAudit, DAY_MS);
    pruning.unref();
    cleanups.push(() => clearInterval(pruning));

    const shutdown = new AbortController();
    const app = createApp({
      service,
      pipelines: scheduling.pipelines,
      schedules: scheduling.schedules,
      taskData: { store, layout: service.layout, limits: config.limits },
      notifications,
      ...(config.labUrl ? { jobLink: (id: string) => jobLink(config.labUrl!, id) } : {}),
      authenticator,
      access: new Access(teams),
      inventoryHolders: config.inventoryHolders,
      audit,
      onPrincipal: (p) => directory.record(p),
      basePath: config.basePath,
      ...(config.auth === 'jupyterhub'
        ? { labUrl: `${(config.jupyterhub?.baseUrl ?? '/').replace(/\/*$/, '/')}hub/user-redirect/lab` }
        : {}),
      bodyLimit: config.bodyLimit,
      heartbeatMs: options.heartbeatMs,
      shutdown: shutdown.signal,
      logError: options.logError,
    });
    const server = createServer(app);
    const address = await listen(server, config.host, config.port);
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          shutdown.abort();
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    );
    const url = `http://${urlHost(config.host)}:${address.port}${config.basePath === '/' ? '' : config.basePath}`;
    writeServerFile(config.home, {
      url,
      pid: process.pid,
      version: serverVersion(),
      executor: service.executorName,
      startedAt: new Date().toISOString(),
      ...(options.embedded ? { embedded: true } : {}),
    });
    cleanups.push(() => removeServerFile(config.home));

    let closing: Promise<void> | undefined;
    return {
      url,
      host: config.host,
      port: address.port,
      home: config.home,
      token,
      service,
      scheduling,
      notifications,
      close: () => (closing ??= cleanup()),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** A live server of this home, from its server.json (stale files of dead processes are ignored). */
export function liveServer(home: string): { url: string; pid: number } | undefined {
  const info = readServerFile(home);
  if (!info || !pidAlive(info.pid)) return undefined;
  return { url: info.url, pid: info.pid };
}
