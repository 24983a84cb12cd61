// What the allocation suite makes of what it watched (issue 15): which VIPAllocation first named
// each Service and whether any address went to two Services, each Service's way from created to
// allocated to answering, and whether allocation adds steady-state API writes. Pure functions of
// the watch and of the results file, so the report can be rendered again from the file alone.
import { isIPv4 } from "node:net";
import type { VipAllocation } from "../../src/addresses/api.ts";
import { isWrite, totalPerSecond, type RequestRate } from "./api-requests.ts";
import type { AllocationRun } from "./results.ts";

// 2001:db8:1::2:0/112 on the lab's LAN, apart from the scale suite's 2001:db8:1::1:0/112, the
// nodes' and the client's addresses and the ClusterIPs (2001:db8:ffff::/112). The pool is the
// smallest CIDR there that holds every Service: the sweep asks for each of its addresses.
export const POOL_PREFIX = "2001:db8:1::2:";
export const MAX_ALLOCATION_SERVICES = 65_536;

export function allocationPool(services: number): { cidr: string; addresses: string[] } {
  if (services > MAX_ALLOCATION_SERVICES)
    throw new Error(`at most ${MAX_ALLOCATION_SERVICES} Services fit the allocation pool`);
  const bits = Math.max(1, Math.ceil(Math.log2(services)));
  return {
    cidr: `${POOL_PREFIX}0/${128 - bits}`,
    addresses: Array.from({ length: 2 ** bits }, (_, index) => `${POOL_PREFIX}${index.toString(16)}`),
  };
}

/** One VIPAllocation as the watch delivered it. */
export interface AllocationSighting {
  /** The object's name, one per address. */
  readonly name: string;
  readonly address: string;
  /** "namespace/name" of each Service it is given to. */
  readonly services: readonly string[];
  readonly sharingKey: string | undefined;
  readonly released: boolean;
}

export function sighting(object: VipAllocation): AllocationSighting | undefined {
  const name = object.metadata?.name;
  const address = object.spec?.address;
  if (name === undefined || address === undefined) return undefined;
  return {
    name,
    address,
    services: (object.spec?.services ?? []).map((ref) => `${ref.namespace}/${ref.name}`),
    sharingKey: object.spec?.sharingKey,
    released: object.spec?.releasedAt !== undefined,
  };
}

export interface FirstAllocation {
  readonly address: string;
  readonly atNs: number;
}

/**
 * The allocations seen so far. A Service's allocation is the first unreleased one seen naming it;
 * a later one is a double allocation (allocator.ts, point 5: it releases one of them), and an
 * address named for two Services without a sharing key breaks the invariant.
 */
export class AllocationLedger {
  readonly #live = new Map<string, AllocationSighting>();
  readonly #first = new Map<string, FirstAllocation>();
  readonly #shared = new Set<string>();
  readonly #doubles = new Set<string>();

  seen(allocation: AllocationSighting, atNs: number): void {
    this.#live.set(allocation.name, allocation);
    if (allocation.released) return;
    if (allocation.services.length > 1 && allocation.sharingKey === undefined)
      this.#shared.add(`${allocation.address} given to ${allocation.services.join(" and ")}`);
    for (const service of allocation.services) {
      if (!this.#first.has(service)) this.#first.set(service, { address: allocation.address, atNs });
      const others = [...this.#live.values()].filter(
        (other) =>
          other.name !== allocation.name &&
          !other.released &&
          other.services.includes(service) &&
          isIPv4(other.address) === isIPv4(allocation.address),
      );
      for (const other of others)
        this.#doubles.add(`${service} named by ${[other.address, allocation.address].sort().join(" and ")}`);
    }
  }

  deleted(name: string): void {
    this.#live.delete(name);
  }

  first(service: string): FirstAllocation | undefined {
    return this.#first.get(service);
  }

  sharedAddresses(): string[] {
    return [...this.#shared].sort();
  }

  doubleAllocations(): string[] {
    return [...this.#doubles].sort();
  }
}

export interface AllocationLegs {
  /** Create returned → the VIPAllocation naming it seen. */
  readonly createdToAllocated: readonly number[];
  /** The VIPAllocation seen → its address answering NDP. */
  readonly allocatedToAnswering: readonly number[];
  readonly createdToAnswering: readonly number[];
  readonly createdToStatus: readonly number[];
  /** From the first create to the last Service's address answering; null when some never did. */
  readonly allAnsweredMs: number | null;
  readonly allAllocatedMs: number | null;
  readonly allStatusMs: number | null;
  readonly answered: number;
}

// Each leg is between two observers (the create's response, the bench's watch, the client's NDP
// sweep) that see one moment at slightly different times: the agents' informers can see a Service
// before its create returns to the bench, and an address can answer before the bench's watch
// delivers its allocation. Such a leg is counted as 0, never negative.
function leg(from: number | null | undefined, to: number | null | undefined): number[] {
  return from === null || from === undefined || to === null || to === undefined
    ? []
    : [Math.max(0, to - from)];
}

function lastOf(values: readonly (number | null)[]): number | null {
  if (values.length === 0 || values.some((value) => value === null)) return null;
  return Math.max(...(values as number[]));
}

export function allocationLegs(run: AllocationRun): AllocationLegs {
  const each = run.createdAtMs.map((createdAt, index) => ({
    createdAt,
    allocatedAt: run.allocatedAtMs[index],
    answeredAt: run.answeredAtMs[index],
    statusAt: run.statusAtMs[index],
  }));
  return {
    createdToAllocated: each.flatMap((s) => leg(s.createdAt, s.allocatedAt)),
    allocatedToAnswering: each.flatMap((s) => leg(s.allocatedAt, s.answeredAt)),
    createdToAnswering: each.flatMap((s) => leg(s.createdAt, s.answeredAt)),
    createdToStatus: each.flatMap((s) => leg(s.createdAt, s.statusAt)),
    allAnsweredMs: lastOf(run.answeredAtMs),
    allAllocatedMs: lastOf(run.allocatedAtMs),
    allStatusMs: lastOf(run.statusAtMs),
    answered: run.answeredAtMs.filter((value) => value !== null).length,
  };
}

/** Writes to vipd's own objects (VIPAllocations, VIPPools and their status). */
export function isAllocationWrite(rate: RequestRate): boolean {
  return isWrite(rate) && /^vip(allocations|pools)(\/|$)/.test(rate.resource);
}

export interface SteadyWrites {
  readonly idlePerSecond: number;
  readonly loadedPerSecond: number;
  /** Writes to VIPAllocations and VIPPools in the loaded window. */
  readonly allocationPerSecond: number;
  /**
   * Allocation added no steady-state write: none to vipd's objects, and the total within the scale
   * suite's tolerance (20 %) of the idle agents' (the bench's own requests and the API server's
   * background work vary a little between windows).
   */
  readonly flat: boolean;
}

export function steadyWrites(run: Pick<AllocationRun, "idle" | "loaded">): SteadyWrites {
  const idlePerSecond = run.idle.writesPerSecond;
  const loadedPerSecond = run.loaded.writesPerSecond;
  const allocationPerSecond = totalPerSecond(run.loaded.rates, isAllocationWrite);
  return {
    idlePerSecond,
    loadedPerSecond,
    allocationPerSecond,
    flat: allocationPerSecond === 0 && loadedPerSecond <= 1.2 * idlePerSecond,
  };
}

const WARNING = /^\S+ (WARN|ERROR) +(.*)$/;
// Fields follow the message as key=value; two lines with the same message differ only in them.
const FIRST_FIELD = / [\w.]+=/;

/**
 * The WARN and ERROR lines of agents' text logs (src/log/logger.ts: "<time> LEVEL message
 * key=value…"), the first line of each level and message, with how often it came: what went wrong,
 * without the repetitions.
 */
export function agentWarnings(output: string, limit = 50): string[] {
  const found = new Map<string, { line: string; count: number }>();
  for (const line of output.split("\n")) {
    const match = WARNING.exec(line);
    if (match === null) continue;
    const key = `${match[1] ?? ""} ${(match[2] ?? "").split(FIRST_FIELD)[0] ?? ""}`;
    const known = found.get(key);
    if (known !== undefined) known.count += 1;
    else if (found.size < limit) found.set(key, { line, count: 1 });
  }
  return [...found.values()].map(({ line, count }) => (count === 1 ? line : `${line} (×${count})`));
}
