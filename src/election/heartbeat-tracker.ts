// What this agent has seen of other nodes' heartbeat Leases. Only changes of resourceVersion count,
// timed by this agent's own monotonic clock: timestamps written into Leases by other nodes are never
// trusted, because their clocks may be off (the client-go rule).

export interface HeartbeatSighting {
  /** resourceVersion last seen, or null while the Lease is absent. */
  readonly resourceVersion: string | null;
  /** Monotonic time (ms) at which this agent first saw that resourceVersion (or the absence). */
  readonly since: number;
}

export class HeartbeatTracker {
  readonly #sightings = new Map<string, HeartbeatSighting>();

  /** Records the heartbeat of `node` as seen now; resourceVersion null means the Lease does not exist. */
  observe(node: string, resourceVersion: string | null, now: number): void {
    const previous = this.#sightings.get(node);
    if (previous?.resourceVersion === resourceVersion) return;
    this.#sightings.set(node, { resourceVersion, since: now });
  }

  sighting(node: string): HeartbeatSighting | undefined {
    return this.#sightings.get(node);
  }

  /**
   * How long the heartbeat of `node` has been seen unchanged. A node never observed has been silent
   * for 0 ms: an agent that just started must watch for a full lease duration before declaring
   * anyone dead, exactly like a fresh client-go elector.
   */
  silentFor(node: string, now: number): number {
    const sighting = this.#sightings.get(node);
    return sighting === undefined ? 0 : now - sighting.since;
  }

  forget(node: string): void {
    this.#sightings.delete(node);
  }
}
