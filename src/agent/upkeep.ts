// Housekeeping of vipd's Leases, on every resync: the heartbeat of a node that left the cluster,
// and 0.1.0's per-Service Leases once no 0.1.0 agent is left (decide.ts rule 8). What goes is
// decided by the pure functions of stale-heartbeats.ts and legacy-leases.ts.
import type { V1Lease } from "@kubernetes/client-node";
import type { Clock } from "../clock/clock.ts";
import type { HeartbeatTracker } from "../election/heartbeat-tracker.ts";
import { LEASE_ANNOTATION_SERVICE } from "../election/lease-names.ts";
import type { Ownership } from "../election/ownership.ts";
import { staleHeartbeats } from "../election/stale-heartbeats.ts";
import { describeApiError } from "../kube/errors.ts";
import { leaseVersionOf } from "../kube/leases.ts";
import type { Logger } from "../log/logger.ts";
import { isHeartbeat } from "./informer-view.ts";
import { legacyLeasesToDelete } from "./legacy-leases.ts";

export interface UpkeepOptions {
  readonly node: string;
  readonly leaseDuration: number;
  readonly clock: Clock;
  readonly cachedLeases: () => readonly V1Lease[];
  readonly nodeNames: () => ReadonlySet<string>;
  readonly liveNodes: () => readonly string[];
  readonly legacyAgentLive: () => boolean;
  readonly tracker: HeartbeatTracker;
  readonly ownership: Pick<Ownership, "remove">;
  readonly log: Logger;
}

export class Upkeep {
  readonly #options: UpkeepOptions;

  constructor(options: UpkeepOptions) {
    this.#options = options;
  }

  async collectLegacyLeases(): Promise<void> {
    const o = this.#options;
    const now = o.clock.now();
    const doomed = legacyLeasesToDelete({
      self: o.node,
      legacyAgentLive: o.legacyAgentLive(),
      leaseDuration: o.leaseDuration,
      leases: o
        .cachedLeases()
        .filter((lease) => lease.metadata?.annotations?.[LEASE_ANNOTATION_SERVICE] !== undefined),
      silentFor: (node) => o.tracker.silentFor(node, now),
    });
    for (const lease of doomed) {
      const removed = await this.#remove(lease);
      if (removed === null)
        o.log.info("removed a 0.1.0 per-Service Lease: no 0.1.0 agent is left", {
          lease: lease.metadata?.name,
        });
      else o.log.debug("could not remove a 0.1.0 Lease", { error: removed });
    }
  }

  async collectStaleHeartbeats(): Promise<void> {
    const o = this.#options;
    const now = o.clock.now();
    const heartbeats = o.cachedLeases().filter(isHeartbeat);
    const stale = staleHeartbeats({
      self: o.node,
      leaseDuration: o.leaseDuration,
      heartbeats: heartbeats.map((lease) => lease.spec?.holderIdentity ?? ""),
      nodes: o.nodeNames(),
      liveNodes: o.liveNodes(),
      silentFor: (node) => o.tracker.silentFor(node, now),
    });
    for (const lease of heartbeats.filter((each) => stale.includes(each.spec?.holderIdentity ?? ""))) {
      const removed = await this.#remove(lease);
      if (removed === null)
        o.log.info("deleted the heartbeat of a node that left the cluster", {
          node: lease.spec?.holderIdentity,
        });
      else o.log.warn("could not delete a stale heartbeat", { error: removed });
    }
  }

  /** Removes the Lease at the version it was read at: null, or why not (the next resync tries again). */
  async #remove(lease: V1Lease): Promise<string | null> {
    try {
      await this.#options.ownership.remove(leaseVersionOf(lease));
      return null;
    } catch (error) {
      return describeApiError(error);
    }
  }
}
