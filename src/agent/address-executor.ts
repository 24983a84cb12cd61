// Carries out the plans of address-step.ts through the small interfaces of the world: the Lease API,
// the data plane, Events, metrics and the work queue. It decides nothing: a guard that fails ends
// the plan with the guard's `otherwise`, and what an outcome means (a claim written, a fence
// answered) is handed back to the pure module, whose answer it carries out in turn.
import type { WithdrawReason } from "../election/decide.ts";
import type { HeartbeatTracker } from "../election/heartbeat-tracker.ts";
import { heartbeatLeaseName } from "../election/lease-names.ts";
import type { Ownership } from "../election/ownership.ts";
import type { Clock } from "../clock/clock.ts";
import { classifyApiError } from "../kube/errors.ts";
import type { EventRecorder, ServiceEvent } from "../kube/events.ts";
import { leaseVersionOf, type LeaseApi } from "../kube/leases.ts";
import { EVENT_REASONS } from "../kube/names.ts";
import { serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import type { Logger } from "../log/logger.ts";
import type { AgentMetrics } from "../metrics/metrics.ts";
import type { HeldAddress } from "../metrics/vip-series.ts";
import {
  absorb,
  afterFence,
  type Absorbed,
  type ActionStep,
  type AddressFact,
  type AddressMemory,
  type GuardStep,
  type Plan,
  type WireContext,
} from "./address-step.ts";
import type { ServingTarget } from "./address-reconciler.ts";
import type { DataPlane } from "./data-plane.ts";
import type { FreshLeases } from "./fresh-leases.ts";
import type { Vip } from "./service-intent.ts";

export interface AddressExecutorOptions {
  readonly node: string;
  readonly retryPeriod: number;
  readonly clock: Clock;
  readonly leases: Pick<LeaseApi, "get">;
  readonly ownership: Pick<Ownership, "claim" | "clearHolder" | "remove">;
  readonly fresh: FreshLeases;
  readonly tracker: HeartbeatTracker;
  readonly dataPlane: DataPlane;
  readonly events: EventRecorder;
  /** What an Event about the Service goes on; null once it is gone and an Event has no reader. */
  readonly eventSubject: ServingTarget["eventSubject"];
  readonly queue: {
    /** Another run of the work key after delayMs (0: as soon as possible). */
    readonly requeue: (key: string, delayMs: number) => void;
    /** Another run of the work key once the node's heartbeat has been silent for D. */
    readonly wakeWhenSilent: (node: string, key: string) => void;
    /** This node put the Service's address on the wire or took it off: its status may change. */
    readonly touch: (service: ServiceRef) => void;
  };
  readonly metrics: AgentMetrics;
  readonly log: Logger;
}

/** The address a plan is for, and where its memory lives while the plan runs. */
export interface PlanTarget {
  readonly address: string;
  readonly key: string;
  readonly vip: Vip;
  readonly memory: {
    get(): AddressMemory;
    set(memory: AddressMemory): void;
  };
  /** Who the agents are and which Service the address serves, read when a fact arrives. */
  readonly wire: () => WireContext;
}

export class AddressExecutor {
  readonly #options: AddressExecutorOptions;
  /** The addresses this node announces, behind vipd_vips_held and vipd_vip_announced. */
  readonly #held = new Map<string, HeldAddress>();

  constructor(options: AddressExecutorOptions) {
    this.#options = options;
    for (const mode of ["confirmed", "degraded", "all-active"] as const)
      options.metrics.vipsHeld.set({ mode }, 0);
  }

  async run(plan: Plan, target: PlanTarget): Promise<void> {
    const startedAt = this.#options.clock.now();
    for (const step of plan) {
      if (isGuard(step)) {
        const otherwise = await this.#guard(step, target, startedAt);
        if (otherwise !== null) {
          await this.run(otherwise, target);
          return;
        }
      } else {
        await this.#act(step, target);
      }
    }
  }

  /** A frame on the wire, learnt outside a run: memory takes it in, and its plan runs. */
  learn(fact: Extract<AddressFact, { kind: "wire-claim" }>, target: PlanTarget): Promise<void> {
    const o = this.#options;
    const plan = this.#absorb(fact, target);
    const claimant = plan.some((step) => step.kind === "foreign-host") ? "foreign-host" : "agent";
    o.metrics.conflictsSeen.inc({ claimant });
    if (claimant === "agent")
      o.log.info("another agent claims a VIP this node holds; the election decides", {
        address: target.address,
        mac: fact.claim.mac,
      });
    return this.run(plan, target);
  }

  #absorb(fact: AddressFact, target: PlanTarget): Plan {
    return this.#settle(absorb(target.memory.get(), fact, target.wire()), target);
  }

  #settle(absorbed: Absorbed, target: PlanTarget): Plan {
    target.memory.set(absorbed.memory);
    return absorbed.plan;
  }

  /** null when the guard holds; else what to do instead of the rest of the plan. */
  async #guard(step: GuardStep, target: PlanTarget, startedAt: number): Promise<Plan | null> {
    const o = this.#options;
    switch (step.kind) {
      case "confirm-holder-dead": {
        const fresh = await o.leases.get(heartbeatLeaseName(step.holder));
        const version = fresh?.metadata?.resourceVersion ?? null;
        if (o.tracker.sighting(step.holder)?.resourceVersion === version) return null;
        o.tracker.observe(step.holder, version, o.clock.now());
        return step.otherwise;
      }
      case "fence": {
        const fence = await o.dataPlane.fence({
          vips: [target.vip],
          interfaceName: step.interfaceName,
          purpose: step.purpose,
        });
        if (fence.outcome === "quiet") {
          o.metrics.fences.inc({ result: "quiet" });
          return null;
        }
        if (fence.outcome === "failed") {
          // The interface went away between choosing it and probing: no answer either way. The
          // queue's backoff retries, by when the next run chooses again.
          o.metrics.fences.inc({ result: fence.failure });
          throw new Error(`interface ${fence.interfaceName} is gone or has no MAC address`);
        }
        const now = o.clock.now();
        const answered = { answeredBy: fence.answeredBy, holder: step.holder, now };
        const plan = this.#settle(
          afterFence(target.memory.get(), answered, target.wire(), o.retryPeriod),
          target,
        );
        const foreign = plan.some((each) => each.kind === "foreign-host");
        o.metrics.fences.inc({ result: foreign ? "foreign-host" : "agent" });
        if (!foreign)
          o.log.info("fenced: another agent still answers for the VIP", {
            address: target.address,
            holder: step.holder ?? "nobody",
            macs: fence.answeredBy.map((each) => each.mac).join(", "),
          });
        return plan;
      }
      case "confirm-ownership": {
        for (const name of step.leaseNames) {
          if (o.fresh.known(name)?.spec?.holderIdentity === o.node) continue;
          const fresh = await o.leases.get(name);
          if (fresh !== null) o.fresh.wrote(fresh);
          if (fresh?.spec?.holderIdentity !== o.node) return step.otherwise;
        }
        return null;
      }
      case "claim": {
        let written;
        try {
          written = await o.ownership.claim(step.thing, step.current);
        } catch (error) {
          if (classifyApiError(error) !== "conflict") throw error;
          o.metrics.elections.inc({ outcome: "lost" });
          return step.otherwise;
        }
        o.fresh.wrote(written);
        o.metrics.elections.inc({ outcome: "won" });
        o.metrics.claimLatency.observe((o.clock.now() - startedAt) / 1000);
        o.log.info("claimed", {
          address: target.address,
          lease: step.thing.kind === "address" ? "address" : `0.1.0 ${serviceKey(step.thing.service)}`,
          from: step.takeoverFrom ?? "nobody",
        });
        const fact = {
          kind: "claimed",
          thing: step.thing.kind,
          lease: written,
          cordoned: step.cordoned,
        } as const;
        await this.run(this.#absorb(fact, target), target);
        return null;
      }
    }
  }

  async #act(step: ActionStep, target: PlanTarget): Promise<void> {
    const o = this.#options;
    switch (step.kind) {
      case "watch-heartbeat":
        if (o.tracker.sighting(step.node) === undefined) o.tracker.observe(step.node, null, o.clock.now());
        return;
      case "report-refusal":
        if (step.log)
          o.log.warn("not serving", { address: target.address, reason: step.reason, problems: step.message });
        if (step.record)
          this.#tell(step.service, { type: "Warning", reason: step.reason, message: step.message });
        return;
      case "install":
        await this.#install(step, target);
        return;
      case "withdraw":
        await this.#withdraw(step, target);
        return;
      case "release-legacy":
        try {
          o.fresh.wrote(await o.ownership.clearHolder(step.lease));
          o.log.info("released a 0.1.0 Lease", {
            address: target.address,
            service: serviceKey(step.service),
          });
        } catch (error) {
          if (classifyApiError(error) !== "conflict") throw error;
        }
        return;
      case "release":
        try {
          if (step.release === "delete") await o.ownership.remove(leaseVersionOf(step.lease));
          else o.fresh.wrote(await o.ownership.clearHolder(step.lease));
        } catch (error) {
          if (classifyApiError(error) !== "conflict") throw error;
          o.queue.requeue(target.key, 0);
        }
        return;
      case "collect":
        try {
          await o.ownership.remove(leaseVersionOf(step.lease));
          o.log.info("removed the ownership Lease of an address nobody asks for", {
            address: target.address,
            reason: step.reason,
          });
        } catch (error) {
          const failure = classifyApiError(error);
          if (failure !== "conflict" && failure !== "not-found") throw error;
          o.queue.requeue(target.key, 0);
        }
        return;
      case "touch":
        o.queue.touch(step.service);
        return;
      case "requeue":
        o.queue.requeue(target.key, step.afterMs);
        return;
      case "wake-when-silent":
        o.queue.wakeWhenSilent(step.node, target.key);
        return;
      case "foreign-host":
        this.#foreignHost(step, target);
        return;
    }
  }

  async #install(step: Extract<ActionStep, { kind: "install" }>, target: PlanTarget): Promise<void> {
    const o = this.#options;
    const { newlyInstalled } = await o.dataPlane.announce({
      workKey: target.key,
      vips: [target.vip],
      interfaceName: step.interfaceName,
      routed: step.routed,
    });
    const service = target.wire().servedBy;
    this.#countHeld(target.address, { mode: step.mode, interfaceName: step.interfaceName, service });
    if (newlyInstalled) {
      o.log.info("announcing", {
        address: target.address,
        service: service === null ? undefined : serviceKey(service),
        interface: step.interfaceName,
        mode: step.mode,
      });
      if (service !== null)
        this.#tell(service, {
          type: "Normal",
          reason: EVENT_REASONS.announced,
          message: `${target.address} announced by ${o.node} on ${step.interfaceName}`,
        });
    }
    await this.run(this.#absorb({ kind: "installed", newly: newlyInstalled }, target), target);
  }

  async #withdraw(step: Extract<ActionStep, { kind: "withdraw" }>, target: PlanTarget): Promise<void> {
    const o = this.#options;
    if (o.dataPlane.holding(target.key) === undefined) return;
    await o.dataPlane.withdraw(target.key);
    this.#countHeld(target.address, undefined);
    o.log.info("withdrawn", { address: target.address, reason: step.reason });
    o.metrics.elections.inc({ outcome: step.handedOver ? "handed_over" : "withdrawn" });
    o.metrics.withdrawals.inc({ reason: step.reason });
    if (step.service === null) return;
    // A deleted Service has nobody left to read the Event, nor a status to change.
    const told = this.#tell(step.service, {
      type: "Normal",
      reason: EVENT_REASONS.withdrawn,
      message: `${o.node}: ${target.address}: ${WITHDRAW_MESSAGES[step.reason]}`,
    });
    if (told) o.queue.touch(step.service);
  }

  // Quarantine (foreign-hosts.ts), told once per address and MAC while remembered.
  #foreignHost(step: Extract<ActionStep, { kind: "foreign-host" }>, target: PlanTarget): void {
    const o = this.#options;
    o.log.warn("a host that is no vipd agent answers for a VIP; not serving it", {
      address: target.address,
      mac: step.claim.mac,
      retryInMs: step.retryInMs,
    });
    if (step.tell === null) return;
    this.#tell(step.tell, {
      type: "Warning",
      reason: EVENT_REASONS.conflict,
      message: `${step.claim.ip} is in use by MAC ${step.claim.mac}, which is no vipd agent of this cluster: ${o.node} does not serve it while that host answers`,
    });
  }

  /** An Event on the Service as it is now; false when it is gone. */
  #tell(service: ServiceRef, event: ServiceEvent): boolean {
    const subject = this.#options.eventSubject(service);
    if (subject === null) return false;
    this.#options.events.record(subject, event);
    return true;
  }

  /** What this node announces now, by address. */
  holdings(): ReadonlyMap<string, HeldAddress> {
    return this.#held;
  }

  #countHeld(address: string, holding: HeldAddress | undefined): void {
    const gauge = this.#options.metrics.vipsHeld;
    const before = this.#held.get(address)?.mode;
    if (holding === undefined) this.#held.delete(address);
    else this.#held.set(address, holding);
    if (before === holding?.mode) return;
    if (before !== undefined) gauge.dec({ mode: before });
    if (holding !== undefined) gauge.inc({ mode: holding.mode });
  }
}

function isGuard(step: ActionStep | GuardStep): step is GuardStep {
  return (
    step.kind === "confirm-holder-dead" ||
    step.kind === "fence" ||
    step.kind === "confirm-ownership" ||
    step.kind === "claim"
  );
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
