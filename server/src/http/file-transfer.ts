/**
 * Files streamed between a request and the disk, never held in memory:
 * - `receiveFile`: a request body to a file, atomically (a temporary file, fsync, rename), bounded in
 *   size; a body that breaks off or is too large leaves nothing behind and the previous file intact.
 * - `sendFile`: a file to a response, from an offset when asked (`Range: bytes=N-`), so a download
 *   that broke off resumes where it stopped.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { TooLargeError } from '../jobs/errors.js';
import { formatBytes } from '../limits.js';
import { HttpError } from './errors.js';

export class BrokenUploadError extends HttpError {
  constructor(what: string) {
    super(400, 'incomplete', `the upload of ${what} broke off before its end`);
  }
}

/** Reads the body into `handle`, one chunk at a time (the request waits while the disk writes). */
function copyBody(req: IncomingMessage, handle: FileHandle, maxBytes: number, tooLarge: () => Error): Promise<number> {
  return new Promise((resolve, reject) => {
    let size = 0;
    let failed: Error | undefined;
    let writing: Promise<unknown> = Promise.resolve();
    const fail = (err: Error) => {
      failed ??= err;
    };
    req.on('data', (chunk: Buffer) => {
      if (failed) return; // the rest is read and dropped, so the client gets to read the answer
      size += chunk.length;
      if (size > maxBytes) return fail(tooLarge());
      req.pause();
      writing = handle.write(chunk).then(
        () => req.resume(),
        (err: Error) => {
          fail(err);
          req.resume();
        },
      );
    });
    req.on('end', () => {
      writing.then(
        () => (failed ? reject(failed) : resolve(size)),
        (err: unknown) => reject(err instanceof Error ? err : new Error(String(err))),
      );
    });
    req.on('error', (err) => reject(err));
    req.on('close', () => {
      if (!req.complete) reject(new Error('the request ended before its body'));
    });
  });
}

export interface ReceiveOptions {
  /** The file's final path; its folder is created. */
  target: string;
  /** A folder on the same file system for the temporary file. */
  tmpDir: string;
  maxBytes: number;
  /** What is uploaded, for messages ("output 'x'"). */
  what: string;
  /** The limit's name, for messages. */
  limitName: string;
}

/** Streams the request's body to `target` atomically; returns its size. */
export async function receiveFile(req: IncomingMessage, o: ReceiveOptions): Promise<number> {
  const tooLarge = (size: number) =>
    new TooLargeError(
      `${o.what} is ${formatBytes(size)}, over the limit of ${formatBytes(o.maxBytes)} (limits.${o.limitName})`,
      ['body'],
    );
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > o.maxBytes) throw tooLarge(declared);
  await mkdir(o.tmpDir, { recursive: true });
  const tmp = join(o.tmpDir, `${randomBytes(9).toString('base64url')}.part`);
  const handle = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW);
  let size: number;
  try {
    try {
      size = await copyBody(req, handle, o.maxBytes, () => tooLarge(o.maxBytes + 1));
    } catch (err) {
      if (err instanceof TooLargeError || (err as NodeJS.ErrnoException).code) throw err;
      throw new BrokenUploadError(o.what);
    }
    if (Number.isFinite(declared) && size !== declared) throw new BrokenUploadError(o.what);
    // On disk before it replaces the previous file: what the task was told is stored, is.
    await handle.sync();
    await handle.close();
    await mkdir(dirname(o.target), { recursive: true });
    await rename(tmp, o.target);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  return size;
}

/** The offset of a `Range: bytes=N-` header (the only form a resuming client sends), else 0. */
function rangeStart(header: string | undefined, size: number): number | undefined {
  if (!header) return 0;
  const m = /^bytes=(\d+)-$/.exec(header.trim());
  if (!m) return 0;
  const start = Number(m[1]);
  return start < size ? start : undefined;
}

/**
 * Sends a regular file (opened without following a link); undefined when there is none at `path`.
 * Honours `Range: bytes=N-`.
 */
export async function sendFile(path: string, range: string | undefined, res: Response): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ELOOP')
      return false;
    throw err;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return false;
    const start = rangeStart(range, stat.size);
    if (start === undefined) {
      res.status(416).set('Content-Range', `bytes */${stat.size}`).end();
      return true;
    }
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(stat.size - start),
      'Accept-Ranges': 'bytes',
    };
    if (start > 0) headers['Content-Range'] = `bytes ${start}-${stat.size - 1}/${stat.size}`;
    res.status(start > 0 ? 206 : 200).set(headers);
    try {
      await pipeline(handle.createReadStream({ start, autoClose: false }), res);
    } catch (err) {
      // A reader that went away mid-file is not an error of the server.
      if (!res.destroyed) throw err;
    }
    return true;
  } finally {
    await handle.close();
  }
}
