// MetalLB's objects as VIPPools: IPAddressPools carried over field for field (the shapes of MetalLB's
// documentation examples, in documentation ranges), invalid pools left out whole, and every other
// kind reported with what vipd does instead. Problems and notes are checked by the object they name.
import test from "ava";
import { loadAll } from "js-yaml";
import { vipPoolsFromMetallb } from "../../src/addresses/metallb-convert.ts";
import { MAX_POOL_ADDRESSES } from "../../src/manifest/crds.ts";

function pool(name: string, spec: Record<string, unknown>, namespace = "metallb-system") {
  return { apiVersion: "metallb.io/v1beta1", kind: "IPAddressPool", metadata: { name, namespace }, spec };
}

function vipPool(name: string, spec: Record<string, unknown>) {
  return { apiVersion: "vipd.io/v1alpha1", kind: "VIPPool", metadata: { name }, spec };
}

/** The objects the messages name ("Kind namespace/name: …"). */
function named(messages: readonly string[]): string[] {
  return messages.map((message) => message.slice(0, message.indexOf(":")));
}

test("MetalLB's first-pool example: CIDRs, a range and IPv6 carried over, in canonical form", (t) => {
  const documents = loadAll(`
apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata:
  name: first-pool
  namespace: metallb-system
spec:
  addresses:
  - 198.51.100.0/24
  - 203.0.113.1-203.0.113.5
  - 2001:db8:0ccd:e799::/124
`);
  const { pools, problems } = vipPoolsFromMetallb(documents);
  t.deepEqual(problems, []);
  t.deepEqual(pools, [
    vipPool("first-pool", {
      addresses: ["198.51.100.0/24", "203.0.113.1-203.0.113.5", "2001:db8:ccd:e799::/124"],
    }),
  ]);
});

test("autoAssign, avoidBuggyIPs and every serviceAllocation field are carried over", (t) => {
  const serviceAllocation = {
    priority: 50,
    namespaces: ["namespace-a", "namespace-b"],
    namespaceSelectors: [{ matchLabels: { foo: "bar" } }],
    serviceSelectors: [
      { matchExpressions: [{ key: "serviceKey", operator: "In", values: ["serviceValue"] }] },
    ],
  };
  const { pools, problems } = vipPoolsFromMetallb([
    pool("ns-pool", {
      addresses: ["203.0.113.0/28"],
      autoAssign: false,
      avoidBuggyIPs: true,
      serviceAllocation,
    }),
  ]);
  t.deepEqual(problems, []);
  t.deepEqual(pools, [
    vipPool("ns-pool", {
      addresses: ["203.0.113.0/28"],
      autoAssign: false,
      avoidBuggyIPs: true,
      serviceAllocation,
    }),
  ]);
});

test("MetalLB's spellings: spaces around a range's dash, host bits in a CIDR", (t) => {
  const { pools } = vipPoolsFromMetallb([
    pool("spelled", {
      addresses: ["198.51.100.10 - 198.51.100.20", "203.0.113.7/29", "2001:db8::1-2001:db8::ff"],
    }),
  ]);
  t.deepEqual(pools[0]?.spec?.addresses, [
    "198.51.100.10-198.51.100.20",
    "203.0.113.0/29",
    "2001:db8::1-2001:db8::ff",
  ]);
});

const INVALID: readonly [string, Record<string, unknown>][] = [
  ["an address that is none", { addresses: ["198.51.100.0/24", "198.51.100.300"] }],
  ["a reversed range", { addresses: ["198.51.100.20-198.51.100.10"] }],
  ["a range of two families", { addresses: ["198.51.100.1-2001:db8::1"] }],
  ["octal IPv4, which Go refuses", { addresses: ["198.51.100.010/32"] }],
  ["no addresses", { addresses: [] }],
  ["autoAssign not a boolean", { addresses: ["198.51.100.0/24"], autoAssign: "false" }],
  ["a priority that is no integer", { addresses: ["198.51.100.0/24"], serviceAllocation: { priority: 1.5 } }],
  [
    "namespaces that are no names",
    { addresses: ["198.51.100.0/24"], serviceAllocation: { namespaces: "a" } },
  ],
  [
    "an unknown serviceAllocation field",
    { addresses: ["198.51.100.0/24"], serviceAllocation: { nodes: [] } },
  ],
  ["an unknown spec field", { addresses: ["198.51.100.0/24"], bgp: true }],
];

for (const [title, spec] of INVALID) {
  test(`a pool with ${title} is left out whole, with a problem`, (t) => {
    const { pools, problems } = vipPoolsFromMetallb([
      pool("bad", spec),
      pool("good", { addresses: ["203.0.113.0/28"] }),
    ]);
    t.deepEqual(
      pools.map((converted) => converted.metadata?.name),
      ["good"],
    );
    t.true(problems.length > 0);
    t.true(
      named(problems).every((object) => object === "IPAddressPool metallb-system/bad"),
      problems.join("\n"),
    );
  });
}

test("other kinds: L2Advertisement is a note, BGP kinds and non-MetalLB objects are problems", (t) => {
  const documents = [
    pool("first-pool", { addresses: ["198.51.100.0/24"] }),
    {
      apiVersion: "metallb.io/v1beta1",
      kind: "L2Advertisement",
      metadata: { name: "l2", namespace: "metallb-system" },
    },
    {
      apiVersion: "metallb.io/v1beta2",
      kind: "BGPPeer",
      metadata: { name: "peer", namespace: "metallb-system" },
    },
    {
      apiVersion: "metallb.io/v1beta1",
      kind: "BGPAdvertisement",
      metadata: { name: "bgp", namespace: "metallb-system" },
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "config", namespace: "metallb-system" },
      data: { config: "" },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "controller", namespace: "metallb-system" },
    },
    null,
  ];
  const { pools, problems, notes } = vipPoolsFromMetallb(documents);
  t.is(pools.length, 1);
  t.deepEqual(named(notes), ["L2Advertisement metallb-system/l2", "Services keep their MetalLB annotations"]);
  t.deepEqual(named(problems), [
    "BGPPeer metallb-system/peer",
    "BGPAdvertisement metallb-system/bgp",
    "ConfigMap metallb-system/config",
    "Deployment metallb-system/controller",
  ]);
});

test("a List (kubectl get -o yaml) is opened; a second pool of one name is left out", (t) => {
  const { pools, problems } = vipPoolsFromMetallb([
    {
      apiVersion: "v1",
      kind: "List",
      items: [
        pool("shared", { addresses: ["198.51.100.0/24"] }),
        pool("shared", { addresses: ["203.0.113.0/24"] }, "other"),
      ],
    },
  ]);
  t.deepEqual(
    pools.map((converted) => converted.spec?.addresses),
    [["198.51.100.0/24"]],
  );
  t.deepEqual(named(problems), ["IPAddressPool other/shared"]);
});

test("an IPAddressPool of another version is left out", (t) => {
  const { pools, problems } = vipPoolsFromMetallb([
    { ...pool("future", { addresses: ["198.51.100.0/24"] }), apiVersion: "metallb.io/v2" },
  ]);
  t.deepEqual(pools, []);
  t.deepEqual(named(problems), ["IPAddressPool metallb-system/future"]);
});

test("a pool of more entries than a VIPPool holds is left out", (t) => {
  const addresses = Array.from(
    { length: MAX_POOL_ADDRESSES + 1 },
    (_, index) => `198.51.100.${String(index)}/32`,
  );
  const { pools, problems } = vipPoolsFromMetallb([
    pool("many", { addresses }),
    pool("few", { addresses: addresses.slice(1) }),
  ]);
  t.deepEqual(
    pools.map((converted) => converted.metadata?.name),
    ["few"],
  );
  t.deepEqual(named(problems), ["many"]);
});
