import test from "ava";
import type { V1Service } from "@kubernetes/client-node";
import {
  NOTHING_TOLD,
  stepService,
  type ServiceMemory,
  type ServiceObservation,
  type ServiceStep,
} from "../../src/agent/service-step.ts";
import { rankCandidates } from "../../src/election/ranking.ts";

const D = 5000;
const NOW = 100_000;
const REF = { namespace: "default", name: "web" };
const [first = "", second = ""] = rankCandidates(["a", "b"], "default/web");
/** A node the Service's ranking puts above this one. */
const above =
  ["c", "d", "e", "f", "g", "h"].find((node) => rankCandidates([first, node], "default/web")[0] === node) ??
  "";
const settings = { self: first, leaseDuration: D, renewDeadline: 3000 };
const V4 = { address: "192.0.2.10", family: 4 } as const;
const V6 = { address: "2001:db8::10", family: 6 } as const;

function service(
  status: { ips: string[]; holder: string } | null = null,
  condition: { status: string; reason: string; message: string } | null = null,
): V1Service {
  return {
    metadata: {
      ...REF,
      uid: "u1",
      generation: 3,
      annotations: status === null ? {} : { "vipd.io/holder": status.holder },
    },
    spec: { type: "LoadBalancer" },
    status: {
      loadBalancer: { ingress: (status?.ips ?? []).map((ip) => ({ ip, ipMode: "VIP" })) },
      conditions:
        condition === null
          ? []
          : [
              {
                type: "vipd.io/Announced",
                ...condition,
                observedGeneration: 3,
                lastTransitionTime: new Date(0),
              },
              {
                type: "example.com/Other",
                status: "True",
                reason: "Other",
                message: "",
                lastTransitionTime: new Date(0),
              },
            ],
    },
  };
}

const ANNOUNCED_MESSAGE = `${V4.address} announced by node ${first} on eth0; ${V6.address} by node ${second}`;
const announced = { status: "True", reason: "Announced", message: ANNOUNCED_MESSAGE };
const noEligible = {
  status: "False",
  reason: "NoEligibleNode",
  message: `no node has held ${V4.address}, ${V6.address} for ${D / 1000}s`,
};

const base: ServiceObservation = {
  now: NOW,
  ref: REF,
  service: service(),
  intent: { serve: true, vips: [V4, V6], source: "spec.loadBalancerIP", interface: undefined },
  conflict: null,
  addresses: [
    {
      address: V4.address,
      announcing: true,
      heldByLiveOther: false,
      holder: first,
      interfaceName: "eth0",
      allActive: false,
    },
    { address: V6.address, announcing: false, heldByLiveOther: true, holder: second, allActive: false },
  ],
  legacyHeldByLiveOther: false,
  ownHeartbeat: { lastRenewalStartedAt: NOW - 500, apiUnreachable: false, renewalInFlightSince: null },
  liveNodes: [second],
  eligibleOthers: [second],
  runningFor: 10 * D,
};

const unheld = [
  { address: V4.address, announcing: false, heldByLiveOther: false, holder: null, allActive: false },
  { address: V6.address, announcing: false, heldByLiveOther: false, holder: null, allActive: false },
];

function summary(plan: readonly ServiceStep[]): string[] {
  return plan.map((each) => {
    if (each.kind === "publish") {
      const { ips, holder, condition } = each.published;
      const told = condition === null ? "" : `, ${condition.status} ${condition.reason}`;
      if (holder !== null) return `status ${(ips ?? []).join(",")} by ${holder}${told}`;
      return `${ips === null ? "condition removed" : "clear status"}${told}`;
    }
    if (each.kind === "record") return `event ${each.event.reason}`;
    if (each.kind === "requeue") return `again in ${each.afterMs}`;
    if (each.kind === "wake-when-silent") return `again when ${each.node} is silent`;
    return `log ${each.refusal.reason}`;
  });
}

const table: [string, Partial<ServiceObservation>, Partial<ServiceMemory>, string[]][] = [
  [
    "the holder of the first address writes every held address",
    {},
    {},
    [`status ${V4.address},${V6.address} by ${first}, True Announced`],
  ],
  [
    "a status already showing it is not written again",
    { service: service({ ips: [V4.address, V6.address], holder: first }, announced) },
    {},
    [],
  ],
  [
    "the status shows it, but not the condition: written",
    { service: service({ ips: [V4.address, V6.address], holder: first }) },
    {},
    [`status ${V4.address},${V6.address} by ${first}, True Announced`],
  ],
  [
    "the condition names another interface: written again",
    {
      service: service(
        { ips: [V4.address, V6.address], holder: first },
        { ...announced, message: ANNOUNCED_MESSAGE.replace("eth0", "eth1") },
      ),
    },
    {},
    [`status ${V4.address},${V6.address} by ${first}, True Announced`],
  ],
  [
    "a holder whose heartbeat is past the renew deadline writes nothing",
    { ownHeartbeat: { lastRenewalStartedAt: NOW - 4000, apiUnreachable: true, renewalInFlightSince: null } },
    {},
    [],
  ],
  [
    "another node holds the first address: it writes, not this one",
    { addresses: [...base.addresses].reverse().map((each) => ({ ...each, holder: second })) },
    {},
    [],
  ],
  [
    "a 0.1.0 agent serves the Service under its own Lease",
    { addresses: unheld, legacyHeldByLiveOther: true },
    {},
    [],
  ],
  ["unheld, nothing of vipd's on it: nothing to clear", { addresses: unheld }, {}, []],
  [
    "unheld, and the condition says so already: nothing",
    { addresses: unheld, service: service(null, noEligible) },
    {},
    [],
  ],
  [
    "unheld for less than D: looked at again when D is up",
    { addresses: unheld, service: service({ ips: [V4.address], holder: second }) },
    { unheldSince: NOW - 1000 },
    [`again in ${D - 1000}`],
  ],
  [
    "unheld for D: the first-ranked live node clears the status and says why",
    { addresses: unheld, service: service({ ips: [V4.address], holder: second }) },
    { unheldSince: NOW - D },
    ["clear status, False NoEligibleNode", "event NoEligibleNode"],
  ],
  [
    "unheld for D: a node ranked lower leaves it to the first, and looks again if that one falls silent",
    { addresses: unheld, service: service({ ips: [V4.address], holder: second }), liveNodes: [above] },
    { unheldSince: NOW - D },
    [`again when ${above} is silent`],
  ],
  [
    "no longer asked: the node that wrote the status clears it",
    {
      intent: { serve: false, reason: "not-load-balancer" },
      service: service({ ips: [V4.address], holder: first }),
    },
    {},
    ["clear status"],
  ],
  [
    "no longer asked, written by a node that is gone: the first-ranked clears it",
    {
      intent: { serve: false, reason: "not-load-balancer" },
      service: service({ ips: [V4.address], holder: "gone" }),
    },
    {},
    ["clear status"],
  ],
  [
    "no longer asked, only vipd's condition on it: the first-ranked removes the condition",
    { intent: { serve: false, reason: "not-load-balancer" }, service: service(null, noEligible) },
    {},
    ["condition removed"],
  ],
  [
    "no longer asked, nothing of vipd's on it: nothing",
    { intent: { serve: false, reason: "not-load-balancer" } },
    {},
    [],
  ],
  [
    "no longer asked, written by a live other node: left to it",
    {
      intent: { serve: false, reason: "not-load-balancer" },
      service: service({ ips: [V4.address], holder: second }),
    },
    {},
    [],
  ],
  [
    "an invalid Service: logged, and recorded once by the first-ranked",
    { intent: { serve: false, reason: "invalid", problems: ["bad"] } },
    {},
    ["log InvalidVIP", "event InvalidVIP"],
  ],
  [
    "an invalid Service at start-up: logged, and the Event waits until the others are seen",
    { intent: { serve: false, reason: "invalid", problems: ["bad"] }, runningFor: 1000 },
    {},
    ["log InvalidVIP", `again in ${D - 1000}`],
  ],
  [
    "the same refusal, recorded: nothing",
    { intent: { serve: false, reason: "invalid", problems: ["bad"] } },
    { refusalReported: "InvalidVIP: bad", refusalRecorded: true },
    [],
  ],
  [
    "an invalid Service, seen by a node ranked lower: logged, and left to the first until it falls silent",
    { intent: { serve: false, reason: "invalid", problems: ["bad"] }, liveNodes: [above] },
    {},
    ["log InvalidVIP", `again when ${above} is silent`],
  ],
  [
    "the same refusal, left to a node still live: nothing",
    { intent: { serve: false, reason: "invalid", problems: ["bad"] }, liveNodes: [above] },
    { refusalReported: "InvalidVIP: bad", refusalLeftTo: above },
    [],
  ],
  [
    "the same refusal, left to a node now silent: this one is first and records it",
    { intent: { serve: false, reason: "invalid", problems: ["bad"] }, liveNodes: [second] },
    { refusalReported: "InvalidVIP: bad", refusalLeftTo: above },
    ["event InvalidVIP"],
  ],
  [
    "a changed refusal is told anew, even after the last one was recorded",
    { intent: { serve: false, reason: "invalid", problems: ["worse"] } },
    { refusalReported: "InvalidVIP: bad", refusalRecorded: true },
    ["log InvalidVIP", "event InvalidVIP"],
  ],
  [
    "an address an older Service uses: refused as a conflict",
    { conflict: { address: V4.address, heldBy: "default/old" } },
    {},
    ["log VIPConflict", "event VIPConflict"],
  ],
];

// ecmp: every eligible node announces; the first-ranked of them writes.
const allActive = [
  {
    address: V4.address,
    announcing: true,
    heldByLiveOther: false,
    holder: null,
    allActive: true,
    interfaceName: "lo",
  },
  {
    address: V6.address,
    announcing: true,
    heldByLiveOther: false,
    holder: null,
    allActive: true,
    interfaceName: "lo",
  },
];
const ecmpTable: [string, Partial<ServiceObservation>, Partial<ServiceMemory>, string[]][] = [
  [
    "ecmp: the first-ranked announcer writes every address it announces",
    { addresses: allActive },
    {},
    [`status ${V4.address},${V6.address} by ${first}, True Announced`],
  ],
  [
    "ecmp: a node that does not announce leaves the status to the eligible ones",
    { addresses: allActive.map((each) => ({ ...each, announcing: false })) },
    {},
    [`again when ${second} is silent`],
  ],
  [
    "ecmp: not confirmed, the first announcer writes nothing",
    {
      addresses: allActive,
      ownHeartbeat: { lastRenewalStartedAt: NOW - 10_000, apiUnreachable: true, renewalInFlightSince: null },
    },
    {},
    [],
  ],
  [
    "ecmp: no eligible node at all: the status is cleared after D, as for an unheld address",
    {
      addresses: allActive.map((each) => ({ ...each, announcing: false })),
      eligibleOthers: [],
      service: service({ ips: [V4.address], holder: first }),
    },
    {},
    [`again in ${D}`],
  ],
];

for (const [name, seen, memory, expected] of [...table, ...ecmpTable]) {
  test(`service step: ${name}`, (t) => {
    const result = stepService(settings, { ...base, ...seen }, { ...NOTHING_TOLD, ...memory });
    t.deepEqual(summary(result.plan), expected);
  });
}

test("service step: the first run without a holder starts the clock; a holder stops it", (t) => {
  const started = stepService(
    settings,
    { ...base, addresses: unheld, service: service({ ips: [V4.address], holder: second }) },
    NOTHING_TOLD,
  );
  t.is(started.memory.unheldSince, NOW);
  t.deepEqual(summary(started.plan), [`again in ${D}`]);
  t.is(stepService(settings, base, started.memory).memory.unheldSince, null);
});

test("service step: the condition names the node, its interface, the others' addresses and the generation", (t) => {
  const [step] = stepService(settings, base, NOTHING_TOLD).plan;
  if (step?.kind !== "publish") throw new Error("expected a status write");
  t.deepEqual(step.published.condition, { ...announced, observedGeneration: 3 });
});

test("service step: ecmp: another announcer ranks first: it writes, and this one wakes if it falls silent", (t) => {
  const result = stepService(
    { ...settings, self: second },
    { ...base, addresses: allActive, liveNodes: [first], eligibleOthers: [first] },
    NOTHING_TOLD,
  );
  t.deepEqual(summary(result.plan), [`again when ${first} is silent`]);
});
