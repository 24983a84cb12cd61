// The one source of time and timers in the agent. Everything that waits or measures takes a Clock,
// so that unit tests drive time by hand (test/unit/fakes/clock.ts) instead of sleeping.

/** Cancels a timer; calling it after the timer fired, or twice, does nothing. */
export type Cancel = () => void;

export interface Clock {
  /** Monotonic milliseconds: only differences mean anything. */
  now(): number;
  /** Calls back once, delayMs from now (at once for 0 or less, but never synchronously). */
  after(delayMs: number, callback: () => void): Cancel;
  /** Resolves delayMs from now. */
  sleep(delayMs: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  after: (delayMs, callback) => {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    return () => {
      clearTimeout(timer);
    };
  },
  sleep: (delayMs) =>
    new Promise((resolve) => {
      setTimeout(resolve, Math.max(0, delayMs));
    }),
};
