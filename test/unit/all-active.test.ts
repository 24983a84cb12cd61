import test from "ava";
import {
  decideAllActive,
  leftoverLeaseCollectable,
  type AllActiveDecision,
  type AllActiveInput,
} from "../../src/election/all-active.ts";

const D = 5000;
const R = 3000;
const NOW = 100_000;

const base: AllActiveInput = {
  self: "a",
  now: NOW,
  timings: { leaseDuration: D, renewDeadline: R, claimStep: 250 },
  wanted: true,
  selfEligible: true,
  carrier: true,
  announcing: false,
  ownHeartbeat: { lastRenewalStartedAt: NOW - 500, apiUnreachable: false, renewalInFlightSince: null },
  leaseExists: false,
  holder: null,
  holderSilentFor: 0,
};

const cutOff = {
  ownHeartbeat: { lastRenewalStartedAt: NOW - 10_000, apiUnreachable: true, renewalInFlightSince: null },
};

const decisions: [string, Partial<AllActiveInput>, AllActiveDecision][] = [
  ["an eligible node announces", {}, { action: "announce", mode: "all-active" }],
  ["…and keeps announcing", { announcing: true }, { action: "announce", mode: "all-active" }],
  [
    "another node announcing changes nothing: nothing is elected",
    { leaseExists: true, holder: "b" },
    { action: "announce", mode: "all-active" },
  ],
  [
    "a node cut off from the API server keeps announcing: no holder to overlap",
    { ...cutOff, announcing: true },
    { action: "announce", mode: "all-active" },
  ],
  [
    "a node that is not eligible (ETP Local without a ready local endpoint) withdraws",
    { announcing: true, selfEligible: false },
    { action: "withdraw", reason: "not-eligible", release: "keep" },
  ],
  ["…or, not announcing, does nothing", { selfEligible: false }, { action: "idle", reason: "not-eligible" }],
  [
    "the route device down: withdraw",
    { announcing: true, carrier: false },
    { action: "withdraw", reason: "carrier-lost", release: "keep" },
  ],
  [
    "nothing asks any more: withdraw",
    { announcing: true, wanted: false },
    { action: "withdraw", reason: "service-not-served", release: "keep" },
  ],
  ["nothing asks and nothing held: idle", { wanted: false }, { action: "idle", reason: "not-asked" }],
];

for (const [rule, overrides, expected] of decisions) {
  test(rule, (t) => {
    t.deepEqual(decideAllActive({ ...base, ...overrides }), expected);
  });
}

const leftovers: [string, Partial<AllActiveInput>, boolean][] = [
  ["no Lease: nothing to collect", {}, false],
  ["its own Lease from the elected mode", { leaseExists: true, holder: "a" }, true],
  ["a Lease without a holder", { leaseExists: true, holder: null }, true],
  [
    "a live holder's: it still elects under the old mode, and goes when it sees the new",
    { leaseExists: true, holder: "b", holderSilentFor: D - 1 },
    false,
  ],
  ["a dead holder's, after D", { leaseExists: true, holder: "b", holderSilentFor: D }, true],
  ["not while this node cannot confirm its heartbeat", { ...cutOff, leaseExists: true, holder: "a" }, false],
];

for (const [rule, overrides, expected] of leftovers) {
  test(`leftover Lease: ${rule}`, (t) => {
    t.is(leftoverLeaseCollectable({ ...base, ...overrides }), expected);
  });
}
