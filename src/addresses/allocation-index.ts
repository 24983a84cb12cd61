// What the VIPAllocation objects say, indexed for the agent's reads: by address (which Service an
// address is given to), by Service (what it holds, released or not) and the set of every address
// an allocation object still names, which allocation must not hand out. Kept current from the
// informer's events; every agent builds the same index from the same objects.
import type { VipAllocation, VipAllocationServiceRef } from "./api.ts";
import { canonicalAddress } from "../agent/service-intent.ts";
import { serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import { timestampMs } from "../kube/timestamps.ts";

export interface AllocationRecord {
  readonly name: string;
  readonly resourceVersion: string;
  /** metadata.creationTimestamp in ms. */
  readonly createdAt: number;
  readonly address: string;
  readonly family: 4 | 6;
  readonly pool: string;
  readonly services: readonly VipAllocationServiceRef[];
  readonly sharingKey: string | undefined;
  /** When its Services let it go, in ms; undefined while it is given. */
  readonly releasedAt: number | undefined;
}

/** The record of an allocation object; undefined for one without a readable address (made by hand). */
export function allocationRecord(object: VipAllocation): AllocationRecord | undefined {
  const reading = canonicalAddress(object.spec?.address ?? "");
  const name = object.metadata?.name;
  if (!reading.ok || name === undefined) return undefined;
  return {
    name,
    resourceVersion: object.metadata?.resourceVersion ?? "",
    createdAt: timestampMs(object.metadata?.creationTimestamp) ?? 0,
    address: reading.vip.address,
    family: reading.vip.family,
    pool: object.spec?.pool ?? "",
    services: object.spec?.services ?? [],
    sharingKey: object.spec?.sharingKey,
    releasedAt: timestampMs(object.spec?.releasedAt),
  };
}

/** Whether the allocation is given to the Service with this UID now (not released). */
export function givenTo(record: AllocationRecord, uid: string): boolean {
  return record.releasedAt === undefined && record.services.some((service) => service.uid === uid);
}

// Two allocators that saw a Service at the same time in different states can each give it an
// address of one family (allocator.ts). The older allocation is the Service's, on every agent alike;
// the allocator releases the other.
function older(a: AllocationRecord, b: AllocationRecord): boolean {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt;
  return a.name < b.name;
}

export class AllocationIndex {
  readonly #byName = new Map<string, AllocationRecord>();
  readonly #byAddress = new Map<string, AllocationRecord>();
  /** "namespace/name" → the names of the allocations naming that Service, whatever its UID. */
  readonly #byService = new Map<string, Set<string>>();

  /**
   * Records an object's new state (deleted: gone). Returns the Services it named before or names
   * now, whose addresses may have changed, and its address.
   */
  set(object: VipAllocation, deleted: boolean): { services: ServiceRef[]; address: string | undefined } {
    const name = object.metadata?.name ?? "";
    const previous = this.#byName.get(name);
    const next = deleted ? undefined : allocationRecord(object);
    const services = new Map<string, ServiceRef>();
    if (previous !== undefined) {
      this.#byName.delete(name);
      this.#byAddress.delete(previous.address);
      for (const ref of previous.services) {
        services.set(serviceKey(ref), { namespace: ref.namespace, name: ref.name });
        this.#unlink(serviceKey(ref), name);
      }
    }
    if (next !== undefined) {
      this.#byName.set(name, next);
      this.#byAddress.set(next.address, next);
      for (const ref of next.services) {
        const key = serviceKey(ref);
        services.set(key, { namespace: ref.namespace, name: ref.name });
        const names = this.#byService.get(key) ?? new Set<string>();
        names.add(name);
        this.#byService.set(key, names);
      }
    }
    return { services: [...services.values()], address: next?.address ?? previous?.address };
  }

  #unlink(key: string, name: string): void {
    const names = this.#byService.get(key);
    names?.delete(name);
    if (names?.size === 0) this.#byService.delete(key);
  }

  at(address: string): AllocationRecord | undefined {
    return this.#byAddress.get(address);
  }

  /** Whether an allocation object names the address, given or cooling down. */
  taken(address: string): boolean {
    return this.#byAddress.has(address);
  }

  /** Every allocation naming the Service by namespace and name, given or released, any UID. */
  ofService(ref: ServiceRef): AllocationRecord[] {
    const names = this.#byService.get(serviceKey(ref)) ?? new Set<string>();
    return [...names].flatMap((name) => {
      const record = this.#byName.get(name);
      return record === undefined ? [] : [record];
    });
  }

  /** The Service's addresses: per family the oldest allocation given to its UID. */
  addressesOf(ref: ServiceRef, uid: string): AllocationRecord[] {
    const chosen = new Map<4 | 6, AllocationRecord>();
    for (const record of this.ofService(ref)) {
      if (!givenTo(record, uid)) continue;
      const current = chosen.get(record.family);
      if (current === undefined || older(record, current)) chosen.set(record.family, record);
    }
    return [...chosen.values()].sort((a, b) => a.family - b.family);
  }

  all(): AllocationRecord[] {
    return [...this.#byName.values()];
  }
}
