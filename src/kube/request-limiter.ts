// The agent's client-side limit on API requests, as client-go's token bucket (--kube-api-qps,
// --kube-api-burst). Without it a burst of work — thousands of Services created at once, or every
// VIP of a node changing hands — becomes thousands of concurrent requests: the API server queues
// them past their deadlines, every one fails, and every retry adds more. Behind the limit the same
// work drains at a steady rate.
//
// Two lanes: the reconcile loop's requests go before Events, which are advisory. The heartbeat is
// not limited at all (it never asks): it is the one write whose lateness makes other nodes take
// this node's Services, and it costs one request per retry period.
import type { Clock } from "../clock/clock.ts";

export type RequestLane = "reconcile" | "events";

export interface RequestLimiterOptions {
  /** Requests per second, sustained. */
  readonly qps: number;
  /** Requests allowed at once after a quiet spell. */
  readonly burst: number;
  /** Refills the tokens and wakes the requests held back. */
  readonly clock: Clock;
  /** Told the number of held-back requests whenever it changes (for a gauge). */
  readonly onWaiting?: (waiting: number) => void;
}

export class RequestLimiter {
  readonly #qps: number;
  readonly #burst: number;
  readonly #clock: Clock;
  readonly #onWaiting: (waiting: number) => void;
  readonly #waiting: Record<RequestLane, (() => void)[]> = { reconcile: [], events: [] };
  #tokens: number;
  #refilledAt: number;
  #wakeScheduled = false;

  constructor(options: RequestLimiterOptions) {
    this.#qps = options.qps;
    this.#burst = options.burst;
    this.#clock = options.clock;
    this.#onWaiting = options.onWaiting ?? (() => undefined);
    this.#tokens = options.burst;
    this.#refilledAt = this.#clock.now();
  }

  /** Resolves when a request of the lane may be sent; FIFO within a lane. */
  acquire(lane: RequestLane): Promise<void> {
    this.#refill();
    if (this.waiting === 0 && this.#tokens >= 1) {
      this.#tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.#waiting[lane].push(resolve);
      this.#onWaiting(this.waiting);
      this.#scheduleWake();
    });
  }

  /** Requests held back by the limit right now. */
  get waiting(): number {
    return this.#waiting.reconcile.length + this.#waiting.events.length;
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#qps);
    this.#refilledAt = now;
  }

  #scheduleWake(): void {
    if (this.#wakeScheduled || this.waiting === 0) return;
    this.#wakeScheduled = true;
    const delayMs = Math.max(0, ((1 - this.#tokens) / this.#qps) * 1000);
    // A queue of Events must not keep a stopping agent alive.
    this.#clock.after(
      delayMs,
      () => {
        this.#wakeScheduled = false;
        this.#release();
      },
      { keepAlive: false },
    );
  }

  #release(): void {
    this.#refill();
    const before = this.waiting;
    while (this.#tokens >= 1) {
      const next = this.#waiting.reconcile.shift() ?? this.#waiting.events.shift();
      if (next === undefined) break;
      this.#tokens -= 1;
      next();
    }
    if (this.waiting !== before) this.#onWaiting(this.waiting);
    this.#scheduleWake();
  }
}
