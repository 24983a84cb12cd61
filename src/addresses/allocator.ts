// The allocator: gives each Service that asks for addresses one per family from the pools, and
// takes them back when it stops asking. Every agent runs this loop; one of them writes (the first
// in the rendezvous ranking of the live agents for one cluster-wide key, as for refusals), the
// others only read the allocations it writes.
//
// The invariant: no address is ever given to two Services (that may not share it), whatever
// crashes, restarts or races. The argument:
//
// 1. An address inside a pool is given to a Service only by a VIPAllocation object, and served for
//    a Service only while that object names it (service-intent.ts filters every pool address by
//    its allocation; a requested address waits for its own allocation like an allocated one).
// 2. Each address has exactly one possible object name (allocationName: the IPv4 text, or the eight
//    IPv6 groups in full), and the API server creates an object of a given name at most once: etcd
//    commits the create only if the key does not exist. Of two allocators creating an allocation
//    for one address at the same time, whatever their views, one gets 409 AlreadyExists. No second
//    object for an address can exist, so no second Service can be named by one.
// 3. Every later change to an allocation (giving a released one back, releasing it, deleting it)
//    carries the resourceVersion its writer read, so it applies only to the state it was decided
//    on; a writer with a stale view gets 409 Conflict, re-reads and decides again.
// 4. An allocation is deleted only after it has been released for the cool-down, with the
//    resourceVersion of its released state as precondition: a delete cannot remove an allocation
//    that was given again meanwhile. While it exists, no other Service can be given the address
//    (2), so a released address is handed out again only after the cool-down, once clients' ARP
//    and neighbour caches have let the old holder's MAC go.
// 5. Nothing else writes allocations. The allocator's rank decides only who tries: two agents that
//    both believe they allocate (views of the heartbeats that differ for a moment) make more
//    requests, never a second owner. What they can make is two allocations of one family for one
//    Service, each for an address nobody else has; every agent serves the older one alike
//    (AllocationIndex.addressesOf) and the allocator releases the other.
// 6. Allocations live in the API server, not in an agent: an allocator killed between two writes
//    leaves each write whole or absent, and the next allocator reads them. Every agent and the API
//    server restarted read the same objects back, so every Service keeps its address.
//
// What the wire sees is decided elsewhere: which node announces an address is its ownership Lease's
// (election/decide.ts), so even an agent whose view of the allocations lags announces each address
// from one node only.
import type { Clock } from "../clock/clock.ts";
import { refusalRecording } from "../agent/refusals.ts";
import { rankCandidates } from "../election/ranking.ts";
import type { EventRecorder } from "../kube/events.ts";
import { EVENT_REASONS } from "../kube/names.ts";
import { parseServiceKey, serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import type { Logger } from "../log/logger.ts";
import type { AllocationApi, AllocationWrite } from "./allocation-api.ts";
import type { AllocationIndex, AllocationRecord } from "./allocation-index.ts";
import { planAllocation, type AllocationSituation, type AllocationStep } from "./allocate.ts";
import type { VipAllocationServiceRef, VipAllocationSpec } from "./api.ts";

/** The key of the allocator's ranking: one allocator for the whole cluster. */
export const ALLOCATOR_RANKING_KEY = "vipd.io/allocator";

// An address this agent is creating an allocation for is not handed out again until the informer
// shows the allocation (or for this long, if it never does: the create failed, or the object was
// deleted before the informer saw it).
const RESERVATION_MS = 60_000;
// A Service whose new allocation the informer does not show yet is looked at again this soon,
// rather than planned on a view that lacks it (which would give it a second address).
const UNSEEN_RECHECK_MS = 100;

interface Reservation {
  readonly since: number;
  readonly service: string;
}

export interface AllocatorView {
  /** The Service's situation, without the addresses not to hand out; null if it asks nothing. */
  situation(ref: ServiceRef): Omit<AllocationSituation, "taken" | "now" | "cooldownMs"> | null;
  /** Addresses Services name in their requests, which allocation must not hand out. */
  requestedAddresses(): ReadonlySet<string>;
  readonly allocations: Pick<AllocationIndex, "all">;
  liveNodes(): readonly string[];
  /** Why nothing can be allocated at all (the CRDs are not installed), or null. */
  unavailable(): string | null;
}

export interface AllocatorOptions {
  readonly node: string;
  readonly view: AllocatorView;
  readonly api: AllocationApi;
  readonly events: EventRecorder;
  readonly clock: Clock;
  /**
   * Wall-clock milliseconds: a release is stamped by one agent and its cool-down ended by another.
   * Skew between nodes' clocks only lengthens or shortens the cool-down (4 above does not rest on it).
   */
  readonly wallClock: () => number;
  readonly leaseDuration: number;
  readonly cooldownMs: number;
  readonly log: Logger;
  readonly requeue: (service: ServiceRef, delayMs: number) => void;
  /** Runs the Service's loop again once that node's heartbeat is silent: it may have been the allocator. */
  readonly wakeWhenSilent: (node: string, service: ServiceRef) => void;
  /** Counts an allocation write by its step and outcome. */
  readonly counted: (step: AllocationStep["kind"], outcome: AllocationWrite) => void;
}

function serviceRefOf(ref: ServiceRef, uid: string): VipAllocationServiceRef {
  return { namespace: ref.namespace, name: ref.name, uid };
}

function sameService(a: VipAllocationServiceRef, ref: ServiceRef): boolean {
  return a.namespace === ref.namespace && a.name === ref.name;
}

function specOf(record: AllocationRecord): VipAllocationSpec {
  return {
    address: record.address,
    pool: record.pool,
    services: record.services,
    ...(record.sharingKey === undefined ? {} : { sharingKey: record.sharingKey }),
  };
}

export class Allocator {
  readonly #options: AllocatorOptions;
  /** Address → when this agent started creating its allocation, and for which Service. */
  readonly #reserved = new Map<string, Reservation>();
  /** "namespace/name" → the problem last told to the Service, so each is told once. */
  readonly #told = new Map<string, string>();
  #firstRunAt: number | undefined;

  constructor(options: AllocatorOptions) {
    this.#options = options;
  }

  /** Whether this agent is the one that allocates now (a VIPPool's status is its to write too). */
  allocates(): boolean {
    const now = this.#options.clock.now();
    return this.#turn(now, this.#firstRunAt ?? now).action === "record";
  }

  // Who allocates is decided as who records a cluster-wide refusal (refusals.ts): the first in the
  // ranking of the live agents, once this one has run for a lease duration and seen them.
  #turn(now: number, firstRunAt: number): ReturnType<typeof refusalRecording> {
    const o = this.#options;
    return refusalRecording({
      self: o.node,
      liveNodes: o.view.liveNodes(),
      serviceKey: ALLOCATOR_RANKING_KEY,
      runningFor: now - firstRunAt,
      leaseDuration: o.leaseDuration,
    });
  }

  /**
   * An allocation was deleted: its address is free. The Services told that no address was left try
   * again at once, instead of at the next resync.
   */
  addressFreed(): void {
    for (const key of this.#told.keys()) this.#options.requeue(parseServiceKey(key), 0);
  }

  /** The informer shows an allocation of this address: it needs no reservation any more. */
  allocationSeen(address: string): void {
    this.#reserved.delete(address);
  }

  async reconcile(ref: ServiceRef): Promise<void> {
    const o = this.#options;
    const now = o.clock.now();
    this.#firstRunAt ??= now;
    const situation = o.view.situation(ref);
    if (situation === null) {
      this.#told.delete(serviceKey(ref));
      return;
    }
    const turn = this.#turn(now, this.#firstRunAt);
    if (turn.action === "wait") {
      o.requeue(ref, turn.forMs);
      return;
    }
    if (turn.action === "leave") {
      this.#told.delete(serviceKey(ref));
      // The allocator may die with this Service still waiting; the others find out when its
      // heartbeat falls silent, and one of them takes over.
      const [allocator] = rankCandidates([o.node, ...o.view.liveNodes()], ALLOCATOR_RANKING_KEY);
      if (allocator !== undefined) o.wakeWhenSilent(allocator, ref);
      return;
    }
    const unavailable = o.view.unavailable();
    if (unavailable !== null) {
      if (situation.request !== "none" && situation.request !== "unreadable")
        this.#tell(ref, situation.uid, { reason: EVENT_REASONS.noAddress, message: unavailable });
      return;
    }
    const key = serviceKey(ref);
    if (
      [...this.#reserved.values()].some((each) => each.service === key && now - each.since <= RESERVATION_MS)
    ) {
      o.requeue(ref, UNSEEN_RECHECK_MS);
      return;
    }
    const plan = planAllocation({
      ...situation,
      taken: this.#taken(now),
      now: o.wallClock(),
      cooldownMs: o.cooldownMs,
    });
    // Reserved before the first await: the next Service's plan, made while these creates are on
    // their way, must not pick the same addresses.
    for (const step of plan.steps)
      if (step.kind === "create") this.#reserved.set(step.address, { since: now, service: key });
    let again = false;
    for (const step of plan.steps) {
      const outcome = await this.#carryOut(ref, situation.uid, step);
      o.counted(step.kind, outcome);
      if (outcome !== "done") again = true;
    }
    if (plan.problem === null) this.#told.delete(serviceKey(ref));
    else this.#tell(ref, situation.uid, plan.problem);
    if (again) o.requeue(ref, 0);
    else if (plan.recheckInMs !== undefined) o.requeue(ref, plan.recheckInMs);
  }

  #taken(now: number): ReadonlySet<string> {
    const taken = new Set(this.#options.view.requestedAddresses());
    for (const record of this.#options.view.allocations.all()) taken.add(record.address);
    for (const [address, { since }] of this.#reserved) {
      if (now - since > RESERVATION_MS) this.#reserved.delete(address);
      else taken.add(address);
    }
    return taken;
  }

  #tell(ref: ServiceRef, uid: string | undefined, problem: { reason: string; message: string }): void {
    const key = serviceKey(ref);
    const text = `${problem.reason}: ${problem.message}`;
    if (this.#told.get(key) === text) return;
    this.#told.set(key, text);
    this.#options.log.warn("no address for Service", {
      service: key,
      reason: problem.reason,
      problems: problem.message,
    });
    if (uid !== undefined) this.#options.events.record({ ...ref, uid }, { type: "Warning", ...problem });
  }

  async #carryOut(ref: ServiceRef, uid: string | undefined, step: AllocationStep): Promise<AllocationWrite> {
    const { api, wallClock, log } = this.#options;
    switch (step.kind) {
      case "create": {
        if (uid === undefined) return "stale";
        const outcome = await api
          .create({
            address: step.address,
            pool: step.pool,
            services: [serviceRefOf(ref, uid)],
            ...(step.sharingKey === undefined ? {} : { sharingKey: step.sharingKey }),
          })
          .catch((error: unknown) => {
            this.#reserved.delete(step.address);
            throw error;
          });
        if (outcome === "done")
          log.info("address allocated", { service: serviceKey(ref), address: step.address, pool: step.pool });
        return outcome;
      }
      case "join": {
        if (uid === undefined) return "stale";
        const { record } = step;
        const spec = { ...specOf(record), services: [...record.services, serviceRefOf(ref, uid)] };
        const outcome = await api.replace(record.name, record.resourceVersion, spec);
        if (outcome === "done")
          log.info("address shared", {
            service: serviceKey(ref),
            address: record.address,
            with: record.services.map((each) => `${each.namespace}/${each.name}`).join(","),
          });
        return outcome;
      }
      case "take-back": {
        if (uid === undefined) return "stale";
        const { record } = step;
        const spec = { ...specOf(record), services: [serviceRefOf(ref, uid)] };
        const outcome = await api.replace(record.name, record.resourceVersion, spec);
        if (outcome === "done")
          log.info("address allocated again", { service: serviceKey(ref), address: record.address });
        return outcome;
      }
      case "release": {
        const { record } = step;
        const others = record.services.filter((each) => !sameService(each, ref));
        // The last Service's reference stays, so that the Service created again within the
        // cool-down gets its address back (allocate.ts).
        const spec =
          others.length > 0
            ? { ...specOf(record), services: others }
            : { ...specOf(record), releasedAt: new Date(wallClock()).toISOString() };
        const outcome = await api.replace(record.name, record.resourceVersion, spec);
        if (outcome === "done")
          log.info("address released", { service: serviceKey(ref), address: record.address });
        return outcome;
      }
      case "delete":
        return api.delete(step.record.name, step.record.resourceVersion);
    }
  }
}
