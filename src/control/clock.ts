/**
 * Time as the control plane sees it, passed in through options (STYLE 9) so tests can drive
 * schedules with a controllable clock instead of waiting for wall-clock minutes.
 */
export interface Clock {
  now(): Date;
  /** Calls `fn` after `ms` milliseconds; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  setTimer(ms, fn) {
    // Timers longer than ~24.8 days overflow setTimeout: wake up early and let the caller re-arm.
    const timer = setTimeout(fn, Math.min(ms, 2 ** 31 - 1));
    return () => clearTimeout(timer);
  },
};
