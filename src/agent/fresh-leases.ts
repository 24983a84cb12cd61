// Leases this agent wrote or freshly read, kept until the informer catches up. A write's answer is
// newer than the cache until the watch delivers it; deciding on the cached version in between
// would re-claim what was just claimed, or miss a claim this agent just lost.
import type { V1Lease } from "@kubernetes/client-node";

interface Fresh {
  /** The cached resourceVersion when the fresh copy arrived (null: the cache had no such Lease). */
  readonly cachedVersion: string | null;
  readonly lease: V1Lease;
}

export class FreshLeases {
  readonly #cached: (name: string) => V1Lease | undefined;
  readonly #byName = new Map<string, Fresh>();

  /** cached: the informer's copy of a Lease by name. */
  constructor(cached: (name: string) => V1Lease | undefined) {
    this.#cached = cached;
  }

  /** The newest known version: the fresh copy until the cache changes or catches up, then the cache. */
  current(name: string): V1Lease | undefined {
    const cached = this.#cached(name);
    const fresh = this.#byName.get(name);
    if (fresh === undefined) return cached;
    const cachedVersion = cached?.metadata?.resourceVersion ?? null;
    if (cachedVersion === fresh.cachedVersion && cachedVersion !== fresh.lease.metadata?.resourceVersion)
      return fresh.lease;
    this.#byName.delete(name);
    return cached;
  }

  /** The fresh copy, if one still supersedes the cache: this agent's own write or read. */
  known(name: string): V1Lease | undefined {
    const current = this.current(name);
    return this.#byName.get(name)?.lease === current ? current : undefined;
  }

  /**
   * The names of the Leases whose fresh copy may still supersede the cache: among them a Lease this
   * agent just created, which the cache has not listed yet.
   */
  names(): readonly string[] {
    return [...this.#byName.keys()];
  }

  /** Records a Lease this agent wrote or re-read. */
  wrote(lease: V1Lease): void {
    const name = lease.metadata?.name;
    if (name === undefined) return;
    this.#byName.set(name, { cachedVersion: this.#cached(name)?.metadata?.resourceVersion ?? null, lease });
  }
}
