// Fakes for unit tests of the reconcile loops: the informer caches, the data plane, the status
// writer and the event recorder, all in memory, recording what the loops did.
import type { V1EndpointSlice, V1Lease, V1Node, V1Service } from "@kubernetes/client-node";
import type {
  DataPlane,
  FenceResult,
  ForeignAddress,
  InterfaceChoice,
} from "../../../src/agent/data-plane.ts";
import type { LeaseView } from "../../../src/agent/address-reconciler.ts";
import {
  intentOptions,
  serviceIntent,
  type Addressing,
  type ServiceIntent,
  type Vip,
} from "../../../src/agent/service-intent.ts";
import type { ServiceView } from "../../../src/agent/service-publisher.ts";
import type { ServicesTargetView } from "../../../src/agent/services-target.ts";
import type { VipConflict } from "../../../src/agent/vip-claims.ts";
import type { ServiceCidr } from "../../../src/kube/cluster-addresses.ts";
import type { AgentMacs } from "../../../src/election/foreign-hosts.ts";
import type { EventRecorder, EventSubject, ServiceEvent } from "../../../src/kube/events.ts";
import { parseServiceKey, type ServiceRef } from "../../../src/kube/service-ref.ts";
import type { Publication, ServiceStatusWriter } from "../../../src/kube/service-status.ts";
import type { Logger } from "../../../src/log/logger.ts";
import { addressingOf } from "./addressing.ts";
import type { FakeLeaseApi } from "./lease-api.ts";

/** The informer caches as the loops read them, with Services read the way the agent reads them. */
export class FakeClusterView implements LeaseView, ServiceView, ServicesTargetView {
  readonly services = new Map<string, V1Service>();
  readonly nodes = new Map<string, V1Node>();
  readonly slices = new Map<string, V1EndpointSlice[]>();
  readonly conflicts = new Map<string, VipConflict>();
  live: string[] = [];
  legacyAgents = false;
  agents: AgentMacs = { published: new Set(), withoutMacs: [] };
  readonly #leases: FakeLeaseApi;
  readonly #addressing = addressingOf();

  constructor(leases: FakeLeaseApi) {
    this.#leases = leases;
  }

  intentOf(service: V1Service): ServiceIntent {
    return serviceIntent(
      service,
      intentOptions({ loadBalancerClass: "vipd.io/l2", classOnly: false, externalIpCidrs: [] }, this),
    );
  }

  addressing(): Addressing {
    return this.#addressing;
  }

  nodeAddresses(): ReadonlySet<string> {
    return new Set(["198.51.100.11"]);
  }

  apiServerAddresses(): ReadonlyMap<string, string> {
    return new Map();
  }

  serviceCidrs(): readonly ServiceCidr[] {
    return [];
  }

  service(ref: ServiceRef): V1Service | undefined {
    return this.services.get(`${ref.namespace}/${ref.name}`);
  }

  // The cache shows the API server's current state; tests that need a stale cache override this.
  lease(name: string): V1Lease | undefined {
    return this.#leases.leases.get(name);
  }

  node(name: string): V1Node | undefined {
    return this.nodes.get(name);
  }

  endpointSlices(ref: ServiceRef): readonly V1EndpointSlice[] {
    return this.slices.get(`${ref.namespace}/${ref.name}`) ?? [];
  }

  liveNodes(): readonly string[] {
    return this.live;
  }

  legacyAgentLive(): boolean {
    return this.legacyAgents;
  }

  vipConflict(ref: ServiceRef): VipConflict | null {
    return this.conflicts.get(`${ref.namespace}/${ref.name}`) ?? null;
  }

  asking(address: string): readonly string[] {
    return [...this.services.keys()].filter((key) =>
      this.addressesOf(parseServiceKey(key)).includes(address),
    );
  }

  keeperOf(address: string): string | null {
    return this.asking(address).find((key) => !this.conflicts.has(key)) ?? null;
  }

  addressesOf(ref: ServiceRef): readonly string[] {
    const service = this.service(ref);
    const intent = service === undefined ? undefined : this.intentOf(service);
    return intent?.serve === true ? intent.vips.map((vip) => vip.address) : [];
  }

  agentMacs(): AgentMacs {
    return this.agents;
  }
}

export class FakeDataPlane implements DataPlane {
  readonly held = new Map<string, readonly Vip[]>();
  readonly log: string[] = [];
  carrier = true;
  interfaceProblem: string | null = null;
  /** Services whose addresses someone removed from the interface. */
  readonly vanished = new Set<string>();
  fenceAnswer: FenceResult = { outcome: "quiet" };
  /** Addresses equal to a VIP that someone else configured on this node. */
  foreign: ForeignAddress[] = [];

  interfaceFor(_vips: readonly Vip[], _override: string | undefined, routed: boolean): InterfaceChoice {
    if (this.interfaceProblem !== null) return { ok: false, reason: this.interfaceProblem };
    return routed
      ? { ok: true, name: "lo", carrier: true }
      : { ok: true, name: "eth0", carrier: this.carrier };
  }

  foreignAddresses(vips: readonly Vip[]): readonly ForeignAddress[] {
    return this.foreign.filter((each) => vips.some((vip) => vip.address === each.address));
  }

  intact(workKey: string): boolean {
    return this.held.has(workKey) && !this.vanished.has(workKey);
  }

  holding(workKey: string): readonly Vip[] | undefined {
    return this.held.get(workKey);
  }

  heldKeys(): readonly string[] {
    return [...this.held.keys()];
  }

  announce(options: {
    workKey: string;
    vips: readonly Vip[];
    routed: boolean;
  }): Promise<{ newlyInstalled: boolean }> {
    const newlyInstalled = !this.held.has(options.workKey) || this.vanished.delete(options.workKey);
    this.held.set(options.workKey, options.vips);
    if (newlyInstalled) this.log.push(`announce ${options.workKey}${options.routed ? " routed" : ""}`);
    return Promise.resolve({ newlyInstalled });
  }

  withdraw(workKey: string): Promise<void> {
    if (this.held.delete(workKey)) this.log.push(`withdraw ${workKey}`);
    return Promise.resolve();
  }

  fence(options: { purpose: string }): Promise<FenceResult> {
    this.log.push(`fence ${options.purpose}`);
    return Promise.resolve(this.fenceAnswer);
  }

  macs(): readonly string[] {
    return ["02:00:00:00:00:0b"];
  }

  sweep(): Promise<void> {
    return Promise.resolve();
  }

  subscribe(): void {
    return undefined;
  }

  problem(): string | null {
    return null;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export class FakeStatusWriter implements ServiceStatusWriter {
  readonly writes: string[] = [];
  readonly #view: FakeClusterView;

  constructor(view: FakeClusterView) {
    this.#view = view;
  }

  write(service: ServiceRef, published: Publication): Promise<void> {
    this.writes.push(
      published.holder === null ? "clear" : `${(published.ips ?? []).join(",")}@${published.holder}`,
    );
    const stored = this.#view.service(service);
    if (stored !== undefined) {
      const ingress =
        published.ips === null
          ? stored.status?.loadBalancer?.ingress
          : published.ips.map((ip) => ({ ip, ipMode: "VIP" }));
      const { condition } = published;
      stored.status = {
        loadBalancer: { ingress: ingress ?? [] },
        conditions:
          condition === null
            ? []
            : [{ type: "vipd.io/Announced", ...condition, lastTransitionTime: new Date(0) }],
      };
      const annotations = { ...stored.metadata?.annotations };
      if (published.holder === null) delete annotations["vipd.io/holder"];
      else annotations["vipd.io/holder"] = published.holder;
      stored.metadata = { ...stored.metadata, annotations };
    }
    return Promise.resolve();
  }
}

export class FakeEventRecorder implements EventRecorder {
  readonly events: ServiceEvent[] = [];
  /** What each Event is about, in the same order. */
  readonly about: EventSubject[] = [];

  record(service: EventSubject, event: ServiceEvent): void {
    this.events.push(event);
    this.about.push(service);
  }
}

export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};
