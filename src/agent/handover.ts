// Rule 5, the polite handover on shutdown, run once every reconcile has ended (lifecycle.ts): every
// address this node has installed comes off the wire first, then every ownership Lease naming this
// node is cleared with compare-and-swap, so that the next candidate can claim at once and without a
// fence (it saw the handover). Nothing this node does after that can put an address back.
import type { V1Lease } from "@kubernetes/client-node";
import type { Ownership } from "../election/ownership.ts";
import { LEASE_ANNOTATION_SERVICE } from "../election/lease-names.ts";
import { classifyApiError, describeApiError } from "../kube/errors.ts";
import type { LeaseApi } from "../kube/leases.ts";
import type { Logger } from "../log/logger.ts";
import type { AgentMetrics } from "../metrics/metrics.ts";
import type { DataPlane } from "./data-plane.ts";
import type { FreshLeases } from "./fresh-leases.ts";
import { isHeartbeat } from "./informer-view.ts";

export interface HandoverOptions {
  readonly node: string;
  /** The Leases the informer has; each is read through `fresh` for this agent's own newer writes. */
  readonly cachedLeases: () => readonly V1Lease[];
  /** The ownership Lease names of what the data plane holds, by its work key. */
  readonly leaseNameOf: (key: string) => string | undefined;
  readonly fresh: FreshLeases;
  readonly leases: Pick<LeaseApi, "get">;
  readonly ownership: Pick<Ownership, "clearHolder">;
  readonly dataPlane: Pick<DataPlane, "heldKeys" | "withdraw">;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
}

/**
 * The ownership Leases to clear, 0.1.0's per-Service locks apart: they are cleared first, for while
 * a 0.1.0 agent waits on a lock, it must not find the address free and the lock still held by a
 * node that no longer serves it. Each group is cleared at once, as fast as the request limit lets.
 */
export function leasesToHandOver(
  leases: readonly V1Lease[],
  node: string,
): { readonly locks: readonly V1Lease[]; readonly addresses: readonly V1Lease[] } {
  const held = leases.filter((lease) => !isHeartbeat(lease) && lease.spec?.holderIdentity === node);
  const isLock = (lease: V1Lease): boolean =>
    lease.metadata?.annotations?.[LEASE_ANNOTATION_SERVICE] !== undefined;
  return { locks: held.filter(isLock), addresses: held.filter((lease) => !isLock(lease)) };
}

export class Handover {
  readonly #options: HandoverOptions;

  constructor(options: HandoverOptions) {
    this.#options = options;
  }

  async run(): Promise<void> {
    const o = this.#options;
    const keys = o.dataPlane.heldKeys();
    for (const key of keys) await o.dataPlane.withdraw(key);
    // A claim written during the last reconciles may not be in the cache yet: its fresh copy is.
    const names = new Set(o.cachedLeases().map((lease) => lease.metadata?.name ?? ""));
    for (const name of o.fresh.names()) names.add(name);
    for (const key of keys) names.add(o.leaseNameOf(key) ?? "");
    names.delete("");
    const current = [...names].flatMap((name) => o.fresh.current(name) ?? []);
    const { locks, addresses } = leasesToHandOver(current, o.node);
    await Promise.all(locks.map((lease) => this.#clear(lease)));
    await Promise.all(addresses.map((lease) => this.#clear(lease)));
  }

  // A Lease that moved on since this agent last saw it (a renewal of a 0.1.0 lock, a label added by
  // hand) is read once more: if it still names this node it is cleared at its new version.
  async #clear(lease: V1Lease): Promise<void> {
    const o = this.#options;
    const name = lease.metadata?.name ?? "";
    try {
      try {
        await o.ownership.clearHolder(lease);
      } catch (error) {
        if (classifyApiError(error) !== "conflict") throw error;
        const fresh = await o.leases.get(name);
        if (fresh?.spec?.holderIdentity !== o.node) return;
        await o.ownership.clearHolder(fresh);
      }
      o.metrics.elections.inc({ outcome: "handed_over" });
      o.log.info("handed over", { lease: name });
    } catch (error) {
      o.log.warn("handover write failed; the Lease will expire with the heartbeat", {
        lease: name,
        error: describeApiError(error),
      });
    }
  }
}
