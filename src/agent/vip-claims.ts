// Which Service a VIP belongs to when several ask for it. Two Services announcing one address would
// split its traffic between two nodes at random, so exactly one keeps it: the older (by creation
// time, then by namespace/name so that every agent picks the same one), as MetalLB does for shared
// IPs it cannot share. The others are refused with VIPConflict until the address is free.

export interface VipRequest {
  readonly serviceKey: string;
  /** metadata.creationTimestamp in milliseconds since the epoch. */
  readonly createdAt: number;
  readonly addresses: readonly string[];
}

export interface VipConflict {
  readonly address: string;
  /** The Service that keeps the address. */
  readonly heldBy: string;
}

function older(a: VipRequest, b: VipRequest): boolean {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt;
  return a.serviceKey < b.serviceKey;
}

/** The requests of every served Service, indexed by address; kept current from informer events. */
export class VipClaims {
  readonly #requests = new Map<string, VipRequest>();
  readonly #byAddress = new Map<string, Set<string>>();

  /**
   * Records what a Service asks for now (null: nothing). Returns the other Services whose outcome
   * may have changed, since they share an address with its old or new request.
   */
  set(serviceKey: string, request: VipRequest | null): string[] {
    const affected = new Set<string>();
    const previous = this.#requests.get(serviceKey);
    for (const address of previous?.addresses ?? []) {
      const keys = this.#byAddress.get(address);
      keys?.delete(serviceKey);
      if (keys?.size === 0) this.#byAddress.delete(address);
      for (const key of keys ?? []) affected.add(key);
    }
    this.#requests.delete(serviceKey);
    if (request !== null) {
      this.#requests.set(serviceKey, request);
      for (const address of request.addresses) {
        const keys = this.#byAddress.get(address) ?? new Set<string>();
        for (const key of keys) affected.add(key);
        keys.add(serviceKey);
        this.#byAddress.set(address, keys);
      }
    }
    return [...affected];
  }

  /** The first of the Service's addresses that an older Service holds, or null if none. */
  conflict(serviceKey: string): VipConflict | null {
    const request = this.#requests.get(serviceKey);
    for (const address of request?.addresses ?? []) {
      for (const other of this.#byAddress.get(address) ?? []) {
        const rival = this.#requests.get(other);
        if (request !== undefined && rival !== undefined && older(rival, request)) {
          return { address, heldBy: other };
        }
      }
    }
    return null;
  }
}
