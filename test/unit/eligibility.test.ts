import test from "ava";
import {
  isCordoned,
  serviceEligibility,
  type Eligibility,
  type IneligibleCode,
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

/** What a table row expects: eligible, or the typed code of why not (the sentence is for people). */
type Expected = { readonly eligible: true } | { readonly eligible: false; readonly code: IneligibleCode };

function outcome(eligibility: Eligibility): Expected {
  return eligibility.eligible ? eligibility : { eligible: false, code: eligibility.code };
}

const table: [string, Partial<ServiceEligibilityInput>, Expected][] = [
  ["a plain node, policy Cluster", {}, { eligible: true }],
  ["no Node object", { node: undefined }, { eligible: false, code: "no-node" }],
  [
    "excluded from load balancers (any value)",
    { node: { metadata: { labels: { "node.kubernetes.io/exclude-from-external-load-balancers": "" } } } },
    { eligible: false, code: "excluded-from-load-balancers" },
  ],
  [
    "NetworkUnavailable",
    { node: { status: { conditions: [{ type: "NetworkUnavailable", status: "True" }] } } },
    { eligible: false, code: "network-unavailable" },
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
    { eligible: false, code: "no-local-endpoint" },
  ],
  ["Local with no slices at all", local(), { eligible: false, code: "no-local-endpoint" }],
  ["Cluster ignores endpoints", { endpointSlices: [] }, { eligible: true }],
];

for (const [what, overrides, expected] of table) {
  test(what, (t) => {
    t.deepEqual(outcome(serviceEligibility({ ...base, ...overrides })), expected);
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
