import test from "ava";
import type { V1Lease } from "@kubernetes/client-node";
import {
  absorb,
  afterFence,
  NOTHING_REMEMBERED,
  step,
  type AddressMemory,
  type AddressObservation,
  type AddressStep,
  type StepSettings,
  type WireContext,
} from "../../src/agent/address-step.ts";
import { rankCandidates } from "../../src/election/ranking.ts";

const D = 5000;
const NOW = 100_000;
const SERVICE = { namespace: "default", name: "web" };
const OTHER_SERVICE = { namespace: "default", name: "api" };
const ADDRESS = "192.0.2.10";
const VIP = { address: ADDRESS, family: 4 } as const;
const [first = "", second = ""] = rankCandidates(["a", "b"], "default/web");
const AGENT_MAC = "02:00:00:00:00:12";
const HOST_MAC = "02:00:00:00:00:fe";

const settings: StepSettings = {
  self: first,
  timings: { leaseDuration: D, renewDeadline: 3000, claimStep: 250 },
  cordonHandsOver: true,
};

function lease(holder: string | null, resourceVersion = "7"): V1Lease {
  return {
    metadata: { name: "vipd-ip-192.0.2.10", resourceVersion },
    spec: holder === null ? {} : { holderIdentity: holder },
  };
}

const base: AddressObservation = {
  now: NOW,
  address: ADDRESS,
  vip: VIP,
  demand: { vip: VIP, service: SERVICE, interfaceOverride: undefined, mode: "l2" },
  lease: undefined,
  choice: { ok: true, name: "eth0", carrier: true },
  foreign: [],
  eligibility: { eligible: true },
  otherCandidates: [second],
  unschedulable: [],
  silentFor: new Map([[second, 0]]),
  ownHeartbeat: { lastRenewalStartedAt: NOW - 500, apiUnreachable: false, renewalInFlightSince: null },
  announcing: false,
  intact: false,
  legacyAgentLive: false,
  legacyLeases: [],
  runningFor: 10 * D,
};

const wire: WireContext = {
  self: first,
  agents: { published: new Set([AGENT_MAC]), withoutMacs: [] },
  liveNodes: [second],
  otherCandidates: [second],
  servedBy: SERVICE,
};

function kinds(plan: readonly AddressStep[]): string[] {
  return plan.map((each) => (each.kind === "fence" ? `fence ${each.purpose}` : each.kind));
}

interface Row {
  readonly name: string;
  readonly seen: Partial<AddressObservation>;
  readonly memory?: Partial<AddressMemory>;
  /** The plan's steps, by kind (a fence with its purpose). */
  readonly plan: readonly string[];
}

const holding: Partial<AddressObservation> = { lease: lease(first), announcing: true, intact: true };

const table: Row[] = [
  // claims: every claim is fenced but that of a Lease seen handed over
  {
    name: "a free address, first-ranked: fence, compare-and-swap claim, run again",
    seen: {},
    plan: ["fence first-claim", "claim", "requeue"],
  },
  {
    name: "a Lease its holder was seen clearing: claimed without a fence",
    seen: { lease: lease(null) },
    memory: { holderSeen: second },
    plan: ["claim", "requeue"],
  },
  {
    name: "a holder silent for D: re-read its heartbeat, fence as a takeover, claim",
    seen: { lease: lease(second), silentFor: new Map([[second, D + 1]]) },
    plan: ["confirm-holder-dead", "fence takeover", "claim", "requeue"],
  },
  {
    name: "a holder whose heartbeat was never seen: watched from now on, and waited for",
    seen: { lease: lease(second), silentFor: new Map() },
    plan: ["watch-heartbeat", "wake-when-silent"],
  },
  // installs: a Lease naming this node, re-read before anything goes on the wire
  {
    name: "a Lease naming this node, not installed: fenced, ownership confirmed, installed, Service told",
    seen: { lease: lease(first) },
    plan: ["fence first-claim", "confirm-ownership", "install", "touch"],
  },
  {
    name: "right after this agent's own claim: no second fence",
    seen: { lease: lease(first, "8") },
    memory: { claimedVersion: "8" },
    plan: ["confirm-ownership", "install", "touch"],
  },
  { name: "installed and intact: refreshed only", seen: holding, plan: ["install"] },
  {
    name: "installed but gone from the interface: ownership confirmed again before re-installing",
    seen: { ...holding, intact: false },
    plan: ["confirm-ownership", "install"],
  },
  // withdrawals
  {
    name: "the Lease names another live node: off the wire, the Lease left alone",
    seen: { lease: lease(second), announcing: true, intact: true },
    plan: ["withdraw"],
  },
  {
    name: "nothing asks for it any more while held: off the wire and the Lease released",
    seen: { ...holding, demand: null, choice: null },
    plan: ["withdraw", "release"],
  },
  {
    name: "cordoned while another candidate is not: handed over",
    seen: { ...holding, unschedulable: [first] },
    plan: ["withdraw", "release"],
  },
  {
    name: "held with a 0.1.0 lock: the lock is released before the address Lease",
    seen: {
      ...holding,
      demand: null,
      choice: null,
      legacyAgentLive: true,
      legacyLeases: [
        { service: SERVICE, lease: { ...lease(first), metadata: { name: "vipd-svc-default.web" } } },
      ],
    },
    plan: ["withdraw", "release-legacy", "requeue", "release"],
  },
  // forgetting and telling
  {
    name: "nothing asks, no Lease, nothing installed: nothing to do",
    seen: { demand: null, choice: null },
    plan: [],
  },
  {
    name: "the interface cannot carry it: reported once",
    seen: { choice: { ok: false, reason: "no interface" } },
    plan: ["report-refusal"],
  },
  {
    name: "the same refusal again: not reported again",
    seen: { choice: { ok: false, reason: "no interface" } },
    memory: { refusalReported: "InvalidVIP: no interface", refusalRecorded: true },
    plan: [],
  },
  {
    name: "the address now serves another Service: both are told",
    seen: holding,
    memory: { servedFor: OTHER_SERVICE },
    plan: ["install", "touch", "touch"],
  },
];

for (const row of table) {
  test(`step: ${row.name}`, (t) => {
    const result = step(settings, { ...base, ...row.seen }, { ...NOTHING_REMEMBERED, ...row.memory });
    t.deepEqual(kinds(result.plan), [...row.plan], JSON.stringify(result.decision));
  });
}

const noInterface = { ok: false, reason: "no interface" } as const;
const foreignAddress = [{ address: ADDRESS, prefixLength: 24, interfaceName: "eth0" }];
/** A node the Service's ranking puts above this one. */
const above =
  ["c", "d", "e", "f", "g", "h"].find((node) => rankCandidates([first, node], "default/web")[0] === node) ??
  "";

// Who records a node's refusal (refusals.ts): the summary is the report and the steps that ask again.
const refusalTable: {
  readonly name: string;
  readonly seen: Partial<AddressObservation>;
  readonly memory?: Partial<AddressMemory>;
  readonly told: readonly string[];
}[] = [
  {
    name: "an interface refusal, this node first of the live candidates: logged and recorded",
    seen: { choice: noInterface },
    told: ["log, record"],
  },
  {
    name: "an interface refusal, another candidate first: logged, left to it until it falls silent",
    seen: { choice: noInterface, otherCandidates: [above] },
    told: ["log", `wake when ${above} is silent`],
  },
  {
    name: "the same, logged before and the first still live: only the watch",
    seen: { choice: noInterface, otherCandidates: [above] },
    memory: { refusalReported: "InvalidVIP: no interface" },
    told: [`wake when ${above} is silent`],
  },
  {
    name: "the same, the first now silent: recorded, not logged again",
    seen: { choice: noInterface, otherCandidates: [second] },
    memory: { refusalReported: "InvalidVIP: no interface" },
    told: ["record"],
  },
  {
    name: "an interface refusal on a node that may not serve the Service: logged only",
    seen: {
      choice: noInterface,
      eligibility: { eligible: false, code: "no-local-endpoint", reason: "no local endpoint" },
    },
    told: ["log"],
  },
  {
    name: "an interface refusal in the first lease duration: logged, recorded once the others are seen",
    seen: { choice: noInterface, otherCandidates: [], runningFor: 1000 },
    told: ["log", `again in ${D - 1000}`],
  },
  {
    name: "an address vipd did not add: recorded by the node itself, whoever ranks first",
    seen: { foreign: foreignAddress, otherCandidates: [above], runningFor: 0 },
    told: ["log, record"],
  },
];

for (const row of refusalTable) {
  test(`step: who records: ${row.name}`, (t) => {
    const { plan } = step(settings, { ...base, ...row.seen }, { ...NOTHING_REMEMBERED, ...row.memory });
    const told = plan.flatMap((each) => {
      if (each.kind === "report-refusal")
        return [[each.log ? "log" : [], each.record ? "record" : []].flat().join(", ")];
      if (each.kind === "wake-when-silent") return [`wake when ${each.node} is silent`];
      if (each.kind === "requeue" && each.afterMs > 0) return [`again in ${each.afterMs}`];
      return [];
    });
    t.deepEqual(told, [...row.told]);
  });
}

test("step: a guard's fallback is another run at once", (t) => {
  const { plan } = step(settings, base, NOTHING_REMEMBERED);
  const claim = plan.find((each) => each.kind === "claim");
  t.deepEqual(claim?.kind === "claim" ? claim.otherwise : undefined, [{ kind: "requeue", afterMs: 0 }]);
  t.deepEqual(claim?.kind === "claim" ? claim.current : undefined, null, "a create: nobody has the Lease");
});

test("step: the Lease going free is remembered with who freed it, and forgotten once held", (t) => {
  const freed = step(
    settings,
    { ...base, lease: lease(null) },
    { ...NOTHING_REMEMBERED, holderSeen: second },
  );
  t.like(freed.memory, { freeSince: NOW, releasedBy: second, holderSeen: null });
  const held = step(settings, { ...base, lease: lease(second) }, freed.memory ?? NOTHING_REMEMBERED);
  t.like(held.memory, { freeSince: null, releasedBy: null, holderSeen: second });
});

test("step: an address nobody asks for and nobody holds is forgotten", (t) => {
  t.is(step(settings, { ...base, demand: null, choice: null }, NOTHING_REMEMBERED).memory, null);
  t.not(
    step(settings, { ...base, demand: null, choice: null, lease: lease(second) }, NOTHING_REMEMBERED).memory,
    null,
  );
});

test("absorb: this agent's address claim is remembered until the install, with whether it was cordoned", (t) => {
  const written = lease(first, "9");
  const claimed = absorb(
    NOTHING_REMEMBERED,
    { kind: "claimed", thing: "address", lease: written, cordoned: true },
    wire,
  );
  t.like(claimed.memory, { claimedVersion: "9", claimedWhileCordoned: true });
  const legacy = absorb(
    NOTHING_REMEMBERED,
    { kind: "claimed", thing: "legacy-service", lease: written, cordoned: true },
    wire,
  );
  t.is(legacy.memory.claimedVersion, null, "a 0.1.0 lock is no claim of the address");
  const installed = absorb(claimed.memory, { kind: "installed", newly: true }, wire);
  t.is(installed.memory.claimedVersion, null);
  t.deepEqual(kinds(installed.plan), ["touch"]);
  t.deepEqual(absorb(claimed.memory, { kind: "installed", newly: false }, wire).plan, []);
});

test("absorb: another agent's frame is rule 1(b)'s; a foreign host's starts a quarantine, told once", (t) => {
  const agent = absorb(
    NOTHING_REMEMBERED,
    { kind: "wire-claim", claim: { ip: ADDRESS, mac: AGENT_MAC }, at: NOW },
    wire,
  );
  t.is(agent.memory.agentClaimSeenAt, NOW);
  t.deepEqual(kinds(agent.plan), ["requeue"]);
  const host = absorb(
    NOTHING_REMEMBERED,
    { kind: "wire-claim", claim: { ip: ADDRESS, mac: HOST_MAC }, at: NOW },
    wire,
  );
  t.like(host.memory.quarantine, { mac: HOST_MAC, until: NOW + 2000 });
  t.deepEqual(kinds(host.plan), ["foreign-host", "requeue"]);
  t.like(host.plan[0], { tell: SERVICE });
  const again = absorb(
    host.memory,
    { kind: "wire-claim", claim: { ip: ADDRESS, mac: HOST_MAC }, at: NOW + 10 },
    wire,
  );
  t.like(again.plan[0], { tell: null }, "the same host again is not news");
});

test("afterFence: another agent answering means probe again after a retry period", (t) => {
  const answered = { answeredBy: [{ ip: ADDRESS, mac: AGENT_MAC }], holder: null, now: NOW };
  const result = afterFence(NOTHING_REMEMBERED, answered, wire, 1000);
  t.deepEqual(result.plan, [{ kind: "requeue", afterMs: 1000 }]);
  t.is(result.memory, NOTHING_REMEMBERED);
});

test("afterFence: a foreign host answering quarantines the address and retries when it ends", (t) => {
  const answered = { answeredBy: [{ ip: ADDRESS, mac: HOST_MAC }], holder: null, now: NOW };
  const result = afterFence(NOTHING_REMEMBERED, answered, wire, 1000);
  t.deepEqual(kinds(result.plan), ["foreign-host", "requeue"]);
  t.like(result.plan[0], { tell: SERVICE }, "told by the first of the live candidates");
  t.like(result.plan[1], { afterMs: 2000 });
  t.like(result.memory.quarantine, { until: NOW + 2000 });
});

test("afterFence: a foreign host heard by a lower-ranked candidate quarantines it, untold", (t) => {
  const answered = { answeredBy: [{ ip: ADDRESS, mac: HOST_MAC }], holder: null, now: NOW };
  const lower = { ...wire, self: second, liveNodes: [first], otherCandidates: [first] };
  const result = afterFence(NOTHING_REMEMBERED, answered, lower, 1000);
  t.deepEqual(kinds(result.plan), ["foreign-host", "requeue"]);
  t.like(result.plan[0], { tell: null }, `${first} probes first, and tells it`);
  t.like(result.memory.quarantine, { until: NOW + 2000 });
  const alone = afterFence(NOTHING_REMEMBERED, answered, { ...lower, otherCandidates: [] }, 1000);
  t.like(alone.plan[0], { tell: SERVICE }, `with ${first} not a candidate, ${second} is first`);
});

test("absorb: a holder hears a foreign host claim its VIP: it tells, whatever its rank", (t) => {
  const lower = { ...wire, self: second, liveNodes: [first], otherCandidates: [first] };
  const host = absorb(
    NOTHING_REMEMBERED,
    { kind: "wire-claim", claim: { ip: ADDRESS, mac: HOST_MAC }, at: NOW },
    lower,
  );
  t.like(host.plan[0], { kind: "foreign-host", tell: SERVICE });
});

test("afterFence: an unknown MAC while the holder taken over publishes none is taken for that agent's", (t) => {
  const legacyWire = { ...wire, agents: { published: new Set<string>(), withoutMacs: [second] } };
  const answered = { answeredBy: [{ ip: ADDRESS, mac: HOST_MAC }], holder: second, now: NOW };
  t.deepEqual(afterFence(NOTHING_REMEMBERED, answered, legacyWire, 1000).plan, [
    { kind: "requeue", afterMs: 1000 },
  ]);
});
