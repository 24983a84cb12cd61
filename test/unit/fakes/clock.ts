// A Clock whose time moves only when a test moves it, so that no unit test sleeps or polls real
// time. Timers fire in the order of their deadlines (in the order they were set for one deadline),
// each with the time set to its own deadline, including timers set by a callback during the same
// advance. advance() is synchronous: promise continuations of what fired run only after it returns.
// tick() lets them run after every firing, as they would between two real timers, so that a loop of
// `await clock.sleep()` moves forward as far as the tick reaches.
import type { AfterOptions, Cancel, Clock } from "../../../src/clock/clock.ts";

interface Timer {
  readonly at: number;
  readonly order: number;
  readonly callback: () => void;
  readonly keepAlive: boolean;
}

/** A timer not fired or cancelled yet, as a test inspects it. */
export interface PendingTimer {
  readonly at: number;
  readonly keepAlive: boolean;
}

// Timers re-armed at their own deadline without end (a bug in the code under test) would make an
// advance spin forever; past this many firings in one advance it fails instead.
const MAX_FIRINGS_PER_ADVANCE = 100_000;

/** Resolves after the promise continuations and setImmediate callbacks queued before it have run. */
export function flushEventLoop(): Promise<void> {
  return new Promise((resolve) => {
    setImmediate(resolve);
  });
}

export class FakeClock implements Clock {
  #now: number;
  #order = 0;
  readonly #timers = new Set<Timer>();

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  after(delayMs: number, callback: () => void, options?: AfterOptions): Cancel {
    const timer: Timer = {
      at: this.#now + Math.max(0, delayMs),
      order: this.#order++,
      callback,
      keepAlive: options?.keepAlive ?? true,
    };
    this.#timers.add(timer);
    return () => {
      this.#timers.delete(timer);
    };
  }

  sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      this.after(delayMs, resolve);
    });
  }

  /** The timers set and not fired or cancelled yet, soonest first. */
  pending(): PendingTimer[] {
    return [...this.#timers].sort(byDeadline).map(({ at, keepAlive }) => ({ at, keepAlive }));
  }

  /** Moves time on by ms, firing every timer due up to then (one due now too, for 0). */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  /**
   * Moves time on to t without firing the timers due by then, as a busy event loop runs them late;
   * the next advance or tick fires them. For tests of what a late timer must not miss.
   */
  skipTo(t: number): void {
    this.#check(t);
    this.#now = t;
  }

  /** Moves time on to t, firing every timer due up to then. Time never goes back. */
  advanceTo(t: number): void {
    this.#check(t);
    for (let fired = 0; ; fired++) {
      if (fired >= MAX_FIRINGS_PER_ADVANCE) throw new Error(`timers keep firing at ${this.#now}`);
      if (!this.#fireNext(t)) break;
    }
    this.#now = t;
  }

  /**
   * advance(ms), letting promise continuations and setImmediate callbacks run before the first
   * timer fires, after each, and at the end: what a callback's continuation sets up before the tick
   * ends fires within it too.
   */
  async tick(ms: number): Promise<void> {
    await this.tickTo(this.#now + ms);
  }

  /** advanceTo(t) with the event loop let run around every firing, as tick(). */
  async tickTo(t: number): Promise<void> {
    this.#check(t);
    await flushEventLoop();
    for (let fired = 0; ; fired++) {
      if (fired >= MAX_FIRINGS_PER_ADVANCE) throw new Error(`timers keep firing at ${this.#now}`);
      if (!this.#fireNext(t)) break;
      await flushEventLoop();
    }
    this.#now = t;
    await flushEventLoop();
  }

  #check(t: number): void {
    if (!Number.isFinite(t) || t < this.#now)
      throw new Error(`a clock at ${this.#now} cannot move to ${t}: time only moves on`);
  }

  /**
   * Fires the soonest timer due by t, with the time set to its deadline (or left where it is, for a
   * timer skipTo made late: time never goes back); says whether one was.
   */
  #fireNext(t: number): boolean {
    let next: Timer | undefined;
    for (const timer of this.#timers)
      if (timer.at <= t && (next === undefined || byDeadline(timer, next) < 0)) next = timer;
    if (next === undefined) return false;
    this.#timers.delete(next);
    this.#now = Math.max(this.#now, next.at);
    next.callback();
    return true;
  }
}

function byDeadline(a: Timer, b: Timer): number {
  return a.at - b.at || a.order - b.order;
}
