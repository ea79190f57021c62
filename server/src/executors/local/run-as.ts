/**
 * Which OS account runs a user's tasks on this machine, as JupyterHub's LocalProcessSpawner does it:
 * each Cellpipe user is mapped to an OS user (`local.runAs`), and the server, running as root,
 * starts the task as that account. Without a mapping every task runs as the server's own OS user,
 * which is only safe while one person uses the server.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, lchownSync, lstatSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';

export interface OsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * `{ "<cellpipe user>": "<OS user>", "*": "<OS user for everyone else>" }`; `{user}` in a value
 * stands for the Cellpipe user's name (`"*": "{user}"` maps everyone to the OS account of that name).
 */
export const RunAsSchema = z
  .record(
    z.string().min(1),
    z
      .string()
      .regex(/^([A-Za-z0-9_.-]|\{user\})+$/, { message: 'an OS user name, where {user} stands for the Cellpipe user' }),
  )
  .refine((m) => Object.keys(m).length > 0, { message: 'map at least one user (or "*")' });
export type RunAsMap = z.infer<typeof RunAsSchema>;

/** An OS account as the C library sees it (getent: /etc/passwd, LDAP, SSSD, ...). */
export function lookupOsUser(name: string): OsUser | undefined {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) return undefined;
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  const line = r.status === 0 ? r.stdout.split('\n')[0] : undefined;
  const f = line?.split(':');
  if (!f || f.length < 7 || f[0] !== name) return undefined;
  return { name, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '/' };
}

export class RunAsError extends Error {
  override readonly name = 'RunAsError';
}

export class RunAs {
  private readonly cache = new Map<string, OsUser>();

  constructor(
    private readonly map: RunAsMap,
    /** The Cellpipe user that stands for the server's own OS account (the home token's), when there is one. */
    private readonly serverUser?: string,
    private readonly lookup: (name: string) => OsUser | undefined = lookupOsUser,
  ) {}

  /** The OS account `user`'s tasks run as; throws RunAsError saying what is missing. */
  resolve(user: string): OsUser {
    const known = this.cache.get(user);
    if (known) return known;
    const pattern = Object.hasOwn(this.map, user) ? this.map[user] : this.map['*'];
    if (pattern === undefined) {
      throw new RunAsError(`user '${user}' has no OS account to run tasks as: add them to local.runAs (or map "*")`);
    }
    const name = pattern.replaceAll('{user}', user);
    const os = this.lookup(name);
    if (!os)
      throw new RunAsError(`user '${user}' is mapped to OS user '${name}', which does not exist on this machine`);
    // root (or the server's own account) would reach everything the server keeps: only the server's
    // own user may run as it.
    if ((os.uid === 0 || os.uid === process.getuid?.()) && user !== this.serverUser) {
      throw new RunAsError(
        `user '${user}' is mapped to OS user '${name}', the server's own account: map them to their own`,
      );
    }
    this.cache.set(user, os);
    return os;
  }
}

/**
 * Makes an attempt's files reachable by the OS user its task runs as, and nothing more:
 *
 * - the folders on the way (the jobs folder, the job, its tasks and artifacts folders) are 0711: the
 *   task can pass through them to its own, but not list them or read what the server keeps there
 *   (task logs, other tasks' folders);
 * - the attempt folder (task.json, result.json, executed notebook) and the task's output folders
 *   (`files/`, `vars/`) belong to the user, 0700;
 * - output folders and files of upstream tasks that the server made itself (a re-run's copies of
 *   the outputs it reuses), and the job's working folder `work/` when the job names none of its own,
 *   are given to the user deepest first, so no folder is the user's while
 *   the server still works inside it; files a task wrote keep their owner.
 */
export function prepareWorkspace(
  paths: { jobsRoot: string; attemptDir: string; artifactRoot: string; outputDir: string; workDir?: string },
  user: OsUser,
): void {
  const jobDir = dirname(paths.artifactRoot);
  const taskDir = dirname(paths.attemptDir);
  for (const dir of [paths.jobsRoot, jobDir, dirname(taskDir), taskDir, paths.artifactRoot, paths.outputDir]) {
    chmodSync(dir, 0o711);
  }
  for (const dir of [paths.attemptDir, join(paths.outputDir, 'files'), join(paths.outputDir, 'vars')]) {
    giveTree(dir, user);
  }
  // The job's own working folder (not a folder the submitter named: that one is theirs already),
  // with what the server copied into it for a re-run.
  if (paths.workDir && dirname(paths.workDir) === jobDir) giveServerDirs(paths.workDir, user);
  for (const entry of readdirSync(paths.artifactRoot, { withFileTypes: true })) {
    const up = join(paths.artifactRoot, entry.name);
    if (!entry.isDirectory() || up === paths.outputDir) continue;
    chmodSync(up, 0o711);
    for (const sub of ['files', 'vars']) giveServerDirs(join(up, sub), user);
  }
}

/** The folder and what the server wrote into it (task.json): the user's, private. */
function giveTree(dir: string, user: OsUser): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isFile()) lchownSync(p, user.uid, user.gid);
  }
  lchownSync(dir, user.uid, user.gid);
  chmodSync(dir, 0o700);
}

/** Folders and files under `dir` the server owns, given to the user deepest first (links are never followed). */
function giveServerDirs(dir: string, user: OsUser): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return;
  }
  if (!st.isDirectory() || st.uid !== process.getuid?.()) return;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) giveServerDirs(p, user);
    else if (entry.isFile() && lstatSync(p).uid === process.getuid?.()) lchownSync(p, user.uid, user.gid);
  }
  lchownSync(dir, user.uid, user.gid);
  chmodSync(dir, 0o700);
}
