/** The system clock's timers, under jest's fake timers (which overflow past 2^31-1 ms as Node's do). */
import { jest } from '@jest/globals';
import { MAX_TIMER_MS, systemClock } from '../src/clock.js';

const DAY = 86_400_000;

beforeEach(() => jest.useFakeTimers({ now: Date.parse('2026-01-01T00:00:00Z') }));
afterEach(() => jest.useRealTimers());

test('a plain timer past 2^31-1 ms fires at once (the overflow the clock works around)', () => {
  const fn = jest.fn();
  setTimeout(fn, 25 * DAY);
  jest.advanceTimersByTime(2);
  expect(fn).toHaveBeenCalled();
});

test.each([
  ['25 days', 25 * DAY],
  ['30 days', 30 * DAY],
  ['just over the limit', MAX_TIMER_MS + 1],
  ['a year', 365 * DAY],
])('after(%s) fires when due, not before', (_what, ms) => {
  const fn = jest.fn();
  systemClock.after(ms, fn);
  jest.advanceTimersByTime(ms - 1);
  expect(fn).not.toHaveBeenCalled();
  jest.advanceTimersByTime(1);
  expect(fn).toHaveBeenCalledTimes(1);
});

test('a long wait can be cancelled at any point of its chain', () => {
  const fn = jest.fn();
  const cancel = systemClock.after(60 * DAY, fn);
  jest.advanceTimersByTime(30 * DAY);
  cancel();
  jest.advanceTimersByTime(31 * DAY);
  expect(fn).not.toHaveBeenCalled();
});
