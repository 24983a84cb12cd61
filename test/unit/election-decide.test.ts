import test from "ava";
import {
  decide,
  type Decision,
  type ElectionInput,
  type LegacyLock,
  type LegacyLocks,
} from "../../src/election/decide.ts";
import { rankCandidates } from "../../src/election/ranking.ts";

const D = 5000;
const R = 3000;
const STEP = 250;
const NOW = 100_000;
const SERVICE = "default/web";

// node ranks for SERVICE, computed once so the tables read as "the first-ranked", "the second-ranked".
const [first = "", second = "", third = ""] = rankCandidates(["a", "b", "c"], SERVICE);

/** No 0.1.0 agent and no 0.1.0 Lease: the usual case once an upgrade is over. */
const NO_LEGACY_LOCKS: LegacyLocks = { required: false, locks: [] };

const base: ElectionInput = {
  self: first,
  now: NOW,
  timings: { leaseDuration: D, renewDeadline: R, claimStep: STEP },
  rankKey: SERVICE,
  wanted: true,
  selfEligible: true,
  carrier: true,
  onTheWire: true,
  otherCandidates: [second, third],
  cordoned: [],
  claimedWhileCordoned: false,
  leaseExists: false,
  holder: null,
  freeSince: NOW,
  releasedBy: null,
  holderSilentFor: 0,
  ownHeartbeat: { lastRenewalStartedAt: NOW - 500, apiUnreachable: false, renewalInFlightSince: null },
  announcing: false,
  agentClaimSeenAt: null,
  quarantinedUntil: null,
  legacy: NO_LEGACY_LOCKS,
};

/** vipd 0.1.0's per-Service Lease of SERVICE, as the holder of the address sees it. */
function lock(holder: string | null, holderSilentFor = 0): LegacyLock {
  return { serviceKey: SERVICE, exists: holder !== null, holder, holderSilentFor };
}

const asHolder: Partial<ElectionInput> = { holder: first, freeSince: null, announcing: true };
const degradedHolder: Partial<ElectionInput> = {
  ...asHolder,
  ownHeartbeat: { lastRenewalStartedAt: NOW - 10_000, apiUnreachable: true, renewalInFlightSince: null },
};

const table: [string, Partial<ElectionInput>, Decision][] = [
  // rule 1: the holder
  ["holder renewed within R announces", asHolder, { action: "announce", mode: "confirmed" }],
  [
    "holder renewed just under R ago still announces",
    {
      ...asHolder,
      ownHeartbeat: { lastRenewalStartedAt: NOW - R + 1, apiUnreachable: false, renewalInFlightSince: null },
    },
    { action: "announce", mode: "confirmed" },
  ],
  [
    "holder whose renewal started exactly R ago withdraws (API answers, renewals fail)",
    {
      ...asHolder,
      ownHeartbeat: { lastRenewalStartedAt: NOW - R, apiUnreachable: false, renewalInFlightSince: null },
    },
    { action: "withdraw", reason: "renewal-expired", release: "keep" },
  ],
  [
    "holder that never renewed does not start announcing",
    {
      ...asHolder,
      announcing: false,
      ownHeartbeat: { lastRenewalStartedAt: null, apiUnreachable: true, renewalInFlightSince: null },
    },
    { action: "idle", reason: "unconfirmed" },
  ],
  [
    "a resumed holder whose overdue renewal is in flight keeps the VIP until the answer",
    {
      ...asHolder,
      ownHeartbeat: {
        lastRenewalStartedAt: NOW - 10_000,
        apiUnreachable: false,
        renewalInFlightSince: NOW - 5,
      },
    },
    { action: "wait", until: NOW - 5 + R, reason: "renewal-in-flight" },
  ],
  [
    "a renewal in flight for R or longer does not keep the VIP",
    {
      ...asHolder,
      ownHeartbeat: {
        lastRenewalStartedAt: NOW - 10_000,
        apiUnreachable: false,
        renewalInFlightSince: NOW - R,
      },
    },
    { action: "withdraw", reason: "renewal-expired", release: "keep" },
  ],
  [
    "a renewal in flight does not start an announcement",
    {
      ...asHolder,
      announcing: false,
      ownHeartbeat: {
        lastRenewalStartedAt: NOW - 10_000,
        apiUnreachable: false,
        renewalInFlightSince: NOW - 5,
      },
    },
    { action: "idle", reason: "unconfirmed" },
  ],
  [
    "holder cut off from the API keeps announcing (degraded hold)",
    degradedHolder,
    { action: "announce", mode: "degraded" },
  ],
  [
    "degraded hold does not start an announcement it was not already making",
    { ...degradedHolder, announcing: false },
    { action: "idle", reason: "unconfirmed" },
  ],
  [
    "degraded holder yields on another agent's claim seen since its last renewal",
    { ...degradedHolder, agentClaimSeenAt: NOW - 100 },
    { action: "withdraw", reason: "agent-claim-in-degraded-hold", release: "keep" },
  ],
  [
    "degraded holder ignores another agent's claim from before its last renewal",
    { ...degradedHolder, agentClaimSeenAt: NOW - 20_000 },
    { action: "announce", mode: "degraded" },
  ],
  [
    "confirmed holder keeps the VIP despite another agent's claim (the other side yields)",
    { ...asHolder, agentClaimSeenAt: NOW - 100 },
    { action: "announce", mode: "confirmed" },
  ],
  // rule 1 and foreign-hosts.ts: a host that is no agent answers for the VIP
  [
    "confirmed holder withdraws when a foreign host answers for its VIP, and deletes the Lease",
    { ...asHolder, quarantinedUntil: NOW + 2000 },
    { action: "withdraw", reason: "foreign-host-claims-vip", release: "delete" },
  ],
  [
    "degraded holder withdraws too when a foreign host answers, and keeps the Lease it cannot write",
    { ...degradedHolder, quarantinedUntil: NOW + 2000 },
    { action: "withdraw", reason: "foreign-host-claims-vip", release: "keep" },
  ],
  [
    "a holder that withdrew in degraded hold deletes the Lease once confirmed, still quarantined",
    { ...asHolder, announcing: false, quarantinedUntil: NOW + 2000 },
    { action: "withdraw", reason: "foreign-host-claims-vip", release: "delete" },
  ],
  [
    "carrier loss beats quarantine: the holder hands over",
    { ...asHolder, carrier: false, quarantinedUntil: NOW + 2000 },
    { action: "withdraw", reason: "carrier-lost", release: "clear-holder" },
  ],
  [
    "a holder of a Service no longer served deletes the Lease, quarantined or not",
    { ...asHolder, wanted: false, quarantinedUntil: NOW + 2000 },
    { action: "withdraw", reason: "service-not-served", release: "delete" },
  ],
  [
    "holder losing carrier hands over",
    { ...asHolder, carrier: false },
    { action: "withdraw", reason: "carrier-lost", release: "clear-holder" },
  ],
  [
    "holder losing eligibility hands over",
    { ...asHolder, selfEligible: false },
    { action: "withdraw", reason: "not-eligible", release: "clear-holder" },
  ],
  [
    "holder of a Service no longer served withdraws and deletes the Lease",
    { ...asHolder, wanted: false },
    { action: "withdraw", reason: "service-not-served", release: "delete" },
  ],
  [
    "carrier loss beats degraded hold",
    { ...degradedHolder, carrier: false },
    { action: "withdraw", reason: "carrier-lost", release: "clear-holder" },
  ],
  // rule 7: a cordoned holder
  [
    "a cordoned holder hands over when it sees a live uncordoned candidate",
    { ...asHolder, cordoned: [first] },
    { action: "withdraw", reason: "cordoned", release: "clear-holder" },
  ],
  [
    "a cordoned holder hands over when one candidate is cordoned and another is not",
    { ...asHolder, cordoned: [first, second] },
    { action: "withdraw", reason: "cordoned", release: "clear-holder" },
  ],
  [
    "a cordoned holder whose candidates are all cordoned keeps serving",
    { ...asHolder, cordoned: [first, second, third] },
    { action: "announce", mode: "confirmed" },
  ],
  [
    "a cordoned holder with no live candidate keeps serving",
    { ...asHolder, cordoned: [first], otherCandidates: [] },
    { action: "announce", mode: "confirmed" },
  ],
  [
    "a holder that claimed while cordoned keeps serving (the uncordoned let their turn pass)",
    { ...asHolder, cordoned: [first], claimedWhileCordoned: true },
    { action: "announce", mode: "confirmed" },
  ],
  [
    "a cordoned holder in degraded hold keeps serving: the handover needs the API server",
    { ...degradedHolder, cordoned: [first] },
    { action: "announce", mode: "degraded" },
  ],
  [
    "a cordoned holder whose renewal expired withdraws for that, keeping the Lease",
    {
      ...asHolder,
      cordoned: [first],
      ownHeartbeat: { lastRenewalStartedAt: NOW - R, apiUnreachable: false, renewalInFlightSince: null },
    },
    { action: "withdraw", reason: "renewal-expired", release: "keep" },
  ],
  [
    "carrier loss beats the cordon",
    { ...asHolder, cordoned: [first], carrier: false },
    { action: "withdraw", reason: "carrier-lost", release: "clear-holder" },
  ],
  [
    "an uncordoned holder keeps serving whoever else is cordoned",
    { ...asHolder, cordoned: [second, third] },
    { action: "announce", mode: "confirmed" },
  ],
  // rule 1: the Lease names someone else
  [
    "announcing while the Lease names another node withdraws at once",
    { holder: second, announcing: true, freeSince: null },
    { action: "withdraw", reason: "held-by-other", release: "keep" },
  ],
  [
    "announcing while the Lease has no holder withdraws",
    { announcing: true },
    { action: "withdraw", reason: "not-held", release: "keep" },
  ],
  // rules 2 and 6: claiming a free Service
  [
    "first-ranked claims a free Service at once, after a fence (a first claim)",
    {},
    { action: "claim", takeoverFrom: null, fence: true },
  ],
  [
    "a Lease that exists without a holder this agent ever saw is a first claim too, fenced",
    { leaseExists: true },
    { action: "claim", takeoverFrom: null, fence: true },
  ],
  [
    "second-ranked waits one step",
    { self: second, otherCandidates: [first, third] },
    { action: "wait", until: NOW + STEP, reason: "claim-step" },
  ],
  [
    "third-ranked waits two steps from when the Lease became free",
    { self: third, otherCandidates: [first, second], freeSince: NOW - STEP },
    { action: "wait", until: NOW + STEP, reason: "claim-step" },
  ],
  [
    "second-ranked claims once its step has passed",
    { self: second, otherCandidates: [first, third], freeSince: NOW - STEP },
    { action: "claim", takeoverFrom: null, fence: true },
  ],
  [
    "second-ranked claims at once, unfenced, when it saw the first-ranked hand the Service over",
    { self: second, otherCandidates: [first, third], releasedBy: first, leaseExists: true },
    { action: "claim", takeoverFrom: null, fence: false },
  ],
  [
    "a quarantined candidate does not claim a free Service: it waits for the quarantine's end",
    { quarantinedUntil: NOW + 4000 },
    {
      action: "wait",
      until: NOW + 4000,
      reason: "quarantined",
    },
  ],
  [
    "a quarantined candidate does not take over from a dead holder either",
    { holder: third, freeSince: null, holderSilentFor: D, quarantinedUntil: NOW + 4000 },
    {
      action: "wait",
      until: NOW + 4000,
      reason: "quarantined",
    },
  ],
  [
    "a quarantined candidate still withdraws a VIP it announces without holding the Lease",
    { announcing: true, quarantinedUntil: NOW + 4000 },
    { action: "withdraw", reason: "not-held", release: "keep" },
  ],
  [
    "third-ranked waits one step, not two, when it saw the first-ranked hand the Service over",
    { self: third, otherCandidates: [first, second], releasedBy: first },
    { action: "wait", until: NOW + STEP, reason: "claim-step" },
  ],
  [
    "leaving out a lower-ranked node that handed over changes nobody's wait",
    { self: second, otherCandidates: [first, third], releasedBy: third },
    { action: "wait", until: NOW + STEP, reason: "claim-step" },
  ],
  // rules 6 and 7: cordoned candidates rank after every uncordoned one
  [
    "a cordoned candidate first-ranked by hash ranks last and waits for both uncordoned ones",
    { cordoned: [first] },
    { action: "wait", until: NOW + 2 * STEP, reason: "claim-step" },
  ],
  [
    "the uncordoned next-ranked claims at once when the first-ranked is cordoned",
    { self: second, otherCandidates: [first, third], cordoned: [first] },
    { action: "claim", takeoverFrom: null, fence: true },
  ],
  [
    "the uncordoned third-ranked moves up one place when the first-ranked is cordoned",
    { self: third, otherCandidates: [first, second], cordoned: [first] },
    { action: "wait", until: NOW + STEP, reason: "claim-step" },
  ],
  [
    "cordoned candidates keep their rendezvous order among themselves",
    { self: first, otherCandidates: [second, third], cordoned: [first, second] },
    { action: "wait", until: NOW + STEP, reason: "claim-step" },
  ],
  [
    "the later of two cordoned candidates is last",
    { self: second, otherCandidates: [first, third], cordoned: [first, second] },
    { action: "wait", until: NOW + 2 * STEP, reason: "claim-step" },
  ],
  [
    "the cordoned holder that just handed over waits behind the uncordoned candidates",
    { cordoned: [first], leaseExists: true, releasedBy: first },
    { action: "wait", until: NOW + 2 * STEP, reason: "claim-step" },
  ],
  [
    "with every candidate cordoned the rendezvous order decides as usual",
    { cordoned: [first, second, third] },
    { action: "claim", takeoverFrom: null, fence: true },
  ],
  [
    "a cordoned survivor waits for the uncordoned one when the holder died",
    {
      self: second,
      otherCandidates: [first, third],
      cordoned: [second],
      holder: first,
      freeSince: null,
      holderSilentFor: D,
    },
    { action: "wait", until: NOW + STEP, reason: "claim-step" },
  ],
  [
    "a candidate whose own heartbeat is stale does not claim",
    { ownHeartbeat: { lastRenewalStartedAt: NOW - R, apiUnreachable: false, renewalInFlightSince: null } },
    { action: "idle", reason: "unconfirmed" },
  ],
  [
    "an ineligible candidate does not claim",
    { selfEligible: false },
    { action: "idle", reason: "not-eligible" },
  ],
  [
    "a candidate without carrier does not claim",
    { carrier: false },
    { action: "idle", reason: "not-eligible" },
  ],
  ["nobody claims a Service that is not served", { wanted: false }, { action: "idle", reason: "not-asked" }],
  // collecting the ownership Lease of an unserved Service whose holder cannot
  [
    "the Lease of an unserved Service held by a live node is left to its holder",
    { wanted: false, leaseExists: true, holder: third, freeSince: null, holderSilentFor: 1000 },
    {
      action: "wait",
      until: NOW + D - 1000,
      reason: "orphan-not-dead-yet",
      untilSilent: third,
    },
  ],
  [
    "the Lease of an unserved Service whose holder is dead is collected by the first-ranked",
    { wanted: false, leaseExists: true, holder: third, freeSince: null, holderSilentFor: D },
    { action: "collect", reason: "holder-dead" },
  ],
  [
    "the second-ranked waits its step before collecting",
    {
      self: second,
      otherCandidates: [first, third],
      wanted: false,
      leaseExists: true,
      holder: third,
      freeSince: null,
      holderSilentFor: D,
    },
    { action: "wait", until: NOW + STEP, reason: "claim-step" },
  ],
  [
    "an unheld Lease of an unserved Service is collected once it has been unheld for D",
    { wanted: false, leaseExists: true, holder: null, freeSince: NOW - D },
    { action: "collect", reason: "no-holder-for-d" },
  ],
  [
    "an unheld Lease is not collected before D (a claim or a Service may be on its way)",
    { wanted: false, leaseExists: true, holder: null, freeSince: NOW - 100 },
    { action: "wait", until: NOW - 100 + D, reason: "orphan-not-dead-yet" },
  ],
  [
    "a candidate whose own heartbeat is not confirmed collects nothing",
    {
      wanted: false,
      leaseExists: true,
      holder: third,
      freeSince: null,
      holderSilentFor: D,
      ownHeartbeat: { lastRenewalStartedAt: NOW - R, apiUnreachable: true, renewalInFlightSince: null },
    },
    { action: "idle", reason: "unconfirmed" },
  ],
  // rule 2: taking over from a holder
  [
    "a live holder is left alone until its heartbeat has been silent for D",
    { holder: third, freeSince: null, holderSilentFor: 1000 },
    { action: "wait", until: NOW + D - 1000, reason: "holder-alive", untilSilent: third },
  ],
  [
    "a fresh agent has seen nobody for long and waits a full D (silentFor 0)",
    { holder: third, freeSince: null, holderSilentFor: 0 },
    { action: "wait", until: NOW + D, reason: "holder-alive", untilSilent: third },
  ],
  [
    "a holder silent for D is taken over, with a fence",
    { holder: third, freeSince: null, holderSilentFor: D },
    { action: "claim", takeoverFrom: third, fence: true },
  ],
  [
    "the dead holder is not counted in the ranking",
    { self: second, otherCandidates: [first, third], holder: first, freeSince: null, holderSilentFor: D },
    { action: "claim", takeoverFrom: first, fence: true },
  ],
  [
    "the second-ranked survivor waits one step after the holder died",
    { self: third, otherCandidates: [first, second], holder: first, freeSince: null, holderSilentFor: D },
    { action: "wait", until: NOW + STEP, reason: "claim-step" },
  ],
];

// Rule 8: a rolling upgrade from 0.1.0, whose agents elect per Service on the legacy locks.
const legacyTable: [string, Partial<ElectionInput>, Decision][] = [
  [
    "while a 0.1.0 agent lives, the address holder takes a free legacy lock before announcing",
    { ...asHolder, announcing: false, legacy: { required: true, locks: [lock(null)] } },
    { action: "claim-legacy", serviceKey: SERVICE, takeoverFrom: null },
  ],
  [
    "a legacy lock whose holder is dead is taken over with the fence",
    { ...asHolder, announcing: false, legacy: { required: true, locks: [lock(second, D)] } },
    { action: "claim-legacy", serviceKey: SERVICE, takeoverFrom: second },
  ],
  [
    "the address holder announces once it holds every legacy lock",
    { ...asHolder, legacy: { required: true, locks: [lock(first)] } },
    { action: "announce", mode: "confirmed" },
  ],
  [
    "a legacy lock held by a live 0.1.0 agent keeps the address holder off the wire",
    { ...asHolder, announcing: false, legacy: { required: true, locks: [lock(second, 100)] } },
    {
      action: "wait",
      until: NOW - 100 + D,
      reason: "legacy-lock-held",
      untilSilent: second,
    },
  ],
  [
    "an announcing holder that finds a live 0.1.0 agent holding the lock withdraws",
    { ...asHolder, legacy: { required: true, locks: [lock(second, 100)] } },
    { action: "withdraw", reason: "held-by-legacy-agent", release: "keep" },
  ],
  [
    "a lock held by a live node is honoured even once no 0.1.0 agent is left",
    { ...asHolder, legacy: { required: false, locks: [lock(second, 100)] } },
    { action: "withdraw", reason: "held-by-legacy-agent", release: "keep" },
  ],
  [
    "with no 0.1.0 agent left, a free lock is not needed",
    { ...asHolder, legacy: { required: false, locks: [lock(null)] } },
    { action: "announce", mode: "confirmed" },
  ],
  [
    "a candidate does not claim the address while a live node holds its legacy lock",
    { legacy: { required: true, locks: [lock(second, 100)] } },
    {
      action: "wait",
      until: NOW - 100 + D,
      reason: "legacy-lock-held",
      untilSilent: second,
    },
  ],
  [
    "a candidate holding a legacy lock of an address it does not hold releases it",
    {
      self: second,
      otherCandidates: [first, third],
      holder: first,
      freeSince: null,
      legacy: { required: true, locks: [{ ...lock(second), exists: true }] },
    },
    { action: "release-legacy", serviceKey: SERVICE },
  ],
  [
    "a dead holder's legacy lock does not stop a candidate",
    { legacy: { required: true, locks: [lock(second, D)] } },
    { action: "claim", takeoverFrom: null, fence: true },
  ],
  [
    "a holder in degraded hold keeps announcing: it cannot write the lock it lacks",
    { ...degradedHolder, legacy: { required: true, locks: [lock(null)] } },
    { action: "announce", mode: "degraded" },
  ],
];

// The Routed rule: a routed address (bgp mode) has no wire to fence or hear, so it is held on rule
// 1's first half alone, as client-go holds a lease.
const routed: Partial<ElectionInput> = { onTheWire: false };
const routedTable: [string, Partial<ElectionInput>, Decision][] = [
  [
    "routed: a confirmed holder announces",
    { ...routed, ...asHolder },
    { action: "announce", mode: "confirmed" },
  ],
  [
    "routed: a holder cut off from the API server withdraws at R: no degraded hold without a fence",
    { ...degradedHolder, ...routed },
    { action: "withdraw", reason: "renewal-expired", release: "keep" },
  ],
  [
    "routed: a lapsed holder does not wait for a renewal in flight (a resumed process after a freeze)",
    {
      ...asHolder,
      ...routed,
      ownHeartbeat: {
        lastRenewalStartedAt: NOW - 10_000,
        apiUnreachable: false,
        renewalInFlightSince: NOW - 10,
      },
    },
    { action: "withdraw", reason: "renewal-expired", release: "keep" },
  ],
  [
    "routed: the same lapse on the wire waits for the renewal's answer",
    {
      ...asHolder,
      ownHeartbeat: {
        lastRenewalStartedAt: NOW - 10_000,
        apiUnreachable: false,
        renewalInFlightSince: NOW - 10,
      },
    },
    { action: "wait", until: NOW - 10 + R, reason: "renewal-in-flight" },
  ],
  [
    "routed: a first claim is not fenced (nobody answers on lo's behalf)",
    routed,
    { action: "claim", takeoverFrom: null, fence: false },
  ],
  [
    "routed: a dead holder is taken over after D, without a fence",
    { ...routed, holder: second, freeSince: null, holderSilentFor: D },
    { action: "claim", takeoverFrom: second, fence: false },
  ],
  [
    "routed: a live holder is waited for as on the wire",
    { ...routed, holder: second, freeSince: null, holderSilentFor: D - 1 },
    { action: "wait", until: NOW + 1, reason: "holder-alive", untilSilent: second },
  ],
  [
    "routed: an unconfirmed node that is not announcing stays idle",
    { ...degradedHolder, ...routed, announcing: false },
    { action: "idle", reason: "unconfirmed" },
  ],
];

for (const [rule, overrides, expected] of [...table, ...legacyTable, ...routedTable]) {
  test(rule, (t) => {
    t.deepEqual(decide({ ...base, ...overrides }), expected);
  });
}

test("a Lease naming this node is decided as holder even when this node is not announcing yet", (t) => {
  t.deepEqual(decide({ ...base, holder: first, freeSince: null }), { action: "announce", mode: "confirmed" });
});

test("rendezvous ranking is the same whatever order candidates arrive in", (t) => {
  t.deepEqual(rankCandidates(["c", "a", "b"], SERVICE), rankCandidates(["b", "c", "a"], SERVICE));
  t.deepEqual(rankCandidates(["a", "a", "b"], SERVICE).length, 2);
});

test("cordoned nodes rank after every other node, each group in rendezvous order", (t) => {
  const nodes = ["n1", "n2", "n3", "n4", "n5"];
  const plain = rankCandidates(nodes, SERVICE);
  const cordoned = [plain[0] ?? "", plain[2] ?? ""];
  t.deepEqual(rankCandidates(nodes, SERVICE, cordoned), [
    ...plain.filter((node) => !cordoned.includes(node)),
    ...plain.filter((node) => cordoned.includes(node)),
  ]);
});

test("rendezvous ranking spreads Services evenly and moves only the Services of a leaving node", (t) => {
  const nodes = ["n1", "n2", "n3", "n4"];
  const services = Array.from({ length: 4000 }, (_, i) => `ns/svc-${i}`);
  const owners = new Map(services.map((service) => [service, rankCandidates(nodes, service)[0]]));
  for (const node of nodes) {
    const share = services.filter((service) => owners.get(service) === node).length / services.length;
    t.true(share > 0.2 && share < 0.3, `${node} ranks first for ${share}`);
  }
  const afterLeave = new Map(services.map((s) => [s, rankCandidates(["n1", "n2", "n3"], s)[0]]));
  const moved = services.filter((service) => owners.get(service) !== afterLeave.get(service));
  t.true(moved.every((service) => owners.get(service) === "n4"));
});
