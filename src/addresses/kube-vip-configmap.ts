/**
 * kube-vip-cloud-provider's ConfigMap (kube-system/kubevip) read as pools, so that a cluster moving
 * from kube-vip keeps its address plan: kubeVipPools gives the agent PoolInputs, and readKubeVip the
 * VIPPools `vipd convert kube-vip` prints
 * (vipPoolsFromKubeVip), both from one reading of it (readKubeVip).
 *
 * What the provider does, as read in kube-vip/kube-vip-cloud-provider at d3522c6 (2026-02-19):
 * pkg/provider/loadBalancer.go (discoverPool, getConfig, discoverVIPs, mapImplementedServices),
 * pkg/ipam/addressbuilder.go, pkg/ipam/ipam.go (FindFreeAddress), pkg/config/config.go.
 * - One key per Service, looked up in this order: cidr-<namespace>, cidr-global, range-<namespace>,
 *   range-global; the first key present wins, even when its value is invalid or its addresses are
 *   all taken: a Service never falls back to another key. So cidr-global hides every range-<ns>
 *   (a namespace with only range-<ns> takes from cidr-global), cidr-<ns> hides range-<ns>, and
 *   cidr-global hides range-global.
 * - The key's prefix only decides that order. The value is read as CIDRs when it contains a "/"
 *   anywhere, else as ranges "first-last"; a comma separates entries, and nothing is trimmed: an
 *   entry with a space, or any invalid entry, fails the whole value and the Service gets no address.
 *   A reversed or mixed-family range holds no address (netipx drops it silently). A CIDR's host
 *   bits are masked ("192.168.0.210/29" is 192.168.0.208/29). Entries are merged into one set
 *   (overlapping and adjacent ones join) before anything else, and searched in address order.
 * - The value "0.0.0.0/32" exactly gives every Service 0.0.0.0, for kube-vip's DHCP mode.
 * - IPv4 addresses whose last byte is 0 or 255 are never handed out, in CIDRs and ranges alike
 *   (FindFreeAddress): avoidBuggyIPs. IPv6 addresses are not filtered.
 * - skip-end-ips-in-cidr: "true" (only that spelling) also leaves out the first and last address of
 *   each prefix of the merged set, IPv4 only and not of a /31 or /32; ranges are untouched. Adjacent
 *   CIDRs merge first, so "198.51.100.0/25,198.51.100.128/25" loses only .0 and .255.
 * - search-order: "desc" hands out the highest free address first, anything else the lowest.
 * - allow-share-<namespace>, else allow-share-global (Go's ParseBool; anything else is false), is
 *   looked up on its own, whichever key the addresses come from: a Service may then take an IPv4
 *   address already given to a Service whose ports it does not repeat (protocols are not compared).
 * - A Service from a namespace key is checked against the Services of its own namespace only, one
 *   from a global key against all of them: two namespaces whose values overlap, or a namespace and
 *   the global value, can be given one address twice.
 * - interface-<namespace>, else interface-global, becomes the Service's kube-vip.io/serviceInterface.
 *
 * What vipd makes of it:
 * - One pool per namespace that gets its own key (namespaces with identical values share one pool,
 *   named after the first), restricted to those namespaces, priority 1; one pool "kubevip-global"
 *   for every other namespace (a namespaceSelector leaves out the namespaces with their own key),
 *   priority 2. So a namespace takes only from the key kube-vip would use, hidden keys included,
 *   and an exhausted namespace pool does not spill into the global one, as in kube-vip.
 * - Every pool avoids .0 and .255; skipCidrEnds is set on the CIDR pools when skip-end-ips-in-cidr
 *   is on, and their entries are the merged prefixes, with the IPv6 ones and the /31 and /32 written
 *   as ranges, so that skipping the ends of each CIDR entry is exactly kube-vip's rule.
 * - An address is in one pool only (pools.ts gives an overlap to the older pool, then by name). The
 *   global pool counts as created 1 ms after the ConfigMap, so a namespace pool keeps what it
 *   shares with the global one and its Services get their namespace's range first, whatever the
 *   names. This is a deliberate difference: kube-vip would also give those addresses to Services of
 *   other namespaces, and could give one of them twice. Overlapping namespace pools are reported.
 * - Whitespace around entries is trimmed, and an invalid entry is left out (both reported), where
 *   kube-vip would give the namespace nothing; search-order: desc, DHCP mode and interface-* keys
 *   cannot be kept and are reported; so is a namespace's allow-share-<ns> when it takes from the
 *   global pool, since vipd decides sharing per pool.
 * - As VIPPools (vipPoolsFromKubeVip), which have neither allowShare nor skipCidrEnds: the ends are
 *   left out as explicit ranges, the global pool's addresses leave out the namespace pools' (the
 *   API server stamps creation times in seconds, so age would not decide), and a note asks for
 *   vipd.io/allow-shared-ip on the Services of a pool that allowed sharing.
 */
import {
  formatCidrOrRange,
  formatFirstLast,
  hasCidrEnds,
  mergeRanges,
  parseNetipPrefix,
  parseNetipRange,
  prefixesOf,
  rangesOverlap,
  subtractRanges,
  withoutCidrEnds,
  type AddressRange,
} from "./ranges.ts";
import type { VipPoolServiceAllocation } from "./api.ts";
import { admitted, vipPool, type VipPoolConversion } from "./conversion.ts";
import type { PoolInput } from "./pool-input.ts";

export const KUBE_VIP_CONFIGMAP_NAMESPACE = "kube-system";
export const KUBE_VIP_CONFIGMAP_NAME = "kubevip";
export const KUBE_VIP_NAMESPACE_PRIORITY = 1;
export const KUBE_VIP_GLOBAL_PRIORITY = 2;
export const KUBE_VIP_GLOBAL_POOL = "kubevip-global";
/** Set by the API server on every namespace (Kubernetes ≥ 1.22). */
const NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name";
/** A namespace's name is a DNS label (RFC 1123). */
const NAMESPACE_NAME = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DHCP_VALUE = "0.0.0.0/32";
const GO_TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const GO_FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** One pool as kube-vip's lookup makes it, before it is written as a PoolInput or a VIPPool. */
export interface KubeVipPool {
  readonly name: string;
  /** The ConfigMap keys it comes from. */
  readonly keys: readonly string[];
  /** The namespaces it serves; undefined for the global pool. */
  readonly namespaces?: readonly string[];
  /** Global pool: the namespaces that have a key of their own and never take from it. */
  readonly excluded: readonly string[];
  /** The value was read as CIDRs (it has a "/"), not as ranges. */
  readonly cidr: boolean;
  /** The valid entries' addresses, merged. */
  readonly ranges: readonly AddressRange[];
  readonly allowShare: boolean;
  /** The allow-share-* keys that decided allowShare (none when no key is set). */
  readonly shareKeys: readonly string[];
}

export interface KubeVipPlan {
  /** Namespace pools by name, then the global pool; pools without a valid entry left out. */
  readonly pools: readonly KubeVipPool[];
  readonly skipCidrEnds: boolean;
  /** What of the ConfigMap vipd cannot keep as kube-vip-cloud-provider means it. */
  readonly problems: readonly string[];
}

interface ParsedValue {
  readonly cidr: boolean;
  readonly ranges: readonly AddressRange[];
}

function parseValue(key: string, value: string, problems: string[]): ParsedValue {
  if (value === DHCP_VALUE) {
    problems.push(
      `${key}: ${DHCP_VALUE} is kube-vip's DHCP mode (every Service gets 0.0.0.0), which vipd does not have; no addresses for it`,
    );
    return { cidr: true, ranges: [] };
  }
  const cidr = value.includes("/");
  const ranges: AddressRange[] = [];
  const entries = value.split(",");
  if (entries.some((entry) => entry !== entry.trim()))
    problems.push(
      `${key}: spaces around entries are trimmed; kube-vip-cloud-provider refuses the whole value and gives its Services no address`,
    );
  for (const entry of entries.map((text) => text.trim())) {
    if (cidr) {
      const parsed = parseNetipPrefix(entry);
      if (parsed === undefined) problems.push(`${key}: "${entry}" is no CIDR; left out`);
      else ranges.push(parsed.range);
      continue;
    }
    const parsed = parseNetipRange(entry);
    if (parsed === undefined)
      problems.push(`${key}: "${entry}" is no range (first-last, one family, or a CIDR list); left out`);
    else if (parsed === "empty")
      problems.push(`${key}: "${entry}" holds no address (reversed or mixed families), as in kube-vip`);
    else ranges.push(parsed);
  }
  return { cidr, ranges: mergeRanges(ranges) };
}

function parseGoBool(key: string, value: string | undefined, problems: string[]): boolean {
  if (value === undefined) return false;
  if (GO_TRUE.has(value)) return true;
  if (!GO_FALSE.has(value))
    problems.push(`${key}: "${value}" is no boolean; read as false, as kube-vip does`);
  return false;
}

function rangesKey(value: ParsedValue, allowShare: boolean): string {
  const ranges = value.ranges.map(
    (range) => `${String(range.family)}:${String(range.first)}-${String(range.last)}`,
  );
  return `${String(value.cidr)} ${String(allowShare)} ${ranges.join(",")}`;
}

/** The ConfigMap's data as kube-vip-cloud-provider reads it: its pools, in its search order. */
export function readKubeVip(data: Readonly<Record<string, string>>): KubeVipPlan {
  const problems: string[] = [];
  const has = (key: string): boolean => Object.hasOwn(data, key);
  const addressNamespaces = new Set<string>();
  for (const key of Object.keys(data).sort()) {
    const value = data[key] ?? "";
    const match = /^(cidr|range|allow-share|interface)-(.+)$/.exec(key);
    if (match?.[1] === "cidr" || match?.[1] === "range") {
      const namespace = match[2] ?? "";
      if (namespace === "global") continue;
      if (NAMESPACE_NAME.test(namespace)) addressNamespaces.add(namespace);
      else problems.push(`${key}: "${namespace}" cannot be a namespace's name; ignored`);
    } else if (match?.[1] === "interface") {
      problems.push(
        `${key}: vipd puts a Service's address on the interface chosen per node (--interface), not per namespace; ignored`,
      );
    } else if (key === "search-order") {
      if (value === "desc")
        problems.push(`${key}: vipd hands out addresses in its own order; "desc" is not kept`);
    } else if (key === "skip-end-ips-in-cidr") {
      if (value !== "true" && value !== "false")
        problems.push(`${key}: kube-vip reads only "true" as on; "${value}" is off`);
    } else if (match?.[1] !== "allow-share") {
      problems.push(`${key}: no kube-vip-cloud-provider key; ignored`);
    }
  }
  const skipCidrEnds = data["skip-end-ips-in-cidr"] === "true";
  const globalShare = parseGoBool("allow-share-global", data["allow-share-global"], problems);
  const shareKeyOf = (namespace: string): string | undefined => {
    const key = `allow-share-${namespace}`;
    return has(key) ? key : has("allow-share-global") ? "allow-share-global" : undefined;
  };
  const shareOf = (namespace: string): boolean => {
    const key = `allow-share-${namespace}`;
    return has(key) ? parseGoBool(key, data[key], problems) : globalShare;
  };

  // Namespaces with a key of their own, grouped when their values (and sharing) are the same.
  const groups = new Map<
    string,
    { keys: string[]; namespaces: string[]; value: ParsedValue; share: boolean; shareKeys: Set<string> }
  >();
  const excluded: string[] = [];
  for (const namespace of [...addressNamespaces].sort()) {
    const cidrKey = `cidr-${namespace}`;
    const rangeKey = `range-${namespace}`;
    let key: string | undefined;
    if (has(cidrKey)) {
      key = cidrKey;
      if (has(rangeKey)) problems.push(`${rangeKey}: never read, ${cidrKey} comes first`);
    } else if (has(rangeKey)) {
      if (has("cidr-global"))
        problems.push(
          `${rangeKey}: never read, cidr-global comes first (kube-vip looks up cidr-global before range-${namespace}); ${namespace} takes from the global pool`,
        );
      else key = rangeKey;
    }
    if (key === undefined) continue;
    excluded.push(namespace);
    const value = parseValue(key, data[key] ?? "", problems);
    const share = shareOf(namespace);
    const shareKey = shareKeyOf(namespace);
    const groupKey = rangesKey(value, share);
    const group = groups.get(groupKey) ?? { keys: [], namespaces: [], value, share, shareKeys: new Set() };
    groups.set(groupKey, group);
    group.keys.push(key);
    group.namespaces.push(namespace);
    if (shareKey !== undefined) group.shareKeys.add(shareKey);
  }

  const pools: KubeVipPool[] = [];
  for (const group of groups.values()) {
    if (group.value.ranges.length === 0) {
      problems.push(
        `${group.keys.join(", ")}: no valid entry; ${group.namespaces.join(", ")} get no address`,
      );
      continue;
    }
    pools.push({
      name: `kubevip-${group.namespaces[0] ?? ""}`,
      keys: group.keys,
      namespaces: group.namespaces,
      excluded: [],
      cidr: group.value.cidr,
      ranges: group.value.ranges,
      allowShare: group.share,
      shareKeys: [...group.shareKeys],
    });
  }
  pools.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const [index, pool] of pools.entries())
    for (const other of pools.slice(index + 1))
      if (rangesOverlap(pool.ranges, other.ranges))
        problems.push(
          `${pool.keys.join(", ")} and ${other.keys.join(", ")} overlap: kube-vip-cloud-provider can give one address to a Service of each; vipd gives each address to one pool only (${pool.name}, the first by name)`,
        );

  const globalKey = has("cidr-global") ? "cidr-global" : has("range-global") ? "range-global" : undefined;
  if (globalKey === "cidr-global" && has("range-global"))
    problems.push("range-global: never read, cidr-global comes first");
  if (globalKey !== undefined) {
    const value = parseValue(globalKey, data[globalKey] ?? "", problems);
    for (const namespace of [...new Set(Object.keys(data).map((key) => /^allow-share-(.+)$/.exec(key)?.[1]))])
      if (
        namespace !== undefined &&
        namespace !== "global" &&
        !excluded.includes(namespace) &&
        shareOf(namespace) !== globalShare
      )
        problems.push(
          `allow-share-${namespace}: ${namespace} takes from the global pool, whose sharing follows allow-share-global; annotate its Services with vipd.io/allow-shared-ip instead`,
        );
    if (value.ranges.length === 0) problems.push(`${globalKey}: no valid entry; the global pool is left out`);
    else
      pools.push({
        name: KUBE_VIP_GLOBAL_POOL,
        keys: [globalKey],
        excluded,
        cidr: value.cidr,
        ranges: value.ranges,
        allowShare: globalShare,
        shareKeys: has("allow-share-global") ? ["allow-share-global"] : [],
      });
  }
  return { pools, skipCidrEnds, problems };
}

/** The pool's service allocation: its namespaces first, the global pool for the others. */
export function kubeVipServiceAllocation(pool: KubeVipPool): VipPoolServiceAllocation {
  if (pool.namespaces !== undefined)
    return { priority: KUBE_VIP_NAMESPACE_PRIORITY, namespaces: pool.namespaces };
  if (pool.excluded.length === 0) return { priority: KUBE_VIP_GLOBAL_PRIORITY };
  return {
    priority: KUBE_VIP_GLOBAL_PRIORITY,
    namespaceSelectors: [
      { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: "NotIn", values: [...pool.excluded] }] },
    ],
  };
}

/**
 * The entries of a pool for a reader that skips the ends of each CIDR entry (skipCidrEnds): the
 * merged set's prefixes, with those kube-vip does not trim (IPv6, /31, /32) written as ranges.
 */
function poolInputAddresses(pool: KubeVipPool, skipCidrEnds: boolean): string[] {
  if (!pool.cidr) return pool.ranges.map(formatFirstLast);
  return pool.ranges.flatMap((range) =>
    prefixesOf(range).map((prefix) =>
      skipCidrEnds && !hasCidrEnds(prefix.range)
        ? formatFirstLast(prefix.range)
        : formatCidrOrRange(prefix.range),
    ),
  );
}

/**
 * The ConfigMap's pools for the agent. createdAt is the ConfigMap's creationTimestamp (ms); the
 * global pool counts as 1 ms younger so that it gives up what it shares with a namespace pool.
 */
export function kubeVipPools(
  data: Readonly<Record<string, string>>,
  createdAt: number,
): { pools: PoolInput[]; problems: string[] } {
  const plan = readKubeVip(data);
  const pools = plan.pools.map((pool): PoolInput => {
    const skipCidrEnds = plan.skipCidrEnds && pool.cidr;
    return {
      name: pool.name,
      origin: "kube-vip",
      createdAt: pool.namespaces === undefined ? createdAt + 1 : createdAt,
      spec: {
        addresses: poolInputAddresses(pool, plan.skipCidrEnds),
        avoidBuggyIPs: true,
        serviceAllocation: kubeVipServiceAllocation(pool),
      },
      ...(pool.allowShare ? { allowShare: true } : {}),
      ...(skipCidrEnds ? { skipCidrEnds: true } : {}),
    };
  });
  return { pools, problems: [...plan.problems] };
}

/** kube-vip's rule for skip-end-ips-in-cidr, applied: each IPv4 prefix shorter than /31 loses its ends. */
function withoutPrefixEnds(ranges: readonly AddressRange[]): AddressRange[] {
  return ranges.flatMap((range) => prefixesOf(range).map((prefix) => withoutCidrEnds(prefix.range)));
}

function listed(ranges: readonly AddressRange[]): string {
  return ranges.map(formatCidrOrRange).join(", ");
}

/** The ConfigMap's pools as VIPPool objects, for `vipd convert kube-vip`. */
export function vipPoolsFromKubeVip(data: Readonly<Record<string, string>>): VipPoolConversion {
  const plan = readKubeVip(data);
  const notes: string[] = [];
  const problems = [...plan.problems];
  const namespaceRanges = plan.pools
    .filter((pool) => pool.namespaces !== undefined)
    .flatMap((pool) => pool.ranges);
  const pools = plan.pools.flatMap((pool) => {
    let ranges =
      plan.skipCidrEnds && pool.cidr ? mergeRanges(withoutPrefixEnds(pool.ranges)) : [...pool.ranges];
    if (listed(ranges) !== listed(pool.ranges))
      notes.push(
        `${pool.name}: skip-end-ips-in-cidr: the first and last address of each IPv4 CIDR (not of a /31 or /32) are left out`,
      );
    if (pool.namespaces === undefined) {
      const kept = subtractRanges(ranges, namespaceRanges);
      if (kept.length > 0 && listed(kept) !== listed(ranges))
        notes.push(
          `${pool.name}: leaves out what the namespace pools hold, so that each address is in one pool (kube-vip could give those to other namespaces too)`,
        );
      ranges = kept;
    }
    if (ranges.length === 0) {
      problems.push(
        `${pool.keys.join(", ")}: no address left once the ends and the namespace pools are left out`,
      );
      return [];
    }
    if (pool.allowShare)
      notes.push(
        `${pool.name}: ${pool.shareKeys.join(", ")} is on, and a VIPPool cannot say it: annotate the Services that may share an address with vipd.io/allow-shared-ip: <key> (one key per address)`,
      );
    return [
      vipPool(pool.name, {
        addresses: ranges.map(formatCidrOrRange),
        avoidBuggyIPs: true,
        serviceAllocation: kubeVipServiceAllocation(pool),
      }),
    ];
  });
  return { pools: admitted(pools, problems), problems, notes };
}
