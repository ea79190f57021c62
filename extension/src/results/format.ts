/** How a result shows in the monitor: numbers compact, strings as they are, booleans as words. */
import type { ResultValue } from '@cellpipe/schema';

export function resultText(value: ResultValue | undefined): string {
  if (value === undefined) return '';
  if (typeof value === 'number') {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 1e-3 && Math.abs(value) < 1e6
      ? String(Number(value.toPrecision(6)))
      : value.toExponential(3);
  }
  return String(value);
}
