import type { V1EndpointSlice, V1Lease, V1Node, V1ServiceCIDR } from "@kubernetes/client-node";
import test from "ava";
import { InformerClusterView, SERVICE_NAME_LABEL } from "../../src/agent/informer-view.ts";
import { HeartbeatTracker } from "../../src/election/heartbeat-tracker.ts";
import { HEARTBEAT_COMPONENT, LEASE_LABEL_COMPONENT } from "../../src/election/lease-names.ts";
import type { AgentInformers } from "../../src/kube/informers.ts";
import { addressingOf } from "./fakes/addressing.ts";

function node(parts: {
  labels?: Record<string, string>;
  ready?: string;
  heartbeat?: string;
  networkUnavailable?: string;
  address?: string;
  unschedulable?: boolean;
}): V1Node {
  return {
    metadata: { name: "node1", labels: parts.labels ?? {} },
    ...(parts.unschedulable === undefined ? {} : { spec: { unschedulable: parts.unschedulable } }),
    status: {
      conditions: [
        { type: "Ready", status: parts.ready ?? "True", lastHeartbeatTime: new Date(parts.heartbeat ?? 0) },
        ...(parts.networkUnavailable === undefined
          ? []
          : [{ type: "NetworkUnavailable", status: parts.networkUnavailable }]),
      ],
      addresses: [{ type: "InternalIP", address: parts.address ?? "198.51.100.11" }],
    },
  };
}

function viewOf(informers: unknown, kubeconfigServer?: string): InformerClusterView {
  return new InformerClusterView({
    informers: informers as AgentInformers,
    namespace: "vipd-system",
    self: "node1",
    tracker: new HeartbeatTracker(),
    clock: () => 0,
    leaseDuration: 5000,
    intentOf: () => ({ serve: false, reason: "not used here" }) as never,
    kubeconfigServer,
    addressing: addressingOf(),
  });
}

function view(nodes: () => V1Node[]): InformerClusterView {
  return viewOf({ nodes: { list: nodes } });
}

const cases: [string, V1Node, boolean][] = [
  ["a status heartbeat", node({ heartbeat: "2026-11-23T00:00:10Z" }), false],
  ["Ready going False (kubelet's business, not an L2 candidate's)", node({ ready: "False" }), false],
  [
    "the exclude-from-load-balancers label",
    node({ labels: { "node.kubernetes.io/exclude-from-external-load-balancers": "" } }),
    true,
  ],
  ["NetworkUnavailable", node({ networkUnavailable: "True" }), true],
  ["a new address", node({ address: "198.51.100.12" }), true],
  ["a cordon (kubectl cordon, kubectl drain)", node({ unschedulable: true }), true],
  ["spec.unschedulable written as false (the same as unset)", node({ unschedulable: false }), false],
];

for (const [name, update, relevant] of cases) {
  test(`a Node update: ${name} ${relevant ? "re-runs" : "does not re-run"} the loops`, (t) => {
    const current = [node({})];
    const subject = view(() => current);
    t.true(subject.nodeChanged(node({}), false), "first sight");
    current[0] = update;
    t.is(subject.nodeChanged(update, false), relevant);
  });
}

test("the Node address index follows address changes and deletion", (t) => {
  let current = [node({})];
  const subject = view(() => current);
  subject.nodeChanged(node({}), false);
  t.true(subject.nodeAddresses().has("198.51.100.11"));
  current = [node({ address: "198.51.100.12" })];
  subject.nodeChanged(node({ address: "198.51.100.12" }), false);
  t.deepEqual([...subject.nodeAddresses()], ["198.51.100.12"]);
  current = [];
  t.true(subject.nodeChanged(node({ address: "198.51.100.12" }), true));
  t.is(subject.nodeAddresses().size, 0);
});

function heartbeatLease(node: string, labelled = true): V1Lease {
  return {
    metadata: {
      name: `vipd-node-${node}`,
      labels: labelled ? { [LEASE_LABEL_COMPONENT]: HEARTBEAT_COMPONENT } : {},
    },
    spec: { holderIdentity: node },
  };
}

test("live nodes come from heartbeat Lease events; ownership Leases and deletions drop out", (t) => {
  const tracker = new HeartbeatTracker();
  const subject = new InformerClusterView({
    informers: {} as AgentInformers,
    namespace: "vipd-system",
    self: "node1",
    tracker,
    clock: () => 1000,
    leaseDuration: 5000,
    intentOf: () => ({ serve: false, reason: "not used here" }) as never,
    kubeconfigServer: undefined,
    addressing: addressingOf(),
  });
  for (const node of ["node1", "node2", "node3"]) {
    tracker.observe(node, "1", 0);
    subject.leaseChanged(heartbeatLease(node), false);
  }
  subject.leaseChanged(heartbeatLease("node4", false), false);
  t.deepEqual([...subject.liveNodes()].sort(), ["node2", "node3"], "not itself, not an ownership Lease");
  subject.leaseChanged(heartbeatLease("node3"), true);
  t.deepEqual(subject.liveNodes(), ["node2"]);
});

test("the API server's addresses follow the kubeconfig and default/kubernetes as they change", (t) => {
  const cidrs: V1ServiceCIDR[] = [];
  const subject = viewOf(
    { services: { get: () => undefined }, serviceCidrs: { list: () => cidrs } },
    "https://203.0.113.1:6443",
  );
  t.deepEqual([...subject.apiServerAddresses().keys()], ["203.0.113.1"]);
  const slice: V1EndpointSlice = {
    metadata: { name: "kubernetes", namespace: "default", labels: { [SERVICE_NAME_LABEL]: "kubernetes" } },
    addressType: "IPv4",
    endpoints: [{ addresses: ["203.0.113.5"] }],
  };
  subject.endpointSliceChanged(slice, false);
  t.deepEqual([...subject.apiServerAddresses().keys()], ["203.0.113.1", "203.0.113.5"]);
  subject.endpointSliceChanged(slice, true);
  t.deepEqual([...subject.apiServerAddresses().keys()], ["203.0.113.1"]);

  t.deepEqual(subject.serviceCidrs(), []);
  cidrs.push({ metadata: { name: "kubernetes" }, spec: { cidrs: ["192.0.2.0/24"] } });
  subject.serviceCidrChanged();
  t.deepEqual(subject.serviceCidrs(), [{ cidr: "192.0.2.0/24", name: "kubernetes" }]);
});

test("agents' MACs come from their heartbeat Leases; a heartbeat without the annotation is a 0.1.0 agent", (t) => {
  const subject = view(() => []);
  const withMacs = (node: string, macs: string): V1Lease => {
    const lease = heartbeatLease(node);
    return { ...lease, metadata: { ...lease.metadata, annotations: { "vipd.io/macs": macs } } };
  };
  subject.leaseChanged(withMacs("node2", "02:00:00:00:00:0C,02:00:00:00:01:0c"), false);
  subject.leaseChanged(withMacs("node3", ""), false);
  subject.leaseChanged(heartbeatLease("node4"), false);
  t.deepEqual([...subject.agentMacs().published].sort(), ["02:00:00:00:00:0c", "02:00:00:00:01:0c"]);
  t.deepEqual(subject.agentMacs().withoutMacs, ["node4"]);
  subject.leaseChanged(withMacs("node4", "02:00:00:00:00:0e"), false);
  subject.leaseChanged(withMacs("node2", ""), true);
  t.deepEqual([...subject.agentMacs().published], ["02:00:00:00:00:0e"], "an upgrade and a deletion");
  t.deepEqual(subject.agentMacs().withoutMacs, []);
});
