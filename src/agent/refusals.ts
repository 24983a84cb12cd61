// Why an agent will not serve a Service it was asked to serve, and which agent says so on the
// Service. Bad input gets one Event on the Service, not one per node: a refusal decided from the
// Service and the cluster's objects alone is reached by every agent alike, so exactly one of them
// records it — the first in the rendezvous ranking (rule 6's, src/election/ranking.ts) of the live
// agents and itself for that Service, an order every agent computes alike without talking to the
// others. A refusal that depends on the node's own interfaces is each node's to record, and its
// message names the node. Every agent logs every refusal it reaches.
import { rankCandidates } from "../election/ranking.ts";
import { EVENT_REASONS } from "../kube/names.ts";
import type { InterfaceChoice } from "./data-plane.ts";
import type { ServiceIntent } from "./service-intent.ts";
import type { VipConflict } from "./vip-claims.ts";

/** "cluster": read from the Service and cluster objects only; "node": from this node's interfaces. */
export type RefusalScope = "cluster" | "node";

export interface Refusal {
  readonly type: "Warning";
  readonly reason: string;
  readonly message: string;
  readonly scope: RefusalScope;
}

export function refusalOf(input: {
  readonly node: string;
  readonly intent: ServiceIntent;
  readonly conflict: VipConflict | null;
  readonly choice: InterfaceChoice | undefined;
  /**
   * Control-plane mode: the VIP comes from this agent's own --vip, which another node need not
   * share, and the Event goes on this node's Node object, so every refusal is the node's own.
   */
  readonly perNode: boolean;
}): Refusal | null {
  const { intent, conflict, choice } = input;
  const scope: RefusalScope = input.perNode ? "node" : "cluster";
  if (!intent.serve) {
    if (intent.reason !== "invalid") return null;
    return { type: "Warning", reason: EVENT_REASONS.invalid, message: intent.problems.join("; "), scope };
  }
  if (intent.refused !== undefined) {
    return { type: "Warning", reason: EVENT_REASONS.invalid, message: intent.refused.join("; "), scope };
  }
  if (conflict !== null) {
    return {
      type: "Warning",
      reason: EVENT_REASONS.conflict,
      message: `${intent.source}: ${conflict.address} is already used by the older Service ${conflict.heldBy}`,
      scope,
    };
  }
  if (choice !== undefined && !choice.ok) {
    return {
      type: "Warning",
      reason: EVENT_REASONS.invalid,
      message: `${input.node}: ${choice.reason}`,
      scope: "node",
    };
  }
  return null;
}

export type Recording =
  | { readonly action: "record" }
  /** Another agent records it. */
  | { readonly action: "leave" }
  /** Too early to know who the others are: ask again after forMs. */
  | { readonly action: "wait"; readonly forMs: number };

/**
 * Whether this agent records a refusal's Event. Agents started together cannot see each other's
 * heartbeats at first, and each would rank itself first among nobody; within one lease duration of
 * its first run every agent running by then has renewed its heartbeat, so a cluster-wide refusal
 * waits that long before the ranking decides. The ranking puts any two agents in the same order,
 * so two agents record it only when they disagree on who is live and each is first among those it
 * sees; nobody does only when the first-ranked agent is dead and not yet seen to be. The caller
 * settles each refusal once: a recorder that dies later leaves its Event behind, and nobody
 * records it again.
 */
export function refusalRecording(input: {
  readonly scope: RefusalScope;
  readonly self: string;
  /** The other agents whose heartbeats are live. */
  readonly liveNodes: readonly string[];
  readonly serviceKey: string;
  /** How long this agent has been reconciling. */
  readonly runningFor: number;
  readonly leaseDuration: number;
}): Recording {
  if (input.scope === "node") return { action: "record" };
  if (input.runningFor < input.leaseDuration) {
    return { action: "wait", forMs: input.leaseDuration - input.runningFor };
  }
  const [first] = rankCandidates([input.self, ...input.liveNodes], input.serviceKey);
  return first === input.self ? { action: "record" } : { action: "leave" };
}
