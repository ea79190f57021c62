/**
 * Which directory an object was applied from: its repository and the directory's path inside it
 * (`github.com/team/ml#pipelines/nightly`), the same in every clone and CI checkout; outside a git
 * repository, the directory's real path. `cellpipe apply` labels what it creates with it, and
 * `--prune` deletes only objects carrying the same value.
 */
import { execFile } from 'node:child_process';
import { realpath } from 'node:fs/promises';
import { relative, sep } from 'node:path';

function git(dir: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile('git', ['-C', dir, ...args], { encoding: 'utf8', timeout: 10_000 }, (err, stdout) =>
      resolve(err ? undefined : stdout.trim() || undefined),
    );
  });
}

/** `https://user:token@github.com/team/ml.git` and `git@github.com:team/ml.git` → `github.com/team/ml`. */
export function normalizeRemote(url: string): string {
  const scp = /^[^@/:]+@([^:/]+):(.+)$/.exec(url);
  let out = scp ? `${scp[1]}/${scp[2]}` : url;
  out = out.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '').replace(/^[^@/]*@/, '');
  return out.replace(/\/+$/, '').replace(/\.git$/, '');
}

export async function sourceOf(dir: string): Promise<string> {
  const real = await realpath(dir);
  const top = await git(real, ['rev-parse', '--show-toplevel']);
  if (!top) return real;
  const remote = await git(real, ['remote', 'get-url', 'origin']);
  const repo = remote ? normalizeRemote(remote) : (top.split(sep).pop() ?? top);
  const path = relative(await realpath(top), real)
    .split(sep)
    .join('/');
  return path ? `${repo}#${path}` : repo;
}
