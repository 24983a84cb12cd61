// Rule 7, the parts read from Kubernetes objects: may this node carry this Service's VIPs? The parts
// read from the node's own interfaces (an up interface on the VIP's subnet) are the data plane's.
import { LABEL_EXCLUDE_FROM_LOAD_BALANCERS } from "../kube/names.ts";

export interface NodeShape {
  readonly metadata?: { readonly name?: string; readonly labels?: Readonly<Record<string, string>> };
  readonly spec?: { readonly unschedulable?: boolean };
  readonly status?: { readonly conditions?: readonly { readonly type: string; readonly status: string }[] };
}

export interface EndpointSliceShape {
  readonly endpoints?: readonly {
    readonly nodeName?: string;
    readonly conditions?: { readonly ready?: boolean };
  }[];
}

/** Why a node may not carry an address, for tests and metrics; `reason` says it for people. */
export type IneligibleCode =
  | "no-node"
  | "excluded-from-load-balancers"
  | "network-unavailable"
  | "no-local-endpoint"
  | "not-asked"
  | "not-control-plane"
  | "api-server-unchecked"
  | "api-server-unhealthy";

export type Eligibility =
  | { readonly eligible: true }
  | { readonly eligible: false; readonly code: IneligibleCode; readonly reason: string };

const ELIGIBLE: Eligibility = { eligible: true };

export function nodeEligibility(node: NodeShape | undefined): Eligibility {
  if (node === undefined)
    return { eligible: false, code: "no-node", reason: "no Node object with this name" };
  if (node.metadata?.labels?.[LABEL_EXCLUDE_FROM_LOAD_BALANCERS] !== undefined) {
    return {
      eligible: false,
      code: "excluded-from-load-balancers",
      reason: `Node is labelled ${LABEL_EXCLUDE_FROM_LOAD_BALANCERS}`,
    };
  }
  const networkUnavailable = node.status?.conditions?.find(
    (condition) => condition.type === "NetworkUnavailable",
  );
  if (networkUnavailable?.status === "True")
    return { eligible: false, code: "network-unavailable", reason: "Node has NetworkUnavailable" };
  return ELIGIBLE;
}

/**
 * Cordoned (`kubectl cordon`, `kubectl drain`): still eligible, but last in the ranking and handing
 * over to an uncordoned candidate (rule 7), because a drain leaves DaemonSet pods such as vipd running.
 */
export function isCordoned(node: NodeShape | undefined): boolean {
  return node?.spec?.unschedulable === true;
}

/**
 * A ready endpoint on this node in any of the Service's slices. A Service's endpoints are spread over
 * several EndpointSlices, and the local one may be in any of them, not only the last one seen.
 * An unset ready condition means ready, as the EndpointSlice API defines it.
 */
export function hasReadyLocalEndpoint(slices: readonly EndpointSliceShape[], nodeName: string): boolean {
  return slices.some((slice) =>
    (slice.endpoints ?? []).some(
      (endpoint) => endpoint.nodeName === nodeName && endpoint.conditions?.ready !== false,
    ),
  );
}

export interface ServiceEligibilityInput {
  readonly nodeName: string;
  readonly node: NodeShape | undefined;
  readonly externalTrafficPolicy: string | undefined;
  readonly endpointSlices: readonly EndpointSliceShape[];
}

export function serviceEligibility(input: ServiceEligibilityInput): Eligibility {
  const forNode = nodeEligibility(input.node);
  if (!forNode.eligible) return forNode;
  if (
    input.externalTrafficPolicy === "Local" &&
    !hasReadyLocalEndpoint(input.endpointSlices, input.nodeName)
  ) {
    return {
      eligible: false,
      code: "no-local-endpoint",
      reason: "externalTrafficPolicy Local and no ready endpoint on this node",
    };
  }
  return ELIGIBLE;
}
