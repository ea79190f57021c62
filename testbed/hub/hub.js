// A real JupyterHub for tests: the Cellpipe server as its externally managed service, started
// first (the Hub waits for a service's URL), then the Hub, which starts configurable-http-proxy and,
// on request, each user's JupyterLab. Everything listens on 127.0.0.1 on free ports, and all state
// lives under `work`. The project venv (jupyterhub, jupyterlab, the extension) comes from
// scripts/python-env.sh and the proxy from scripts/hub-env.sh; both are cached.
//
// Cellpipe runs tasks on its local executor, each Hub user's as an OS account of their own
// (`local.runAs`, as a multi-user server must): the accounts are made here with useradd and removed
// by stop(). That needs root; hubSkipReason() says why a machine cannot run this.
//
//   const hub = await startHub({ root, work, users: { alice: ['cellpipe'] }, admins: ['admin'] });
//   await hub.spawn('alice'); const token = await hub.token('alice'); ...; await hub.stop();
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The interpreter tasks run with: one every OS account can start (a venv under /root is private). */
export const TASK_PYTHON = '/usr/bin/python3';

/** Why this machine cannot run a hub test (undefined when it can). */
export function hubSkipReason() {
  if (process.getuid?.() !== 0) return 'the tasks of Hub users run as OS accounts made with useradd, which needs root';
  if (spawnSync('useradd', ['--help']).error) return 'useradd is not installed';
  if (spawnSync(TASK_PYTHON, ['-c', 'pass']).status !== 0) return `${TASK_PYTHON} is missing`;
  return undefined;
}

/** OS accounts for the Hub users (useradd), named after a random tag; returns user -> account. */
function makeAccounts(work, users) {
  const tag = randomBytes(3).toString('hex');
  const accounts = {};
  for (const [i, user] of users.entries()) {
    const name = `cph${tag}${i}`;
    const r = spawnSync('useradd', ['-m', '-d', join(work, 'os-homes', name), '-s', '/bin/sh', name], {
      encoding: 'utf8',
    });
    if (r.status !== 0) {
      removeAccounts(accounts);
      throw new Error(`useradd ${name} failed: ${r.stderr.trim()}`);
    }
    accounts[user] = name;
  }
  return accounts;
}

function removeAccounts(accounts) {
  for (const name of Object.values(accounts)) spawnSync('userdel', [name]);
}

/** A port nothing listens on now (bind 0). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** The last line a setup script prints (its result), its progress going to the log. */
function scriptResult(root, script, env) {
  const out = execFileSync('bash', [join(root, 'scripts', script)], {
    cwd: root,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').pop();
}

async function waitFor(what, probe, { timeoutMs, proc, log }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc && proc.exitCode !== null)
      throw new Error(`${what}: the process exited (${proc.exitCode}); ${log}:\n${tail(log)}`);
    try {
      if (await probe()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs / 1000} s; ${log}:\n${tail(log)}`);
    await sleep(200);
  }
}

function startProcess(cmd, args, { env, cwd, log }) {
  const fd = openSync(log, 'a');
  // Its own process group, so stop() can end whatever it started.
  const child = spawn(cmd, args, { env, cwd, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  return child;
}

async function stopProcess(child, timeoutMs) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  let timer;
  const done = await Promise.race([
    exited.then(() => true),
    new Promise((r) => (timer = setTimeout(() => r(false), timeoutMs))),
  ]);
  clearTimeout(timer);
  if (!done) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    await exited;
  }
}

/**
 * @param {object} o
 * @param {string} o.root the repository
 * @param {string} o.work scratch folder (created; the caller removes it)
 * @param {Record<string, string[]>} o.users user -> Hub groups
 * @param {string[]} [o.admins] Hub admins
 * @param {object} [o.cellpipeConfig] extra Cellpipe server configuration (teams, inventoryHolders, ...)
 * @param {number} [o.cacheSeconds] Cellpipe's Hub answer cache (default 2, so revocation shows quickly)
 * @param {string[]} [o.spawnerArgs] extra jupyterhub-singleuser arguments
 * @param {Record<string,string>} [o.spawnerEnv] extra environment of the user servers
 */
export async function startHub(o) {
  const { root, work } = o;
  mkdirSync(join(work, 'cellpipe'), { recursive: true });
  mkdirSync(join(work, 'home'), { recursive: true });
  mkdirSync(join(work, 'os-homes'), { recursive: true });
  // The task accounts reach their job files under work/jobs.
  chmodSync(work, 0o711);
  chmodSync(join(work, 'os-homes'), 0o755);
  const baseEnv = { ...process.env };
  for (const k of Object.keys(baseEnv)) if (k.startsWith('CELLPIPE_') && k !== 'CELLPIPE_CACHE') delete baseEnv[k];
  for (const k of Object.keys(baseEnv)) if (k.startsWith('JUPYTERHUB_') || k.startsWith('JPY_')) delete baseEnv[k];
  const venv = o.venv ?? scriptResult(root, 'python-env.sh', baseEnv);
  const chp = scriptResult(root, 'hub-env.sh', baseEnv);
  const [proxyPort, proxyApiPort, hubPort, servicePort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const serviceToken = randomBytes(32).toString('hex');
  const adminToken = randomBytes(32).toString('hex');
  const password = randomBytes(8).toString('hex');
  const serviceName = 'cellpipe';
  const prefix = `/services/${serviceName}`;
  const proxyUrl = `http://127.0.0.1:${proxyPort}`;
  const hubApiUrl = `http://127.0.0.1:${hubPort}/hub/api`;
  const directServiceUrl = `http://127.0.0.1:${servicePort}${prefix}`;
  const logs = { cellpipe: join(work, 'cellpipe.log'), hub: join(work, 'hub.log') };

  const accounts = makeAccounts(work, [...Object.keys(o.users), ...(o.admins ?? [])]);
  const configFile = join(work, 'cellpipe.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      python: TASK_PYTHON,
      jobsDir: join(work, 'jobs'),
      local: { runAs: accounts },
      ...(o.cellpipeConfig ?? {}),
    }),
  );
  const cellpipe = startProcess(
    process.execPath,
    [
      join(root, 'server/dist/cli.js'),
      'serve',
      '--home',
      join(work, 'cellpipe'),
      '--port',
      String(servicePort),
      '--config',
      configFile,
    ],
    {
      cwd: work,
      log: logs.cellpipe,
      env: {
        ...baseEnv,
        CELLPIPE_AUTH: 'jupyterhub',
        CELLPIPE_HUB_CACHE_SECONDS: String(o.cacheSeconds ?? 2),
        JUPYTERHUB_API_URL: hubApiUrl,
        JUPYTERHUB_API_TOKEN: serviceToken,
        JUPYTERHUB_SERVICE_NAME: serviceName,
        ...(o.cellpipeEnv ?? {}),
      },
    },
  );
  let hub;
  const stop = async () => {
    await stopProcess(hub, 30_000);
    await stopProcess(cellpipe, 10_000);
    removeAccounts(accounts);
  };
  try {
    await waitFor('cellpipe', async () => (await fetch(`${directServiceUrl}/healthz`)).ok, {
      timeoutMs: 60_000,
      proc: cellpipe,
      log: logs.cellpipe,
    });
    hub = startProcess(join(venv, 'bin/jupyterhub'), ['-f', join(root, 'testbed/hub/jupyterhub_config.py')], {
      cwd: work,
      log: logs.hub,
      env: {
        ...baseEnv,
        PATH: `${join(venv, 'bin')}:${baseEnv.PATH}`,
        HUB_WORK: work,
        HUB_PROXY_PORT: String(proxyPort),
        HUB_PROXY_API_PORT: String(proxyApiPort),
        HUB_PORT: String(hubPort),
        HUB_CHP: chp,
        HUB_SINGLEUSER: join(venv, 'bin/jupyterhub-singleuser'),
        HUB_SERVICE_NAME: serviceName,
        HUB_SERVICE_URL: `http://127.0.0.1:${servicePort}`,
        HUB_SERVICE_TOKEN: serviceToken,
        HUB_ADMIN_TOKEN: adminToken,
        HUB_PASSWORD: password,
        HUB_USERS: JSON.stringify(o.users),
        HUB_ADMINS: JSON.stringify(o.admins ?? []),
        HUB_SPAWNER_ARGS: JSON.stringify(o.spawnerArgs ?? []),
        HUB_SPAWNER_ENV: JSON.stringify(o.spawnerEnv ?? {}),
      },
    });
    await waitFor('JupyterHub', async () => (await fetch(`${proxyUrl}/hub/api/`)).ok, {
      timeoutMs: 120_000,
      proc: hub,
      log: logs.hub,
    });
  } catch (err) {
    await stop();
    throw err;
  }

  /** The Hub API with the test-admin service's token. */
  async function api(method, path, body) {
    const res = await fetch(`${hubApiUrl}${path}`, {
      method,
      headers: { Authorization: `token ${adminToken}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`Hub API ${method} ${path}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  return {
    proxyUrl,
    hubApiUrl,
    /** The service as browsers and scripts reach it: through the Hub's proxy. */
    serviceUrl: `${proxyUrl}${prefix}`,
    directServiceUrl,
    serviceName,
    serviceToken,
    adminToken,
    password,
    venv,
    logs,
    accounts,
    api,
    /** A new Hub API token of `user` (default scopes: what the user holds). */
    async token(user, scopes) {
      const reply = await api('POST', `/users/${user}/tokens`, {
        note: 'cellpipe test',
        ...(scopes ? { scopes } : {}),
      });
      return reply.token;
    },
    /**
     * Start a user's JupyterLab and wait until the Hub says it is ready; returns the server's model.
     * A start the Hub gives up on (a busy machine can take the random port the Hub picked before
     * the server binds it) is tried again.
     */
    async spawn(user, timeoutMs = 300_000) {
      const deadline = Date.now() + timeoutMs;
      for (let attempt = 1; ; attempt++) {
        await fetch(`${hubApiUrl}/users/${user}/server`, {
          method: 'POST',
          headers: { Authorization: `token ${adminToken}` },
        });
        for (;;) {
          const model = await api('GET', `/users/${user}`);
          const server = model.servers?.[''];
          if (server?.ready) return server;
          // Neither starting nor started: this start failed.
          if (!server && !model.pending) break;
          if (Date.now() > deadline)
            throw new Error(
              `${user}'s server is not ready after ${timeoutMs / 1000} s; ${logs.hub}:\n${tail(logs.hub)}`,
            );
          await sleep(250);
        }
        if (attempt >= 3 || Date.now() > deadline)
          throw new Error(`${user}'s server failed to start ${attempt} times; ${logs.hub}:\n${tail(logs.hub, 60)}`);
      }
    },
    async addToGroup(group, user) {
      await api('POST', `/groups/${group}/users`, { users: [user] });
    },
    async removeFromGroup(group, user) {
      await api('DELETE', `/groups/${group}/users`, { users: [user] });
    },
    stop,
  };
}
