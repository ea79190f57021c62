/**
 * Live job progress for `cellpipe run`: a compact table redrawn in place on a terminal, plain
 * `task <name> <state> ...` lines otherwise (logs, CI, pipes).
 */
import type { JobSummary, TaskRun } from '@cellpipe/schema';
import { taskError } from './output.js';
import { printable } from './printable.js';

export interface ProgressSink {
  task(task: TaskRun): void;
  job(job: JobSummary): void;
  /** Stop redrawing; the final state stays on screen. */
  finish(): void;
}

function seconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** The words after `task <name> <state>`. */
export function taskDetails(t: TaskRun): string {
  const parts: string[] = [];
  if (t.maxAttempts > 1 && t.attempt > 0) parts.push(`attempt ${t.attempt}/${t.maxAttempts}`);
  if (t.state === 'queued' && t.waitingReason) parts.push(`waiting: ${printable(t.waitingReason)}`);
  if (t.state === 'running' && t.placement) parts.push(`on ${printable(t.placement)}`);
  if (t.reused) parts.push('reused');
  else if (t.durationMs !== undefined && (t.state === 'succeeded' || t.state === 'failed'))
    parts.push(`in ${seconds(t.durationMs)}`);
  const err = taskError(t);
  if (err && t.state !== 'succeeded') parts.push(`error: ${err}`);
  return parts.join(' ');
}

/** One line per change of state (or attempt, or waiting reason). */
export class PlainProgress implements ProgressSink {
  private readonly seen = new Map<string, string>();
  constructor(private readonly out: (line: string) => void) {}

  task(t: TaskRun): void {
    const details = taskDetails(t);
    // A new line for a new state, a new attempt of a retried task, or a new reason to wait.
    const attempt = t.maxAttempts > 1 ? t.attempt : 0;
    const key = `${t.state}|${attempt}|${t.state === 'queued' ? (t.waitingReason ?? '') : ''}`;
    if (this.seen.get(t.name) === key) return;
    this.seen.set(t.name, key);
    this.out(`task ${t.name} ${t.state}${details ? ` ${details}` : ''}`);
  }
  job(): void {}
  finish(): void {}
}

const SYMBOL: Record<TaskRun['state'], string> = {
  pending: '·',
  queued: '…',
  running: '▶',
  succeeded: '✔',
  failed: '✖',
  cancelled: '■',
  skipped: '-',
};
const COLOR: Record<TaskRun['state'], string> = {
  pending: '2',
  queued: '33',
  running: '36',
  succeeded: '32',
  failed: '31',
  cancelled: '35',
  skipped: '2',
};

/** A table of tasks redrawn in place, with running times ticking. */
export class TtyProgress implements ProgressSink {
  private readonly tasks = new Map<string, TaskRun>();
  private drawn = 0;
  private timer: NodeJS.Timeout;
  private header = '';

  constructor(
    private readonly stream: NodeJS.WriteStream,
    jobId: string,
  ) {
    this.header = `job ${jobId}`;
    this.timer = setInterval(() => this.draw(), 1000);
    this.timer.unref();
  }

  task(t: TaskRun): void {
    this.tasks.set(t.name, t);
    this.draw();
  }
  job(job: JobSummary): void {
    this.header = `job ${job.id} ${printable(job.name)} ${job.state}`;
    this.draw();
  }
  finish(): void {
    clearInterval(this.timer);
    this.draw();
  }

  private line(t: TaskRun, width: number, nameWidth: number): string {
    let details = taskDetails(t);
    if (t.state === 'running' && t.startedAt) {
      details = `${seconds(Date.now() - Date.parse(t.startedAt))}${details ? ` ${details}` : ''}`;
    }
    const text = `${SYMBOL[t.state]} ${t.name.padEnd(nameWidth)} ${t.state.padEnd(9)} ${details}`;
    const clipped = text.length > width ? `${text.slice(0, Math.max(0, width - 1))}…` : text;
    return `\x1b[${COLOR[t.state]}m${clipped}\x1b[0m`;
  }

  private draw(): void {
    const width = this.stream.columns || 100;
    const nameWidth = Math.max(4, ...[...this.tasks.keys()].map((n) => n.length));
    const lines = [this.header, ...[...this.tasks.values()].map((t) => this.line(t, width, nameWidth))];
    let out = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    for (const l of lines) out += `\r\x1b[2K${l}\n`;
    this.stream.write(out);
    this.drawn = lines.length;
  }
}
