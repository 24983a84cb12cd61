// Snapshots for the unit tests of `vipd explain` (src/explain/): a three-node cluster whose agents
// are all live, a Service, and builders for the objects a row changes.
import type { CoreV1Event, V1Lease, V1Node, V1Service } from "@kubernetes/client-node";
import type { VipAllocation, VipPool } from "../../../src/addresses/api.ts";
import {
  addressLeaseName,
  HEARTBEAT_COMPONENT,
  heartbeatLeaseName,
  LEASE_LABEL_COMPONENT,
  OWNERSHIP_COMPONENT,
} from "../../../src/election/lease-names.ts";
import type { ExplainSettings, ExplainSnapshot } from "../../../src/explain/snapshot.ts";

export const NOW = Date.parse("2026-12-02T06:00:00Z");
export const UID = "uid-web";
export const NODES = ["node-a", "node-b", "node-c"];

export const SETTINGS: ExplainSettings = {
  vipdNamespace: "vipd-system",
  loadBalancerClass: "vipd.io/l2",
  classOnly: false,
  poolAddressesOnly: true,
  externalIpCidrs: [],
  cordonHandsOver: true,
  allocationCooldown: 60_000,
};

export function ago(ms: number): Date {
  return new Date(NOW - ms);
}

export function node(
  name: string,
  parts: { labels?: Record<string, string>; cordoned?: boolean } = {},
): V1Node {
  return {
    metadata: { name, labels: parts.labels ?? {} },
    spec: { unschedulable: parts.cordoned ?? false },
    status: { addresses: [{ type: "InternalIP", address: `198.51.100.${NODES.indexOf(name) + 11}` }] },
  };
}

export function heartbeat(name: string, renewedAgoMs = 400): V1Lease {
  return {
    metadata: { name: heartbeatLeaseName(name), labels: { [LEASE_LABEL_COMPONENT]: HEARTBEAT_COMPONENT } },
    spec: { holderIdentity: name, leaseDurationSeconds: 5, renewTime: ago(renewedAgoMs) },
  };
}

export function ownership(address: string, holder: string | null, family: 4 | 6 = 4): V1Lease {
  return {
    metadata: {
      name: addressLeaseName({ address, family }),
      labels: { [LEASE_LABEL_COMPONENT]: OWNERSHIP_COMPONENT },
    },
    spec: {
      ...(holder === null ? {} : { holderIdentity: holder }),
      leaseDurationSeconds: 5,
      acquireTime: ago(120_000),
      renewTime: ago(120_000),
      leaseTransitions: 1,
    },
  };
}

export function service(
  parts: {
    name?: string;
    uid?: string;
    createdAgoMs?: number;
    annotations?: Record<string, string>;
    spec?: V1Service["spec"];
    status?: V1Service["status"];
  } = {},
): V1Service {
  return {
    metadata: {
      name: parts.name ?? "web",
      namespace: "default",
      uid: parts.uid ?? UID,
      creationTimestamp: ago(parts.createdAgoMs ?? 600_000),
      annotations: parts.annotations ?? {},
    },
    spec: {
      type: "LoadBalancer",
      ipFamilies: ["IPv4"],
      ports: [{ port: 80, protocol: "TCP" }],
      ...parts.spec,
    },
    ...(parts.status === undefined ? {} : { status: parts.status }),
  };
}

export function pool(name: string, addresses: string[]): VipPool {
  return { metadata: { name, creationTimestamp: ago(3_600_000) }, spec: { addresses } };
}

export function allocation(
  address: string,
  services: { name: string; uid: string }[],
  poolName = "lan",
): VipAllocation {
  return {
    metadata: { name: address, resourceVersion: "1", creationTimestamp: ago(300_000) },
    spec: {
      address,
      pool: poolName,
      services: services.map((each) => ({ namespace: "default", ...each })),
    },
  };
}

export function event(parts: {
  reason: string;
  message: string;
  agoMs: number;
  uid?: string;
  host?: string;
  type?: string;
}): CoreV1Event {
  return {
    metadata: { name: `web.${parts.agoMs}`, namespace: "default" },
    involvedObject: { kind: "Service", name: "web", namespace: "default", uid: parts.uid ?? UID },
    reason: parts.reason,
    message: parts.message,
    type: parts.type ?? "Normal",
    count: 1,
    lastTimestamp: ago(parts.agoMs),
    ...(parts.host === undefined ? {} : { source: { host: parts.host } }),
  };
}

/** The explained Service (the first of `services`) in a cluster of three live nodes. */
export function snapshot(parts: Partial<ExplainSnapshot> & { services?: V1Service[] } = {}): ExplainSnapshot {
  const services = parts.services ?? [service()];
  const [first] = services;
  if (first === undefined) throw new Error("a snapshot needs its Service");
  return {
    service: first,
    nodes: NODES.map((name) => node(name)),
    endpointSlices: [],
    kubernetesSlices: [],
    leases: NODES.map((name) => heartbeat(name)),
    vipdApiServed: true,
    vipPools: [],
    allocations: [],
    kubeVipConfig: undefined,
    namespace: { metadata: { name: "default", labels: {} } },
    serviceCidrs: [],
    events: [],
    unread: [],
    ...parts,
    services,
  };
}
