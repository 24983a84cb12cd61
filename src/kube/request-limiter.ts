// The agent's client-side limit on API requests, as client-go's token bucket (--kube-api-qps,
// --kube-api-burst). Without it a burst of work — thousands of Services created at once, or every
// VIP of a node changing hands — becomes thousands of concurrent requests: the API server queues
// them past their deadlines, every one fails, and every retry adds more. Behind the limit the same
// work drains at a steady rate.
//
// Two lanes: the reconcile loop's requests go before Events, which are advisory. The heartbeat is
// not limited at all (it never asks): it is the one write whose lateness makes other nodes take
// this node's Services, and it costs one request per retry period.
export type RequestLane = "reconcile" | "events";

export interface RequestLimiterOptions {
  /** Requests per second, sustained. */
  readonly qps: number;
  /** Requests allowed at once after a quiet spell. */
  readonly burst: number;
  readonly clock?: () => number;
  /** Runs the callback after delayMs; a timer that does not keep the process alive by default. */
  readonly schedule?: (callback: () => void, delayMs: number) => void;
  /** Told the number of held-back requests whenever it changes (for a gauge). */
  readonly onWaiting?: (waiting: number) => void;
}

export class RequestLimiter {
  readonly #qps: number;
  readonly #burst: number;
  readonly #clock: () => number;
  readonly #schedule: (callback: () => void, delayMs: number) => void;
  readonly #onWaiting: (waiting: number) => void;
  readonly #waiting: Record<RequestLane, (() => void)[]> = { reconcile: [], events: [] };
  #tokens: number;
  #refilledAt: number;
  #wakeScheduled = false;

  constructor(options: RequestLimiterOptions) {
    this.#qps = options.qps;
    this.#burst = options.burst;
    this.#clock = options.clock ?? (() => performance.now());
    this.#schedule = options.schedule ?? unrefTimer;
    this.#onWaiting = options.onWaiting ?? (() => undefined);
    this.#tokens = options.burst;
    this.#refilledAt = this.#clock();
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
    const now = this.#clock();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#refilledAt) / 1000) * this.#qps);
    this.#refilledAt = now;
  }

  #scheduleWake(): void {
    if (this.#wakeScheduled || this.waiting === 0) return;
    this.#wakeScheduled = true;
    const delayMs = Math.max(0, ((1 - this.#tokens) / this.#qps) * 1000);
    this.#schedule(() => {
      this.#wakeScheduled = false;
      this.#release();
    }, delayMs);
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

// A queue of Events must not keep a stopping agent alive.
function unrefTimer(callback: () => void, delayMs: number): void {
  setTimeout(callback, delayMs).unref();
}
