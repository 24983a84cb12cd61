import test from "ava";
import type { V1Node } from "@kubernetes/client-node";
import type { Eligibility } from "../../src/agent/eligibility.ts";
import { controlPlaneNode, ControlPlaneTarget, LABEL_CONTROL_PLANE } from "../../src/controlplane/target.ts";
import { CONTROL_PLANE_REF } from "../../src/election/lease-names.ts";

const VIPS = [{ address: "198.51.100.100", family: 4 as const }];

function target(
  options: { nodes?: Record<string, V1Node>; health?: Eligibility; addresses?: string[] } = {},
) {
  const invalid: (readonly string[])[] = [];
  const subject = new ControlPlaneTarget({
    self: "cp1",
    vips: VIPS,
    mode: "l2",
    health: () => options.health ?? { eligible: true },
    node: (name) => options.nodes?.[name],
    nodeAddresses: () => new Set(options.addresses ?? ["198.51.100.11"]),
    onInvalid: (problems) => invalid.push(problems),
  });
  return { subject, invalid };
}

const labelled: V1Node = { metadata: { name: "cp1", labels: { [LABEL_CONTROL_PLANE]: "" } } };
const worker: V1Node = { metadata: { name: "w1", labels: { "node-role.kubernetes.io/worker": "" } } };

const nodeRows: [string, V1Node | undefined, boolean][] = [
  ["a Node labelled control-plane", labelled, true],
  ["a Node not registered yet (kubeadm's first node registers through the VIP)", undefined, true],
  ["a Node without the label", worker, false],
  [
    "a control-plane Node that kubeadm also excludes from load balancers",
    {
      metadata: {
        labels: { [LABEL_CONTROL_PLANE]: "", "node.kubernetes.io/exclude-from-external-load-balancers": "" },
      },
    },
    true,
  ],
];
for (const [name, node, eligible] of nodeRows) {
  test(`controlPlaneNode: ${name}`, (t) => {
    t.is(controlPlaneNode(node).eligible, eligible);
  });
}

test("the configured VIP is asked for under the control-plane ref; any other address is not served", (t) => {
  const { subject } = target();
  t.deepEqual(subject.addresses(), ["198.51.100.100"]);
  t.deepEqual(subject.demand("198.51.100.100"), {
    vip: VIPS[0],
    service: CONTROL_PLANE_REF,
    interfaceOverride: undefined,
    mode: "l2",
  });
  t.deepEqual(subject.legacyServices("198.51.100.100"), [CONTROL_PLANE_REF], "0.1.0's vipd-control-plane");
  t.is(subject.demand("198.51.100.101"), null);
  t.deepEqual(subject.legacyServices("198.51.100.101"), []);
});

test("a VIP that is a node address is refused, and reported once", (t) => {
  const { subject, invalid } = target({ addresses: ["198.51.100.100"] });
  t.is(subject.demand("198.51.100.100"), null);
  subject.demand("198.51.100.100");
  t.deepEqual(invalid, [["--vip: 198.51.100.100 is a node address"]]);
});

test("self: eligible while the local API server is healthy", (t) => {
  t.true(target({ nodes: { cp1: labelled } }).subject.selfEligibility().eligible);
  const down = {
    eligible: false as const,
    code: "api-server-unhealthy" as const,
    reason: "the local API server failed",
  };
  t.deepEqual(target({ nodes: { cp1: labelled }, health: down }).subject.selfEligibility(), down);
  t.false(target({ nodes: { cp1: worker } }).subject.selfEligibility().eligible, "not on a worker");
});

test("others: every control-plane node, registered or not, and no worker", (t) => {
  const { subject } = target({ nodes: { cp2: labelled, w1: worker } });
  t.true(subject.otherEligible("cp2"));
  t.true(subject.otherEligible("cp3"));
  t.false(subject.otherEligible("w1"));
});

test("Events go on this node's Node object: by its uid, or by its name while no Node is seen", (t) => {
  const seen = { metadata: { name: "cp1", uid: "uid-of-cp1" } };
  t.deepEqual(target({ nodes: { cp1: seen } }).subject.eventSubject(), {
    namespace: "default",
    name: "cp1",
    uid: "uid-of-cp1",
  });
  t.deepEqual(target().subject.eventSubject(), { namespace: "default", name: "cp1", uid: "cp1" });
});
