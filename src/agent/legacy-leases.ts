// Which of vipd 0.1.0's per-Service Leases may go, once the rolling upgrade is over: while any 0.1.0
// agent lives, none (decide.ts rule 8); after that, those held by this node, by nobody, or by a
// node whose heartbeat has been silent for the lease duration. One held by another live node is
// its holder's to delete: that node may still be announcing under it.
import type { V1Lease } from "@kubernetes/client-node";

export interface LegacyLeaseInput {
  readonly self: string;
  readonly legacyAgentLive: boolean;
  readonly leaseDuration: number;
  readonly leases: readonly V1Lease[];
  /** How long a node's heartbeat has been seen unchanged. */
  readonly silentFor: (node: string) => number;
}

export function legacyLeasesToDelete(input: LegacyLeaseInput): V1Lease[] {
  if (input.legacyAgentLive) return [];
  return input.leases.filter((lease) => {
    const holder = lease.spec?.holderIdentity ?? null;
    return holder === null || holder === input.self || input.silentFor(holder) >= input.leaseDuration;
  });
}
