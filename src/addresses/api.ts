// The objects of vipd's own API group, as the agent, the CLI and the manifests read them: VIPPool
// (cluster-scoped, written by operators; its status by vipd) and VIPAllocation (cluster-scoped, one
// per address vipd gave a Service, named after the address, written only by vipd). The OpenAPI
// schema and CEL rules the API server checks them with are in src/manifest/crds.ts.
import type { V1LabelSelector, V1ObjectMeta } from "@kubernetes/client-node";
import ipaddr from "ipaddr.js";
import type { AnnouncementMode } from "../routing/announcement-mode.ts";

export const VIPD_API_GROUP = "vipd.io";
export const VIPD_API_VERSION = "v1alpha1";
export const VIPD_GROUP_VERSION = `${VIPD_API_GROUP}/${VIPD_API_VERSION}`;

export const VIP_POOL_KIND = "VIPPool";
export const VIP_POOL_PLURAL = "vippools";
export const VIP_ALLOCATION_KIND = "VIPAllocation";
export const VIP_ALLOCATION_PLURAL = "vipallocations";

/** Which Services may take addresses from a pool, as MetalLB's IPAddressPool says it. */
export interface VipPoolServiceAllocation {
  /** Lower first, as in MetalLB; a pool without a priority comes after every pool with one. */
  readonly priority?: number;
  /**
   * With namespaceSelectors, the namespaces allowed: the Service's namespace must be one of these or
   * match one of those (their union, as in MetalLB), when any of either are given.
   */
  readonly namespaces?: readonly string[];
  /** Namespaces allowed by their labels, besides those listed in namespaces. */
  readonly namespaceSelectors?: readonly V1LabelSelector[];
  /** The Service must match one of these, when any are given. */
  readonly serviceSelectors?: readonly V1LabelSelector[];
}

export interface VipPoolSpec {
  /** CIDRs ("198.51.100.0/24", "2001:db8::/120") and ranges ("198.51.100.10-198.51.100.20"). */
  readonly addresses: readonly string[];
  /** Skip addresses ending in .0 or .255, which some old clients treat as broadcast. */
  readonly avoidBuggyIPs?: boolean;
  /** false: only Services that name the pool (vipd.io/pool) get addresses from it. Default true. */
  readonly autoAssign?: boolean;
  /** true: the pool hands out nothing new and keeps what it gave (draining it). Default false. */
  readonly disabled?: boolean;
  readonly serviceAllocation?: VipPoolServiceAllocation;
  /** How its addresses reach the network; unset: the agent's --announce-mode. */
  readonly mode?: AnnouncementMode;
  /** BGP attributes of the routes to its addresses, for the bgp and ecmp modes. */
  readonly bgp?: VipPoolBgp;
}

export interface VipPoolBgp {
  /** "a:b" (RFC 1997) or large "a:b:c" (RFC 8092). */
  readonly communities?: readonly string[];
  readonly localPreference?: number;
}

/** Counts are text: an IPv6 pool's size does not fit a JSON number. */
export interface VipPoolFamilyUsage {
  readonly total: string;
  readonly allocated: number;
  readonly free: string;
}

export interface VipPoolCondition {
  /** "Ready" (the pool is valid and hands out addresses) or "Conflicting" (it overlaps another). */
  readonly type: string;
  readonly status: "True" | "False" | "Unknown";
  readonly reason: string;
  readonly message: string;
  readonly lastTransitionTime: string;
  readonly observedGeneration?: number;
}

export interface VipPoolStatus {
  /** Addresses allocated from the pool, both families. */
  readonly allocated?: number;
  readonly ipv4?: VipPoolFamilyUsage;
  readonly ipv6?: VipPoolFamilyUsage;
  readonly conditions?: readonly VipPoolCondition[];
  readonly observedGeneration?: number;
}

export interface VipPool {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: V1ObjectMeta;
  readonly spec?: VipPoolSpec;
  readonly status?: VipPoolStatus;
}

export interface VipAllocationServiceRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export interface VipAllocationSpec {
  /** Canonical text form of the address; the object's name is derived from it (allocationName). */
  readonly address: string;
  /** The pool it came from. */
  readonly pool: string;
  /** The Services it is given to: one, or several with the same sharing key. Empty once released. */
  readonly services: readonly VipAllocationServiceRef[];
  /** vipd.io/allow-shared-ip (or its MetalLB and kube-vip equivalents) of its Services, if any. */
  readonly sharingKey?: string;
  /** When its last Service let it go (RFC 3339): it is not handed out again until the cool-down ends. */
  readonly releasedAt?: string;
}

export interface VipAllocation {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: V1ObjectMeta;
  readonly spec?: VipAllocationSpec;
}

/**
 * The VIPAllocation name of an address: the IPv4 text itself, or the eight IPv6 groups in full,
 * joined by "-" (object names are DNS subdomains: no ":"). One name per address is what makes the
 * allocation's create atomic per address (allocator.ts).
 */
export function allocationName(address: string): string {
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv4") return parsed.toString();
  return (parsed as ipaddr.IPv6).parts.map((part) => part.toString(16).padStart(4, "0")).join("-");
}
