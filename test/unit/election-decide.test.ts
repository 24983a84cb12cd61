import test from "ava";
import { decide, type Decision, type ElectionInput } from "../../src/election/decide.ts";
import { rankCandidates } from "../../src/election/ranking.ts";

const D = 5000;
const R = 3000;
const STEP = 250;
const NOW = 100_000;
const SERVICE = "default/web";

// node ranks for SERVICE, computed once so the tables read as "the first-ranked", "the second-ranked".
const [first = "", second = "", third = ""] = rankCandidates(["a", "b", "c"], SERVICE);

const base: ElectionInput = {
  self: first,
  now: NOW,
  timings: { leaseDuration: D, renewDeadline: R, claimStep: STEP },
  serviceKey: SERVICE,
  wanted: true,
  selfEligible: true,
  carrier: true,
  otherCandidates: [second, third],
  leaseExists: false,
  holder: null,
  freeSince: NOW,
  releasedBy: null,
  holderSilentFor: 0,
  ownHeartbeat: { lastRenewalStartedAt: NOW - 500, apiUnreachable: false, renewalInFlightSince: null },
  announcing: false,
  agentClaimSeenAt: null,
  quarantinedUntil: null,
};

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
    { action: "idle", reason: "ownership cannot be confirmed: heartbeat not renewed within R" },
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
    { action: "wait", until: NOW - 5 + R, reason: "renewal in flight" },
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
    { action: "idle", reason: "ownership cannot be confirmed: heartbeat not renewed within R" },
  ],
  [
    "holder cut off from the API keeps announcing (degraded hold)",
    degradedHolder,
    { action: "announce", mode: "degraded" },
  ],
  [
    "degraded hold does not start an announcement it was not already making",
    { ...degradedHolder, announcing: false },
    { action: "idle", reason: "ownership cannot be confirmed: heartbeat not renewed within R" },
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
    { action: "wait", until: NOW + STEP, reason: "ranked 2 of 3" },
  ],
  [
    "third-ranked waits two steps from when the Lease became free",
    { self: third, otherCandidates: [first, second], freeSince: NOW - STEP },
    { action: "wait", until: NOW + STEP, reason: "ranked 3 of 3" },
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
      reason: "quarantined: a host that is no vipd agent answers for the VIP",
    },
  ],
  [
    "a quarantined candidate does not take over from a dead holder either",
    { holder: third, freeSince: null, holderSilentFor: D, quarantinedUntil: NOW + 4000 },
    {
      action: "wait",
      until: NOW + 4000,
      reason: "quarantined: a host that is no vipd agent answers for the VIP",
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
    { action: "wait", until: NOW + STEP, reason: "ranked 2 of 2" },
  ],
  [
    "leaving out a lower-ranked node that handed over changes nobody's wait",
    { self: second, otherCandidates: [first, third], releasedBy: third },
    { action: "wait", until: NOW + STEP, reason: "ranked 2 of 2" },
  ],
  [
    "a candidate whose own heartbeat is stale does not claim",
    { ownHeartbeat: { lastRenewalStartedAt: NOW - R, apiUnreachable: false, renewalInFlightSince: null } },
    { action: "idle", reason: "own heartbeat not renewed within R" },
  ],
  [
    "an ineligible candidate does not claim",
    { selfEligible: false },
    { action: "idle", reason: "not eligible" },
  ],
  [
    "a candidate without carrier does not claim",
    { carrier: false },
    { action: "idle", reason: "not eligible" },
  ],
  [
    "nobody claims a Service that is not served",
    { wanted: false },
    { action: "idle", reason: "service not served" },
  ],
  // collecting the ownership Lease of an unserved Service whose holder cannot
  [
    "the Lease of an unserved Service held by a live node is left to its holder",
    { wanted: false, leaseExists: true, holder: third, freeSince: null, holderSilentFor: 1000 },
    {
      action: "wait",
      until: NOW + D - 1000,
      reason: `unserved Service's Lease held by ${third}`,
      untilSilent: third,
    },
  ],
  [
    "the Lease of an unserved Service whose holder is dead is collected by the first-ranked",
    { wanted: false, leaseExists: true, holder: third, freeSince: null, holderSilentFor: D },
    { action: "collect", reason: `holder ${third} dead` },
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
    { action: "wait", until: NOW + STEP, reason: "ranked 2 of 2" },
  ],
  [
    "an unheld Lease of an unserved Service is collected once it has been unheld for D",
    { wanted: false, leaseExists: true, holder: null, freeSince: NOW - D },
    { action: "collect", reason: "no holder for D" },
  ],
  [
    "an unheld Lease is not collected before D (a claim or a Service may be on its way)",
    { wanted: false, leaseExists: true, holder: null, freeSince: NOW - 100 },
    { action: "wait", until: NOW - 100 + D, reason: "unserved Service's Lease held by nobody" },
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
    { action: "idle", reason: "own heartbeat not renewed within R" },
  ],
  // rule 2: taking over from a holder
  [
    "a live holder is left alone until its heartbeat has been silent for D",
    { holder: third, freeSince: null, holderSilentFor: 1000 },
    { action: "wait", until: NOW + D - 1000, reason: `held by ${third}`, untilSilent: third },
  ],
  [
    "a fresh agent has seen nobody for long and waits a full D (silentFor 0)",
    { holder: third, freeSince: null, holderSilentFor: 0 },
    { action: "wait", until: NOW + D, reason: `held by ${third}`, untilSilent: third },
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
    { action: "wait", until: NOW + STEP, reason: "ranked 2 of 2" },
  ],
];

for (const [rule, overrides, expected] of table) {
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
