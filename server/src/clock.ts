/**
 * Time as the engine sees it, injectable so tests can move it by hand. `after` takes any delay:
 * Node's timers overflow past 2^31-1 ms (24.8 days) and then fire at once, so long waits are
 * chained from shorter ones.
 */

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once, `ms` from now; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** The longest delay one Node timer takes. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  after(ms, fn) {
    const due = Date.now() + Math.max(0, ms);
    let timer: NodeJS.Timeout;
    const arm = (): void => {
      const left = due - Date.now();
      timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(fn, Math.max(0, left));
    };
    arm();
    return () => clearTimeout(timer);
  },
};
