// Which VIPs a Service asks for, and whether this agent serves it at all: a pure reading of the
// Service object and the cluster's own addresses, with a precise message for everything it rejects
// (turned into InvalidVIP Events). Nothing here depends on the node, so every agent reaches the same
// answer and one of them reports it; what depends on the node's interfaces is interface-choice.ts's.
import ipaddr from "ipaddr.js";
import type { ServiceCidr } from "../kube/cluster-addresses.ts";
import {
  ANNOTATION_IGNORE,
  ANNOTATION_INTERFACE,
  ANNOTATION_KUBE_VIP_IPS,
  ANNOTATION_LOAD_BALANCER_IPS,
  ANNOTATION_METALLB_IPS,
} from "../kube/names.ts";
import { INTERFACE_NAME_PATTERN } from "../net/interface-name.ts";

export interface Vip {
  /** Canonical text form (lower case, shortest IPv6 form) so equal addresses compare equal. */
  readonly address: string;
  readonly family: 4 | 6;
}

/** The parts of a Service this decision reads; a V1Service fits. */
export interface ServiceShape {
  readonly metadata?: { readonly annotations?: Readonly<Record<string, string>> };
  readonly spec?: {
    readonly type?: string;
    readonly loadBalancerClass?: string;
    readonly loadBalancerIP?: string;
    /** Set by the API server on every Service with a ClusterIP, LoadBalancer ones included. */
    readonly ipFamilies?: readonly string[];
  };
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
}

/** The cluster's addresses, as the agent's informer caches know them. */
export interface ClusterAddresses {
  nodeAddresses(): ReadonlySet<string>;
  apiServerAddresses(): ReadonlyMap<string, string>;
  serviceCidrs(): readonly ServiceCidr[];
}

export function intentOptions(
  classes: { readonly loadBalancerClass: string; readonly classOnly: boolean },
  cluster: ClusterAddresses,
): IntentOptions {
  return {
    loadBalancerClass: classes.loadBalancerClass,
    classOnly: classes.classOnly,
    nodeAddresses: cluster.nodeAddresses(),
    apiServerAddresses: cluster.apiServerAddresses(),
    serviceCidrs: cluster.serviceCidrs(),
  };
}

export type NotServedReason = "not-load-balancer" | "other-class" | "no-class" | "ignored" | "no-vip";

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

function requestedVips(service: ServiceShape): { source: string; text: string } | undefined {
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

export function serviceIntent(service: ServiceShape, options: IntentOptions): ServiceIntent {
  if (service.spec?.type !== "LoadBalancer") return { serve: false, reason: "not-load-balancer" };
  const serviceClass = service.spec.loadBalancerClass;
  if (serviceClass !== undefined && serviceClass !== options.loadBalancerClass) {
    return { serve: false, reason: "other-class" };
  }
  if (serviceClass === undefined && options.classOnly) return { serve: false, reason: "no-class" };
  const annotations = service.metadata?.annotations ?? {};
  const ignore = annotations[ANNOTATION_IGNORE];
  if (ignore === "true") return { serve: false, reason: "ignored" };
  const requested = requestedVips(service);
  if (requested === undefined) return { serve: false, reason: "no-vip" };
  const parsed = parseVips(requested.text, options, service.spec.ipFamilies ?? []);
  const problems = parsed.problems.map((problem) => `${requested.source}: ${problem}`);
  if (ignore !== undefined && ignore !== "false") {
    // A typo such as "yes" must not silently put a Service the user meant to exclude on the wire.
    problems.push(`${ANNOTATION_IGNORE}: "${ignore}" is neither "true" nor "false"`);
  }
  const interfaceName = annotations[ANNOTATION_INTERFACE];
  if (interfaceName !== undefined && !INTERFACE_NAME_PATTERN.test(interfaceName)) {
    problems.push(`${ANNOTATION_INTERFACE}: "${interfaceName}" is not an interface name or auto`);
  }
  if (problems.length > 0) return { serve: false, reason: "invalid", problems };
  const { vips } = parsed;
  if (vips.length === 0) return { serve: false, reason: "no-vip" };
  return { serve: true, vips, source: requested.source, interface: interfaceName };
}
