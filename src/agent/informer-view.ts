// What the reconcile loops read of the cluster, backed by the shared informers' caches plus small
// indexes kept up to date from informer events: EndpointSlices by Service, Node addresses, the
// addresses the cluster itself uses (the API server's, the Service CIDRs), the addresses Services
// ask for, and the nodes' heartbeats.
import type { V1EndpointSlice, V1Lease, V1Node, V1Service } from "@kubernetes/client-node";
import { poolOf } from "../addresses/pools.ts";
import type { AgentMacs } from "../election/foreign-hosts.ts";
import { publishedMacs } from "../election/heartbeat.ts";
import type { HeartbeatTracker } from "../election/heartbeat-tracker.ts";
import {
  ELECTION_PER_ADDRESS,
  HEARTBEAT_ANNOTATION_ELECTION,
  HEARTBEAT_COMPONENT,
  LEASE_LABEL_COMPONENT,
} from "../election/lease-names.ts";
import {
  apiServerAddresses,
  KUBERNETES_SERVICE,
  serviceCidrs,
  type ServiceCidr,
} from "../kube/cluster-addresses.ts";
import type { AgentInformers } from "../kube/informers.ts";
import { serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import { timestampMs } from "../kube/timestamps.ts";
import type { LeaseView } from "./address-reconciler.ts";
import type { ServiceView } from "./service-publisher.ts";
import type { ServicesTargetView } from "./services-target.ts";
import { canonicalAddress, type Addressing, type ServiceIntent } from "./service-intent.ts";
import { VipClaims, type VipConflict } from "./vip-claims.ts";

export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

export interface InformerViewOptions {
  readonly informers: AgentInformers;
  readonly namespace: string;
  readonly self: string;
  readonly tracker: HeartbeatTracker;
  readonly clock: () => number;
  readonly leaseDuration: number;
  /** How this agent reads a Service (its class, its VIPs); conflicts are between served Services. */
  readonly intentOf: (service: V1Service) => ServiceIntent;
  /** The server URL of the agent's kubeconfig: an address of the API server when it is an IP. */
  readonly kubeconfigServer: string | undefined;
  /** The pools and allocations (src/addresses/addressing-view.ts). */
  readonly addressing: Addressing;
}

/** default/kubernetes, whose Service and EndpointSlices name the API server's addresses. */
export const KUBERNETES_SERVICE_KEY = serviceKey(KUBERNETES_SERVICE);

export function isHeartbeat(lease: V1Lease): boolean {
  return lease.metadata?.labels?.[LEASE_LABEL_COMPONENT] === HEARTBEAT_COMPONENT;
}

function sliceServiceKey(slice: V1EndpointSlice): string | undefined {
  const name = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
  return name === undefined ? undefined : serviceKey({ namespace: slice.metadata?.namespace ?? "", name });
}

function nodeFacts(node: V1Node): string {
  return JSON.stringify([
    node.metadata?.labels ?? {},
    node.status?.conditions?.find((condition) => condition.type === "NetworkUnavailable")?.status ?? null,
    node.spec?.unschedulable === true,
    node.status?.addresses ?? [],
  ]);
}

export class InformerClusterView implements LeaseView, ServiceView, ServicesTargetView {
  readonly #options: InformerViewOptions;
  readonly #slicesByService = new Map<string, Map<string, V1EndpointSlice>>();
  readonly #vipClaims: VipClaims;
  #nodeAddresses: ReadonlySet<string> | undefined;
  #apiServerAddresses: ReadonlyMap<string, string> | undefined;
  #serviceCidrs: readonly ServiceCidr[] | undefined;
  /** What the loops read of each Node, as text, to tell a relevant update from a heartbeat. */
  readonly #nodeFacts = new Map<string, string>();
  /**
   * Heartbeat Lease name → its node, kept from Lease events: the Lease cache also holds one
   * ownership Lease per Service, and scanning thousands of them on every reconcile made the agent's
   * work grow with the square of the Services (measured: the event loop stalled at ~4000).
   */
  readonly #heartbeatHolders = new Map<string, string>();
  /** Nodes whose heartbeat lacks the per-address marker: vipd 0.1.0 agents. */
  readonly #legacyAgents = new Set<string>();
  /** Heartbeat Lease name → the MACs it publishes, or null for none (a 0.1.0 agent). */
  readonly #heartbeatMacs = new Map<string, readonly string[] | null>();

  constructor(options: InformerViewOptions) {
    this.#options = options;
    this.#vipClaims = new VipClaims((address) => poolOf(options.addressing.pools, address) !== undefined);
  }

  service(ref: ServiceRef): V1Service | undefined {
    return this.#options.informers.services.get(ref.name, ref.namespace);
  }

  /** A Lease of vipd's namespace by name, as the informer has it. */
  lease(name: string): V1Lease | undefined {
    return this.#options.informers.leases.get(name, this.#options.namespace);
  }

  node(name: string): V1Node | undefined {
    return this.#options.informers.nodes.get(name);
  }

  endpointSlices(ref: ServiceRef): readonly V1EndpointSlice[] {
    return [...(this.#slicesByService.get(serviceKey(ref))?.values() ?? [])];
  }

  liveNodes(): readonly string[] {
    const { self, tracker, clock, leaseDuration } = this.#options;
    const now = clock();
    return [...this.#heartbeatHolders.values()].filter(
      (node) => node !== "" && node !== self && tracker.silentFor(node, now) < leaseDuration,
    );
  }

  legacyAgentLive(): boolean {
    const live = this.liveNodes();
    return [...this.#legacyAgents].some((node) => live.includes(node));
  }

  /** Feeds the heartbeat index from the Lease informer's add, update and delete events. */
  leaseChanged(lease: V1Lease, deleted: boolean): void {
    if (!isHeartbeat(lease)) return;
    const name = lease.metadata?.name ?? "";
    const holder = lease.spec?.holderIdentity;
    const previous = this.#heartbeatHolders.get(name);
    if (previous !== undefined) this.#legacyAgents.delete(previous);
    if (deleted || holder == null) {
      this.#heartbeatHolders.delete(name);
      this.#heartbeatMacs.delete(name);
      return;
    }
    this.#heartbeatHolders.set(name, holder);
    this.#heartbeatMacs.set(name, publishedMacs(lease));
    if (lease.metadata?.annotations?.[HEARTBEAT_ANNOTATION_ELECTION] !== ELECTION_PER_ADDRESS)
      this.#legacyAgents.add(holder);
  }

  // Dead agents' MACs count too: a dead agent's kernel answers for its VIPs until they expire.
  agentMacs(): AgentMacs {
    const published = new Set<string>();
    const withoutMacs: string[] = [];
    for (const [name, macs] of this.#heartbeatMacs) {
      if (macs === null) withoutMacs.push(this.#heartbeatHolders.get(name) ?? "");
      else for (const mac of macs) published.add(mac);
    }
    return { published, withoutMacs };
  }

  nodeAddresses(): ReadonlySet<string> {
    this.#nodeAddresses ??= new Set(
      this.#options.informers.nodes
        .list()
        .flatMap((node) => node.status?.addresses ?? [])
        .map((address) => canonicalAddress(address.address))
        .flatMap((reading) => (reading.ok ? [reading.vip.address] : [])),
    );
    return this.#nodeAddresses;
  }

  apiServerAddresses(): ReadonlyMap<string, string> {
    this.#apiServerAddresses ??= apiServerAddresses({
      kubeconfigServer: this.#options.kubeconfigServer,
      kubernetesSlices: this.endpointSlices(KUBERNETES_SERVICE),
      kubernetesService: this.service(KUBERNETES_SERVICE),
    });
    return this.#apiServerAddresses;
  }

  serviceCidrs(): readonly ServiceCidr[] {
    this.#serviceCidrs ??= serviceCidrs(this.#options.informers.serviceCidrs.list());
    return this.#serviceCidrs;
  }

  addressing(): Addressing {
    return this.#options.addressing;
  }

  /** A ServiceCIDR was added, changed or deleted. */
  serviceCidrChanged(): void {
    this.#serviceCidrs = undefined;
  }

  vipConflict(ref: ServiceRef): VipConflict | null {
    return this.#vipClaims.conflict(serviceKey(ref));
  }

  keeperOf(address: string): string | null {
    return this.#vipClaims.keeper(address);
  }

  /** Every Service the address serves, oldest first (several where they share it). */
  sharing(address: string): readonly string[] {
    return this.#vipClaims.sharing(address);
  }

  asking(address: string): readonly string[] {
    return this.#vipClaims.asking(address);
  }

  addressesOf(ref: ServiceRef): readonly string[] {
    return this.#vipClaims.addressesOf(serviceKey(ref));
  }

  /**
   * Keeps the VIP index current. Returns what may have changed: the other Services whose VIP
   * conflicts may differ now, and every address the Service asked for before or asks for now.
   */
  serviceChanged(
    service: V1Service,
    deleted: boolean,
  ): { readonly services: readonly string[]; readonly addresses: readonly string[] } {
    const key = serviceKey({
      namespace: service.metadata?.namespace ?? "",
      name: service.metadata?.name ?? "",
    });
    if (key === KUBERNETES_SERVICE_KEY) this.#apiServerAddresses = undefined;
    const before = this.#vipClaims.addressesOf(key);
    const intent = deleted ? undefined : this.#options.intentOf(service);
    const services = this.#vipClaims.set(
      key,
      intent?.serve === true
        ? {
            serviceKey: key,
            createdAt: timestampMs(service.metadata?.creationTimestamp) ?? 0,
            addresses: intent.vips.map((vip) => vip.address),
          }
        : null,
    );
    const addresses = new Set([...before, ...this.#vipClaims.addressesOf(key)]);
    for (const other of services)
      for (const address of this.#vipClaims.addressesOf(other)) addresses.add(address);
    return { services, addresses: [...addresses] };
  }

  /**
   * Keeps the Node address index current; returns whether anything eligibility or ranking reads
   * changed. Most Node updates are status heartbeats and image lists, and each would otherwise
   * re-run every Service's loop on every agent.
   */
  nodeChanged(node: V1Node, deleted: boolean): boolean {
    const name = node.metadata?.name ?? "";
    const before = this.#nodeFacts.get(name);
    const after = deleted ? undefined : nodeFacts(node);
    if (after === undefined) this.#nodeFacts.delete(name);
    else this.#nodeFacts.set(name, after);
    if (before === after) return false;
    this.#nodeAddresses = undefined;
    return true;
  }

  endpointSliceChanged(slice: V1EndpointSlice, deleted: boolean): string | undefined {
    const key = sliceServiceKey(slice);
    const name = slice.metadata?.name;
    if (key === undefined || name === undefined) return undefined;
    if (key === KUBERNETES_SERVICE_KEY) this.#apiServerAddresses = undefined;
    const slices = this.#slicesByService.get(key) ?? new Map<string, V1EndpointSlice>();
    if (deleted) slices.delete(name);
    else slices.set(name, slice);
    if (slices.size === 0) this.#slicesByService.delete(key);
    else this.#slicesByService.set(key, slices);
    return key;
  }
}
