/** Small text helpers shared by the commands: tables, durations, error printing. */
import type { Job, ResultValue, TaskRun } from '@cellpipe/schema';
import { ApiError } from '../client/api-client.js';
import { ConfigError } from '../config.js';
import { CliError } from './errors.js';
import { printable, printableLines } from './printable.js';

// Every line printed goes through printableLines: a field that slipped through unescaped still cannot
// reach the terminal as a control sequence. Single-line fields are escaped with printable() where they
// are formatted, so an embedded newline cannot fake a row either.
export const out = (line = '') => process.stdout.write(`${printableLines(line)}\n`);
export const err = (line = '') => process.stderr.write(`${printableLines(line)}\n`);

/** Aligned columns; every cell is a single-line field. */
export function table(rows: string[][]): string[] {
  const cells = rows.map((row) => row.map(printable));
  const widths: number[] = [];
  for (const row of cells) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return cells.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

export function duration(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s % 60).padStart(2, '0')}s`;
}

export function jobDurationMs(job: Pick<Job, 'createdAt' | 'startedAt' | 'finishedAt'>): number | undefined {
  const start = Date.parse(job.startedAt ?? job.createdAt);
  const end = job.finishedAt ? Date.parse(job.finishedAt) : Date.now();
  return Number.isFinite(start) && Number.isFinite(end) ? end - start : undefined;
}

/** A result as the terminal shows it: numbers as JSON has them, strings quoted (escaped). */
export function formatResult(value: ResultValue): string {
  return typeof value === 'string' ? printable(JSON.stringify(value)) : String(value);
}

/** A task's error on one line (escaped): "ValueError: bad input (cell 3)". */
export function taskError(t: TaskRun): string {
  if (!t.error) return '';
  const where = t.error.cell !== undefined ? ` (cell ${t.error.cell})` : '';
  // The runner's message may already start with the exception class.
  const kind = t.error.ename && !t.error.message.startsWith(`${t.error.ename}:`) ? `${t.error.ename}: ` : '';
  return printable(`${kind}${t.error.message}${where}`);
}

/** Print an error the way a user can act on it; returns the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof ApiError) {
    err(`error: ${printable(e.message)}`);
    for (const line of e.detailLines()) err(`  ${printable(line)}`);
    return e.status === 400 || e.status === 413 ? 2 : 1;
  }
  if (e instanceof ConfigError) {
    err(`error: ${e.message}`);
    return 2;
  }
  if (e instanceof CliError) {
    err(`error: ${e.message}`);
    return e.exitCode;
  }
  // By name: importing main.js here would load the whole server for every command.
  if (e instanceof Error && e.name === 'HomeLockedError') {
    err(`error: ${e.message}`);
    return 1;
  }
  err(`error: ${e instanceof Error ? e.message : String(e)}`);
  if (process.env.CELLPIPE_DEBUG && e instanceof Error && e.stack) err(e.stack);
  return 1;
}
