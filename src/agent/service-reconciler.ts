// The reconcile loop of one Service, level-triggered: each run reads the desired state (the Service,
// its ownership Lease, eligibility) and the actual state (what the data plane holds), asks the pure
// election for a decision, and carries out only that decision. Running it twice in a row changes
// nothing the second time. The work queue guarantees one run per Service at a time.
import type { V1EndpointSlice, V1Lease, V1Node, V1Service } from "@kubernetes/client-node";
import { decide, type Decision, type OwnHeartbeat } from "../election/decide.ts";
import type { HeartbeatTracker } from "../election/heartbeat-tracker.ts";
import { heartbeatLeaseName, ownershipLeaseName } from "../election/lease-names.ts";
import type { Ownership } from "../election/ownership.ts";
import { rankCandidates } from "../election/ranking.ts";
import { classifyApiError } from "../kube/errors.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { LeaseApi } from "../kube/leases.ts";
import { EVENT_REASONS } from "../kube/names.ts";
import { parseServiceKey, type ServiceRef } from "../kube/service-ref.ts";
import { statusShows, type ServiceStatusWriter } from "../kube/service-status.ts";
import type { Logger } from "../log/logger.ts";
import type { AgentMetrics } from "../metrics/metrics.ts";
import type { DataPlane, ForeignAddress } from "./data-plane.ts";
import {
  hasReadyLocalEndpoint,
  nodeEligibility,
  serviceEligibility,
  type Eligibility,
} from "./eligibility.ts";
import { serviceIntent, type ServiceIntent, type Vip } from "./service-intent.ts";
import type { VipConflict } from "./vip-claims.ts";

/** The agent's informer caches, read-only. */
export interface ClusterView {
  service(ref: ServiceRef): V1Service | undefined;
  ownershipLease(ref: ServiceRef): V1Lease | undefined;
  node(name: string): V1Node | undefined;
  endpointSlices(ref: ServiceRef): readonly V1EndpointSlice[];
  /** Other nodes whose heartbeat Lease exists and has changed within the lease duration. */
  liveNodes(): readonly string[];
  /** Addresses of all Nodes (status.addresses), canonical: a VIP must never equal one. */
  nodeAddresses(): ReadonlySet<string>;
  /** An address of the Service's VIPs that an older Service asks for too, or null. */
  vipConflict(ref: ServiceRef): VipConflict | null;
}

/**
 * What a loop serves and who may serve it, when not LoadBalancer Services: control-plane mode's one
 * VIP. The election, the Leases and the data plane stay the same.
 */
export interface ServingTarget {
  intent(ref: ServiceRef): ServiceIntent;
  selfEligibility(): Eligibility;
  otherEligible(node: string): boolean;
}

export interface ReconcilerOptions {
  readonly node: string;
  readonly timings: {
    readonly leaseDuration: number;
    readonly renewDeadline: number;
    readonly retryPeriod: number;
    readonly claimStep: number;
  };
  readonly loadBalancerClass: string;
  readonly classOnly: boolean;
  readonly clock: () => number;
  readonly view: ClusterView;
  readonly heartbeat: () => OwnHeartbeat;
  readonly tracker: HeartbeatTracker;
  readonly leases: LeaseApi;
  readonly ownership: Ownership;
  readonly status: ServiceStatusWriter;
  readonly events: EventRecorder;
  readonly dataPlane: DataPlane;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  /** Asks for another run of the Service after delayMs (0: as soon as possible). */
  readonly requeue: (serviceKey: string, delayMs: number) => void;
  /** Asks for another run of the Service once the node's heartbeat has been silent for D. */
  readonly wakeWhenSilent: (node: string, serviceKey: string) => void;
  /** Unset: LoadBalancer Services, read from the view (services mode). */
  readonly target?: ServingTarget;
}

type AnnounceMode = "confirmed" | "degraded";

/** What one run remembers for the next: facts this agent observed, never state it could re-read. */
interface ServiceMemory {
  /** The Lease's holder as the last run saw it. */
  holderSeen: string | null;
  freeSince: number | null;
  /** The node seen clearing the Lease's holder when it became free (see ElectionInput.releasedBy). */
  releasedBy: string | null;
  foreignClaimSeenAt: number | null;
  /**
   * A Lease this agent wrote or freshly read, and the cached version it supersedes: it is newer than
   * the cache until the watch delivers the change.
   */
  written: { readonly replacedVersion: string | null; readonly lease: V1Lease } | null;
  /** The refusal last reported as an Event, so that each is reported once, not on every run. */
  refusalReported: string | null;
}

/** Why this agent will not serve a Service it was asked to serve, as an Event reason and message. */
interface Refusal {
  readonly reason: string;
  readonly message: string;
  readonly type: "Warning";
}

const WITHDRAW_MESSAGES: Readonly<Record<string, string>> = {
  "service-not-served": "the Service no longer asks for these VIPs",
  "carrier-lost": "the VIP interface lost carrier",
  "not-eligible": "this node is no longer eligible",
  "held-by-other": "the ownership Lease names another node",
  "not-held": "the ownership Lease has no holder",
  "renewal-expired": "this node's heartbeat was not renewed within the renew deadline",
  "foreign-claim-in-degraded-hold": "another MAC claimed the VIP while the API server was unreachable",
};

export class ServiceReconciler {
  readonly #options: ReconcilerOptions;
  readonly #memory = new Map<string, ServiceMemory>();
  /** The VIPs this node announces per Service and in which mode, behind vipd_vips_held. */
  readonly #held = new Map<string, { readonly mode: AnnounceMode; readonly count: number }>();

  constructor(options: ReconcilerOptions) {
    this.#options = options;
    for (const mode of ["confirmed", "degraded"] as const) options.metrics.vipsHeld.set({ mode }, 0);
  }

  /** A frame from another MAC announced or answered for a VIP this node holds (rule 1). */
  foreignClaimSeen(serviceKey: string, mac: string): void {
    this.#remember(serviceKey).foreignClaimSeenAt = this.#options.clock();
    this.#options.metrics.conflictsSeen.inc();
    const ref = parseServiceKey(serviceKey);
    this.#options.log.warn("another MAC claims a VIP this node holds", { service: serviceKey, mac });
    this.#options.events.record(ref, {
      type: "Warning",
      reason: EVENT_REASONS.conflict,
      message: `MAC ${mac} announces or answers for a VIP held by ${this.#options.node}`,
    });
    this.#options.requeue(serviceKey, 0);
  }

  async reconcile(serviceKey: string): Promise<void> {
    const o = this.#options;
    const ref = parseServiceKey(serviceKey);
    const now = o.clock();
    const memory = this.#remember(serviceKey);
    const service = o.view.service(ref);
    const intent: ServiceIntent =
      o.target?.intent(ref) ??
      (service === undefined
        ? { serve: false, reason: "not-load-balancer" }
        : serviceIntent(service, {
            loadBalancerClass: o.loadBalancerClass,
            classOnly: o.classOnly,
            nodeAddresses: o.view.nodeAddresses(),
          }));
    const conflict = intent.serve ? o.view.vipConflict(ref) : null;
    const wanted = intent.serve && conflict === null;
    const lease = this.#currentLease(ref, memory);
    const holder = lease?.spec?.holderIdentity ?? null;
    observeHolder(memory, lease, now);
    const vips = intent.serve ? intent.vips : [];
    const choice = wanted ? o.dataPlane.interfaceFor(vips, intent.interface) : undefined;
    // The node has a VIP's address from someone else: its kernel answers for it already, so it is
    // no candidate, and as holder it withdraws (without touching that address) and hands over.
    const foreign = wanted ? o.dataPlane.foreignAddresses(vips) : [];
    this.#report(ref, service, memory, this.#refusal(intent, conflict, choice, foreign));
    const eligibility =
      o.target?.selfEligibility() ??
      serviceEligibility({
        nodeName: o.node,
        node: o.view.node(o.node),
        externalTrafficPolicy: service?.spec?.externalTrafficPolicy,
        endpointSlices: o.view.endpointSlices(ref),
      });
    const otherCandidates = o.view
      .liveNodes()
      .filter((node) => o.target?.otherEligible(node) ?? this.#otherEligible(node, service, ref));
    const decision = decide({
      self: o.node,
      now,
      timings: o.timings,
      serviceKey,
      wanted,
      selfEligible: eligibility.eligible && choice?.ok === true && foreign.length === 0,
      carrier: choice?.ok === true ? choice.carrier : true,
      otherCandidates,
      leaseExists: lease !== undefined,
      holder,
      freeSince: memory.freeSince,
      releasedBy: memory.releasedBy,
      holderSilentFor: holder === null || holder === o.node ? 0 : this.#silentFor(holder, now),
      ownHeartbeat: o.heartbeat(),
      announcing: o.dataPlane.holding(serviceKey) !== undefined,
      foreignClaimSeenAt: memory.foreignClaimSeenAt,
    });
    o.log.debug("decision", { service: serviceKey, ...decision });
    const context: RunContext = {
      ref,
      serviceKey,
      service,
      lease,
      vips,
      interfaceName: choice?.ok ? choice.name : "",
      now,
    };
    await this.#carryOut(decision, context);
    // A Service gone for good is forgotten; the control-plane VIP has no Service and never goes.
    const gone = service === undefined && o.target === undefined;
    if (gone && lease === undefined && o.dataPlane.holding(serviceKey) === undefined) {
      this.#memory.delete(serviceKey);
    }
  }

  async #carryOut(decision: Decision, context: RunContext): Promise<void> {
    switch (decision.action) {
      case "announce":
        await this.#announce(context, decision.mode);
        return;
      case "withdraw":
        await this.#withdraw(context, decision.reason, decision.release);
        return;
      case "claim":
        await this.#claim(context, decision.takeoverFrom);
        return;
      case "collect":
        await this.#collect(context, decision.reason);
        return;
      case "wait":
        if (decision.untilSilent === undefined)
          this.#options.requeue(context.serviceKey, decision.until - context.now);
        else this.#options.wakeWhenSilent(decision.untilSilent, context.serviceKey);
        return;
      case "idle":
        await this.#clearStatusOfUnheldService(context);
        return;
    }
  }

  async #announce(context: RunContext, mode: AnnounceMode): Promise<void> {
    const o = this.#options;
    const wasAnnouncing = o.dataPlane.holding(context.serviceKey) !== undefined;
    const installing = !wasAnnouncing || !o.dataPlane.intact(context.serviceKey);
    if (installing && !(await this.#confirmOwnership(context))) return;
    const { newlyInstalled } = await o.dataPlane.announce({
      serviceKey: context.serviceKey,
      vips: context.vips,
      interfaceName: context.interfaceName,
    });
    this.#countHeld(context.serviceKey, { mode, count: context.vips.length });
    if (newlyInstalled) {
      const addresses = context.vips.map((vip) => vip.address).join(", ");
      o.log.info("announcing", {
        service: context.serviceKey,
        vips: addresses,
        interface: context.interfaceName,
        mode,
      });
      o.events.record(context.ref, {
        type: "Normal",
        reason: EVENT_REASONS.announced,
        message: `${addresses} announced by ${o.node} on ${context.interfaceName}`,
      });
    }
    if (mode === "confirmed")
      await this.#publish(context, { ips: context.vips.map((vip) => vip.address), holder: o.node });
  }

  #countHeld(serviceKey: string, held: { readonly mode: AnnounceMode; readonly count: number } | undefined) {
    const gauge = this.#options.metrics.vipsHeld;
    const before = this.#held.get(serviceKey);
    if (before !== undefined) gauge.dec({ mode: before.mode }, before.count);
    if (held === undefined) {
      this.#held.delete(serviceKey);
      return;
    }
    this.#held.set(serviceKey, held);
    gauge.inc({ mode: held.mode }, held.count);
  }

  // A Lease read from the cache may be older than a takeover the watch has not delivered yet; before
  // putting an address on the wire (first or again), the Lease is read once more (a claim's own
  // write is fresh).
  async #confirmOwnership(context: RunContext): Promise<boolean> {
    const memory = this.#remember(context.serviceKey);
    if (memory.written?.lease.spec?.holderIdentity === this.#options.node) return true;
    const fresh = await this.#options.leases.get(ownershipLeaseName(context.ref));
    if (fresh?.spec?.holderIdentity === this.#options.node) return true;
    if (fresh !== null) this.#wrote(context, fresh);
    this.#options.requeue(context.serviceKey, 0);
    return false;
  }

  async #withdraw(
    context: RunContext,
    reason: string,
    release: "keep" | "clear-holder" | "delete",
  ): Promise<void> {
    const o = this.#options;
    if (o.dataPlane.holding(context.serviceKey) !== undefined) {
      await o.dataPlane.withdraw(context.serviceKey);
      this.#countHeld(context.serviceKey, undefined);
      const message = WITHDRAW_MESSAGES[reason] ?? reason;
      o.log.info("withdrawn", { service: context.serviceKey, reason });
      o.metrics.elections.inc({ outcome: release === "keep" ? "withdrawn" : "handed_over" });
      // A deleted Service has nobody left to read the Event; control-plane mode's goes on the Node.
      if (context.service !== undefined || o.target !== undefined) {
        o.events.record(context.ref, {
          type: "Normal",
          reason: EVENT_REASONS.withdrawn,
          message: `${o.node}: ${message}`,
        });
      }
    }
    if (context.lease === undefined || release === "keep") return;
    try {
      if (release === "delete") {
        await o.ownership.remove(context.lease);
        if (context.service !== undefined && !statusShows(context.service, null))
          await this.#publish(context, null);
      } else {
        this.#wrote(context, await o.ownership.clearHolder(context.lease));
      }
    } catch (error) {
      if (classifyApiError(error) !== "conflict") throw error;
      o.requeue(context.serviceKey, 0);
    }
  }

  async #claim(context: RunContext, takeoverFrom: string | null): Promise<void> {
    const o = this.#options;
    const started = o.clock();
    if (takeoverFrom !== null && !(await this.#holderStillDead(takeoverFrom))) {
      o.requeue(context.serviceKey, 0);
      return;
    }
    if (takeoverFrom !== null) {
      const fence = await o.dataPlane.fence({ vips: context.vips, interfaceName: context.interfaceName });
      if (!fence.quiet) {
        o.log.info("takeover fenced: the holder still answers on the wire", {
          service: context.serviceKey,
          holder: takeoverFrom,
          mac: fence.answeredBy,
        });
        o.requeue(context.serviceKey, o.timings.retryPeriod);
        return;
      }
    }
    try {
      this.#wrote(context, await o.ownership.claim(context.ref, context.lease ?? null));
    } catch (error) {
      if (classifyApiError(error) !== "conflict") throw error;
      o.metrics.elections.inc({ outcome: "lost" });
      o.requeue(context.serviceKey, 0);
      return;
    }
    o.metrics.elections.inc({ outcome: "won" });
    o.metrics.claimLatency.observe((o.clock() - started) / 1000);
    o.log.info("claimed", { service: context.serviceKey, from: takeoverFrom ?? "nobody" });
    o.requeue(context.serviceKey, 0);
  }

  // The holder that should have deleted this Lease is gone; the Lease goes only if it is still the
  // version this decision was made on.
  async #collect(context: RunContext, reason: string): Promise<void> {
    const o = this.#options;
    if (context.lease === undefined) return;
    try {
      await o.ownership.remove(context.lease);
      o.log.info("removed the ownership Lease of a Service nobody serves", {
        service: context.serviceKey,
        reason,
      });
    } catch (error) {
      const failure = classifyApiError(error);
      if (failure !== "conflict" && failure !== "not-found") throw error;
      o.requeue(context.serviceKey, 0);
    }
  }

  // A holder whose heartbeat this agent has never seen (its Lease was gone before this agent
  // started) is watched from now on, so that it is declared dead after D like any other.
  #silentFor(holder: string, now: number): number {
    const o = this.#options;
    if (o.tracker.sighting(holder) === undefined) o.tracker.observe(holder, null, now);
    return o.tracker.silentFor(holder, now);
  }

  // Rule 2: the holder's heartbeat must still be unchanged when re-read just before the swap.
  async #holderStillDead(holder: string): Promise<boolean> {
    const o = this.#options;
    const fresh = await o.leases.get(heartbeatLeaseName(holder));
    const version = fresh?.metadata?.resourceVersion ?? null;
    if (o.tracker.sighting(holder)?.resourceVersion === version) return true;
    o.tracker.observe(holder, version, o.clock());
    return false;
  }

  // Nobody has held the Service for longer than D: its status must stop pointing at a VIP nobody
  // answers for. One agent does it — the first-ranked of the live ones, eligible or not.
  async #clearStatusOfUnheldService(context: RunContext): Promise<void> {
    const o = this.#options;
    const memory = this.#remember(context.serviceKey);
    if (context.service === undefined || memory.freeSince === null || statusShows(context.service, null))
      return;
    const unheldFor = context.now - memory.freeSince;
    if (unheldFor < o.timings.leaseDuration) {
      o.requeue(context.serviceKey, o.timings.leaseDuration - unheldFor);
      return;
    }
    const [first] = rankCandidates([o.node, ...o.view.liveNodes()], context.serviceKey);
    if (first !== o.node) return;
    await this.#publish(context, null);
    if (context.vips.length > 0) {
      o.events.record(context.ref, {
        type: "Warning",
        reason: EVENT_REASONS.noEligibleNode,
        message: `no node has held ${context.vips.map((vip) => vip.address).join(", ")} for ${o.timings.leaseDuration / 1000}s; status cleared`,
      });
    }
  }

  async #publish(context: RunContext, published: { ips: string[]; holder: string } | null): Promise<void> {
    if (context.service === undefined || statusShows(context.service, published)) return;
    await this.#options.status.write(context.ref, published);
  }

  #otherEligible(node: string, service: V1Service | undefined, ref: ServiceRef): boolean {
    if (!nodeEligibility(this.#options.view.node(node)).eligible) return false;
    if (service?.spec?.externalTrafficPolicy !== "Local") return true;
    return hasReadyLocalEndpoint(this.#options.view.endpointSlices(ref), node);
  }

  #currentLease(ref: ServiceRef, memory: ServiceMemory): V1Lease | undefined {
    const cached = this.#options.view.ownershipLease(ref);
    const written = memory.written;
    if (written === null) return cached;
    if ((cached?.metadata?.resourceVersion ?? null) === written.replacedVersion) return written.lease;
    memory.written = null;
    return cached;
  }

  #wrote(context: RunContext, lease: V1Lease): void {
    this.#remember(context.serviceKey).written = {
      replacedVersion: context.lease?.metadata?.resourceVersion ?? null,
      lease,
    };
  }

  #refusal(
    intent: ServiceIntent,
    conflict: VipConflict | null,
    choice: ReturnType<DataPlane["interfaceFor"]> | undefined,
    foreign: readonly ForeignAddress[],
  ): Refusal | null {
    if (!intent.serve) {
      if (intent.reason !== "invalid") return null;
      return { type: "Warning", reason: EVENT_REASONS.invalid, message: intent.problems.join("; ") };
    }
    if (conflict !== null) {
      return {
        type: "Warning",
        reason: EVENT_REASONS.conflict,
        message: `${intent.source}: ${conflict.address} is already used by the older Service ${conflict.heldBy}`,
      };
    }
    if (foreign.length > 0) {
      const where = foreign.map((each) => `${each.address}/${each.prefixLength} on ${each.interfaceName}`);
      return {
        type: "Warning",
        reason: EVENT_REASONS.conflict,
        message: `${this.#options.node}: ${where.join(", ")} was not added by vipd; this node does not serve the VIP while it is there`,
      };
    }
    if (choice !== undefined && !choice.ok) {
      return {
        type: "Warning",
        reason: EVENT_REASONS.invalid,
        message: `${this.#options.node}: ${choice.reason}`,
      };
    }
    return null;
  }

  #report(
    ref: ServiceRef,
    service: V1Service | undefined,
    memory: ServiceMemory,
    refusal: Refusal | null,
  ): void {
    const text = refusal === null ? null : `${refusal.reason}: ${refusal.message}`;
    if (text === memory.refusalReported) return;
    memory.refusalReported = text;
    if (refusal === null) return;
    this.#options.log.warn("not serving", {
      service: `${ref.namespace}/${ref.name}`,
      reason: refusal.reason,
      problems: refusal.message,
    });
    // Control-plane mode has no Service; its target's recorder puts the Event on the Node.
    if (service === undefined && this.#options.target === undefined) return;
    this.#options.events.record({ ...ref, uid: service?.metadata?.uid }, refusal);
  }

  #remember(serviceKey: string): ServiceMemory {
    let memory = this.#memory.get(serviceKey);
    if (memory === undefined) {
      memory = {
        holderSeen: null,
        freeSince: null,
        releasedBy: null,
        foreignClaimSeenAt: null,
        written: null,
        refusalReported: null,
      };
      this.#memory.set(serviceKey, memory);
    }
    return memory;
  }
}

/**
 * Notes when the Lease became free and who freed it. A Lease that still exists but lost its holder
 * from one run to the next was cleared by that holder: nobody else writes an empty holder.
 */
function observeHolder(memory: ServiceMemory, lease: V1Lease | undefined, now: number): void {
  const holder = lease?.spec?.holderIdentity ?? null;
  if (holder !== null) {
    memory.freeSince = null;
    memory.releasedBy = null;
  } else if (memory.freeSince === null) {
    memory.freeSince = now;
    memory.releasedBy = lease === undefined ? null : memory.holderSeen;
  }
  memory.holderSeen = holder;
}

interface RunContext {
  readonly ref: ServiceRef;
  readonly serviceKey: string;
  readonly service: V1Service | undefined;
  readonly lease: V1Lease | undefined;
  readonly vips: readonly Vip[];
  readonly interfaceName: string;
  readonly now: number;
}
