// The reconcile loop of one address, level-triggered: each run reads the desired state (what asks
// for the address, its ownership Lease, eligibility) and the actual state (what the data plane
// holds), asks the pure election for a decision, and carries out only that decision. Running it
// twice in a row changes nothing the second time. The work queue guarantees one run per address at
// a time. What a Service is told about its addresses (status, refusals) is service-publisher.ts's.
import type { V1Lease } from "@kubernetes/client-node";
import {
  decide,
  type Decision,
  type LegacyLock,
  type LegacyLocks,
  type OwnHeartbeat,
  type WithdrawReason,
} from "../election/decide.ts";
import {
  claimantOf,
  foreignHostAnswered,
  quarantinedUntil,
  remembered,
  type AgentMacs,
  type Claimant,
  type Quarantine,
} from "../election/foreign-hosts.ts";
import type { HeartbeatTracker } from "../election/heartbeat-tracker.ts";
import { addressLeaseName, heartbeatLeaseName, legacyServiceLeaseName } from "../election/lease-names.ts";
import type { Ownership, OwnedThing } from "../election/ownership.ts";
import { classifyApiError } from "../kube/errors.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { LeaseApi } from "../kube/leases.ts";
import { EVENT_REASONS } from "../kube/names.ts";
import { parseServiceKey, serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import type { Logger } from "../log/logger.ts";
import type { AgentMetrics } from "../metrics/metrics.ts";
import type { DataPlane, ForeignAddress, InterfaceChoice, WireClaim } from "./data-plane.ts";
import { isCordoned, type Eligibility, type NodeShape } from "./eligibility.ts";
import type { FreshLeases } from "./fresh-leases.ts";
import { canonicalAddress, type Vip } from "./service-intent.ts";
import { addressWork } from "./work-keys.ts";

/** What the address loop reads of the cluster besides its Leases (fresh-leases.ts): who is alive. */
export interface LeaseView {
  node(name: string): NodeShape | undefined;
  /** Other nodes whose heartbeat Lease exists and has changed within the lease duration. */
  liveNodes(): readonly string[];
  /** A live heartbeat lacks the per-address marker: a 0.1.0 agent runs. */
  legacyAgentLive(): boolean;
  /** The MACs the agents publish on their heartbeats, and who publishes none. */
  agentMacs(): AgentMacs;
}

/** Why an address is asked for, and by whom. */
export interface AddressDemand {
  readonly vip: Vip;
  /** The Service the address serves: its Events, and the rank key it shares with its other address. */
  readonly service: ServiceRef;
  /** vipd.io/interface of that Service, if set. */
  readonly interfaceOverride: string | undefined;
}

/**
 * What a mode serves and who may serve it: services mode reads LoadBalancer Services, control-plane
 * mode its one configured VIP. The election, the Leases and the data plane are the same for both.
 */
export interface ServingTarget {
  /** What asks for the address and would be served, or null if nothing does. */
  demand(address: string): AddressDemand | null;
  selfEligibility(service: ServiceRef): Eligibility;
  otherEligible(node: string, service: ServiceRef): boolean;
  /** The Services whose 0.1.0 per-Service Leases govern the address. */
  legacyServices(address: string): readonly ServiceRef[];
  /** The Service still exists, so an Event on it has a reader. */
  exists(service: ServiceRef): boolean;
}

export interface AddressReconcilerOptions {
  readonly node: string;
  readonly timings: {
    readonly leaseDuration: number;
    readonly renewDeadline: number;
    readonly retryPeriod: number;
    readonly claimStep: number;
  };
  /** Rule 7's cordon rule (--cordon-hands-over): cordoned nodes rank last and hand over. */
  readonly cordonHandsOver: boolean;
  readonly clock: () => number;
  readonly view: LeaseView;
  readonly target: ServingTarget;
  readonly heartbeat: () => OwnHeartbeat;
  readonly tracker: HeartbeatTracker;
  readonly leases: LeaseApi;
  readonly ownership: Ownership;
  readonly fresh: FreshLeases;
  readonly events: EventRecorder;
  readonly dataPlane: DataPlane;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  /** Asks for another run of the work key after delayMs (0: as soon as possible). */
  readonly requeue: (key: string, delayMs: number) => void;
  /** Asks for another run of the work key once the node's heartbeat has been silent for D. */
  readonly wakeWhenSilent: (node: string, key: string) => void;
  /** This node put the Service's address on the wire or took it off: its status may change. */
  readonly serviceTouched: (service: ServiceRef) => void;
}

type AnnounceMode = "confirmed" | "degraded";

/** What one run remembers for the next: facts this agent observed, never state it could re-read. */
interface AddressMemory {
  /** The Lease's holder as the last run saw it. */
  holderSeen: string | null;
  freeSince: number | null;
  /** The node seen clearing the Lease's holder when it became free (see ElectionInput.releasedBy). */
  releasedBy: string | null;
  agentClaimSeenAt: number | null;
  /** A host that is no agent answered for the address (foreign-hosts.ts); null when none is remembered. */
  quarantine: Quarantine | null;
  /**
   * The resourceVersion of the Lease this agent's last claim wrote, until the address is installed:
   * that claim was fenced (or took a handover), so installing on it needs no probe of its own.
   */
  claimedVersion: string | null;
  /** The interface refusal last reported as an Event, so that each is reported once. */
  refusalReported: string | null;
  /** The Service the address last served here, to tell when it is withdrawn for good. */
  servedFor: ServiceRef | null;
  /** See ElectionInput.claimedWhileCordoned. */
  claimedWhileCordoned: boolean;
}

const WITHDRAW_MESSAGES: Readonly<Record<WithdrawReason, string>> = {
  "service-not-served": "no Service asks for this address any more",
  "carrier-lost": "the VIP interface lost carrier",
  "not-eligible": "this node is no longer eligible",
  "held-by-other": "the ownership Lease names another node",
  "not-held": "the ownership Lease has no holder",
  "renewal-expired": "this node's heartbeat was not renewed within the renew deadline",
  "agent-claim-in-degraded-hold": "another agent claimed the VIP while the API server was unreachable",
  "foreign-host-claims-vip": "a host that is no vipd agent answers for the VIP",
  "held-by-legacy-agent": "a vipd 0.1.0 agent holds the Service's per-Service Lease",
  cordoned: "this node is cordoned and an uncordoned node can take over",
};

interface RunContext {
  readonly address: string;
  readonly key: string;
  readonly vip: Vip;
  readonly demand: AddressDemand | null;
  readonly lease: V1Lease | undefined;
  readonly legacy: LegacyLocks;
  readonly interfaceName: string;
  readonly now: number;
}

export class AddressReconciler {
  readonly #options: AddressReconcilerOptions;
  readonly #memory = new Map<string, AddressMemory>();
  /** The addresses this node announces and in which mode, behind vipd_vips_held. */
  readonly #held = new Map<string, AnnounceMode>();

  constructor(options: AddressReconcilerOptions) {
    this.#options = options;
    for (const mode of ["confirmed", "degraded"] as const) options.metrics.vipsHeld.set({ mode }, 0);
  }

  /**
   * A frame from a MAC of another machine announced or answered for an address this node holds.
   * Another agent's is rule 1(b)'s business; a foreign host's makes this node withdraw and
   * quarantine the address.
   */
  foreignClaimSeen(address: string, claim: WireClaim): void {
    const o = this.#options;
    const claimant = this.#claimant(claim.mac, null);
    o.metrics.conflictsSeen.inc({ claimant });
    if (claimant === "agent") {
      this.#remember(address).agentClaimSeenAt = o.clock();
      o.log.info("another agent claims a VIP this node holds; the election decides", {
        address,
        mac: claim.mac,
      });
    } else {
      this.#foreignHostAnswered(address, claim);
    }
    o.requeue(addressWork(address), 0);
  }

  async reconcile(address: string): Promise<void> {
    const o = this.#options;
    const now = o.clock();
    const key = addressWork(address);
    const memory = this.#remember(address);
    const demand = o.target.demand(address);
    const servedBefore = memory.servedFor;
    if (demand !== null) memory.servedFor = demand.service;
    const vip = demand?.vip ?? vipOf(address);
    const lease = o.fresh.current(addressLeaseName(vip));
    const holder = lease?.spec?.holderIdentity ?? null;
    observeHolder(memory, lease, now);
    memory.quarantine = remembered(memory.quarantine, now);
    const choice = demand === null ? undefined : o.dataPlane.interfaceFor([vip], demand.interfaceOverride);
    // The node has the address from someone else: its kernel answers for it already, so it is no
    // candidate, and as holder it withdraws (without touching that address) and hands over.
    const foreign = demand === null ? [] : o.dataPlane.foreignAddresses([vip]);
    this.#reportNodeRefusal(demand, memory, nodeRefusal(choice, foreign));
    const eligibility: Eligibility =
      demand === null
        ? { eligible: false, reason: "not asked for" }
        : o.target.selfEligibility(demand.service);
    const otherCandidates = o.view
      .liveNodes()
      .filter((node) => demand === null || o.target.otherEligible(node, demand.service));
    const legacy = this.#legacyLocks(address, now);
    const cordoned = [o.node, ...otherCandidates].filter((node) => this.#cordoned(node));
    if (holder !== o.node || !cordoned.includes(o.node)) memory.claimedWhileCordoned = false;
    const decision = decide({
      self: o.node,
      now,
      timings: o.timings,
      rankKey: demand === null ? address : serviceKey(demand.service),
      wanted: demand !== null,
      selfEligible: eligibility.eligible && choice?.ok === true && foreign.length === 0,
      carrier: choice?.ok === true ? choice.carrier : true,
      otherCandidates,
      cordoned,
      claimedWhileCordoned: memory.claimedWhileCordoned,
      leaseExists: lease !== undefined,
      holder,
      freeSince: memory.freeSince,
      releasedBy: memory.releasedBy,
      holderSilentFor: holder === null || holder === o.node ? 0 : this.#silentFor(holder, now),
      ownHeartbeat: o.heartbeat(),
      announcing: o.dataPlane.holding(key) !== undefined,
      agentClaimSeenAt: memory.agentClaimSeenAt,
      quarantinedUntil: quarantinedUntil(memory.quarantine, now),
      legacy,
    });
    o.log.debug("decision", { address, ...decision });
    const context: RunContext = {
      address,
      key,
      vip,
      demand,
      lease,
      legacy,
      interfaceName: choice?.ok === true ? choice.name : "",
      now,
    };
    await this.#carryOut(decision, context);
    // The address now serves another Service (agents learn of the older of two a moment late):
    // both are told, whatever this run did on the wire.
    if (demand !== null && servedBefore !== null && serviceKey(servedBefore) !== serviceKey(demand.service)) {
      o.serviceTouched(servedBefore);
      o.serviceTouched(demand.service);
    }
    if (demand === null && lease === undefined && o.dataPlane.holding(key) === undefined) {
      this.#memory.delete(address);
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
        await this.#claim(context, { kind: "address", vip: context.vip }, context.lease, decision);
        return;
      case "claim-legacy": {
        // The address Lease's claim probed the wire already; a dead holder's lock is fenced again.
        const service = parseServiceKey(decision.serviceKey);
        const { takeoverFrom } = decision;
        await this.#claim(context, { kind: "legacy-service", service }, this.#legacyLease(service), {
          takeoverFrom,
          fence: takeoverFrom !== null,
        });
        return;
      }
      case "release-legacy":
        await this.#releaseLegacy(context, parseServiceKey(decision.serviceKey));
        return;
      case "collect":
        await this.#collect(context, decision.reason);
        return;
      case "wait":
        if (decision.untilSilent === undefined)
          this.#options.requeue(context.key, decision.until - context.now);
        else this.#options.wakeWhenSilent(decision.untilSilent, context.key);
        return;
      case "idle":
        return;
    }
  }

  async #announce(context: RunContext, mode: AnnounceMode): Promise<void> {
    const o = this.#options;
    const memory = this.#remember(context.address);
    const wasAnnouncing = o.dataPlane.holding(context.key) !== undefined;
    const installing = !wasAnnouncing || !o.dataPlane.intact(context.key);
    // Putting the address on afresh on a Lease that names this node (a restart, a return after a
    // lapse or a quarantine) claims it on the LAN as a claim does, and is probed like one.
    const claimed = memory.claimedVersion !== null && memory.claimedVersion === leaseVersion(context.lease);
    if (!wasAnnouncing && !claimed && !(await this.#fenceQuiet(context, null))) return;
    if (installing && !(await this.#confirmOwnership(context))) return;
    memory.claimedVersion = null;
    const { newlyInstalled } = await o.dataPlane.announce({
      serviceKey: context.key,
      vips: [context.vip],
      interfaceName: context.interfaceName,
    });
    this.#countHeld(context.address, mode);
    if (newlyInstalled) {
      o.log.info("announcing", {
        address: context.address,
        service: context.demand === null ? undefined : serviceKey(context.demand.service),
        interface: context.interfaceName,
        mode,
      });
      if (context.demand !== null) {
        o.events.record(context.demand.service, {
          type: "Normal",
          reason: EVENT_REASONS.announced,
          message: `${context.address} announced by ${o.node} on ${context.interfaceName}`,
        });
      }
    }
    if (context.demand !== null && (newlyInstalled || !wasAnnouncing))
      o.serviceTouched(context.demand.service);
  }

  #countHeld(address: string, mode: AnnounceMode | undefined): void {
    const gauge = this.#options.metrics.vipsHeld;
    const before = this.#held.get(address);
    if (before === mode) return;
    if (before !== undefined) gauge.dec({ mode: before });
    if (mode === undefined) {
      this.#held.delete(address);
      return;
    }
    this.#held.set(address, mode);
    gauge.inc({ mode });
  }

  // A Lease read from the cache may be older than a takeover the watch has not delivered yet; before
  // putting an address on the wire (first or again), the Leases that say who may are read once more
  // (a claim's own write is fresh): the address Lease, and while a 0.1.0 agent runs, its locks.
  async #confirmOwnership(context: RunContext): Promise<boolean> {
    const o = this.#options;
    const names = [
      addressLeaseName(context.vip),
      ...(context.legacy.required
        ? context.legacy.locks.map((lock) => legacyServiceLeaseName(parseServiceKey(lock.serviceKey)))
        : []),
    ];
    for (const name of names) {
      if (o.fresh.known(name)?.spec?.holderIdentity === o.node) continue;
      const fresh = await o.leases.get(name);
      if (fresh !== null) o.fresh.wrote(fresh);
      if (fresh?.spec?.holderIdentity === o.node) continue;
      o.requeue(context.key, 0);
      return false;
    }
    return true;
  }

  async #withdraw(
    context: RunContext,
    reason: WithdrawReason,
    release: "keep" | "clear-holder" | "delete",
  ): Promise<void> {
    const o = this.#options;
    if (o.dataPlane.holding(context.key) !== undefined) {
      await o.dataPlane.withdraw(context.key);
      this.#countHeld(context.address, undefined);
      o.log.info("withdrawn", { address: context.address, reason });
      // Giving an address up to a foreign host hands it to nobody.
      const handedOver = release !== "keep" && reason !== "foreign-host-claims-vip";
      o.metrics.elections.inc({ outcome: handedOver ? "handed_over" : "withdrawn" });
      o.metrics.withdrawals.inc({ reason });
      // A deleted Service has nobody left to read the Event.
      const service = context.demand?.service ?? this.#remember(context.address).servedFor;
      if (service !== null && o.target.exists(service)) {
        o.events.record(service, {
          type: "Normal",
          reason: EVENT_REASONS.withdrawn,
          message: `${o.node}: ${context.address}: ${WITHDRAW_MESSAGES[reason]}`,
        });
        o.serviceTouched(service);
      }
    }
    if (release === "keep") return;
    try {
      // The locks first: while a 0.1.0 agent waits on one, it must not find the address free and
      // its lock still held by a node that no longer serves it.
      for (const lock of context.legacy.locks.filter((each) => each.holder === o.node)) {
        await this.#releaseLegacy(context, parseServiceKey(lock.serviceKey));
      }
      if (context.lease === undefined) return;
      if (release === "delete") await o.ownership.remove(context.lease);
      else o.fresh.wrote(await o.ownership.clearHolder(context.lease));
    } catch (error) {
      if (classifyApiError(error) !== "conflict") throw error;
      o.requeue(context.key, 0);
    }
  }

  async #claim(
    context: RunContext,
    thing: OwnedThing,
    current: V1Lease | undefined,
    claim: { readonly takeoverFrom: string | null; readonly fence: boolean },
  ): Promise<void> {
    const o = this.#options;
    const { takeoverFrom } = claim;
    const started = o.clock();
    if (takeoverFrom !== null && !(await this.#holderStillDead(takeoverFrom))) {
      o.requeue(context.key, 0);
      return;
    }
    if (claim.fence && !(await this.#fenceQuiet(context, takeoverFrom))) return;
    try {
      const written = await o.ownership.claim(thing, current ?? null);
      o.fresh.wrote(written);
      if (thing.kind === "address") this.#remember(context.address).claimedVersion = leaseVersion(written);
    } catch (error) {
      if (classifyApiError(error) !== "conflict") throw error;
      o.metrics.elections.inc({ outcome: "lost" });
      o.requeue(context.key, 0);
      return;
    }
    if (thing.kind === "address")
      this.#remember(context.address).claimedWhileCordoned = this.#cordoned(o.node);
    o.metrics.elections.inc({ outcome: "won" });
    o.metrics.claimLatency.observe((o.clock() - started) / 1000);
    o.log.info("claimed", {
      address: context.address,
      lease: thing.kind === "address" ? "address" : `0.1.0 ${serviceKey(thing.service)}`,
      from: takeoverFrom ?? "nobody",
    });
    o.requeue(context.key, 0);
  }

  // Rule 2's fence before a claim or a fresh install: true when nobody answered. Another agent's
  // kernel answering (a dead holder's address not expired yet, a takeover under way) means wait and
  // probe again; a host that is no agent means quarantine.
  async #fenceQuiet(context: RunContext, holder: string | null): Promise<boolean> {
    const o = this.#options;
    const fence = await o.dataPlane.fence({
      vips: [context.vip],
      interfaceName: context.interfaceName,
      purpose: holder === null ? "first-claim" : "takeover",
    });
    if (fence.outcome === "quiet") {
      o.metrics.fences.inc({ result: "quiet" });
      return true;
    }
    if (fence.outcome === "failed") {
      o.metrics.fences.inc({ result: fence.failure });
      throw new Error(`interface ${fence.interfaceName} is gone or has no MAC address`);
    }
    const foreign = fence.answeredBy.filter((each) => this.#claimant(each.mac, holder) === "foreign-host");
    if (foreign.length === 0) {
      o.metrics.fences.inc({ result: "agent" });
      o.log.info("fenced: another agent still answers for the VIP", {
        address: context.address,
        holder: holder ?? "nobody",
        macs: fence.answeredBy.map((each) => each.mac).join(", "),
      });
      o.requeue(context.key, o.timings.retryPeriod);
      return false;
    }
    o.metrics.fences.inc({ result: "foreign-host" });
    for (const each of foreign) this.#foreignHostAnswered(context.address, each);
    const until = quarantinedUntil(this.#remember(context.address).quarantine, o.clock());
    o.requeue(context.key, until === null ? 0 : until - o.clock());
    return false;
  }

  // Quarantine (foreign-hosts.ts), reported once per address and MAC while remembered.
  #foreignHostAnswered(address: string, claim: WireClaim): void {
    const o = this.#options;
    const memory = this.#remember(address);
    const now = o.clock();
    const { quarantine, report } = foreignHostAnswered(memory.quarantine, claim, now);
    memory.quarantine = quarantine;
    o.log.warn("a host that is no vipd agent answers for a VIP; not serving it", {
      address,
      mac: claim.mac,
      retryInMs: quarantine.until - now,
    });
    const service = o.target.demand(address)?.service ?? memory.servedFor;
    if (!report || service === null) return;
    o.events.record(service, {
      type: "Warning",
      reason: EVENT_REASONS.conflict,
      message: `${claim.ip} is in use by MAC ${claim.mac}, which is no vipd agent of this cluster: ${o.node} does not serve it while that host answers`,
    });
  }

  #claimant(mac: string, holder: string | null): Claimant {
    const view = this.#options.view;
    return claimantOf({ mac, agents: view.agentMacs(), liveNodes: view.liveNodes(), holder });
  }

  async #releaseLegacy(context: RunContext, service: ServiceRef): Promise<void> {
    const o = this.#options;
    const lease = this.#legacyLease(service);
    if (lease?.spec?.holderIdentity !== o.node) return;
    try {
      o.fresh.wrote(await o.ownership.clearHolder(lease));
      o.log.info("released a 0.1.0 Lease", { address: context.address, service: serviceKey(service) });
    } catch (error) {
      if (classifyApiError(error) !== "conflict") throw error;
    }
    o.requeue(context.key, 0);
  }

  // The holder that should have deleted this Lease is gone; the Lease goes only if it is still the
  // version this decision was made on.
  async #collect(context: RunContext, reason: string): Promise<void> {
    const o = this.#options;
    if (context.lease === undefined) return;
    try {
      await o.ownership.remove(context.lease);
      o.log.info("removed the ownership Lease of an address nobody asks for", {
        address: context.address,
        reason,
      });
    } catch (error) {
      const failure = classifyApiError(error);
      if (failure !== "conflict" && failure !== "not-found") throw error;
      o.requeue(context.key, 0);
    }
  }

  #legacyLocks(address: string, now: number): LegacyLocks {
    const o = this.#options;
    const locks = o.target.legacyServices(address).map((service): LegacyLock => {
      const lease = this.#legacyLease(service);
      const holder = lease?.spec?.holderIdentity ?? null;
      return {
        serviceKey: serviceKey(service),
        exists: lease !== undefined,
        holder,
        holderSilentFor: holder === null || holder === o.node ? 0 : this.#silentFor(holder, now),
      };
    });
    return { required: o.view.legacyAgentLive(), locks };
  }

  #legacyLease(service: ServiceRef): V1Lease | undefined {
    return this.#options.fresh.current(legacyServiceLeaseName(service));
  }

  // Control-plane mode reads the same Node objects: draining a control-plane node moves its VIP too.
  #cordoned(node: string): boolean {
    return this.#options.cordonHandsOver && isCordoned(this.#options.view.node(node));
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

  // What the node itself has (its interfaces, an address someone else configured) is each node's
  // own to report, so every node says why it does not carry the address.
  #reportNodeRefusal(demand: AddressDemand | null, memory: AddressMemory, refusal: NodeRefusal | null): void {
    const text = refusal === null ? null : `${refusal.reason}: ${refusal.message}`;
    if (text === memory.refusalReported) return;
    memory.refusalReported = text;
    if (refusal === null || demand === null) return;
    const o = this.#options;
    o.log.warn("not serving", {
      address: demand.vip.address,
      reason: refusal.reason,
      problems: refusal.message,
    });
    o.events.record(demand.service, {
      type: "Warning",
      reason: refusal.reason,
      message: `${o.node}: ${refusal.message}`,
    });
  }

  #remember(address: string): AddressMemory {
    let memory = this.#memory.get(address);
    if (memory === undefined) {
      memory = {
        holderSeen: null,
        freeSince: null,
        releasedBy: null,
        agentClaimSeenAt: null,
        quarantine: null,
        claimedVersion: null,
        refusalReported: null,
        servedFor: null,
        claimedWhileCordoned: false,
      };
      this.#memory.set(address, memory);
    }
    return memory;
  }
}

interface NodeRefusal {
  readonly reason: string;
  readonly message: string;
}

function nodeRefusal(
  choice: InterfaceChoice | undefined,
  foreign: readonly ForeignAddress[],
): NodeRefusal | null {
  if (foreign.length > 0) {
    const where = foreign.map((each) => `${each.address}/${each.prefixLength} on ${each.interfaceName}`);
    return {
      reason: EVENT_REASONS.conflict,
      message: `${where.join(", ")} was not added by vipd; this node does not serve the VIP while it is there`,
    };
  }
  if (choice !== undefined && !choice.ok) return { reason: EVENT_REASONS.invalid, message: choice.reason };
  return null;
}

function leaseVersion(lease: V1Lease | undefined): string | null {
  return lease?.metadata?.resourceVersion ?? null;
}

function vipOf(address: string): Vip {
  const reading = canonicalAddress(address);
  if (!reading.ok) throw new Error(`not an address: ${reading.problem}`);
  return reading.vip;
}

/**
 * Notes when the Lease became free and who freed it. A Lease that still exists but lost its holder
 * from one run to the next was cleared by that holder: nobody else writes an empty holder.
 */
function observeHolder(memory: AddressMemory, lease: V1Lease | undefined, now: number): void {
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
