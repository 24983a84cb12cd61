/**
 * ecmp mode (docs/bgp.md): every eligible node announces the address at once, as a host route its
 * routing daemon exports, and the routers spread flows over them. Nothing is elected, so there is
 * no Lease, no fence and no holder; each node decides from what it sees of itself alone, and the
 * decision is level-triggered like decide()'s.
 *
 * Why this is safe without an election: nothing here may be held by one node only. Every node that
 * announces is one the routers may send a flow to, and every such node is eligible (rule 7, and
 * with externalTrafficPolicy Local a ready local endpoint), so each flow reaches a node that serves
 * it. A node cut off from the API server keeps announcing: its eligibility is what its informers
 * last saw, and there is no other holder whose claim it could be overlapping.
 *
 * An ownership Lease left from when the address was elected (its pool's mode changed) is deleted
 * by a node whose heartbeat is confirmed, once nobody live holds it: its own, a Lease with no
 * holder, or one whose holder has been silent for D. A live holder still elected the address
 * under the old mode; it withdraws when it sees the new one, and the Lease goes then.
 */
import type { Decision, ElectionTimings, OwnHeartbeat } from "./decide.ts";

export interface AllActiveInput {
  readonly self: string;
  readonly now: number;
  readonly timings: ElectionTimings;
  /** A Service asks for this address and would be served. */
  readonly wanted: boolean;
  /** Rule 7 for this node and this Service, and an interface that can carry it. */
  readonly selfEligible: boolean;
  /** The route device is up. */
  readonly carrier: boolean;
  readonly announcing: boolean;
  readonly ownHeartbeat: OwnHeartbeat;
  /** An ownership Lease of the address exists, left from an elected mode. */
  readonly leaseExists: boolean;
  readonly holder: string | null;
  /** How long that holder's heartbeat has been seen unchanged. */
  readonly holderSilentFor: number;
}

export type AllActiveDecision = Extract<Decision, { action: "announce" | "withdraw" | "idle" }>;

export function decideAllActive(input: AllActiveInput): AllActiveDecision {
  if (!input.wanted) return offOr(input, "service-not-served", "not-asked");
  if (!input.carrier) return offOr(input, "carrier-lost", "not-eligible");
  if (!input.selfEligible) return offOr(input, "not-eligible", "not-eligible");
  return { action: "announce", mode: "all-active" };
}

/** The elected mode's Lease is no longer anybody's: this node may delete it. */
export function leftoverLeaseCollectable(input: AllActiveInput): boolean {
  const started = input.ownHeartbeat.lastRenewalStartedAt;
  const confirmed = started !== null && input.now - started < input.timings.renewDeadline;
  if (!input.leaseExists || !confirmed) return false;
  return (
    input.holder === null ||
    input.holder === input.self ||
    input.holderSilentFor >= input.timings.leaseDuration
  );
}

function offOr(
  input: AllActiveInput,
  reason: "service-not-served" | "carrier-lost" | "not-eligible",
  idle: "not-asked" | "not-eligible",
): AllActiveDecision {
  return input.announcing
    ? { action: "withdraw", reason, release: "keep" }
    : { action: "idle", reason: idle };
}
