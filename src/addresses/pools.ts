/**
 * Address pools as the allocator uses them: which addresses each pool hands out, which pools a
 * Service may take from, and the lowest free address of a pool. Pure: the pools come in as read
 * (PoolInput, from VIPPool objects and kube-vip's ConfigMap), and everything else is computed.
 *
 * Overlaps. Two pools may be written to cover the same addresses (MetalLB refuses its whole
 * configuration then; Cilium, like vipd, keeps going). Of two overlapping pools the one created
 * first keeps the overlap; ties are broken by name and then by origin (a VIPPool before a pool of
 * kube-vip's ConfigMap). The loser hands out its remaining addresses and lists what it lost in
 * conflicts, for its Conflicting condition.
 *
 * Why this rule is safe: (1) every input of the order, creationTimestamp, name and origin, is a
 * property of the objects themselves, the same on every agent; nothing depends on the order in
 * which an informer delivered them, on a locale (names are compared by code unit) or on the clock,
 * so every agent reaching the same inputs reaches the same pools. (2) The order is total (no two
 * inputs share name and origin: VIPPools are cluster-scoped, the ConfigMap's keys are unique), so
 * the result does not depend on the order of inputs either; and each pool hands out only what no
 * older pool keeps, so no address lies in two pools' ranges and poolOf has one answer. (3) Creating
 * a pool moves nothing: the API server stamps creationTimestamp, so a new pool is younger than
 * every pool that exists (only pools created within the same second are ordered by name) and takes
 * none of their addresses.
 * Adding an entry to an older pool, or deleting the older of two overlapping pools, does move the
 * overlap; an address already allocated there stays with its Service and is counted in the pool it
 * now lies in. What keeps an address from being given twice while agents still disagree about the
 * pools is the allocator's one VIPAllocation per address, not this module.
 */
import type { V1LabelSelector } from "@kubernetes/client-node";
import { matchesSelector } from "../kube/label-selector.ts";
import { ANNOUNCEMENT_MODES, type AnnouncementMode } from "../routing/announcement-mode.ts";
import type { VipPoolBgp, VipPoolFamilyUsage } from "./api.ts";
import type { PoolInput, PoolOrigin } from "./pool-input.ts";
import {
  addressText,
  addressValue,
  formatRange,
  intersectRanges,
  mergeRanges,
  parseRange,
  rangeSize,
  rangesContain,
  subtractRanges,
  withoutCidrEnds,
  type AddressRange,
} from "./ranges.ts";

export interface Pool {
  readonly name: string;
  readonly origin: PoolOrigin;
  readonly autoAssign: boolean;
  readonly avoidBuggyIPs: boolean;
  readonly disabled: boolean;
  readonly priority: number | undefined;
  readonly allowShare: boolean;
  readonly namespaces: readonly string[];
  readonly namespaceSelectors: readonly V1LabelSelector[];
  readonly serviceSelectors: readonly V1LabelSelector[];
  /** spec.mode; undefined: the agent's --announce-mode (kube-vip's pools never have one). */
  readonly mode: AnnouncementMode | undefined;
  /** spec.bgp: the BGP attributes of the routes to its addresses. */
  readonly bgp: VipPoolBgp | undefined;
  /** What it hands out from: its own entries (CIDR ends trimmed when skipCidrEnds) minus the overlaps older pools keep. */
  readonly ranges: readonly AddressRange[];
  /** Entries of spec.addresses it could not read (sentences). A pool with problems still uses its readable entries. */
  readonly problems: readonly string[];
  /** Overlaps it lost, each with the pool that keeps it and the overlapping range (formatRange). */
  readonly conflicts: readonly { readonly pool: string; readonly range: string }[];
}

const ORIGIN_RANK: Readonly<Record<PoolOrigin, number>> = { VIPPool: 0, "kube-vip": 1 };

// Code-unit order: localeCompare would depend on each agent's ICU data and locale.
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Name, then origin: the order of the result, and the last tie-break of seniority. */
function compareIdentity(
  a: { name: string; origin: PoolOrigin },
  b: { name: string; origin: PoolOrigin },
): number {
  return compareText(a.name, b.name) || ORIGIN_RANK[a.origin] - ORIGIN_RANK[b.origin];
}

// A missing creationTimestamp (NaN) sorts after every real one rather than breaking the sort.
function createdAt(input: PoolInput): number {
  return Number.isFinite(input.createdAt) ? input.createdAt : Number.POSITIVE_INFINITY;
}

function compareSeniority(a: PoolInput, b: PoolInput): number {
  const [left, right] = [createdAt(a), createdAt(b)];
  if (left !== right) return left < right ? -1 : 1;
  return compareIdentity(a, b);
}

/** The pools of inputs with overlaps resolved (module doc), sorted by name. */
export function resolvePools(inputs: readonly PoolInput[]): Pool[] {
  const pools: Pool[] = [];
  let kept: AddressRange[] = [];
  for (const input of [...inputs].sort(compareSeniority)) {
    const { ranges: own, problems } = readEntries(input);
    const conflicts = pools.flatMap((older) =>
      intersectRanges(own, older.ranges).map((overlap) => ({
        pool: older.name,
        range: formatRange(overlap),
      })),
    );
    const ranges = subtractRanges(own, kept);
    kept = mergeRanges([...kept, ...ranges]);
    pools.push(pool(input, ranges, problems, conflicts));
  }
  return pools.sort(compareIdentity);
}

/**
 * kube-vip's skip-end-ips-in-cidr drops an IPv4 CIDR's network and broadcast addresses; like
 * kube-vip-cloud-provider it applies to entries written as CIDRs only (a range covering exactly a
 * CIDR keeps its ends) and leaves IPv6 CIDRs and /31 and /32 whole (withoutCidrEnds).
 */
function readEntries(input: PoolInput): { ranges: AddressRange[]; problems: string[] } {
  const ranges: AddressRange[] = [];
  const problems: string[] = [];
  for (const entry of input.spec.addresses) {
    const reading = parseRange(entry);
    if (!reading.ok) {
      problems.push(reading.problem);
      continue;
    }
    ranges.push(input.skipCidrEnds === true && reading.cidr ? withoutCidrEnds(reading.range) : reading.range);
  }
  return { ranges: mergeRanges(ranges), problems };
}

function pool(
  input: PoolInput,
  ranges: AddressRange[],
  problems: string[],
  conflicts: Pool["conflicts"],
): Pool {
  const { spec } = input;
  const allocation = spec.serviceAllocation;
  return {
    name: input.name,
    origin: input.origin,
    autoAssign: spec.autoAssign ?? true,
    avoidBuggyIPs: spec.avoidBuggyIPs ?? false,
    disabled: spec.disabled ?? false,
    priority: allocation?.priority,
    allowShare: input.allowShare ?? false,
    namespaces: allocation?.namespaces ?? [],
    namespaceSelectors: allocation?.namespaceSelectors ?? [],
    serviceSelectors: allocation?.serviceSelectors ?? [],
    mode: modeOf(spec.mode),
    bgp: spec.bgp,
    ranges,
    problems,
    conflicts,
  };
}

// The CRD admits only the three modes; anything else (an object written before the field existed
// under another meaning, or past validation) falls back to the agent's mode rather than failing.
function modeOf(text: unknown): AnnouncementMode | undefined {
  return ANNOUNCEMENT_MODES.find((mode) => mode === text);
}

/** What a pool's serviceAllocation reads of a Service. */
export interface ServiceFacts {
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** undefined: the namespace is not (yet) known to the informer, so no namespace selector matches it. */
  readonly namespaceLabels: Readonly<Record<string, string>> | undefined;
}

/** Whether the pool's serviceAllocation lets the Service take addresses from it. */
export function admits(pool: Pool, service: ServiceFacts): boolean {
  return refusal(pool, service) === undefined;
}

/**
 * Why the pool's serviceAllocation refuses the Service, or undefined. As MetalLB does, namespaces
 * and namespaceSelectors together name the namespaces allowed (a namespace listed, or one whose
 * labels a selector matches), and the Service must also match one of serviceSelectors when any are
 * given: `vipd convert metallb` keeps a pool's meaning.
 */
function refusal(pool: Pool, service: ServiceFacts): string | undefined {
  const { namespace, namespaceLabels } = service;
  if (pool.namespaces.length > 0 || pool.namespaceSelectors.length > 0) {
    const listed = pool.namespaces.includes(namespace);
    const selected =
      namespaceLabels !== undefined &&
      pool.namespaceSelectors.some((s) => matchesSelector(s, namespaceLabels));
    if (!listed && !selected) {
      if (namespaceLabels === undefined && pool.namespaceSelectors.length > 0)
        return `namespace ${namespace} is not in its serviceAllocation.namespaces, and its labels, which the namespaceSelectors read, are not known yet`;
      return `namespace ${namespace} is neither in its serviceAllocation.namespaces nor matched by its namespaceSelectors`;
    }
  }
  if (
    pool.serviceSelectors.length > 0 &&
    !pool.serviceSelectors.some((s) => matchesSelector(s, service.labels))
  )
    return "the Service's labels match none of its serviceAllocation.serviceSelectors";
  return undefined;
}

export type PoolChoice =
  { readonly ok: true; readonly pools: readonly Pool[] } | { readonly ok: false; readonly problem: string };

function describe(pool: Pool): string {
  return pool.origin === "VIPPool"
    ? `VIPPool ${pool.name}`
    : `pool ${pool.name} of ConfigMap kube-system/kubevip`;
}

// A pool with nothing to hand out is left out with this reason, so that the Service's Event says
// why instead of reporting a pool exhausted that never had an address.
function emptiness(pool: Pool): string | undefined {
  if (pool.ranges.length > 0) return undefined;
  if (pool.conflicts.length > 0) return "every address of it belongs to an older pool it overlaps";
  return pool.problems.length > 0 ? "none of its entries can be read" : "it has no addresses";
}

/**
 * The pools to allocate the Service an address from, in the order to try them. A pool the Service
 * names (vipd.io/pool, metallb.io/address-pool) is the only one, whether or not it assigns
 * automatically; otherwise every enabled, autoAssign pool that admits it, by priority (lower
 * first, pools without one last) and then by name. Either way a pool with no address is left out.
 */
export function poolsToAllocateFrom(
  service: ServiceFacts,
  pools: readonly Pool[],
  named: string | undefined,
): PoolChoice {
  if (named !== undefined) {
    const pool = pools.find((candidate) => candidate.name === named);
    if (pool === undefined)
      return { ok: false, problem: `the Service names pool ${named}, and no such VIPPool exists` };
    const why =
      (pool.disabled ? "it is disabled and hands out no new addresses" : undefined) ??
      refusal(pool, service) ??
      emptiness(pool);
    if (why !== undefined)
      return {
        ok: false,
        problem: `${describe(pool)}, which the Service names, gives it no address: ${why}`,
      };
    return { ok: true, pools: [pool] };
  }
  if (pools.length === 0)
    return {
      ok: false,
      problem:
        "no VIPPool exists to give the Service an address: create one, or give it an address (vipd.io/loadBalancerIPs)",
    };
  const chosen: Pool[] = [];
  const passedOver: string[] = [];
  for (const pool of pools) {
    const why =
      (pool.disabled ? "is disabled" : undefined) ??
      (pool.autoAssign ? undefined : "has autoAssign false: only Services that name it take from it") ??
      prefixed("refuses it: ", refusal(pool, service)) ??
      prefixed("is empty: ", emptiness(pool));
    if (why === undefined) chosen.push(pool);
    else passedOver.push(`${describe(pool)} ${why}`);
  }
  if (chosen.length === 0)
    return { ok: false, problem: `no VIPPool gives the Service an address: ${summary(passedOver)}` };
  return { ok: true, pools: chosen.sort(comparePriority) };
}

function prefixed(prefix: string, text: string | undefined): string | undefined {
  return text === undefined ? undefined : prefix + text;
}

const REASONS_SHOWN = 5;

// Bounded, so that an Event stays readable in a cluster with many pools.
function summary(reasons: readonly string[]): string {
  const shown = reasons.slice(0, REASONS_SHOWN).join("; ");
  const more = reasons.length - REASONS_SHOWN;
  return more > 0 ? `${shown}; and ${more} more` : shown;
}

function comparePriority(a: Pool, b: Pool): number {
  const left = a.priority ?? Number.POSITIVE_INFINITY;
  const right = b.priority ?? Number.POSITIVE_INFINITY;
  if (left !== right) return left < right ? -1 : 1;
  return compareIdentity(a, b);
}

/** The pool whose ranges contain the address (at most one: resolvePools keeps them disjoint). */
export function poolOf(pools: readonly Pool[], address: string): Pool | undefined {
  const parsed = readAddress(address);
  if (parsed === undefined) return undefined;
  return pools.find((pool) => rangesContain(pool.ranges, parsed.family, parsed.value));
}

/** How the address reaches the network: its pool's spec.mode, else the fallback (--announce-mode). */
export function announcementModeOf(
  address: string,
  pools: readonly Pool[],
  fallback: AnnouncementMode,
): AnnouncementMode {
  return poolOf(pools, address)?.mode ?? fallback;
}

function readAddress(address: string): { readonly family: 4 | 6; readonly value: bigint } | undefined {
  try {
    return addressValue(address);
  } catch {
    return undefined;
  }
}

// avoidBuggyIPs: IPv4 addresses ending in .0 or .255, which some old clients drop as broadcast.
function buggy(pool: Pool, family: 4 | 6, value: bigint): boolean {
  if (!pool.avoidBuggyIPs || family !== 4) return false;
  const last = value & 0xffn;
  return last === 0n || last === 255n;
}

/**
 * The lowest address of the family in the pool that is not taken (and not buggy when avoidBuggyIPs).
 * Walks the taken addresses in order rather than the pool's addresses, so its cost is set by how
 * many are taken, never by the pool's size: each step passes a taken or a buggy address.
 */
export function firstFree(pool: Pool, family: 4 | 6, taken: ReadonlySet<string>): string | undefined {
  const ranges = pool.ranges.filter((range) => range.family === family);
  if (ranges.length === 0) return undefined;
  const values: bigint[] = [];
  for (const address of taken) {
    const parsed = readAddress(address);
    if (parsed?.family === family && rangesContain(ranges, family, parsed.value)) values.push(parsed.value);
  }
  values.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let next = 0;
  for (const range of ranges) {
    let candidate = range.first;
    while (candidate <= range.last) {
      if (buggy(pool, family, candidate)) {
        candidate++;
        continue;
      }
      while (next < values.length && (values[next] ?? candidate) < candidate) next++;
      if (values[next] !== candidate) return addressText(family, candidate);
      candidate++;
    }
  }
  return undefined;
}

/** How many values v in [first, last] have v mod 256 = remainder. */
function countEnding(range: AddressRange, remainder: bigint): bigint {
  const upTo = (value: bigint): bigint => (value - remainder < 0n ? 0n : (value - remainder) / 256n + 1n);
  return upTo(range.last) - upTo(range.first - 1n);
}

/**
 * The pool's usage of one family, for its status: total counts the addresses it can hand out
 * (without the buggy ones when avoidBuggyIPs), free what remains of them. free is never negative:
 * a requested address in the pool counts as allocated even if it is one the pool would skip.
 */
export function familyUsage(pool: Pool, family: 4 | 6, allocated: number): VipPoolFamilyUsage {
  let total = 0n;
  for (const range of pool.ranges) {
    if (range.family !== family) continue;
    total += rangeSize(range);
    if (pool.avoidBuggyIPs && family === 4) total -= countEnding(range, 0n) + countEnding(range, 255n);
  }
  const free = total - (Number.isSafeInteger(allocated) && allocated > 0 ? BigInt(allocated) : 0n);
  return { total: total.toString(), allocated, free: (free < 0n ? 0n : free).toString() };
}

export function poolFamilies(pool: Pool): ReadonlySet<4 | 6> {
  return new Set(pool.ranges.map((range) => range.family));
}
