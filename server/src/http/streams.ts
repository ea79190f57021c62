/**
 * Streaming responses that cannot hold the server's memory: writes wait while a connection's buffer is
 * full (a reader that stops reading stops the reading of the file), and each user may only have so
 * many log streams open at once.
 */
import { once } from 'node:events';
import type { Response } from 'express';
import { HttpError } from './errors.js';

export class TooManyStreamsError extends HttpError {
  constructor(limit: number) {
    super(
      429,
      'too_many_streams',
      `you have ${limit} log streams open, the most one user may have (limits.logStreamsPerUser); close one and retry`,
    );
  }
}

/** Open streams per user. */
export class StreamSlots {
  private readonly open = new Map<string, number>();
  constructor(private readonly perUser: number) {}

  /** Takes one of the user's slots (429 when none is free); the returned function gives it back, once. */
  take(user: string): () => void {
    const n = this.open.get(user) ?? 0;
    if (n >= this.perUser) throw new TooManyStreamsError(this.perUser);
    this.open.set(user, n + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.open.get(user) ?? 1) - 1;
      if (left > 0) this.open.set(user, left);
      else this.open.delete(user);
    };
  }

  count(user: string): number {
    return this.open.get(user) ?? 0;
  }
}

/**
 * Writes a chunk and, when the connection's buffer is over its high-water mark, waits until it
 * drains, the connection closes or `signal` aborts. So at most one chunk waits per connection.
 */
export async function writeWithBackpressure(res: Response, chunk: string, signal: AbortSignal): Promise<void> {
  if (res.write(chunk) || signal.aborted) return;
  const ac = new AbortController();
  const stop = () => ac.abort();
  signal.addEventListener('abort', stop, { once: true });
  try {
    await Promise.race([once(res, 'drain', { signal: ac.signal }), once(res, 'close', { signal: ac.signal })]);
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    ac.abort();
    signal.removeEventListener('abort', stop);
  }
}
