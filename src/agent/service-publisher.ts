// What a Service is told, level-triggered like the address loops: each run reads the Service, its
// addresses' Leases and what this node announces into one observation, hands it to the pure step
// (service-step.ts, which says who writes and clears the status and who records a refusal), and
// carries out the plan that comes back: a log line, an Event, a status write, a later run.
import type { V1Service } from "@kubernetes/client-node";
import type { Clock } from "../clock/clock.ts";
import type { OwnHeartbeat } from "../election/decide.ts";
import { addressLeaseName, legacyServiceLeaseName } from "../election/lease-names.ts";
import { serviceSubject, type EventRecorder } from "../kube/events.ts";
import { serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import type { ServiceStatusWriter } from "../kube/service-status.ts";
import type { Logger } from "../log/logger.ts";
import { isElected, isRouted } from "../routing/announcement-mode.ts";
import type { ServingTarget } from "./address-reconciler.ts";
import type { DataPlane } from "./data-plane.ts";
import type { FreshLeases } from "./fresh-leases.ts";
import type { ServiceIntent } from "./service-intent.ts";
import { NOTHING_TOLD, stepService, type ServiceMemory, type ServiceStep } from "./service-step.ts";
import type { VipConflict } from "./vip-claims.ts";
import { addressWork, serviceWork } from "./work-keys.ts";

export interface ServiceView {
  service(ref: ServiceRef): V1Service | undefined;
  liveNodes(): readonly string[];
  /** An address of the Service's VIPs that an older Service asks for too, or null. */
  vipConflict(ref: ServiceRef): VipConflict | null;
}

export interface ServicePublisherOptions {
  readonly node: string;
  readonly leaseDuration: number;
  readonly renewDeadline: number;
  readonly clock: Clock;
  readonly view: ServiceView;
  readonly intentOf: (service: V1Service) => ServiceIntent;
  readonly fresh: FreshLeases;
  readonly heartbeat: () => OwnHeartbeat;
  readonly dataPlane: Pick<DataPlane, "holding" | "interfaceFor">;
  /** The addresses' modes, and which other nodes may carry the Service (ecmp's announcers). */
  readonly target: Pick<ServingTarget, "demand" | "otherEligible">;
  readonly status: ServiceStatusWriter;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly requeue: (key: string, delayMs: number) => void;
  /** Another run of the work key once that node's heartbeat has been silent for D. */
  readonly wakeWhenSilent: (node: string, key: string) => void;
}

export class ServicePublisher {
  readonly #options: ServicePublisherOptions;
  readonly #memory = new Map<string, ServiceMemory>();
  /** When this agent first reconciled: who records a refusal waits until it has seen the others. */
  #firstRunAt: number | undefined;

  constructor(options: ServicePublisherOptions) {
    this.#options = options;
  }

  async reconcile(ref: ServiceRef): Promise<void> {
    const o = this.#options;
    const now = o.clock.now();
    this.#firstRunAt ??= now;
    const key = serviceKey(ref);
    const service = o.view.service(ref);
    if (service === undefined) {
      this.#memory.delete(key);
      return;
    }
    const intent = o.intentOf(service);
    const interfaceOverride = intent.serve ? intent.interface : undefined;
    const liveNodes = o.view.liveNodes();
    const holderOf = (leaseName: string): string | null =>
      o.fresh.current(leaseName)?.spec?.holderIdentity ?? null;
    const heldByLiveOther = (leaseName: string): boolean => {
      const holder = holderOf(leaseName);
      return holder !== null && holder !== o.node && liveNodes.includes(holder);
    };
    const addresses = (intent.serve ? intent.vips : []).map((vip) => {
      const announcing = o.dataPlane.holding(addressWork(vip.address)) !== undefined;
      const mode = o.target.demand(vip.address)?.mode ?? "l2";
      const choice = announcing
        ? o.dataPlane.interfaceFor([vip], interfaceOverride, isRouted(mode))
        : undefined;
      return {
        address: vip.address,
        announcing,
        heldByLiveOther: heldByLiveOther(addressLeaseName(vip)),
        holder: holderOf(addressLeaseName(vip)),
        allActive: !isElected(mode),
        ...(choice?.ok === true ? { interfaceName: choice.name } : {}),
      };
    });
    const { memory, plan } = stepService(
      { self: o.node, leaseDuration: o.leaseDuration, renewDeadline: o.renewDeadline },
      {
        now,
        ref,
        service,
        intent,
        conflict: intent.serve ? o.view.vipConflict(ref) : null,
        addresses,
        legacyHeldByLiveOther: heldByLiveOther(legacyServiceLeaseName(ref)),
        ownHeartbeat: o.heartbeat(),
        liveNodes,
        // Only an ecmp first address has announcers to rank; for the others it would be a read of
        // every live node's eligibility on every run of every Service, for nothing.
        eligibleOthers:
          addresses[0]?.allActive === true
            ? liveNodes.filter((other) => o.target.otherEligible(other, ref))
            : [],
        runningFor: now - this.#firstRunAt,
      },
      this.#memory.get(key) ?? NOTHING_TOLD,
    );
    this.#memory.set(key, memory);
    for (const step of plan) await this.#carryOut(ref, service, step);
  }

  async #carryOut(ref: ServiceRef, service: V1Service, step: ServiceStep): Promise<void> {
    const o = this.#options;
    switch (step.kind) {
      case "log-refusal":
        o.log.warn("not serving", {
          service: serviceKey(ref),
          reason: step.refusal.reason,
          problems: step.refusal.message,
        });
        return;
      case "record": {
        const subject = serviceSubject(ref, service);
        if (subject !== null) o.events.record(subject, step.event);
        return;
      }
      case "publish":
        await o.status.write(ref, step.published, { current: service });
        return;
      case "requeue":
        o.requeue(serviceWork(ref), step.afterMs);
        return;
      case "wake-when-silent":
        o.wakeWhenSilent(step.node, serviceWork(ref));
        return;
    }
  }
}
