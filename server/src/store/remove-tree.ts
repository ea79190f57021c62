/**
 * Removes a folder tree that a task's OS user can write into. Running as root, a plain recursive
 * delete can be steered by that user: swap a folder for a symbolic link at the right moment and the
 * delete follows it, anywhere on the machine. Python's shutil.rmtree walks through open folder
 * handles and never follows a link, so as root the tree is removed with it.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, rmSync } from 'node:fs';

const RMTREE = 'import shutil, sys\ntry:\n    shutil.rmtree(sys.argv[1])\nexcept FileNotFoundError:\n    pass\n';

export function removeTree(path: string): void {
  if (process.getuid?.() !== 0) {
    rmSync(path, { recursive: true, force: true });
    return;
  }
  try {
    lstatSync(path);
  } catch {
    return;
  }
  const r = spawnSync('python3', ['-I', '-S', '-c', RMTREE, path], { encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    throw new Error(`could not remove ${path}: ${r.error?.message ?? r.stderr.trim()}`);
  }
}
