// The one source of time and timers in the agent. Everything that waits or measures takes a Clock,
// so that unit tests drive time by hand (test/unit/fakes/clock.ts) instead of sleeping. Outside
// this folder, eslint refuses setTimeout, setInterval and performance.now in src/.

/** Cancels a timer; calling it after the timer fired, or twice, does nothing. */
export type Cancel = () => void;

export interface AfterOptions {
  /**
   * False for a timer that alone must not keep the process running (Node's unref): one that only
   * paces work nothing waits for on the way out, such as the request limiter's queue of Events.
   * True by default.
   */
  readonly keepAlive?: boolean;
}

export interface Clock {
  /** Monotonic milliseconds: only differences mean anything. */
  now(): number;
  /** Calls back once, delayMs from now (at once for 0 or less, but never synchronously). */
  after(delayMs: number, callback: () => void, options?: AfterOptions): Cancel;
  /** Resolves delayMs from now. */
  sleep(delayMs: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  after: (delayMs, callback, options) => {
    const timer = setTimeout(callback, Math.max(0, delayMs));
    if (options?.keepAlive === false) timer.unref();
    return () => {
      clearTimeout(timer);
    };
  },
  sleep: (delayMs) =>
    new Promise((resolve) => {
      setTimeout(resolve, Math.max(0, delayMs));
    }),
};

/**
 * Calls back every periodMs until cancelled, as setInterval does: each period counted from the
 * start of the last call, which is armed before it runs (so a call that throws ends nothing), and a
 * process frozen for many periods calls back once when it resumes, not once per period missed.
 */
export function every(clock: Clock, periodMs: number, callback: () => void): Cancel {
  let cancel: Cancel;
  const tick = () => {
    cancel = clock.after(periodMs, tick);
    callback();
  };
  cancel = clock.after(periodMs, tick);
  return () => {
    cancel();
  };
}
