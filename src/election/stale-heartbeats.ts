// Heartbeat Leases of nodes that left the cluster. A node that is only down keeps its heartbeat (one
// per node, so they cannot pile up) and renews it when it comes back; a node whose Node object is
// gone never will. Its heartbeat is deleted once silent for D, by one live agent: the first in a
// rendezvous ranking, so that the others do not race it for nothing.
import { rankCandidates } from "./ranking.ts";

export interface StaleHeartbeatInput {
  readonly self: string;
  readonly leaseDuration: number;
  /** Holders of the heartbeat Leases this agent sees. */
  readonly heartbeats: readonly string[];
  /** Names of the Node objects that exist. */
  readonly nodes: ReadonlySet<string>;
  /** Other nodes whose heartbeats are alive. */
  readonly liveNodes: readonly string[];
  /** How long a node's heartbeat has been seen unchanged (HeartbeatTracker.silentFor). */
  readonly silentFor: (node: string) => number;
}

/** The nodes whose heartbeat Lease this agent should delete now. */
export function staleHeartbeats(input: StaleHeartbeatInput): string[] {
  return input.heartbeats.filter(
    (node) =>
      node !== input.self &&
      !input.nodes.has(node) &&
      input.silentFor(node) >= input.leaseDuration &&
      rankCandidates([input.self, ...input.liveNodes], `heartbeat/${node}`)[0] === input.self,
  );
}
