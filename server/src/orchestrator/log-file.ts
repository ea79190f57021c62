/**
 * Appends an attempt's output to its log for executors that send it as events (Kubernetes), up to
 * limits.logBytesPerAttempt: the part that still fits, then one note, then nothing. The local
 * executor's launcher applies the same limit with the same note.
 */
import { appendFileSync, statSync } from 'node:fs';

export function logLimitNote(limit: number): string {
  return `\n[cellpipe] this attempt's log reached ${limit} bytes (limits.logBytesPerAttempt); later output is dropped, the task goes on\n`;
}

export function appendLog(path: string, chunk: string, limit: number): void {
  try {
    let size = 0;
    try {
      size = statSync(path).size;
    } catch {
      // Not written yet.
    }
    if (size >= limit) return;
    const bytes = Buffer.from(chunk);
    if (size + bytes.length <= limit) appendFileSync(path, bytes);
    else appendFileSync(path, Buffer.concat([bytes.subarray(0, limit - size), Buffer.from(logLimitNote(limit))]));
  } catch {
    // The job was removed, or the disk is full: the output is lost, the task is not.
  }
}
