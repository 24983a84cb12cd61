// Names of vipd's Leases (DESIGN.md section 2) and the labels that let one label-selected informer
// (and `kubectl get leases -l …`) see all of them.
import { createHash } from "node:crypto";

export const LEASE_LABEL_COMPONENT = "vipd.io/component";
export const HEARTBEAT_COMPONENT = "heartbeat";
export const OWNERSHIP_COMPONENT = "ownership";
export const LEASE_LABEL_SERVICE_NAMESPACE = "vipd.io/service-namespace";
export const LEASE_LABEL_SERVICE_NAME = "vipd.io/service-name";
export const LEASE_LABEL_NODE = "vipd.io/node";
// Labels may be shortened by hashing; this annotation keeps the exact "namespace/name" of the Service.
export const LEASE_ANNOTATION_SERVICE = "vipd.io/service";

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
 * `vipd-svc-<namespace>.<name>`, or `vipd-control-plane` for CONTROL_PLANE_REF. A dash between the two would make "a-b"/"c" and "a"/"b-c" share one
 * Lease; namespaces and Service names are DNS labels and never contain a dot, so the dot cannot clash.
 */
export function ownershipLeaseName(service: { namespace: string; name: string }): string {
  if (service.namespace === "") return fitted(`vipd-${service.name}`);
  return fitted(`vipd-svc-${service.namespace}.${service.name}`);
}

// Label values are at most 63 characters; longer Service names are hashed the same way.
export function labelValue(text: string): string {
  if (text.length <= 63) return text;
  return `${text.slice(0, 63 - HASH_LENGTH - 1).replace(/[-._]+$/, "")}-${shortHash(text)}`;
}
