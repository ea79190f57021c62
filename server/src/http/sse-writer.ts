/**
 * Writes an event stream without letting a slow reader hold the server's memory. Events are pushed as
 * they happen, so a reader that stops reading would make the server buffer every later event for it.
 * A stream whose unsent bytes stay over `limit` for a whole `graceMs` (no drain in between), or go
 * over eight times `limit` at once, is dropped: the browser's EventSource reconnects by itself, and a
 * stream of one job starts again with a fresh snapshot. A burst (thousands of task events from one
 * change) that a reader keeps up with drains within the grace period and is not a reason to drop it.
 */
import type { Response } from 'express';

export interface SseWriterOptions {
  limit: number;
  graceMs: number;
  /** Called once when the stream is dropped. */
  onDrop?: (bufferedBytes: number) => void;
}

export class SseWriter {
  private behindSince: number | undefined;
  private dropped = false;

  constructor(
    private readonly res: Response,
    private readonly options: SseWriterOptions,
  ) {
    res.on('drain', () => (this.behindSince = undefined));
  }

  get isDropped(): boolean {
    return this.dropped;
  }

  write(text: string): void {
    if (this.dropped || this.res.destroyed) return;
    this.res.write(text);
    this.check();
  }

  /** Judges the reader without writing (on each heartbeat, so a stream with no events is judged too). */
  check(): void {
    if (this.dropped) return;
    const buffered = this.res.writableLength;
    const { limit, graceMs } = this.options;
    if (buffered <= limit) {
      this.behindSince = undefined;
      return;
    }
    const now = Date.now();
    this.behindSince ??= now;
    if (buffered > 8 * limit || now - this.behindSince >= graceMs) {
      this.dropped = true;
      this.options.onDrop?.(buffered);
      this.res.destroy();
    }
  }
}
