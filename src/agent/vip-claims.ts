// Which Service a VIP serves when several ask for it. Outside the pools exactly one keeps it: the
// older (by creation time, then by namespace/name so that every agent picks the same one), as
// MetalLB does for shared IPs it cannot share. The others are refused with VIPConflict until the
// address is free. Inside a pool the address's allocation has already said which Services may have
// it (several, when they share it: src/addresses/sharing.ts), and the intent asks for it only for
// those, so none of them conflicts. This only decides Events, status and ranking: who may announce
// an address is its ownership Lease's to say (decide.ts), so agents whose informers see the
// Services in another order stay safe.

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
  /** Whether an allocation decides who has the address (it lies in a pool). */
  readonly #allocated: (address: string) => boolean;

  constructor(allocated: (address: string) => boolean = () => false) {
    this.#allocated = allocated;
  }

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

  /** The addresses the Service asks for now, in its own order; empty if it asks for none. */
  addressesOf(serviceKey: string): readonly string[] {
    return this.#requests.get(serviceKey)?.addresses ?? [];
  }

  /** Every Service asking for the address, oldest first. */
  asking(address: string): string[] {
    const requests = [...(this.#byAddress.get(address) ?? [])].flatMap((key) => {
      const request = this.#requests.get(key);
      return request === undefined ? [] : [request];
    });
    return requests.sort((a, b) => (older(a, b) ? -1 : older(b, a) ? 1 : 0)).map((each) => each.serviceKey);
  }

  /**
   * The Service the address serves (the oldest, where several share it): one asking for it that has
   * no conflict at all. Outside the pools the younger of two conflicts, so there is at most one.
   */
  keeper(address: string): string | null {
    return this.sharing(address)[0] ?? null;
  }

  /** Every Service the address serves, oldest first: one, or those its allocation shares it among. */
  sharing(address: string): string[] {
    return this.asking(address).filter((key) => this.conflict(key) === null);
  }

  /** The first of the Service's addresses that an older Service holds, or null if none. */
  conflict(serviceKey: string): VipConflict | null {
    const request = this.#requests.get(serviceKey);
    for (const address of request?.addresses ?? []) {
      if (this.#allocated(address)) continue;
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
