/**
 * When a schedule fires: the one function behind the scheduler, the API's `nextFires` and the
 * preview the UI and CLI show. Cron expressions are parsed and iterated by croner in the schedule's
 * IANA time zone; intervals are counted from an anchor instant.
 *
 * Daylight saving time, the rule (croner's, with fixedTimeRule "no-wildcard", as in Vixie cron):
 * - A *fixed-time* cron (no `*` and no step in its minute and hour fields, e.g. `30 2 * * *`) fires
 *   once per matching local day. A local time that does not exist (clocks jump from 02:00 to 03:00)
 *   fires once at the first valid time after the jump (03:00); a local time that occurs twice
 *   (clocks go back from 03:00 to 02:00) fires once, at its first occurrence.
 * - Any other cron (`30 * * * *`, `*\/15 2 * * *`) is an interval: it fires at every real instant
 *   whose local time matches, so a time inside the gap does not fire and a repeated time fires on
 *   both occurrences; hourly schedules keep one fire per real hour.
 * - `every` intervals are real elapsed time and do not see DST at all.
 * Slot identity is the UTC instant, so two local times that map to one instant fire once.
 */
import { Cron } from 'croner';
import { ValidationError } from '../jobs/errors.js';
import { parseDuration } from '@cellpipe/schema';

export interface TriggerSpec {
  cron?: string;
  every?: string;
  timezone: string;
  startAt?: string;
  endAt?: string;
}

/** The slots of one schedule: instants (ms since the epoch, UTC), strictly increasing. */
export interface Trigger {
  /** The first slot strictly after `afterMs`, or null when there is none (ended, or never matches). */
  next(afterMs: number): number | null;
  /** The newest slots in (afterMs, untilMs], newest first, at most `count`. */
  latest(afterMs: number, untilMs: number, count: number): number[];
}

const CRON_OPTIONS = { mode: '5-part', fixedTimeRule: 'no-wildcard', legacyMode: true, paused: true } as const;

/** Parsed crons are immutable and shared: 10,000 schedules use a few hundred distinct patterns. */
const cronCache = new Map<string, Cron>();
const CRON_CACHE_MAX = 5000;

function cronFor(pattern: string, timezone: string): Cron {
  const key = `${timezone}\u0000${pattern}`;
  let cron = cronCache.get(key);
  if (!cron) {
    cron = new Cron(pattern, { ...CRON_OPTIONS, timezone });
    if (cronCache.size >= CRON_CACHE_MAX) cronCache.delete(cronCache.keys().next().value!);
    cronCache.set(key, cron);
  }
  return cron;
}

/** croner's message without its class prefix, and 6-/7-field patterns explained. */
function cronMessage(pattern: string, err: unknown): string {
  const raw = err instanceof Error ? err.message : String(err);
  if (/requires exactly 5 parts|five, six, or seven/.test(raw)) {
    return `cron '${pattern}' must have 5 fields: minute hour day-of-month month day-of-week (or @hourly, @daily, @weekly, @monthly, @yearly)`;
  }
  return `cron '${pattern}': ${raw.replace(/^Cron(Pattern|Date)?:\s*/, '')}`;
}

function instant(text: string | undefined): number | undefined {
  return text === undefined ? undefined : Date.parse(text);
}

/**
 * Check a trigger and build it. `anchorMs` is where `every` intervals count from when there is no
 * startAt (the schedule's creation time). Throws ValidationError naming the field.
 */
export function buildTrigger(spec: TriggerSpec, anchorMs: number): Trigger {
  const startMs = instant(spec.startAt);
  const endMs = instant(spec.endAt);
  if (startMs !== undefined && endMs !== undefined && endMs <= startMs) {
    throw new ValidationError(`endAt (${spec.endAt}) must be after startAt (${spec.startAt})`, ['endAt']);
  }
  if (spec.cron !== undefined && spec.every !== undefined) {
    throw new ValidationError('give either cron or every, not both', ['every']);
  }
  const inWindow = (slot: number | null): number | null =>
    slot === null || (endMs !== undefined && slot > endMs) ? null : slot;
  // Slots at startAt count: look from just before it.
  const from = (afterMs: number): number => (startMs !== undefined ? Math.max(afterMs, startMs - 1) : afterMs);

  if (spec.cron !== undefined) {
    const pattern = spec.cron.trim();
    let cron: Cron;
    try {
      cron = cronFor(pattern, spec.timezone);
    } catch (err) {
      throw new ValidationError(cronMessage(pattern, err), ['cron']);
    }
    let first: Date | null;
    try {
      first = cron.nextRun(new Date(from(anchorMs)));
    } catch (err) {
      throw new ValidationError(`timezone '${spec.timezone}': ${cronMessage(pattern, err)}`, ['timezone']);
    }
    if (first === null && endMs === undefined) {
      throw new ValidationError(`cron '${pattern}' never fires`, ['cron']);
    }
    const lowest = (afterMs: number): number => Math.max(afterMs + 1, startMs ?? -Infinity);
    // Searching the calendar is the dear part of a fire, and the scheduler asks again from the same
    // cursor (deciding, planning, after the run ends): the last answer holds for every instant from
    // where it was asked up to the slot it found.
    let known: { after: number; slot: number | null } | undefined;
    return {
      next(afterMs) {
        if (known && afterMs >= known.after && (known.slot === null || afterMs < known.slot)) return known.slot;
        const slot = inWindow(cron.nextRun(new Date(from(afterMs)))?.getTime() ?? null);
        known = { after: afterMs, slot };
        return slot;
      },
      latest(afterMs, untilMs, count) {
        const until = Math.min(untilMs, endMs ?? Infinity);
        if (until < lowest(afterMs)) return [];
        // previousRuns looks strictly before its reference: one millisecond past `until` includes it.
        return cron
          .previousRuns(count, new Date(until + 1))
          .map((d) => d.getTime())
          .filter((t) => t >= lowest(afterMs));
      },
    };
  }
  if (spec.every !== undefined) {
    let everyMs: number;
    try {
      everyMs = parseDuration(spec.every);
    } catch {
      throw new ValidationError(`every '${spec.every}' is not a duration such as "90s", "15m" or "6h"`, ['every']);
    }
    if (everyMs < 1000) throw new ValidationError('every must be at least 1s', ['every']);
    const anchor = startMs ?? anchorMs;
    return {
      next(afterMs) {
        const k = afterMs < anchor ? 0 : Math.floor((afterMs - anchor) / everyMs) + 1;
        return inWindow(anchor + k * everyMs);
      },
      latest(afterMs, untilMs, count) {
        const until = Math.min(untilMs, endMs ?? Infinity);
        if (until < anchor) return [];
        const out: number[] = [];
        for (
          let slot = anchor + Math.floor((until - anchor) / everyMs) * everyMs;
          out.length < count;
          slot -= everyMs
        ) {
          if (slot <= afterMs || slot < anchor) break;
          out.push(slot);
        }
        return out;
      },
    };
  }
  throw new ValidationError('a schedule needs a cron expression or an interval (every)', ['cron']);
}

/** Up to `count` slots strictly after `afterMs`. */
export function nextSlots(trigger: Trigger, afterMs: number, count: number): number[] {
  const out: number[] = [];
  let at = afterMs;
  while (out.length < count) {
    const slot = trigger.next(at);
    if (slot === null) break;
    out.push(slot);
    at = slot;
  }
  return out;
}

/**
 * How many slots lie in (afterMs, untilMs], counting at most `cap` (a long downtime of a fast
 * schedule is reported as "more than cap", not walked slot by slot).
 */
export function countSlots(trigger: Trigger, afterMs: number, untilMs: number, cap: number): number {
  let n = 0;
  let at = afterMs;
  while (n <= cap) {
    const slot = trigger.next(at);
    if (slot === null || slot > untilMs) break;
    n++;
    at = slot;
  }
  return n;
}
