// What the allocator does for one Service: a pure function of the Service's request, the pools and
// the allocation objects, returning the steps that make the objects match (create, take back,
// release, delete) and what the Service is told. The steps are compare-and-swap writes whose
// safety is argued in allocator.ts; this module only decides which ones to try.
import type { Vip } from "../agent/service-intent.ts";
import { EVENT_REASONS } from "../kube/names.ts";
import type { ServiceRef } from "../kube/service-ref.ts";
import { givenTo, type AllocationRecord } from "./allocation-index.ts";
import {
  admits,
  firstFree,
  poolFamilies,
  poolOf,
  poolsToAllocateFrom,
  type Pool,
  type ServiceFacts,
} from "./pools.ts";

/** How a Service with no address of its own wants its families served (spec.ipFamilyPolicy). */
export type DualStack = "single" | "prefer" | "require";

export type AddressRequest =
  /** The Service names its addresses (spec.loadBalancerIP, annotations). */
  | { readonly kind: "requested"; readonly vips: readonly Vip[] }
  /** The Service wants one address per family, from a named pool or the pools that take it. */
  | {
      readonly kind: "allocate";
      /** spec.ipFamilies, as the API server resolved ipFamilyPolicy; the first is the primary. */
      readonly families: readonly (4 | 6)[];
      readonly dualStack: DualStack;
      /** vipd.io/pool or metallb.io/address-pool, with the key it came from. */
      readonly pool: { readonly name: string; readonly source: string } | undefined;
    };

export interface AllocationSituation {
  readonly service: ServiceRef;
  /**
   * What the Service asks for; "none" when it no longer asks vipd for anything (deleted, another
   * class, not a LoadBalancer, ignored), "unreadable" while its request cannot be read (it keeps
   * what it has: a typo in an annotation must not give its address away).
   */
  readonly request: AddressRequest | "none" | "unreadable";
  /** metadata.uid; undefined when the Service is gone. */
  readonly uid: string | undefined;
  readonly facts: ServiceFacts;
  readonly pools: readonly Pool[];
  /** Every allocation naming this Service's namespace and name, given or released, any UID. */
  readonly own: readonly AllocationRecord[];
  /** The allocation of an address, if any. */
  readonly at: (address: string) => AllocationRecord | undefined;
  /** Addresses not to hand out: an allocation names each, or a Service asks for it. */
  readonly taken: ReadonlySet<string>;
  readonly now: number;
  readonly cooldownMs: number;
  /** vipd.io/allow-shared-ip (or MetalLB's); undefined: the Service shares only where its pool says. */
  readonly sharingKey: string | undefined;
  /** The given allocations whose sharing key is this one, to join rather than take a new address. */
  readonly sharedWith: (key: string) => readonly AllocationRecord[];
  /** Why the Service may not join this allocation with this key (sharing.ts), or null if it may. */
  readonly joinProblem: (record: AllocationRecord, key: string | undefined) => string | null;
}

export type AllocationStep =
  | {
      readonly kind: "create";
      readonly address: string;
      readonly pool: string;
      readonly sharingKey: string | undefined;
    }
  /** Adds this Service to an allocation whose Services it may share the address with. */
  | { readonly kind: "join"; readonly record: AllocationRecord }
  /** Gives a released allocation to this Service again (its own, or an address it asks for). */
  | { readonly kind: "take-back"; readonly record: AllocationRecord }
  | { readonly kind: "release"; readonly record: AllocationRecord }
  | { readonly kind: "delete"; readonly record: AllocationRecord };

export interface AllocationProblem {
  readonly reason: string;
  readonly message: string;
}

export interface AllocationPlan {
  readonly steps: readonly AllocationStep[];
  /** Why the Service lacks an address it asks for; null when nothing is missing. */
  readonly problem: AllocationProblem | null;
  /** Run again after this long: a released allocation's cool-down ends. */
  readonly recheckInMs: number | undefined;
}

// A kube-vip pool with allow-share lets all its Services share, as if they had one key.
function keyIn(situation: AllocationSituation, pool: Pool): string | undefined {
  return situation.sharingKey ?? (pool.allowShare ? `kube-vip allow-share ${pool.name}` : undefined);
}

function familyName(family: 4 | 6): string {
  return `IPv${family}`;
}

// Addresses the Service asks for by name live in a pool's range or outside every pool; only the
// former are allocated (the intent refuses the latter once pools exist, service-intent.ts).
function requestedSteps(
  situation: AllocationSituation,
  uid: string,
  vips: readonly Vip[],
): { steps: AllocationStep[]; wanted: Set<string>; problem: AllocationProblem | null } {
  const steps: AllocationStep[] = [];
  const wanted = new Set<string>();
  let problem: AllocationProblem | null = null;
  for (const vip of vips) {
    const pool = poolOf(situation.pools, vip.address);
    if (pool === undefined) continue;
    // With --pool-addresses-only the intent refuses it already; without, it still may not take an
    // address of a pool that is not its namespace's.
    if (!admits(pool, situation.facts)) {
      problem ??= {
        reason: EVENT_REASONS.invalid,
        message: `${vip.address} is in VIPPool ${pool.name}, which the namespace ${situation.facts.namespace} may not use`,
      };
      continue;
    }
    wanted.add(vip.address);
    const record = situation.at(vip.address);
    const key = keyIn(situation, pool);
    if (record === undefined) {
      if (pool.disabled) {
        problem ??= {
          reason: EVENT_REASONS.noAddress,
          message: `${vip.address} is in VIPPool ${pool.name}, which is disabled and hands out nothing new`,
        };
      } else steps.push({ kind: "create", address: vip.address, pool: pool.name, sharingKey: key });
    } else if (givenTo(record, uid)) continue;
    else if (record.releasedAt !== undefined) steps.push({ kind: "take-back", record });
    else {
      const refusal = situation.joinProblem(record, key);
      if (refusal === null) steps.push({ kind: "join", record });
      else problem ??= { reason: EVENT_REASONS.conflict, message: `${vip.address}: ${refusal}` };
    }
  }
  return { steps, wanted, problem };
}

function allocateSteps(
  situation: AllocationSituation,
  uid: string,
  request: Extract<AddressRequest, { kind: "allocate" }>,
): { steps: AllocationStep[]; wanted: Set<string>; problem: AllocationProblem | null } {
  const steps: AllocationStep[] = [];
  const wanted = new Set<string>();
  const choice = poolsToAllocateFrom(situation.facts, situation.pools, request.pool?.name);
  const families = request.dualStack === "single" ? request.families.slice(0, 1) : request.families;
  const missing: { family: 4 | 6; reason: string; detail: string }[] = [];
  const planned: AllocationStep[] = [];
  for (const family of families) {
    const given = situation.own
      .filter((record) => record.family === family && givenTo(record, uid))
      .sort((a, b) => a.createdAt - b.createdAt || (a.name < b.name ? -1 : 1))[0];
    if (given !== undefined) {
      wanted.add(given.address);
      continue;
    }
    // A Service deleted and created again within the cool-down gets its address back.
    const released = situation.own.find(
      (record) => record.family === family && record.releasedAt !== undefined,
    );
    if (released !== undefined && (!choice.ok || choice.pools.some((pool) => pool.name === released.pool))) {
      wanted.add(released.address);
      planned.push({ kind: "take-back", record: released });
      continue;
    }
    if (!choice.ok) {
      missing.push({ family, reason: EVENT_REASONS.noAddress, detail: choice.problem });
      continue;
    }
    const pools = choice.pools.filter((pool) => poolFamilies(pool).has(family));
    if (pools.length === 0) {
      missing.push({
        family,
        reason: EVENT_REASONS.noAddress,
        detail: `no VIPPool it may use has ${familyName(family)} addresses`,
      });
      continue;
    }
    // An address already given to Services this one may share with comes before a new one.
    const joinable = pools.flatMap((pool) => {
      const key = keyIn(situation, pool);
      if (key === undefined || pool.disabled) return [];
      return situation
        .sharedWith(key)
        .filter(
          (record) =>
            record.family === family &&
            record.pool === pool.name &&
            record.releasedAt === undefined &&
            situation.joinProblem(record, key) === null,
        );
    })[0];
    if (joinable !== undefined) {
      wanted.add(joinable.address);
      planned.push({ kind: "join", record: joinable });
      continue;
    }
    const found = pools
      .map((pool) => ({ pool, address: firstFree(pool, family, situation.taken) }))
      .find((each) => each.address !== undefined);
    if (found?.address === undefined) {
      missing.push({
        family,
        reason: EVENT_REASONS.poolExhausted,
        detail: `VIPPool ${pools.map((pool) => pool.name).join(", ")} has no free ${familyName(family)} address`,
      });
      continue;
    }
    wanted.add(found.address);
    planned.push({
      kind: "create",
      address: found.address,
      pool: found.pool.name,
      sharingKey: keyIn(situation, found.pool),
    });
  }
  const [first] = missing;
  // PreferDualStack is served with the families there are; RequireDualStack waits for both, and
  // takes nothing meanwhile that another Service could use.
  const waits = request.dualStack === "require" && first !== undefined;
  if (!waits) steps.push(...planned);
  if (first === undefined || (request.dualStack === "prefer" && missing.length < families.length)) {
    return { steps, wanted, problem: null };
  }
  return {
    steps,
    wanted,
    problem: { reason: first.reason, message: `no ${familyName(first.family)} address: ${first.detail}` },
  };
}

export function planAllocation(situation: AllocationSituation): AllocationPlan {
  const { request, uid, now, cooldownMs } = situation;
  let steps: AllocationStep[] = [];
  let wanted = new Set<string>();
  let problem: AllocationProblem | null = null;
  if (request === "unreadable") {
    for (const record of situation.own)
      if (uid !== undefined && givenTo(record, uid)) wanted.add(record.address);
  } else if (request !== "none" && uid !== undefined) {
    const planned =
      request.kind === "requested"
        ? requestedSteps(situation, uid, request.vips)
        : allocateSteps(situation, uid, request);
    ({ steps, wanted, problem } = planned);
  }
  let recheckInMs: number | undefined;
  for (const record of situation.own) {
    if (wanted.has(record.address)) continue;
    if (record.releasedAt === undefined) {
      steps.push({ kind: "release", record });
      recheckInMs = Math.min(recheckInMs ?? cooldownMs, cooldownMs);
    } else if (now >= record.releasedAt + cooldownMs) steps.push({ kind: "delete", record });
    else recheckInMs = Math.min(recheckInMs ?? Infinity, record.releasedAt + cooldownMs - now);
  }
  return { steps, problem, recheckInMs };
}
