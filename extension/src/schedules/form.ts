/**
 * The schedule form's values and how they become API requests; pure, so it is tested without a
 * browser. The server checks everything again and names the field of anything wrong.
 */
import type {
  CatchupPolicy,
  ConcurrencyPolicy,
  CreateScheduleInput,
  NotifyRule,
  Parameter,
  ScheduleDetail,
  UpdateScheduleRequest,
} from '@cellpipe/schema';
import cronstrue from 'cronstrue';

export interface ScheduleFormValues {
  name: string;
  mode: 'cron' | 'every';
  cron: string;
  every: string;
  timezone: string;
  /** Typed parameter values by name (only those that differ from the defaults are sent). */
  parameters: Record<string, string>;
  /** Run the version saved now, instead of the latest version at each fire. */
  pin: boolean;
  concurrency: ConcurrencyPolicy;
  catchup: CatchupPolicy;
  /** Empty: no limit. */
  maxRuns: string;
  pauseAfterFailures: string;
  /** `datetime-local` text in the browser's zone; empty: no end. */
  endAt: string;
  /** Where each run's end is sent (none: no notification besides the pipeline's own). */
  notify: NotifyRule[];
}

/** The time zone the browser runs in (the form's default). */
export function browserTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** Every IANA zone the browser knows, UTC first. */
export function timeZones(): string[] {
  const supported = (Intl as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf?.('timeZone') ?? [];
  return ['UTC', ...supported.filter((z) => z !== 'UTC')];
}

export function defaultValues(name: string): ScheduleFormValues {
  return {
    name,
    mode: 'cron',
    cron: '0 2 * * *',
    every: '1h',
    timezone: browserTimeZone(),
    parameters: {},
    pin: false,
    concurrency: 'forbid',
    catchup: 'skip',
    maxRuns: '',
    pauseAfterFailures: '3',
    endAt: '',
    notify: [],
  };
}

/** A saved schedule as form values (for editing it). */
export function valuesOf(s: ScheduleDetail): ScheduleFormValues {
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.parameters)) params[k] = typeof v === 'string' ? v : JSON.stringify(v);
  return {
    name: s.name,
    mode: s.every !== undefined ? 'every' : 'cron',
    cron: s.cron ?? '0 2 * * *',
    every: s.every ?? '1h',
    timezone: s.timezone,
    parameters: params,
    pin: s.version !== 'latest',
    concurrency: s.concurrency,
    catchup: s.catchup,
    maxRuns: s.maxRuns !== undefined ? String(s.maxRuns) : '',
    pauseAfterFailures: s.pauseAfterFailures !== undefined ? String(s.pauseAfterFailures) : '',
    endAt: s.endAt ? localInput(s.endAt) : '',
    notify: s.notify ?? [],
  };
}

/** An instant as `datetime-local` text in the browser's zone. */
function localInput(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * The cron in plain words with its zone ("At 02:00, every day, Europe/Berlin"), or why it cannot be
 * read. cronstrue reads the pattern; the server decides whether it is valid.
 */
export function describeTrigger(v: Pick<ScheduleFormValues, 'mode' | 'cron' | 'every' | 'timezone'>): string {
  if (v.mode === 'every') return `Every ${v.every}`;
  try {
    return `${cronstrue.toString(v.cron, { use24HourTimeFormat: true, verbose: true, throwExceptionOnParseError: true })}, ${v.timezone}`;
  } catch (err) {
    return String(err).replace(/^Error:\s*/, '');
  }
}

/** The value to send for a typed parameter: strings as typed, anything else as JSON when it parses. */
export function parameterValue(p: Parameter | undefined, text: string): unknown {
  const stringy = p?.type === 'string' || (p?.type === undefined && typeof p?.default === 'string');
  if (stringy) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function overrides(v: ScheduleFormValues, declared: Record<string, Parameter>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, text] of Object.entries(v.parameters)) {
    const p = declared[name];
    const value = parameterValue(p, text);
    if (p && JSON.stringify(value) === JSON.stringify(p.default)) continue;
    out[name] = value;
  }
  return out;
}

/** Integer text, or undefined when empty; anything else goes to the server as typed so it names the field. */
function optionalInt(text: string): number | undefined {
  const t = text.trim();
  if (!t) return undefined;
  return Number(t);
}

function fields(v: ScheduleFormValues, declared: Record<string, Parameter>): UpdateScheduleRequest {
  const f: UpdateScheduleRequest = {
    name: v.name.trim(),
    timezone: v.timezone,
    parameters: overrides(v, declared),
    concurrency: v.concurrency,
    catchup: v.catchup,
    maxRuns: optionalInt(v.maxRuns) ?? null,
    pauseAfterFailures: optionalInt(v.pauseAfterFailures) ?? null,
    endAt: v.endAt ? new Date(v.endAt).toISOString() : null,
    notify: v.notify.length ? v.notify : null,
  };
  if (v.mode === 'cron') f.cron = v.cron.trim();
  else f.every = v.every.trim();
  return f;
}

export function createRequest(
  v: ScheduleFormValues,
  pipeline: string,
  version: number,
  declared: Record<string, Parameter>,
): CreateScheduleInput {
  const f = fields(v, declared);
  const out: Record<string, unknown> = { ...f, pipeline, version: v.pin ? version : 'latest' };
  // A new schedule has nothing to clear.
  for (const [k, value] of Object.entries(out)) if (value === null) delete out[k];
  return out as CreateScheduleInput;
}

export function updateRequest(
  v: ScheduleFormValues,
  declared: Record<string, Parameter>,
  version: number | 'latest',
): UpdateScheduleRequest {
  return { ...fields(v, declared), version };
}
