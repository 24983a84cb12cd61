// What `vipd explain` reads of a cluster for one Service, in one go, before anything is decided: the
// objects the agents themselves read (Services, Nodes, EndpointSlices, vipd's Leases, pools,
// allocations, the cluster's own addresses) plus the Service's Events. explain.ts turns it into a
// report with the agents' own decision code; the gatherer (gather.ts) is the only part that talks
// to the API server, so the report is table-tested from snapshots written by hand.
import type {
  CoreV1Event,
  V1ConfigMap,
  V1EndpointSlice,
  V1Lease,
  V1Namespace,
  V1Node,
  V1Service,
  V1ServiceCIDR,
} from "@kubernetes/client-node";
import type { VipAllocation, VipPool } from "../addresses/api.ts";
import type { ServiceRef } from "../kube/service-ref.ts";

export interface ExplainSnapshot {
  readonly service: V1Service;
  /** Every Service in the cluster, the explained one included: others may ask for its addresses. */
  readonly services: readonly V1Service[];
  readonly nodes: readonly V1Node[];
  /** The explained Service's EndpointSlices. */
  readonly endpointSlices: readonly V1EndpointSlice[];
  /** The EndpointSlices of default/kubernetes: every API server's address. */
  readonly kubernetesSlices: readonly V1EndpointSlice[];
  /** Every Lease in vipd's namespace: heartbeats and ownership. */
  readonly leases: readonly V1Lease[];
  /** Whether the API server serves vipd.io (its CRDs are installed). */
  readonly vipdApiServed: boolean;
  readonly vipPools: readonly VipPool[];
  readonly allocations: readonly VipAllocation[];
  /** kube-vip-cloud-provider's kube-system/kubevip ConfigMap, read as pools too; undefined if absent. */
  readonly kubeVipConfig: V1ConfigMap | undefined;
  /** The explained Service's Namespace (pools may select it by its labels); undefined if unread. */
  readonly namespace: V1Namespace | undefined;
  readonly serviceCidrs: readonly V1ServiceCIDR[];
  /** Events whose involvedObject is a Service of this name in its namespace. */
  readonly events: readonly CoreV1Event[];
  /** What could not be read, each with why ("Events: HTTP 403: …"); the report says so. */
  readonly unread: readonly string[];
}

/** The agents' settings the report assumes: the defaults of `vipd run` unless told otherwise. */
export interface ExplainSettings {
  /** Where vipd's Leases live (vipd run --namespace). */
  readonly vipdNamespace: string;
  readonly loadBalancerClass: string;
  readonly classOnly: boolean;
  readonly poolAddressesOnly: boolean;
  readonly externalIpCidrs: readonly string[];
  readonly cordonHandsOver: boolean;
  readonly allocationCooldown: number;
}

export type Gathered =
  { readonly found: true; readonly snapshot: ExplainSnapshot } | { readonly found: false };

/** Reads a snapshot from a cluster; throws only when the Service itself cannot be read. */
export interface ExplainGatherer {
  gather(service: ServiceRef): Promise<Gathered>;
}
