// The queue behind the per-Service reconcile loops, after client-go's workqueue: a key queued many
// times is processed once; a key is never processed by two workers at once (a change that arrives
// while it runs queues it again); a later wake-up keeps only the earliest deadline; and a key whose
// processing throws is retried with per-key exponential backoff.
import type { Cancel, Clock } from "../clock/clock.ts";

export interface WorkQueueOptions {
  readonly concurrency: number;
  readonly process: (key: string) => Promise<void>;
  readonly onError: (key: string, error: unknown) => void;
  readonly backoff?: { readonly initialMs: number; readonly maxMs: number };
  /** Times addAfter's wake-ups and the retries' backoff. */
  readonly clock: Clock;
}

export class WorkQueue {
  readonly #options: WorkQueueOptions;
  readonly #backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly #ready = new Set<string>();
  readonly #running = new Set<string>();
  readonly #dirtyWhileRunning = new Set<string>();
  readonly #timers = new Map<string, { at: number; cancel: Cancel }>();
  readonly #failures = new Map<string, number>();
  readonly #idleWaiters: (() => void)[] = [];
  #stopped = false;
  #startScheduled = false;

  constructor(options: WorkQueueOptions) {
    this.#options = options;
    this.#backoff = options.backoff ?? { initialMs: 100, maxMs: 10_000 };
  }

  add(key: string): void {
    if (this.#stopped) return;
    if (this.#running.has(key)) {
      this.#dirtyWhileRunning.add(key);
      return;
    }
    this.#ready.add(key);
    this.#pump();
  }

  /** Queues the key after delayMs, unless an earlier wake-up for it is already set. */
  addAfter(key: string, delayMs: number): void {
    if (this.#stopped) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const { clock } = this.#options;
    const at = clock.now() + delayMs;
    const existing = this.#timers.get(key);
    if (existing !== undefined && existing.at <= at) return;
    existing?.cancel();
    const cancel = clock.after(delayMs, () => {
      this.#timers.delete(key);
      this.add(key);
    });
    this.#timers.set(key, { at, cancel });
  }

  get length(): number {
    return this.#ready.size + this.#running.size;
  }

  /** Resolves when nothing is queued or running (delayed wake-ups do not count). */
  idle(): Promise<void> {
    if (this.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Takes no more keys, drops what is queued and resolves once every run in progress has ended. A
   * run that is still going when the agent hands its addresses over could put one back on the wire
   * after the handover took it off (client-go's leader election warns of the same).
   */
  drain(): Promise<void> {
    this.#stopped = true;
    for (const { cancel } of this.#timers.values()) cancel();
    this.#timers.clear();
    this.#ready.clear();
    this.#dirtyWhileRunning.clear();
    return this.idle();
  }

  #pump(): void {
    if (this.length === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
    if (this.#startScheduled || this.#ready.size === 0) return;
    if (this.#running.size >= this.#options.concurrency) return;
    // A run that needs no I/O ends within microtasks. Started straight from the end of the last one,
    // thousands of them would run back to back and hold up the heartbeat's timers and sockets for a
    // second (seen with 5000 Services); starting each batch from setImmediate lets the loop turn.
    // That is a yield, not a wait: no time passes in it, so it is no timer of the Clock's.
    this.#startScheduled = true;
    setImmediate(() => {
      this.#startScheduled = false;
      while (!this.#stopped && this.#running.size < this.#options.concurrency && this.#ready.size > 0) {
        const [key] = this.#ready;
        if (key === undefined) return;
        this.#ready.delete(key);
        this.#running.add(key);
        void this.#run(key);
      }
    });
  }

  async #run(key: string): Promise<void> {
    try {
      await this.#options.process(key);
      this.#failures.delete(key);
    } catch (error) {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      this.#options.onError(key, error);
      this.addAfter(key, Math.min(this.#backoff.initialMs * 2 ** (failures - 1), this.#backoff.maxMs));
    } finally {
      this.#running.delete(key);
      if (this.#dirtyWhileRunning.delete(key) && !this.#stopped) this.#ready.add(key);
      this.#pump();
    }
  }
}
