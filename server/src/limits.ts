/**
 * What one request, one task or one connection may cost the server. Every limit has a default here
 * and is set through the configuration (`limits:` in the config file, CELLPIPE_LIMIT_* in the
 * environment); the README's "Trust model and limits" lists them.
 */
import bytes from 'bytes';
import { z } from 'zod';

/** A size in bytes: a number, or a string such as "16mb" or "512kb" (1 kb = 1024 bytes). */
const ByteSize = z.union([
  z.number().int().min(0),
  z
    .string()
    .regex(/^\d+(\.\d+)?\s*(b|kb|mb|gb)$/i, { message: 'must be a number of bytes or look like "16mb"' })
    .transform((s) => bytes.parse(s) ?? 0),
]);
const Count = z.number().int().min(1);

const fields = {
  /** Tasks in one pipeline (413 above). */
  tasksPerPipeline: Count,
  /** Cells in one notebook sent with a submission (413 above). */
  notebookCells: Count,
  /** Bytes of one notebook sent with a submission, as JSON (413 above). */
  notebookBytes: ByteSize,
  /** Bytes of one cell's source (413 above). */
  cellBytes: ByteSize,
  /** Nesting depth of any JSON value in a request, parameter defaults and overrides included (400 above). */
  jsonDepth: Count,
  /** Log bytes one attempt may write; the rest is dropped with a note at the end of the log (the task goes on). */
  logBytesPerAttempt: ByteSize,
  /** Log downloads and follows one user may have open at once (429 above). */
  logStreamsPerUser: Count,
  /** Bytes kept of a task's error message and of its traceback, each (the rest is cut with a note). */
  errorBytes: ByteSize,
  /** Largest result.json the server reads; a larger one fails the task with reason "result-too-large". */
  resultBytes: ByteSize,
  /**
   * Largest file a task's pod may upload through the task-data API (a variable, an artifact, its
   * executed notebook; result.json has resultBytes): 413 above, and the task fails naming the file.
   * Bigger outputs want the Kubernetes executor's `volume` data store.
   */
  uploadBytes: ByteSize,
  /** Results one task attempt may publish (`cellpipe.report`, metrics.json); more fail the report. */
  resultsPerTask: Count,
  /** Bytes of one attempt's results together, as compact JSON; more fail the report. */
  resultsBytes: ByteSize,
  /** Output files listed per task (the rest are counted in `artifactsOmitted`, still downloadable). */
  artifactsPerTask: Count,
  /** Bytes an event stream (/api/events) may have waiting for a slow reader before it is dropped (it reconnects). */
  eventBufferBytes: ByteSize,
};

/** Limits as one configuration layer gives them: any subset, unknown names rejected. */
export const LimitsLayerSchema = z.object(fields).partial().strict();
export type Limits = { [K in keyof typeof fields]: z.output<(typeof fields)[K]> };

export const DEFAULT_LIMITS: Limits = z.object(fields).strict().parse({
  tasksPerPipeline: 50_000,
  notebookCells: 50_000,
  notebookBytes: '16mb',
  cellBytes: '1mb',
  jsonDepth: 64,
  logBytesPerAttempt: '100mb',
  logStreamsPerUser: 16,
  errorBytes: '64kb',
  resultBytes: '8mb',
  uploadBytes: '4gb',
  resultsPerTask: 100,
  resultsBytes: '16kb',
  artifactsPerTask: 10_000,
  eventBufferBytes: '1mb',
});

/** The defaults with what the configuration sets on top. */
export function resolveLimits(set: Partial<Limits> = {}): Limits {
  const out = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(set) as [keyof Limits, number | undefined][]) if (v !== undefined) out[k] = v;
  return out;
}

/** Environment variable of each limit: CELLPIPE_LIMIT_TASKS_PER_PIPELINE and so on. */
export const LIMIT_ENV: Record<string, keyof Limits> = Object.fromEntries(
  Object.keys(DEFAULT_LIMITS).map((k) => [`CELLPIPE_LIMIT_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`, k]),
) as Record<string, keyof Limits>;

/** "16.0 MB"-style text for messages. */
export function formatBytes(n: number): string {
  return bytes.format(n, { unitSeparator: ' ', decimalPlaces: 1 }) ?? `${n} B`;
}
