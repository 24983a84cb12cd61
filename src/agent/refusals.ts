// Why an agent will not serve a Service it was asked to serve, and which agent says so on the
// Service. A problem gets one Event on the Service, not one per node: one agent reports it, the
// first in the rendezvous ranking (rule 6's, src/election/ranking.ts) of itself and the others
// below for a key, an order every agent computes alike from the same view without talking to the
// others (refusalRecording). Every agent logs every problem it reaches. Who reports each Warning:
//
//   InvalidVIP, VIPConflict (an older Service asks  the first of the live agents for the Service:
//     for the address), NoEligibleNode              read from the Service and cluster objects alone,
//                                                   every agent reaches them alike
//   NoAddress, PoolExhausted                        the allocator: the first of the live agents for
//                                                   the allocator's key (allocator.ts), the only
//                                                   agent that decides allocations
//   InvalidVIP (no interface of this node can       the first of the live candidates for the Service
//     carry the VIP: off-subnet, no ARP)            (address-step.ts), if it has the problem: nodes
//                                                   are mostly alike, and while it can serve, the
//                                                   Service is served; each node logs its own
//   VIPConflict (an address on this node that vipd  the node itself, whose message names it: only it
//     did not add)                                  sees it, and it is a hazard on the wire there
//   VIPConflict (a foreign host's MAC claims the    the holder that hears it; heard by a claim's probe,
//     VIP, or answers a claim's probe)              the first of the live candidates for the Service
//                                                   (address-step.ts): each candidate in turn would
//                                                   probe and hear it
//
// A reporter can be dead while its heartbeat still looks live. The others remember whom they left
// a problem to and look again once that heartbeat falls silent: the next in the ranking reports it.
// A reporter that reported and then died is replaced the same way, so a problem that outlives its
// reporter is reported once more, by the agent now first.
import { rankCandidates } from "../election/ranking.ts";
import { EVENT_REASONS } from "../kube/names.ts";
import type { ServiceIntent } from "./service-intent.ts";
import type { VipConflict } from "./vip-claims.ts";

export interface Refusal {
  readonly type: "Warning";
  readonly reason: string;
  readonly message: string;
}

/** A refusal read from the Service and cluster objects alone, which every agent reaches alike. */
export function refusalOf(input: {
  readonly intent: ServiceIntent;
  readonly conflict: VipConflict | null;
}): Refusal | null {
  const { intent, conflict } = input;
  if (!intent.serve) {
    if (intent.reason !== "invalid") return null;
    return { type: "Warning", reason: EVENT_REASONS.invalid, message: intent.problems.join("; ") };
  }
  if (intent.refused !== undefined) {
    return { type: "Warning", reason: EVENT_REASONS.invalid, message: intent.refused.join("; ") };
  }
  if (conflict !== null) {
    return {
      type: "Warning",
      reason: EVENT_REASONS.conflict,
      message: `${intent.source}: ${conflict.address} is already used by the older Service ${conflict.heldBy}`,
    };
  }
  return null;
}

export type Recording =
  | { readonly action: "record" }
  /** Another agent, the reporter, records it. */
  | { readonly action: "leave"; readonly reporter: string }
  /** Too early to know who the others are: ask again after forMs. */
  | { readonly action: "wait"; readonly forMs: number };

/**
 * Whether this agent records a refusal's Event. Agents started together cannot see each other's
 * heartbeats at first, and each would rank itself first among nobody; within one lease duration of
 * its first run every agent running by then has renewed its heartbeat, so a cluster-wide refusal
 * waits that long before the ranking decides. The ranking puts any two agents in the same order,
 * so two agents record it only when they disagree on who is live and each is first among those it
 * sees; nobody does only while the first-ranked agent is dead and not yet seen to be: the caller
 * asks again once the reporter's heartbeat falls silent.
 */
export function refusalRecording(input: {
  readonly self: string;
  /** The others it is ranked with: the agents whose heartbeats are live (or, of them, the candidates). */
  readonly liveNodes: readonly string[];
  readonly serviceKey: string;
  /** How long this agent has been reconciling. */
  readonly runningFor: number;
  readonly leaseDuration: number;
}): Recording {
  if (input.runningFor < input.leaseDuration) {
    return { action: "wait", forMs: input.leaseDuration - input.runningFor };
  }
  const [first = input.self] = rankCandidates([input.self, ...input.liveNodes], input.serviceKey);
  return first === input.self ? { action: "record" } : { action: "leave", reporter: first };
}
