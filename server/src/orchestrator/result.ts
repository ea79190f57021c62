/**
 * The runner's result.json (RunnerResultSchema in @cellpipe/schema), read field by field: it is written by
 * a process running user code, so a bad field is dropped rather than failing the whole result.
 */
import {
  AttemptUsageSchema,
  ResultNameSchema,
  ResultValueSchema,
  RunnerWarningSchema,
  type AttemptUsage,
  type TaskError,
  type TaskResults,
  type TaskWarning,
} from '@cellpipe/schema';
import { formatBytes } from '../limits.js';

export interface RunnerResult {
  /** `cancelled`: the runner got SIGTERM (a cancel, an eviction or a preemption) and stopped cleanly. */
  status: 'succeeded' | 'failed' | 'cancelled';
  durationMs?: number;
  outputs?: string[];
  error?: TaskError;
  warnings?: TaskWarning[];
  results?: TaskResults;
  /** What the runner measured of the task's resource use: the fields that passed AttemptUsageSchema. */
  usage?: AttemptUsage;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseRunnerResult(raw: unknown): RunnerResult | undefined {
  if (!isObj(raw) || (raw.status !== 'succeeded' && raw.status !== 'failed' && raw.status !== 'cancelled'))
    return undefined;
  const out: RunnerResult = { status: raw.status };
  if (typeof raw.durationMs === 'number' && Number.isFinite(raw.durationMs)) out.durationMs = raw.durationMs;
  if (Array.isArray(raw.outputs) && raw.outputs.every((o) => typeof o === 'string'))
    out.outputs = raw.outputs as string[];
  if (isObj(raw.error)) {
    const e = raw.error;
    const error: TaskError = { message: typeof e.message === 'string' ? e.message : 'the task failed' };
    if (typeof e.ename === 'string') error.ename = e.ename;
    if (typeof e.traceback === 'string') error.traceback = e.traceback;
    if (typeof e.cell === 'number' && Number.isInteger(e.cell) && e.cell >= 1) error.cell = e.cell;
    if (typeof e.reason === 'string') error.reason = e.reason;
    out.error = error;
  }
  if (Array.isArray(raw.warnings)) {
    out.warnings = [];
    for (const item of raw.warnings) {
      const w = RunnerWarningSchema.safeParse(item);
      if (!w.success) continue;
      const warning: TaskWarning = { kind: w.data.kind, message: w.data.message };
      if (w.data.variable !== undefined) warning.variable = w.data.variable;
      if (w.data.position !== undefined) warning.cell = w.data.position;
      out.warnings.push(warning);
    }
  }
  if (isObj(raw.results)) {
    const results: TaskResults = {};
    for (const [name, value] of Object.entries(raw.results)) {
      if (ResultNameSchema.safeParse(name).success && ResultValueSchema.safeParse(value).success) {
        results[name] = value as TaskResults[string];
      }
    }
    out.results = results;
  }
  if (isObj(raw.usage)) {
    const usage = parseUsage(raw.usage);
    if (usage) out.usage = usage;
  }
  return out;
}

/** Each field of a reported usage on its own: a negative, fractional byte count or absurd number is dropped. */
function parseUsage(raw: Record<string, unknown>): AttemptUsage | undefined {
  const usage: Record<string, number> = {};
  for (const [key, schema] of Object.entries(AttemptUsageSchema.shape)) {
    const v = schema.safeParse(raw[key]);
    if (v.success && v.data !== undefined) usage[key] = v.data;
  }
  return Object.keys(usage).length ? (usage as AttemptUsage) : undefined;
}

/**
 * The attempt's usage: what the executor measured from outside the task (the local executor's cgroup
 * and GPU sampler) is kept; the runner's own numbers (result.json `usage`, the task's container cgroup
 * on Kubernetes) fill only the fields the executor did not measure, so nothing is counted twice and
 * a number from user code never replaces one the server took itself.
 */
export function attemptUsage(
  measured: AttemptUsage | undefined,
  reported: AttemptUsage | undefined,
): AttemptUsage | undefined {
  const usage: Record<string, number> = {};
  for (const from of [reported, measured])
    for (const [key, value] of Object.entries(from ?? {})) if (value !== undefined) usage[key] = value;
  return Object.keys(usage).length ? (usage as AttemptUsage) : undefined;
}

/**
 * An attempt's results within the limits (the runner enforces them as the task reports; this bounds
 * a result.json that did not come from it): the first ones that fit, and a warning about the rest.
 */
export function capResults(
  results: TaskResults,
  limits: { resultsPerTask: number; resultsBytes: number },
): { results: TaskResults; dropped?: TaskWarning } {
  const kept: TaskResults = {};
  let bytes = 2;
  let dropped = 0;
  for (const [name, value] of Object.entries(results)) {
    const cost = Buffer.byteLength(JSON.stringify(name)) + Buffer.byteLength(JSON.stringify(value)) + 2;
    if (Object.keys(kept).length >= limits.resultsPerTask || bytes + cost > limits.resultsBytes) {
      dropped++;
      continue;
    }
    kept[name] = value;
    bytes += cost;
  }
  if (!dropped) return { results: kept };
  return {
    results: kept,
    dropped: {
      kind: 'results',
      message: `${dropped} result${dropped > 1 ? 's were' : ' was'} left out: over limits.resultsPerTask or limits.resultsBytes`,
    },
  };
}

/** Most warnings kept of one attempt. */
const MAX_WARNINGS = 100;

/**
 * `text` cut to at most `maxBytes` of UTF-8 with a note saying so: the start kept for a message, the
 * end for a traceback (where the exception and the innermost frames are).
 */
export function capText(text: string, maxBytes: number, keep: 'start' | 'end'): string {
  if (text.length <= maxBytes / 3) return text;
  const buf = Buffer.from(text);
  if (buf.length <= maxBytes) return text;
  const note = `[cellpipe: cut to ${formatBytes(maxBytes)} of ${formatBytes(buf.length)} (limits.errorBytes)]`;
  // Decoding may end or start inside a character: the replacement character marks the cut.
  return keep === 'start'
    ? `${buf.subarray(0, maxBytes).toString()}… ${note}`
    : `${note}\n…${buf.subarray(buf.length - maxBytes).toString()}`;
}

/** What a task can put into the store, bounded: error message and traceback, warnings. */
export function capError(error: TaskError, maxBytes: number): TaskError {
  const out: TaskError = { ...error, message: capText(error.message, maxBytes, 'start') };
  if (error.traceback !== undefined) out.traceback = capText(error.traceback, maxBytes, 'end');
  if (error.ename !== undefined) out.ename = capText(error.ename, 256, 'start');
  return out;
}

export function capWarnings(warnings: TaskWarning[], maxBytes: number): TaskWarning[] {
  const kept = warnings.slice(0, MAX_WARNINGS).map((w) => ({ ...w, message: capText(w.message, maxBytes, 'start') }));
  if (warnings.length > MAX_WARNINGS) {
    kept.push({ kind: 'truncated', message: `${warnings.length - MAX_WARNINGS} more warnings were left out` });
  }
  return kept;
}
