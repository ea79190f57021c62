/**
 * Durations of the spec (`90s`, `1h30m`, `250ms`, `2d`): the one parser both the compiler and the
 * server use, and the longest duration the spec accepts.
 */

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+)(ms|s|m|h|d)/g;

/** The syntax: one or more `<digits><unit>` parts. */
export const DURATION_PATTERN = /^(\d+(ms|s|m|h|d))+$/;

/** 365 days: the longest task or job timeout. Timers of any length up to it work (see `setLongTimeout`). */
export const MAX_DURATION_MS = 365 * UNIT_MS.d!;
export const MAX_DURATION_TEXT = '365d';

/** Milliseconds of a duration, or undefined when the text is not one. */
export function durationMs(text: string): number | undefined {
  if (!DURATION_PATTERN.test(text)) return undefined;
  let total = 0;
  for (const m of text.matchAll(PART)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return total;
}

/** Milliseconds of a duration; throws on text that is not one. */
export function parseDuration(text: string): number {
  const ms = durationMs(text);
  if (ms === undefined) throw new Error(`bad duration "${text}"`);
  return ms;
}
