/**
 * The local executor's trust boundary between users, checked when the server starts. One user: tasks
 * run as the server's OS account, as a notebook's own kernel would. Several users: each user's tasks
 * must run as an OS account of their own (`local.runAs`), or every task could read the others' code,
 * data and tokens. The server refuses to start in between, saying what to configure.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative, isAbsolute } from 'node:path';
import { osUserName } from '../../auth/home-token.js';
import { ConfigError, type ServerConfig } from '../../config.js';
import { RunAs, RunAsError, type RunAsMap } from './run-as.js';

/**
 * The users this server's configuration lets in: its tokens' users and the home token's OS user.
 * Under JupyterHub they are not known in advance (`open`): any Hub user granted the service's scope.
 */
export function configuredUsers(config: ServerConfig): { users: string[]; serverUser?: string; open?: boolean } {
  if (config.auth === 'jupyterhub') return { users: [], open: true };
  const users = new Set(config.tokens.map((t) => t.user));
  const serverUser = config.homeToken ? osUserName() : undefined;
  if (serverUser) users.add(serverUser);
  return serverUser ? { users: [...users].sort(), serverUser } : { users: [...users].sort() };
}

export interface MultiUserSetup {
  runAs: RunAs;
  jobsRoot: string;
  /** The runner, copied where every task user can read it. */
  runnerPath: string;
}

const isInside = (dir: string, parent: string): boolean => {
  const rel = relative(parent, dir);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
};

/**
 * Without a mapping: nothing to do for one user, a ConfigError for several. With one: every
 * configured user must resolve to an OS account the server can switch to and start Python as.
 */
export function checkMultiUser(
  config: ServerConfig,
  runAsMap: RunAsMap | undefined,
  runnerPath: string,
): MultiUserSetup | undefined {
  const { users: configured, serverUser, open } = configuredUsers(config);
  if (!runAsMap) {
    if (!open && configured.length <= 1) return undefined;
    const who = open ? 'every Hub user granted the service' : `${configured.length} users (${configured.join(', ')})`;
    throw new ConfigError(
      `the local executor runs every task as this server's OS user (${osUserName()}), so with ${who} ` +
        `any task could read the others' code, data and tokens. Configure one of:\n` +
        `  - local.runAs: each user's tasks run as an OS account of their own, e.g. runAs: {"*": "{user}"}\n` +
        `    (the server runs as root; jobsDir must be a folder outside the home, e.g. /srv/cellpipe/jobs)\n` +
        `  - executor: kubernetes (each task in its own pod)\n` +
        `  - one server per user (one token each)`,
    );
  }
  if (process.getuid?.() !== 0) {
    throw new ConfigError(
      `local.runAs needs the server to run as root, so it can start each task as its user's OS account (it runs as ${osUserName()})`,
    );
  }
  const jobsRoot = config.jobsDir;
  if (!jobsRoot || isInside(jobsRoot, config.home)) {
    throw new ConfigError(
      `local.runAs needs jobsDir: a folder outside the home (${config.home}), which stays readable by the server only; ` +
        `tasks reach their own files there`,
    );
  }
  const runAs = new RunAs(runAsMap, serverUser);
  // Hub users are checked as they come; the ones the mapping names, now.
  const users = open ? Object.keys(runAsMap).filter((u) => u !== '*') : configured;
  const problems: string[] = [];
  const python = config.python ?? 'python3';
  for (const user of users) {
    try {
      const os = runAs.resolve(user);
      // Switching users and starting Python as each of them, now rather than at their first task.
      const probe = spawnSync(python, ['-I', '-c', 'pass'], { uid: os.uid, gid: os.gid, encoding: 'utf8' });
      if (probe.error || probe.status !== 0) {
        const why = probe.error?.message ?? (probe.stderr.trim() || `exit code ${probe.status}`);
        problems.push(`user '${user}' (OS user ${os.name}) cannot start ${python}: ${why}`);
      }
    } catch (err) {
      if (!(err instanceof RunAsError)) throw err;
      problems.push(err.message);
    }
  }
  if (problems.length) {
    throw new ConfigError(`local.runAs cannot run every user's tasks:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  // Files the server writes from now on are private unless it hands them to a task's user.
  process.umask(0o077);
  mkdirSync(jobsRoot, { recursive: true });
  chmodSync(jobsRoot, 0o711);
  return { runAs, jobsRoot, runnerPath: shareRunner(runnerPath, jobsRoot) };
}

/** A copy of the runner every task user can read (the package may sit in a private folder). */
function shareRunner(runnerPath: string, jobsRoot: string): string {
  const dir = join(jobsRoot, '.runner');
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const hash = createHash('sha256').update(readFileSync(runnerPath)).digest('hex').slice(0, 16);
  const shared = join(dir, `cellpipe_runner-${hash}.pyz`);
  if (!existsSync(shared)) {
    const tmp = `${shared}.${process.pid}.tmp`;
    copyFileSync(runnerPath, tmp);
    chmodSync(tmp, 0o644);
    renameSync(tmp, shared);
  }
  return shared;
}
