import test from "ava";
import type { AllocationRecord } from "../../src/addresses/allocation-index.ts";
import {
  planAllocation,
  type AddressRequest,
  type AllocationPlan,
  type AllocationSituation,
} from "../../src/addresses/allocate.ts";
import type { VipPoolSpec } from "../../src/addresses/api.ts";
import { resolvePools } from "../../src/addresses/pools.ts";

const NOW = 1_000_000;
const COOLDOWN = 60_000;
const REF = { namespace: "default", name: "web" };
const UID = "uid-web";

function pools(...specs: [string, VipPoolSpec][]) {
  return resolvePools(
    specs.map(([name, spec], index) => ({ name, origin: "VIPPool", createdAt: index, spec })),
  );
}

const V4_POOL = pools(["lan", { addresses: ["198.51.100.10-198.51.100.12"] }]);
const DUAL_POOLS = pools(
  ["lan", { addresses: ["198.51.100.10-198.51.100.12"] }],
  ["lan6", { addresses: ["2001:db8::10/127"] }],
);

function record(address: string, parts: Partial<AllocationRecord> = {}): AllocationRecord {
  return {
    name: address,
    resourceVersion: "7",
    createdAt: NOW - 10_000,
    address,
    family: address.includes(":") ? 6 : 4,
    pool: "lan",
    services: [{ ...REF, uid: UID }],
    sharingKey: undefined,
    releasedAt: undefined,
    ...parts,
  };
}

const allocate = (
  families: (4 | 6)[],
  dualStack: "single" | "prefer" | "require" = "single",
): AddressRequest => ({
  kind: "allocate",
  families,
  dualStack,
  pool: undefined,
});

function situation(parts: Partial<AllocationSituation>): AllocationSituation {
  const own = parts.own ?? [];
  const others = new Map<string, AllocationRecord>();
  return {
    service: REF,
    request: allocate([4]),
    uid: UID,
    facts: { namespace: "default", labels: {}, namespaceLabels: {} },
    pools: V4_POOL,
    own,
    at: (address) => own.find((each) => each.address === address) ?? others.get(address),
    taken: new Set(own.map((each) => each.address)),
    now: NOW,
    cooldownMs: COOLDOWN,
    sharingKey: undefined,
    sharedWith: () => [],
    joinProblem: () => "it is used by the Service other/dns, and this Service has no sharing key",
    ...parts,
  };
}

function summary(plan: AllocationPlan): string[] {
  const steps = plan.steps.map((step) =>
    step.kind === "create"
      ? `create ${step.address} from ${step.pool}${step.sharingKey === undefined ? "" : ` key ${step.sharingKey}`}`
      : `${step.kind} ${step.record.address}`,
  );
  const problem = plan.problem === null ? [] : [`${plan.problem.reason}: ${plan.problem.message}`];
  const recheck = plan.recheckInMs === undefined ? [] : [`again in ${plan.recheckInMs}`];
  return [...steps, ...problem, ...recheck];
}

const CASES: [string, Partial<AllocationSituation>, string[]][] = [
  ["a new Service gets the pool's first address", {}, ["create 198.51.100.10 from lan"]],
  [
    "taken addresses are skipped",
    { taken: new Set(["198.51.100.10", "198.51.100.11"]) },
    ["create 198.51.100.12 from lan"],
  ],
  ["a Service that has its address is left alone", { own: [record("198.51.100.11")] }, []],
  [
    "the pool is exhausted",
    { taken: new Set(["198.51.100.10", "198.51.100.11", "198.51.100.12"]) },
    ["PoolExhausted: no IPv4 address: VIPPool lan has no free IPv4 address"],
  ],
  [
    "no pool at all",
    { pools: [] },
    [
      "NoAddress: no IPv4 address: no VIPPool exists to give the Service an address: create one, or give it an address (vipd.io/loadBalancerIPs)",
    ],
  ],
  [
    "an IPv6-only Service and an IPv4-only pool",
    { request: allocate([6]) },
    ["NoAddress: no IPv6 address: no VIPPool it may use has IPv6 addresses"],
  ],
  [
    "SingleStack on a dual-stack Service takes its first family only",
    { request: allocate([6, 4], "single"), pools: DUAL_POOLS },
    ["create 2001:db8::10 from lan6"],
  ],
  [
    "PreferDualStack takes both",
    { request: allocate([4, 6], "prefer"), pools: DUAL_POOLS },
    ["create 198.51.100.10 from lan", "create 2001:db8::10 from lan6"],
  ],
  [
    "PreferDualStack is served with the family there is",
    { request: allocate([4, 6], "prefer") },
    ["create 198.51.100.10 from lan"],
  ],
  [
    "RequireDualStack takes nothing until both families are there, and says which is short",
    { request: allocate([4, 6], "require") },
    ["NoAddress: no IPv6 address: no VIPPool it may use has IPv6 addresses"],
  ],
  [
    "RequireDualStack with both",
    { request: allocate([4, 6], "require"), pools: DUAL_POOLS },
    ["create 198.51.100.10 from lan", "create 2001:db8::10 from lan6"],
  ],
  [
    "a Service that stops asking releases its address, and looks again after the cool-down",
    { request: "none", own: [record("198.51.100.11")] },
    ["release 198.51.100.11", `again in ${COOLDOWN}`],
  ],
  [
    "a Service whose request cannot be read keeps its address",
    { request: "unreadable", own: [record("198.51.100.11")] },
    [],
  ],
  [
    "a released address is deleted once the cool-down is over",
    { request: "none", uid: undefined, own: [record("198.51.100.11", { releasedAt: NOW - COOLDOWN })] },
    ["delete 198.51.100.11"],
  ],
  [
    "and not before",
    { request: "none", uid: undefined, own: [record("198.51.100.11", { releasedAt: NOW - 1000 })] },
    [`again in ${COOLDOWN - 1000}`],
  ],
  [
    "a Service created again within the cool-down gets its address back",
    { own: [record("198.51.100.12", { releasedAt: NOW - 1000, services: [{ ...REF, uid: "old" }] })] },
    ["take-back 198.51.100.12"],
  ],
  [
    "two allocations of one family (two allocators at once): the younger is released",
    {
      own: [
        record("198.51.100.11", { createdAt: NOW - 5000 }),
        record("198.51.100.10", { createdAt: NOW - 4000 }),
      ],
    },
    ["release 198.51.100.10", `again in ${COOLDOWN}`],
  ],
  [
    "a requested address inside a pool gets its allocation",
    { request: { kind: "requested", vips: [{ address: "198.51.100.12", family: 4 }] } },
    ["create 198.51.100.12 from lan"],
  ],
  [
    "a requested address outside the pools is not allocated (the intent refuses or serves it)",
    { request: { kind: "requested", vips: [{ address: "203.0.113.5", family: 4 }] } },
    [],
  ],
  [
    "a requested address in a pool the Service's namespace may not use is refused",
    {
      request: { kind: "requested", vips: [{ address: "198.51.100.12", family: 4 }] },
      pools: pools([
        "lan",
        { addresses: ["198.51.100.10-198.51.100.12"], serviceAllocation: { namespaces: ["web"] } },
      ]),
    },
    ["InvalidVIP: 198.51.100.12 is in VIPPool lan, which the namespace default may not use"],
  ],
  [
    "a requested address allocated to another Service is a conflict",
    {
      request: { kind: "requested", vips: [{ address: "198.51.100.12", family: 4 }] },
      at: () => record("198.51.100.12", { services: [{ namespace: "other", name: "dns", uid: "u2" }] }),
    },
    ["VIPConflict: 198.51.100.12: it is used by the Service other/dns, and this Service has no sharing key"],
  ],
  [
    "a requested address another Service released is taken back at once",
    {
      request: { kind: "requested", vips: [{ address: "198.51.100.12", family: 4 }] },
      at: () =>
        record("198.51.100.12", {
          releasedAt: NOW - 1,
          services: [{ namespace: "other", name: "dns", uid: "u2" }],
        }),
    },
    ["take-back 198.51.100.12"],
  ],
  [
    "changing the requested address releases the old one",
    {
      request: { kind: "requested", vips: [{ address: "198.51.100.12", family: 4 }] },
      own: [record("198.51.100.10")],
    },
    ["create 198.51.100.12 from lan", "release 198.51.100.10", `again in ${COOLDOWN}`],
  ],
  [
    "a Service with a sharing key joins an address given to Services it may share with",
    {
      sharingKey: "dns",
      sharedWith: (key) =>
        key === "dns"
          ? [
              record("198.51.100.11", {
                sharingKey: "dns",
                services: [{ namespace: "default", name: "dns-udp", uid: "u2" }],
              }),
            ]
          : [],
      joinProblem: () => null,
    },
    ["join 198.51.100.11"],
  ],
  [
    "and takes a new one when it may not share with them (a port clash)",
    {
      sharingKey: "dns",
      sharedWith: () => [
        record("198.51.100.11", {
          sharingKey: "dns",
          services: [{ namespace: "default", name: "dns-tcp", uid: "u2" }],
        }),
      ],
      joinProblem: () => "it is used by the Service default/dns-tcp, which uses TCP port 53 too",
      taken: new Set(["198.51.100.11"]),
    },
    ["create 198.51.100.10 from lan key dns"],
  ],
  [
    "a requested address given to a Service it may share with is joined",
    {
      request: { kind: "requested", vips: [{ address: "198.51.100.12", family: 4 }] },
      sharingKey: "dns",
      at: () =>
        record("198.51.100.12", {
          sharingKey: "dns",
          services: [{ namespace: "other", name: "dns", uid: "u2" }],
        }),
      joinProblem: () => null,
    },
    ["join 198.51.100.12"],
  ],
  [
    "a requested address given to a Service with a port in common is a conflict naming it and the port",
    {
      request: { kind: "requested", vips: [{ address: "198.51.100.12", family: 4 }] },
      sharingKey: "dns",
      at: () =>
        record("198.51.100.12", {
          sharingKey: "dns",
          services: [{ namespace: "other", name: "dns", uid: "u2" }],
        }),
      joinProblem: () => "it is used by the Service other/dns, which uses UDP port 53 too",
    },
    ["VIPConflict: 198.51.100.12: it is used by the Service other/dns, which uses UDP port 53 too"],
  ],
  [
    "a kube-vip pool with allow-share gives its Services one key",
    {
      pools: resolvePools([
        {
          name: "kubevip-default",
          origin: "kube-vip",
          createdAt: 0,
          allowShare: true,
          spec: { addresses: ["198.51.100.10/32"] },
        },
      ]),
    },
    ["create 198.51.100.10 from kubevip-default key kube-vip allow-share kubevip-default"],
  ],
  [
    "a disabled pool hands out nothing new",
    { pools: pools(["lan", { addresses: ["198.51.100.10/32"], disabled: true }]) },
    ["NoAddress: no IPv4 address: no VIPPool gives the Service an address: VIPPool lan is disabled"],
  ],
  [
    "and keeps what it gave",
    {
      pools: pools(["lan", { addresses: ["198.51.100.10/32"], disabled: true }]),
      own: [record("198.51.100.10")],
    },
    [],
  ],
];

for (const [title, parts, expected] of CASES) {
  test(title, (t) => {
    t.deepEqual(summary(planAllocation(situation(parts))), expected);
  });
}
