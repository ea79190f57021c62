/**
 * Which server a CLI command talks to:
 *   1. --url / CELLPIPE_URL (token from --token / CELLPIPE_TOKEN, else under JupyterHub the
 *      server's JUPYTERHUB_API_TOKEN, else the home token);
 *   2. inside a JupyterHub single-user server: the Hub's Cellpipe service (client/hub-discovery.ts),
 *      with the server's own Hub token;
 *   3. a live server recorded in $CELLPIPE_HOME/server.json;
 *   4. with --detach: a `cellpipe serve` daemon started now in the background;
 *   5. otherwise an embedded server in this process on 127.0.0.1:<random port>, for the command's duration.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readHomeToken } from '../auth/home-token.js';
import { CellpipeClient } from '../client/api-client.js';
import { discoverHubService } from '../client/hub-discovery.js';
import { pidAlive, readServerFile } from '../client/server-file.js';
import { defaultHome, loadConfig } from '../config.js';
import { serverStoreUrl } from '../executors/kubernetes/options.js';
import { JobLayout } from '../store/layout.js';
import { HomeLockedError, startServer, type RunningServer } from '../main.js';
import { CliError } from './errors.js';

export { CliError };

export interface TargetFlags {
  url?: string;
  token?: string;
  home?: string;
}

export interface Target {
  client: CellpipeClient;
  kind: 'remote' | 'local' | 'daemon' | 'embedded';
  home: string;
  /** Present when the server shares this machine's home: job files can be shown as paths. */
  layout?: JobLayout;
  embedded?: RunningServer;
  close(): Promise<void>;
  /** Local targets: connect again after the server went away (possibly becoming the server). */
  reconnect?: () => Promise<void>;
}

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3000) });
    return res.ok;
  } catch {
    return false;
  }
}

export function homeOf(flags: TargetFlags, env: NodeJS.ProcessEnv = process.env): string {
  return flags.home ? resolve(flags.home) : defaultHome(env);
}

function localToken(flags: TargetFlags, env: NodeJS.ProcessEnv, home: string): string | undefined {
  return flags.token ?? (env.CELLPIPE_TOKEN || undefined) ?? readHomeToken(home);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The bin script itself (dist/cli.js), to start a daemon with the same code. */
function cliScript(): string {
  return fileURLToPath(new URL('../cli.js', import.meta.url));
}

async function spawnDaemon(home: string, env: NodeJS.ProcessEnv): Promise<string> {
  const logPath = join(home, 'server.log');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const fd = openSync(logPath, 'a', 0o600);
  const child = spawn(process.execPath, [cliScript(), 'serve', '--home', home, '--port', '0'], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env,
  });
  closeSync(fd);
  const pid = child.pid;
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  child.unref();
  if (pid === undefined) throw new CliError('could not start the cellpipe server daemon');
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const info = readServerFile(home);
    if (info && info.pid === pid && (await healthy(info.url))) return info.url;
    if (exited !== undefined || !pidAlive(pid)) {
      let tail = '';
      try {
        tail = readFileSync(logPath, 'utf8').split('\n').slice(-10).join('\n');
      } catch {
        // no log
      }
      throw new CliError(`the cellpipe server daemon exited (code ${exited ?? '?'}); ${logPath}:\n${tail}`);
    }
    await sleep(100);
  }
  throw new CliError(`the cellpipe server daemon did not start within 60 s; see ${logPath}`);
}

interface Connection {
  client: CellpipeClient;
  kind: Target['kind'];
  embedded?: RunningServer;
}

/**
 * A server of this home: the live one in server.json, else a daemon (detach) or an embedded one. A
 * home locked by a server that is starting or stopping (no server.json yet, or no more) is waited for.
 */
async function connectLocal(
  flags: TargetFlags,
  env: NodeJS.ProcessEnv,
  home: string,
  detach: boolean,
): Promise<Connection> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const info = readServerFile(home);
    if (info && pidAlive(info.pid) && (await healthy(info.url))) {
      return { client: new CellpipeClient({ url: info.url, token: localToken(flags, env, home) }), kind: 'local' };
    }
    try {
      refuseUnreachableServer(home, env);
      if (detach) {
        const url = await spawnDaemon(home, env);
        return { client: new CellpipeClient({ url, token: localToken(flags, env, home) }), kind: 'daemon' };
      }
      const config = loadConfig({ flags: { home, host: '127.0.0.1', port: 0 }, env });
      const server = await startServer(config, { embedded: true });
      const token = flags.token ?? server.token ?? localToken(flags, env, home);
      return { client: new CellpipeClient({ url: server.url, token }), kind: 'embedded', embedded: server };
    } catch (e) {
      const locked =
        e instanceof HomeLockedError || (e instanceof CliError && /another cellpipe server/.test(e.message));
      if (!locked || Date.now() > deadline) throw e;
    }
    await sleep(200);
  }
}

/**
 * A server started for one command listens on loopback, where no pod reaches it: with the Kubernetes
 * executor's server data store its tasks could never hand over their data. Say what to do instead.
 */
function refuseUnreachableServer(home: string, env: NodeJS.ProcessEnv): void {
  let config;
  try {
    config = loadConfig({ flags: { home }, env });
  } catch {
    return; // starting the server reports a bad configuration
  }
  if (config.executor !== 'kubernetes') return;
  const url = serverStoreUrl(config.kubernetes);
  if (url === undefined) return;
  throw new CliError(
    `this home's Kubernetes executor passes task data through a server its pods reach${url ? ` at ${url}` : ''}: ` +
      `start that server with \`cellpipe serve\` (then \`cellpipe run\` uses it), or give the executor the volume data store`,
    2,
  );
}

/** The home's configured jobsDir, for printing local paths (the default when the config cannot be read). */
function configuredJobsDir(home: string, env: NodeJS.ProcessEnv): string | undefined {
  try {
    return loadConfig({ flags: { home }, env }).jobsDir;
  } catch {
    return undefined;
  }
}

export async function resolveTarget(
  flags: TargetFlags,
  options: { detach?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<Target> {
  const env = options.env ?? process.env;
  const url = flags.url ?? (env.CELLPIPE_URL || undefined);
  const home = homeOf(flags, env);
  if (url) {
    const token = flags.token ?? (env.CELLPIPE_TOKEN || env.JUPYTERHUB_API_TOKEN || undefined) ?? readHomeToken(home);
    const client = new CellpipeClient({ url, token });
    return { client, kind: 'remote', home, close: async () => undefined };
  }
  const { service } = await discoverHubService(env);
  if (service) {
    const client = new CellpipeClient({ url: service.url, token: flags.token ?? service.token });
    return { client, kind: 'remote', home, close: async () => undefined };
  }
  let conn = await connectLocal(flags, env, home, Boolean(options.detach));
  const target: Target = {
    client: conn.client,
    kind: conn.kind,
    home,
    layout: new JobLayout(home, configuredJobsDir(home, env)),
    embedded: conn.embedded,
    close: async () => {
      await conn.embedded?.close();
    },
    // The server went away (an embedded one of another command ended): take over, or find the next.
    reconnect: async () => {
      await conn.embedded?.close();
      conn = await connectLocal(flags, env, home, false);
      target.client = conn.client;
      target.kind = conn.kind;
      target.embedded = conn.embedded;
    },
  };
  return target;
}
