// What a Service is told, level-triggered like the address loops: why vipd refuses to serve it (an
// Event, once per change), and its status. The status of a Service is written by the node that
// announces its first address, and lists every one of its addresses some live node holds; it is
// cleared by the node that wrote it once the Service no longer asks, and by one agent (the
// first-ranked live node) when nobody has held the first address for a lease duration.
import type { V1Service } from "@kubernetes/client-node";
import type { OwnHeartbeat } from "../election/decide.ts";
import { addressLeaseName, legacyServiceLeaseName } from "../election/lease-names.ts";
import { rankCandidates } from "../election/ranking.ts";
import type { EventRecorder } from "../kube/events.ts";
import { ANNOTATION_HOLDER, EVENT_REASONS } from "../kube/names.ts";
import { serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import { statusShows, type ServiceStatusWriter } from "../kube/service-status.ts";
import type { Logger } from "../log/logger.ts";
import type { DataPlane } from "./data-plane.ts";
import type { FreshLeases } from "./fresh-leases.ts";
import { refusalOf, refusalRecording, type Refusal } from "./refusals.ts";
import type { ServiceIntent, Vip } from "./service-intent.ts";
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
  readonly clock: () => number;
  readonly view: ServiceView;
  readonly intentOf: (service: V1Service) => ServiceIntent;
  readonly fresh: FreshLeases;
  readonly heartbeat: () => OwnHeartbeat;
  readonly dataPlane: Pick<DataPlane, "holding">;
  readonly status: ServiceStatusWriter;
  readonly events: EventRecorder;
  readonly log: Logger;
  readonly requeue: (key: string, delayMs: number) => void;
}

interface ServiceMemory {
  /** When this agent first saw the Service's first address without a holder; null while held. */
  unheldSince: number | null;
  /** The refusal last logged, so that each is reported once, not on every run. */
  refusalReported: string | null;
  /** Its Event is settled: recorded by this agent, or left to the one that records it. */
  refusalSettled: boolean;
}

type Published = { readonly ips: readonly string[]; readonly holder: string } | null;

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
    this.#firstRunAt ??= o.clock();
    const key = serviceKey(ref);
    const service = o.view.service(ref);
    if (service === undefined) {
      this.#memory.delete(key);
      return;
    }
    const memory = this.#remember(key);
    const intent = o.intentOf(service);
    const conflict = intent.serve ? o.view.vipConflict(ref) : null;
    this.#report(
      ref,
      service,
      memory,
      refusalOf({ node: o.node, intent, conflict, choice: undefined, perNode: false }),
    );
    if (!intent.serve || conflict !== null) {
      memory.unheldSince = null;
      await this.#clearWhenNoLongerAsked(ref, service);
      return;
    }
    const [primary] = intent.vips;
    if (primary === undefined) return;
    const holder = this.#holderOf(primary);
    if (holder === o.node) {
      memory.unheldSince = null;
      if (!this.#announcing(primary) || !this.#confirmed()) return;
      const ips = intent.vips.filter(
        (vip) => this.#announcing(vip) || this.#heldByLiveOther(addressLeaseName(vip)),
      );
      await this.#publish(ref, service, { ips: ips.map((vip) => vip.address), holder: o.node });
      return;
    }
    // A 0.1.0 agent serving the Service under its per-Service Lease writes the status itself.
    if (holder !== null || this.#heldByLiveOther(legacyServiceLeaseName(ref))) {
      memory.unheldSince = null;
      return;
    }
    await this.#clearWhenUnheld(ref, service, memory, intent.vips);
  }

  // Nobody has held the Service's first address for longer than D: its status must stop pointing at
  // an address nobody answers for. A holder that is only cut off from the API server still names
  // itself in the Lease, so this never clears the status of a Service served in degraded hold.
  async #clearWhenUnheld(
    ref: ServiceRef,
    service: V1Service,
    memory: ServiceMemory,
    vips: readonly Vip[],
  ): Promise<void> {
    const o = this.#options;
    const now = o.clock();
    memory.unheldSince ??= now;
    if (statusShows(service, null)) return;
    const unheldFor = now - memory.unheldSince;
    if (unheldFor < o.leaseDuration) {
      o.requeue(serviceWork(ref), o.leaseDuration - unheldFor);
      return;
    }
    if (!this.#firstRanked(ref)) return;
    await this.#publish(ref, service, null);
    o.events.record(
      { ...ref, uid: service.metadata?.uid },
      {
        type: "Warning",
        reason: EVENT_REASONS.noEligibleNode,
        message: `no node has held ${vips.map((vip) => vip.address).join(", ")} for ${o.leaseDuration / 1000}s; status cleared`,
      },
    );
  }

  // The node that wrote the status clears it; if that node is gone, the first-ranked live one does.
  // A status without vipd's holder annotation is another load balancer's, and is left alone.
  async #clearWhenNoLongerAsked(ref: ServiceRef, service: V1Service): Promise<void> {
    const o = this.#options;
    const writer = service.metadata?.annotations?.[ANNOTATION_HOLDER];
    if (writer === undefined || statusShows(service, null)) return;
    const orphaned = writer !== o.node && !o.view.liveNodes().includes(writer);
    if (writer === o.node || (orphaned && this.#firstRanked(ref))) await this.#publish(ref, service, null);
  }

  #firstRanked(ref: ServiceRef): boolean {
    const o = this.#options;
    const [first] = rankCandidates([o.node, ...o.view.liveNodes()], serviceKey(ref));
    return first === o.node;
  }

  #holderOf(vip: Vip): string | null {
    return this.#options.fresh.current(addressLeaseName(vip))?.spec?.holderIdentity ?? null;
  }

  #heldByLiveOther(leaseName: string): boolean {
    const holder = this.#options.fresh.current(leaseName)?.spec?.holderIdentity;
    return holder !== undefined && this.#options.view.liveNodes().includes(holder);
  }

  #announcing(vip: Vip): boolean {
    return this.#options.dataPlane.holding(addressWork(vip.address)) !== undefined;
  }

  #confirmed(): boolean {
    const o = this.#options;
    const started = o.heartbeat().lastRenewalStartedAt;
    return started !== null && o.clock() - started < o.renewDeadline;
  }

  async #publish(ref: ServiceRef, service: V1Service, published: Published): Promise<void> {
    if (statusShows(service, published)) return;
    await this.#options.status.write(ref, published);
  }

  #report(ref: ServiceRef, service: V1Service, memory: ServiceMemory, refusal: Refusal | null): void {
    const o = this.#options;
    const now = o.clock();
    const text = refusal === null ? null : `${refusal.reason}: ${refusal.message}`;
    if (text !== memory.refusalReported) {
      memory.refusalReported = text;
      memory.refusalSettled = false;
      if (refusal !== null) {
        o.log.warn("not serving", {
          service: serviceKey(ref),
          reason: refusal.reason,
          problems: refusal.message,
        });
      }
    }
    if (refusal === null || memory.refusalSettled) return;
    const recording = refusalRecording({
      scope: refusal.scope,
      self: o.node,
      liveNodes: o.view.liveNodes(),
      serviceKey: serviceKey(ref),
      runningFor: now - (this.#firstRunAt ?? now),
      leaseDuration: o.leaseDuration,
    });
    if (recording.action === "wait") {
      o.requeue(serviceWork(ref), recording.forMs);
      return;
    }
    memory.refusalSettled = true;
    if (recording.action === "record") {
      const { type, reason, message } = refusal;
      o.events.record({ ...ref, uid: service.metadata?.uid }, { type, reason, message });
    }
  }

  #remember(key: string): ServiceMemory {
    let memory = this.#memory.get(key);
    if (memory === undefined) {
      memory = { unheldSince: null, refusalReported: null, refusalSettled: false };
      this.#memory.set(key, memory);
    }
    return memory;
  }
}
