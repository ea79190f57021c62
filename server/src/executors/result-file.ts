/**
 * Reads the runner's result.json. It is written by a process running user code, in a folder that
 * process can write: the server opens it without following a symlink and without blocking on a FIFO,
 * reads only a regular file, and only up to the configured size.
 */
import { closeSync, constants, fstatSync, openSync, readSync, statfsSync } from 'node:fs';
import { formatBytes } from '../limits.js';

export type ResultRead =
  | { result: unknown }
  | { missing: true }
  | { error: { reason: 'result-too-large' | 'result-unreadable'; message: string } };

export function readResultFile(path: string, maxBytes: number): ResultRead {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { missing: true };
    return { error: { reason: 'result-unreadable', message: `the task's result.json could not be opened (${code})` } };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) {
      return { error: { reason: 'result-unreadable', message: "the task's result.json is not a regular file" } };
    }
    if (stat.size > maxBytes) {
      return {
        error: {
          reason: 'result-too-large',
          message: `the task's result.json is ${formatBytes(stat.size)}, over the limit of ${formatBytes(maxBytes)} (limits.resultBytes)`,
        },
      };
    }
    const buf = Buffer.alloc(stat.size);
    let at = 0;
    while (at < buf.length) {
      const n = readSync(fd, buf, at, buf.length - at, at);
      if (n === 0) break;
      at += n;
    }
    try {
      return { result: JSON.parse(buf.subarray(0, at).toString('utf8')) as unknown };
    } catch {
      return { error: { reason: 'result-unreadable', message: "the task's result.json is not valid JSON" } };
    }
  } catch (err) {
    return {
      error: { reason: 'result-unreadable', message: `the task's result.json could not be read (${String(err)})` },
    };
  } finally {
    closeSync(fd);
  }
}

/** Free space under which a missing or broken result is put down to a full disk. */
const NEARLY_FULL_BYTES = 1024 * 1024;

/** True when the file system holding `dir` has (nearly) no space left. */
export function diskNearlyFull(dir: string): boolean {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize < NEARLY_FULL_BYTES;
  } catch {
    return false;
  }
}
