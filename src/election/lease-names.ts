// Names of vipd's Leases (docs/design.md, the election) and the labels that let one label-selected informer
// (and `kubectl get leases -l …`) see all of them.
import { createHash } from "node:crypto";

export const LEASE_LABEL_COMPONENT = "vipd.io/component";
export const HEARTBEAT_COMPONENT = "heartbeat";
export const OWNERSHIP_COMPONENT = "ownership";
export const LEASE_LABEL_SERVICE_NAMESPACE = "vipd.io/service-namespace";
export const LEASE_LABEL_SERVICE_NAME = "vipd.io/service-name";
export const LEASE_LABEL_NODE = "vipd.io/node";
// Labels may be shortened by hashing; this annotation keeps the exact "namespace/name" of the Service
// on the per-Service Leases of vipd 0.1.0, which a rolling upgrade still honours (see legacy.ts).
export const LEASE_ANNOTATION_SERVICE = "vipd.io/service";
/** The exact address an ownership Lease elects a holder for, in canonical text form. */
export const LEASE_ANNOTATION_ADDRESS = "vipd.io/address";
export const LEASE_LABEL_ADDRESS_FAMILY = "vipd.io/address-family";
/**
 * Written on the heartbeat by agents that elect per address. A live heartbeat without it is a 0.1.0
 * agent's: while one runs, its per-Service Leases are honoured and kept (legacy.ts).
 */
export const HEARTBEAT_ANNOTATION_ELECTION = "vipd.io/election";
export const ELECTION_PER_ADDRESS = "per-address";

// Object names are DNS subdomains: at most 253 characters.
const MAX_NAME_LENGTH = 253;
const HASH_LENGTH = 10;

function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, HASH_LENGTH);
}

function fitted(name: string): string {
  if (name.length <= MAX_NAME_LENGTH) return name;
  const head = name.slice(0, MAX_NAME_LENGTH - HASH_LENGTH - 1).replace(/[-.]+$/, "");
  return `${head}-${shortHash(name)}`;
}

export function heartbeatLeaseName(node: string): string {
  return fitted(`vipd-node-${node}`);
}

/**
 * Control-plane mode's one VIP goes through the same loop as a Service, under a key no Service can
 * have: every Service has a namespace. Its Lease is `vipd-control-plane`, a name users can find.
 */
export const CONTROL_PLANE_REF = { namespace: "", name: "control-plane" } as const;

/**
 * The ownership Lease of one address: the unit of election, so that two Services asking for one
 * address can never be claimed by two nodes. IPv4 keeps its dots (`vipd-ip-198.51.100.10`); IPv6 is
 * written in full with dashes (`vipd-ip-2001-0db8-0000-…-0010`), because its short form can end in
 * "::", and a name must end in a letter or digit. Both forms are one-to-one, and never collide with
 * each other: one has dots, the other none.
 */
export function addressLeaseName(vip: { readonly address: string; readonly family: 4 | 6 }): string {
  if (vip.family === 4) return `vipd-ip-${vip.address}`;
  return `vipd-ip-${expandIpv6(vip.address).join("-")}`;
}

function expandIpv6(address: string): string[] {
  const [head = "", tail] = address.split("::");
  const groups = (text: string): string[] => (text === "" ? [] : text.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const zeros = Array.from({ length: 8 - left.length - right.length }, () => "0");
  return [...left, ...zeros, ...right].map((group) => group.padStart(4, "0"));
}

/**
 * vipd 0.1.0's per-Service ownership Lease: `vipd-svc-<namespace>.<name>`, or `vipd-control-plane`
 * for CONTROL_PLANE_REF. Agents elect per address now and write these only while a 0.1.0 agent is
 * alive (legacy.ts). A dash between the two would make "a-b"/"c" and "a"/"b-c" share one Lease;
 * namespaces and Service names are DNS labels and never contain a dot, so the dot cannot clash.
 */
export function legacyServiceLeaseName(service: { namespace: string; name: string }): string {
  if (service.namespace === "") return fitted(`vipd-${service.name}`);
  return fitted(`vipd-svc-${service.namespace}.${service.name}`);
}

// Label values are at most 63 characters; longer Service names are hashed the same way.
export function labelValue(text: string): string {
  if (text.length <= 63) return text;
  return `${text.slice(0, 63 - HASH_LENGTH - 1).replace(/[-._]+$/, "")}-${shortHash(text)}`;
}
