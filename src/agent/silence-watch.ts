// Wakes the loops of Services held by another node when that node's heartbeat has been silent for
// the lease duration D: the moment a candidate may start a takeover (rule 2).
//
// Without it each such loop would set its own timer for "last renewal + D", and since every renewal
// (one per P) moves that moment on, every candidate would re-run every Service another node holds
// about once per D: with 1000 Services on 3 nodes, over a hundred runs a second per agent doing
// nothing. Watching the node instead costs one timer per node. A wake-up is only a hint: the loop
// it runs re-decides from the tracker, so an early or spurious one is harmless.
import type { Cancel, Clock } from "../clock/clock.ts";

export interface SilenceWatchOptions {
  readonly leaseDuration: number;
  /** The clock the tracker's silences are counted on. */
  readonly clock: Clock;
  /** How long the node's heartbeat has been seen unchanged (HeartbeatTracker.silentFor). */
  readonly silentFor: (node: string, now: number) => number;
  /** Runs the loops of these Services again. */
  readonly wake: (serviceKeys: readonly string[]) => void;
}

export class SilenceWatch {
  readonly #options: SilenceWatchOptions;
  readonly #waiting = new Map<string, { keys: Set<string>; cancel: Cancel }>();

  constructor(options: SilenceWatchOptions) {
    this.#options = options;
  }

  /** Runs the Service's loop again once `node` has been silent for D. */
  wakeWhenSilent(node: string, serviceKey: string): void {
    const waiting = this.#waiting.get(node);
    if (waiting !== undefined) {
      waiting.keys.add(serviceKey);
      return;
    }
    this.#waiting.set(node, { keys: new Set([serviceKey]), cancel: this.#arm(node) });
  }

  /** The nodes being watched and how many Services wait on each; for tests and metrics. */
  watched(): ReadonlyMap<string, number> {
    return new Map([...this.#waiting].map(([node, waiting]) => [node, waiting.keys.size]));
  }

  stop(): void {
    for (const waiting of this.#waiting.values()) waiting.cancel();
    this.#waiting.clear();
  }

  #arm(node: string): Cancel {
    const { leaseDuration, clock, silentFor } = this.#options;
    return clock.after(leaseDuration - silentFor(node, clock.now()), () => {
      this.#check(node);
    });
  }

  #check(node: string): void {
    const waiting = this.#waiting.get(node);
    if (waiting === undefined) return;
    const { leaseDuration, clock, silentFor } = this.#options;
    if (silentFor(node, clock.now()) < leaseDuration) {
      waiting.cancel = this.#arm(node);
      return;
    }
    this.#waiting.delete(node);
    this.#options.wake([...waiting.keys]);
  }
}
