/** Time as the scheduler sees it: injected so tests can move it by hand. */
export interface Clock {
  /** ms since the epoch. */
  now(): number;
  /** Call `fn` once after `ms`; returns what `clearTimer` takes. */
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // The scheduler never keeps a process alive on its own.
    t.unref();
    return t;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
