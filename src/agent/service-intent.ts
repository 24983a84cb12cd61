// Which VIPs a Service asks for, and whether this agent serves it at all: a pure reading of the
// Service object, the cluster's own addresses, the pools and the allocations, with a precise message
// for everything it rejects (turned into InvalidVIP Events). Nothing here depends on the node, so
// every agent reaches the same answer and one of them reports it; what depends on the node's
// interfaces is interface-choice.ts's. A Service either names its addresses or asks for one per
// family (readRequest); it is served the named addresses outside the pools at once, and every
// address inside a pool only once that address's allocation names it (src/addresses/allocator.ts),
// so within the pools the allocation objects alone decide which Service an address serves.
import ipaddr from "ipaddr.js";
import { givenTo, type AllocationIndex } from "../addresses/allocation-index.ts";
import type { AddressRequest, DualStack } from "../addresses/allocate.ts";
import { admits, poolOf, type Pool, type ServiceFacts } from "../addresses/pools.ts";
import type { ServiceCidr } from "../kube/cluster-addresses.ts";
import {
  ANNOTATION_IGNORE,
  ANNOTATION_INTERFACE,
  ANNOTATION_KUBE_VIP_IPS,
  ANNOTATION_LOAD_BALANCER_IPS,
  ANNOTATION_METALLB_IPS,
  ANNOTATION_METALLB_POOL,
  ANNOTATION_POOL,
} from "../kube/names.ts";
import { INTERFACE_NAME_PATTERN } from "../net/interface-name.ts";

export interface Vip {
  /** Canonical text form (lower case, shortest IPv6 form) so equal addresses compare equal. */
  readonly address: string;
  readonly family: 4 | 6;
}

/** The parts of a Service this decision reads; a V1Service fits. */
export interface ServiceShape {
  readonly metadata?: {
    readonly namespace?: string;
    readonly name?: string;
    readonly uid?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: {
    readonly type?: string;
    readonly loadBalancerClass?: string;
    readonly loadBalancerIP?: string;
    /** Set by the API server on every Service with a ClusterIP, LoadBalancer ones included. */
    readonly ipFamilies?: readonly string[];
    readonly ipFamilyPolicy?: string;
    readonly externalIPs?: readonly string[];
  };
}

/** The pools and allocations, as the agent's informers know them. */
export interface Addressing {
  readonly pools: readonly Pool[];
  /** Once a pool exists, refuse requested addresses outside the pools the Service may use. */
  readonly poolAddressesOnly: boolean;
  readonly allocations: Pick<AllocationIndex, "at" | "addressesOf">;
  /** A namespace's labels; undefined when it is not known (yet). */
  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined;
}

export interface IntentOptions {
  readonly loadBalancerClass: string;
  readonly classOnly: boolean;
  /** Node addresses (canonical form): a VIP equal to one would take a node's own address away. */
  readonly nodeAddresses: ReadonlySet<string>;
  /** The API server's addresses (canonical form), each with where it was learnt. */
  readonly apiServerAddresses: ReadonlyMap<string, string>;
  /** The cluster's Service CIDRs; empty where the API server serves no ServiceCIDR objects. */
  readonly serviceCidrs: readonly ServiceCidr[];
  readonly addressing: Addressing;
  /** --external-ip-cidrs: the CIDRs spec.externalIPs may be announced in; empty turns them off. */
  readonly externalIpCidrs: readonly string[];
}

/** The cluster's addresses, as the agent's informer caches know them. */
export interface ClusterAddresses {
  nodeAddresses(): ReadonlySet<string>;
  apiServerAddresses(): ReadonlyMap<string, string>;
  serviceCidrs(): readonly ServiceCidr[];
  addressing(): Addressing;
}

export function intentOptions(
  settings: {
    readonly loadBalancerClass: string;
    readonly classOnly: boolean;
    readonly externalIpCidrs: readonly string[];
  },
  cluster: ClusterAddresses,
): IntentOptions {
  return {
    loadBalancerClass: settings.loadBalancerClass,
    classOnly: settings.classOnly,
    externalIpCidrs: settings.externalIpCidrs,
    nodeAddresses: cluster.nodeAddresses(),
    apiServerAddresses: cluster.apiServerAddresses(),
    serviceCidrs: cluster.serviceCidrs(),
    addressing: cluster.addressing(),
  };
}

/** "awaiting-address": it asks for addresses no allocation gives it yet (allocator.ts says why). */
export type NotServedReason =
  "not-load-balancer" | "other-class" | "no-class" | "ignored" | "awaiting-address";

export type ServiceIntent =
  | { readonly serve: false; readonly reason: NotServedReason }
  | { readonly serve: false; readonly reason: "invalid"; readonly problems: readonly string[] }
  | {
      readonly serve: true;
      readonly vips: readonly Vip[];
      /** Where the VIPs came from: an annotation key or spec.loadBalancerIP. */
      readonly source: string;
      /** vipd.io/interface, if set: an interface name or "auto". */
      readonly interface: string | undefined;
      /** Which of the VIPs are spec.externalIPs: announced, never written into the status. */
      readonly external?: ReadonlySet<string>;
      /** spec.externalIPs refused while the others are served (an InvalidVIP Event says why). */
      readonly refused?: readonly string[];
    };

/**
 * VIP sources, first match wins: vipd's own annotation, then the kube-vip and MetalLB annotations
 * (read so clusters can migrate without editing Services), then spec.loadBalancerIP, which is what
 * `kubectl expose --load-balancer-ip` sets.
 */
const ANNOTATION_SOURCES = [ANNOTATION_LOAD_BALANCER_IPS, ANNOTATION_KUBE_VIP_IPS, ANNOTATION_METALLB_IPS];

// Also read by src/addresses/ranges.ts, which refuses pool entries that contain such addresses.
export const UNUSABLE_RANGES: Readonly<Record<string, string>> = {
  unspecified: "is the unspecified address",
  loopback: "is a loopback address",
  linkLocal: "is link-local",
  multicast: "is multicast",
  broadcast: "is the broadcast address",
  ipv4Mapped: "is an IPv4-mapped IPv6 address; write the IPv4 address instead",
};

/** An address read from text: the VIP, or why the text is none (a sentence for an Event). */
export type AddressReading =
  { readonly ok: true; readonly vip: Vip } | { readonly ok: false; readonly problem: string };

export function canonicalAddress(text: string): AddressReading {
  const trimmed = text.trim();
  // isValidFourPartDecimal refuses the legacy forms ipaddr.parse would accept ("1", "0x7f.1").
  const family = ipaddr.IPv4.isValidFourPartDecimal(trimmed)
    ? 4
    : ipaddr.IPv6.isValid(trimmed) && !trimmed.includes("%")
      ? 6
      : undefined;
  if (family === undefined) return { ok: false, problem: `"${trimmed}" is not an IPv4 or IPv6 address` };
  const parsed = ipaddr.parse(trimmed);
  const unusable = UNUSABLE_RANGES[parsed.range()];
  if (unusable !== undefined) return { ok: false, problem: `${trimmed} ${unusable}` };
  return { ok: true, vip: { address: parsed.toString(), family } };
}

/** The addresses a Service names and where (an annotation key or spec.loadBalancerIP), unparsed. */
export function requestedVips(service: ServiceShape): { source: string; text: string } | undefined {
  const annotations = service.metadata?.annotations ?? {};
  for (const key of ANNOTATION_SOURCES) {
    const value = annotations[key];
    if (value !== undefined && value.trim() !== "") return { source: key, text: value };
  }
  const fromSpec = service.spec?.loadBalancerIP;
  if (fromSpec !== undefined && fromSpec !== "") return { source: "spec.loadBalancerIP", text: fromSpec };
  return undefined;
}

// An address the cluster itself uses, or one the Service's own ClusterIP families cannot carry:
// kube-proxy programs its rules per family of spec.ipFamilies, so a VIP of another family gets
// traffic nowhere (an IPv6 VIP on an IPv4-only Service was announced, and nothing answered).
function clusterProblem(vip: Vip, options: IntentOptions, ipFamilies: readonly string[]): string | null {
  if (options.nodeAddresses.has(vip.address)) return `${vip.address} is a node address`;
  const apiServer = options.apiServerAddresses.get(vip.address);
  if (apiServer !== undefined) return `${vip.address} is an address of the API server (${apiServer})`;
  const parsed = ipaddr.parse(vip.address);
  for (const range of options.serviceCidrs) {
    const [network, prefixLength] = ipaddr.parseCIDR(range.cidr);
    if (network.kind() === parsed.kind() && parsed.match(network, prefixLength))
      return `${vip.address} is inside the cluster's Service CIDR ${range.cidr} (ServiceCIDR ${range.name})`;
  }
  const family = `IPv${vip.family}`;
  if (ipFamilies.length > 0 && !ipFamilies.includes(family)) {
    return `${vip.address} is ${family}, but spec.ipFamilies is ${ipFamilies.join(", ")}: kube-proxy would route nothing to it`;
  }
  return null;
}

function parseVips(
  text: string,
  options: IntentOptions,
  ipFamilies: readonly string[],
): { vips: Vip[]; problems: string[] } {
  const vips: Vip[] = [];
  const problems: string[] = [];
  for (const entry of text.split(",").map((part) => part.trim())) {
    if (entry === "") continue;
    const reading = canonicalAddress(entry);
    if (!reading.ok) {
      problems.push(reading.problem);
      continue;
    }
    const { vip } = reading;
    const reserved = clusterProblem(vip, options, ipFamilies);
    if (reserved !== null) problems.push(reserved);
    else if (vips.some((other) => other.address === vip.address))
      problems.push(`${vip.address} is listed twice`);
    else if (vips.some((other) => other.family === vip.family)) {
      // One address per family, as for a dual-stack Service's ClusterIPs; MetalLB has the same rule.
      problems.push(`more than one IPv${vip.family} address (${vip.address}); a Service gets one per family`);
    } else vips.push(vip);
  }
  return { vips, problems };
}

/** What a Service asks of vipd, before pools and allocations are consulted. */
export type RequestReading =
  | { readonly kind: "not-served"; readonly reason: Exclude<NotServedReason, "awaiting-address"> }
  | { readonly kind: "invalid"; readonly problems: readonly string[] }
  | (AddressRequest & {
      /** Where the VIPs came from: an annotation key or spec.loadBalancerIP; "allocated" otherwise. */
      readonly source: string;
      /** vipd.io/interface, if set: an interface name or "auto". */
      readonly interface: string | undefined;
    });

function dualStackOf(policy: string | undefined): DualStack {
  if (policy === "RequireDualStack") return "require";
  if (policy === "PreferDualStack") return "prefer";
  return "single";
}

function familiesOf(service: ServiceShape): (4 | 6)[] {
  const families = (service.spec?.ipFamilies ?? []).flatMap((family) =>
    family === "IPv4" ? [4 as const] : family === "IPv6" ? [6 as const] : [],
  );
  // A Service the API server has not defaulted yet (only in tests) is IPv4, the API server's own
  // default on a single-stack cluster.
  return families.length === 0 ? [4] : families;
}

function namedPool(
  annotations: Readonly<Record<string, string>>,
): { name: string; source: string } | undefined {
  for (const key of [ANNOTATION_POOL, ANNOTATION_METALLB_POOL]) {
    const value = annotations[key]?.trim();
    if (value !== undefined && value !== "") return { name: value, source: key };
  }
  return undefined;
}

export function readRequest(service: ServiceShape, options: IntentOptions): RequestReading {
  if (service.spec?.type !== "LoadBalancer") return { kind: "not-served", reason: "not-load-balancer" };
  const serviceClass = service.spec.loadBalancerClass;
  if (serviceClass !== undefined && serviceClass !== options.loadBalancerClass) {
    return { kind: "not-served", reason: "other-class" };
  }
  if (serviceClass === undefined && options.classOnly) return { kind: "not-served", reason: "no-class" };
  const annotations = service.metadata?.annotations ?? {};
  const ignore = annotations[ANNOTATION_IGNORE];
  if (ignore === "true") return { kind: "not-served", reason: "ignored" };
  const problems: string[] = [];
  const requested = requestedVips(service);
  const parsed =
    requested === undefined ? undefined : parseVips(requested.text, options, service.spec.ipFamilies ?? []);
  if (requested !== undefined && parsed !== undefined) {
    problems.push(...parsed.problems.map((problem) => `${requested.source}: ${problem}`));
    problems.push(
      ...poolProblems(service, parsed.vips, options.addressing).map((p) => `${requested.source}: ${p}`),
    );
  }
  if (ignore !== undefined && ignore !== "false") {
    // A typo such as "yes" must not silently put a Service the user meant to exclude on the wire.
    problems.push(`${ANNOTATION_IGNORE}: "${ignore}" is neither "true" nor "false"`);
  }
  const interfaceName = annotations[ANNOTATION_INTERFACE];
  if (interfaceName !== undefined && !INTERFACE_NAME_PATTERN.test(interfaceName)) {
    problems.push(`${ANNOTATION_INTERFACE}: "${interfaceName}" is not an interface name or auto`);
  }
  if (problems.length > 0) return { kind: "invalid", problems };
  if (requested !== undefined && parsed !== undefined && parsed.vips.length > 0) {
    return { kind: "requested", vips: parsed.vips, source: requested.source, interface: interfaceName };
  }
  return {
    kind: "allocate",
    families: familiesOf(service),
    dualStack: dualStackOf(service.spec.ipFamilyPolicy),
    pool: namedPool(annotations),
    source: "allocated",
    interface: interfaceName,
  };
}

export function serviceFacts(service: ServiceShape, addressing: Addressing): ServiceFacts {
  const namespace = service.metadata?.namespace ?? "";
  return {
    namespace,
    labels: service.metadata?.labels ?? {},
    namespaceLabels: addressing.namespaceLabels(namespace),
  };
}

// Once there is a pool, a namespace may not take an address outside the pools it may use: anyone
// who can create a Service could otherwise take any address on the LAN, a router's included.
function poolProblems(service: ServiceShape, vips: readonly Vip[], addressing: Addressing): string[] {
  if (!addressing.poolAddressesOnly || addressing.pools.length === 0) return [];
  const facts = serviceFacts(service, addressing);
  return vips.flatMap((vip) => {
    const pool = poolOf(addressing.pools, vip.address);
    if (pool === undefined)
      return [`${vip.address} is in no VIPPool, and addresses outside the pools are refused`];
    if (!admits(pool, facts))
      return [
        `${vip.address} is in VIPPool ${pool.name}, which the namespace ${facts.namespace} may not use`,
      ];
    return [];
  });
}

function insideAny(address: string, cidrs: readonly string[]): boolean {
  const parsed = ipaddr.parse(address);
  return cidrs.some((cidr) => {
    const [network, prefixLength] = ipaddr.parseCIDR(cidr);
    return network.kind() === parsed.kind() && parsed.match(network, prefixLength);
  });
}

// spec.externalIPs let anyone who can create a Service attract traffic for any address
// (CVE-2020-8554), so only those inside CIDRs the operator lists are announced, and none inside a
// pool, whose addresses only allocations give out (allocator.ts). Any Service type may carry them.
function externalIps(
  service: ServiceShape,
  options: IntentOptions,
): { readonly vips: readonly Vip[]; readonly refused: readonly string[] } {
  const entries = service.spec?.externalIPs ?? [];
  if (options.externalIpCidrs.length === 0 || entries.length === 0) return { vips: [], refused: [] };
  if (service.metadata?.annotations?.[ANNOTATION_IGNORE] === "true") return { vips: [], refused: [] };
  const vips: Vip[] = [];
  const refused: string[] = [];
  for (const entry of entries) {
    const reading = canonicalAddress(entry);
    if (!reading.ok) {
      refused.push(`spec.externalIPs: ${reading.problem}`);
      continue;
    }
    const { vip } = reading;
    const problem =
      clusterProblem(vip, options, service.spec?.ipFamilies ?? []) ??
      (insideAny(vip.address, options.externalIpCidrs)
        ? null
        : `${vip.address} is outside --external-ip-cidrs (${options.externalIpCidrs.join(", ")})`) ??
      (poolOf(options.addressing.pools, vip.address) === undefined
        ? null
        : `${vip.address} is inside a VIPPool; ask for it with a LoadBalancer Service instead`);
    if (problem !== null) refused.push(`spec.externalIPs: ${problem}`);
    else if (!vips.some((other) => other.address === vip.address)) vips.push(vip);
  }
  return { vips, refused };
}

export function serviceIntent(service: ServiceShape, options: IntentOptions): ServiceIntent {
  const balanced = loadBalancerIntent(service, options);
  const external = externalIps(service, options);
  if (external.vips.length === 0 && external.refused.length === 0) return balanced;
  if (!balanced.serve && balanced.reason === "invalid") return balanced;
  if (external.vips.length === 0 && !balanced.serve)
    return { serve: false, reason: "invalid", problems: external.refused };
  const own = balanced.serve ? balanced.vips : [];
  const added = external.vips.filter((vip) => !own.some((each) => each.address === vip.address));
  const interfaceName = service.metadata?.annotations?.[ANNOTATION_INTERFACE];
  return {
    serve: true,
    vips: [...own, ...added],
    source: balanced.serve ? balanced.source : "spec.externalIPs",
    interface: balanced.serve ? balanced.interface : interfaceName,
    external: new Set(added.map((vip) => vip.address)),
    ...(external.refused.length === 0 ? {} : { refused: external.refused }),
  };
}

function loadBalancerIntent(service: ServiceShape, options: IntentOptions): ServiceIntent {
  const request = readRequest(service, options);
  if (request.kind === "not-served") return { serve: false, reason: request.reason };
  if (request.kind === "invalid") return { serve: false, reason: "invalid", problems: request.problems };
  const { addressing } = options;
  const ref = { namespace: service.metadata?.namespace ?? "", name: service.metadata?.name ?? "" };
  const uid = service.metadata?.uid ?? "";
  const vips =
    request.kind === "requested"
      ? request.vips.filter((vip) => {
          if (poolOf(addressing.pools, vip.address) === undefined) return true;
          const record = addressing.allocations.at(vip.address);
          return record !== undefined && givenTo(record, uid);
        })
      : addressing.allocations
          .addressesOf(ref, uid)
          .filter((record) => request.families.includes(record.family))
          .map((record) => ({ address: record.address, family: record.family }));
  if (vips.length === 0) return { serve: false, reason: "awaiting-address" };
  return { serve: true, vips, source: request.source, interface: request.interface };
}
