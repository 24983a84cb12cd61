// The agent's intake: what the informers, the heartbeat and the data plane report becomes work
// keys on one queue, and each key runs its loop — an address's election and data plane
// (address-reconciler.ts), or what a Service is told (the mode's). Which mode runs is the mode's
// business (serving-mode.ts); start-up and shutdown order is lifecycle.ts's.
import type { V1Lease } from "@kubernetes/client-node";
import type { Clock } from "../clock/clock.ts";
import type { HeartbeatTracker } from "../election/heartbeat-tracker.ts";
import { LEASE_ANNOTATION_ADDRESS, LEASE_ANNOTATION_SERVICE } from "../election/lease-names.ts";
import { describeApiError } from "../kube/errors.ts";
import type { AgentInformers } from "../kube/informers.ts";
import { parseServiceKey } from "../kube/service-ref.ts";
import type { Logger } from "../log/logger.ts";
import type { AgentMetrics } from "../metrics/metrics.ts";
import type { AddressReconciler } from "./address-reconciler.ts";
import type { DataPlane } from "./data-plane.ts";
import { isHeartbeat, type InformerClusterView } from "./informer-view.ts";
import { canonicalAddress } from "./service-intent.ts";
import type { ServingMode, WorkIntake } from "./serving-mode.ts";
import { WorkQueue } from "./work-queue.ts";
import { addressWork, parseWork } from "./work-keys.ts";

/**
 * The address an ownership Lease elects a holder for, in canonical form; undefined for any other
 * Lease, and for one whose annotation is no address (written by hand: it elects nothing).
 */
export function addressOf(lease: V1Lease): string | undefined {
  const reading = canonicalAddress(lease.metadata?.annotations?.[LEASE_ANNOTATION_ADDRESS] ?? "");
  return reading.ok ? reading.vip.address : undefined;
}

export interface AgentOptions {
  readonly node: string;
  readonly informers: Pick<AgentInformers, "leases" | "nodes">;
  readonly view: InformerClusterView;
  readonly tracker: HeartbeatTracker;
  readonly mode: ServingMode;
  readonly addresses: AddressReconciler;
  readonly dataPlane: Pick<DataPlane, "subscribe">;
  /** Runs when a node joins or leaves: 0.1.0's Leases may be collectable (upkeep.ts). */
  readonly membershipChanged: () => void;
  readonly clock: Clock;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
}

// Enough parallel reconciles to keep a few thousand claims moving at start-up without bursting the
// API server; each run is mostly waiting on one request.
const RECONCILE_CONCURRENCY = 8;

export class Agent implements WorkIntake {
  readonly #options: AgentOptions;
  readonly #queue: WorkQueue;
  #networkPassPending = false;
  /**
   * Whether reconciles may run: only once every cache is filled and stale VIPs are swept. A loop run
   * on a half-filled cache decides on what it has not seen yet: an ownership Lease listed before this
   * node's Node object makes the holder look ineligible, and it would hand its VIP over at start-up.
   */
  #deciding = false;

  constructor(options: AgentOptions) {
    this.#options = options;
    this.#queue = new WorkQueue({
      concurrency: RECONCILE_CONCURRENCY,
      clock: options.clock,
      // Informer events queue keys from the first list on; they wait for open() to open the gate.
      process: (key) => (this.#deciding ? this.#run(key) : Promise.resolve()),
      onError: (key, error) => {
        options.metrics.reconcileErrors.inc();
        options.log.warn("reconcile failed; retrying", { work: key, error: describeApiError(error) });
      },
    });
  }

  add(key: string): void {
    this.#queue.add(key);
  }

  addAfter(key: string, delayMs: number): void {
    this.#queue.addAfter(key, delayMs);
  }

  /** Queues every key there is: a node joined or left, this node's heartbeat changed, a resync. */
  all(): void {
    const { informers, mode } = this.#options;
    for (const key of mode.everything()) this.#queue.add(key);
    for (const lease of informers.leases.list()) {
      const address = addressOf(lease);
      if (address !== undefined) this.#queue.add(addressWork(address));
    }
  }

  /** Subscribes to what the agent reacts to besides the mode's own informers. */
  watch(): void {
    const { informers, view, dataPlane, addresses } = this.#options;
    for (const event of ["add", "update", "delete"] as const) {
      informers.nodes.on(event, (node) => {
        if (view.nodeChanged(node, event === "delete")) this.all();
      });
      informers.leases.on(event, (lease) => {
        this.#leaseChanged(lease, event === "delete");
      });
    }
    dataPlane.subscribe({
      foreignClaim: (key, claim) => {
        const work = parseWork(key);
        if (work.kind !== "address") return;
        addresses.foreignClaimSeen(work.address, claim).catch((error: unknown) => {
          this.#options.log.warn("a claim heard on the wire could not be acted on", {
            address: work.address,
            error: describeApiError(error),
          });
        });
      },
      networkChanged: () => {
        // Netlink events come in bursts (an interface going down removes all its addresses); one
        // pass over everything per burst is enough.
        if (this.#networkPassPending) return;
        this.#networkPassPending = true;
        setImmediate(() => {
          this.#networkPassPending = false;
          this.all();
        });
      },
    });
  }

  /** Opens the gate: every key the loops skipped while it was shut is queued here. */
  open(): void {
    this.#deciding = true;
    this.all();
  }

  /** Takes no more work and resolves once every run in progress has ended. */
  drain(): Promise<void> {
    return this.#queue.drain();
  }

  #run(key: string): Promise<void> {
    const work = parseWork(key);
    if (work.kind === "address") return this.#options.addresses.reconcile(work.address);
    return this.#options.mode.reconcileService(work.service);
  }

  #leaseChanged(lease: V1Lease, deleted: boolean): void {
    const { view, tracker, node: self, clock, mode } = this.#options;
    view.leaseChanged(lease, deleted);
    if (isHeartbeat(lease)) {
      const node = lease.spec?.holderIdentity;
      if (node === undefined || node === self) return;
      const wasLive = tracker.sighting(node)?.resourceVersion;
      tracker.observe(node, deleted ? null : (lease.metadata?.resourceVersion ?? null), clock.now());
      // A node joining or leaving changes every ranking; a renewal changes nothing to re-decide.
      if (deleted || wasLive === undefined || wasLive === null) {
        this.all();
        this.#options.membershipChanged();
      }
      return;
    }
    const address = addressOf(lease);
    if (address !== undefined) {
      this.#queue.add(addressWork(address));
      for (const key of mode.servedBy(address)) this.#queue.add(key);
      return;
    }
    const legacyService = lease.metadata?.annotations?.[LEASE_ANNOTATION_SERVICE];
    if (legacyService === undefined) return;
    for (const each of mode.addressesOf(parseServiceKey(legacyService))) this.#queue.add(addressWork(each));
  }
}
