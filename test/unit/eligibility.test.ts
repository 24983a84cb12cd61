import test from "ava";
import {
  isCordoned,
  serviceEligibility,
  type Eligibility,
  type ServiceEligibilityInput,
} from "../../src/agent/eligibility.ts";

const node = {
  metadata: { name: "node1", labels: {} },
  status: { conditions: [{ type: "Ready", status: "True" }] },
};
const base: ServiceEligibilityInput = {
  nodeName: "node1",
  node,
  externalTrafficPolicy: "Cluster",
  endpointSlices: [],
};
const local = (...slices: ServiceEligibilityInput["endpointSlices"]) => ({
  externalTrafficPolicy: "Local",
  endpointSlices: slices,
});
const endpoint = (nodeName: string, ready?: boolean) => ({
  nodeName,
  conditions: ready === undefined ? {} : { ready },
});

const table: [string, Partial<ServiceEligibilityInput>, Eligibility][] = [
  ["a plain node, policy Cluster", {}, { eligible: true }],
  ["no Node object", { node: undefined }, { eligible: false, reason: "no Node object with this name" }],
  [
    "excluded from load balancers (any value)",
    { node: { metadata: { labels: { "node.kubernetes.io/exclude-from-external-load-balancers": "" } } } },
    { eligible: false, reason: "Node is labelled node.kubernetes.io/exclude-from-external-load-balancers" },
  ],
  [
    "NetworkUnavailable",
    { node: { status: { conditions: [{ type: "NetworkUnavailable", status: "True" }] } } },
    { eligible: false, reason: "Node has NetworkUnavailable" },
  ],
  [
    "NetworkUnavailable False",
    { node: { status: { conditions: [{ type: "NetworkUnavailable", status: "False" }] } } },
    { eligible: true },
  ],
  ["Local with a ready local endpoint", local({ endpoints: [endpoint("node1", true)] }), { eligible: true }],
  ["Local with an unset ready condition", local({ endpoints: [endpoint("node1")] }), { eligible: true }],
  [
    "Local with the local endpoint in the second slice",
    local({ endpoints: [endpoint("node2", true)] }, { endpoints: [endpoint("node1", true)] }),
    { eligible: true },
  ],
  [
    "Local with only a not-ready local endpoint",
    local({ endpoints: [endpoint("node1", false), endpoint("node2", true)] }),
    { eligible: false, reason: "externalTrafficPolicy Local and no ready endpoint on this node" },
  ],
  [
    "Local with no slices at all",
    local(),
    { eligible: false, reason: "externalTrafficPolicy Local and no ready endpoint on this node" },
  ],
  ["Cluster ignores endpoints", { endpointSlices: [] }, { eligible: true }],
];

for (const [what, overrides, expected] of table) {
  test(what, (t) => {
    t.deepEqual(serviceEligibility({ ...base, ...overrides }), expected);
  });
}

test("a cordoned node stays eligible; the cordon only changes its rank and makes it hand over", (t) => {
  const cordoned = { ...node, spec: { unschedulable: true } };
  t.deepEqual(serviceEligibility({ ...base, node: cordoned }), { eligible: true });
  t.true(isCordoned(cordoned));
  t.false(isCordoned(node));
  t.false(isCordoned({ ...node, spec: { unschedulable: false } }));
  t.false(isCordoned(undefined), "a Node not registered yet (control-plane bootstrap) is not cordoned");
});
