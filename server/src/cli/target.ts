/**
 * Which server a CLI command talks to:
 *   1. --url / CELLPIPE_URL (token from --token / CELLPIPE_TOKEN, else the home token);
 *   2. a live server recorded in $CELLPIPE_HOME/server.json;
 *   3. with --detach: a `cellpipe serve` daemon started now in the background;
 *   4. otherwise an embedded server in this process on 127.0.0.1:<random port>, for the command's duration.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readHomeToken } from '../auth/home-token.js';
import { CellpipeClient } from '../client/api-client.js';
import { pidAlive, readServerFile } from '../client/server-file.js';
import { defaultHome, loadConfig } from '../config.js';
import { JobLayout } from '../jobs/layout.js';
import { startServer, type RunningServer } from '../main.js';
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

export async function resolveTarget(
  flags: TargetFlags,
  options: { detach?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<Target> {
  const env = options.env ?? process.env;
  const url = flags.url ?? (env.CELLPIPE_URL || undefined);
  const home = homeOf(flags, env);
  const nothing = async () => undefined;
  if (url) {
    const client = new CellpipeClient({ url, token: localToken(flags, env, home) });
    return { client, kind: 'remote', home, close: nothing };
  }
  const info = readServerFile(home);
  if (info && pidAlive(info.pid) && (await healthy(info.url))) {
    const client = new CellpipeClient({ url: info.url, token: localToken(flags, env, home) });
    return { client, kind: 'local', home, layout: new JobLayout(home), close: nothing };
  }
  if (options.detach) {
    const daemonUrl = await spawnDaemon(home, env);
    const client = new CellpipeClient({ url: daemonUrl, token: localToken(flags, env, home) });
    return { client, kind: 'daemon', home, layout: new JobLayout(home), close: nothing };
  }
  const config = loadConfig({ flags: { home, host: '127.0.0.1', port: 0 }, env });
  const server = await startServer(config, { embedded: true });
  const client = new CellpipeClient({
    url: server.url,
    token: flags.token ?? server.token ?? localToken(flags, env, home),
  });
  return { client, kind: 'embedded', home, layout: new JobLayout(home), embedded: server, close: () => server.close() };
}
