// What the agent knows of pools and allocations, from its informers: the pools resolved once per
// change (pools.ts), the allocation index (allocation-index.ts), the namespaces' labels, and the
// addresses Services name in their requests. The intent (service-intent.ts) reads it as
// Addressing, the allocator (allocator.ts) as AllocatorView.
import type { V1ConfigMap, V1Namespace, V1Service } from "@kubernetes/client-node";
import type { Addressing, RequestReading } from "../agent/service-intent.ts";
import { serviceFacts } from "../agent/service-intent.ts";
import type { SharedInformer } from "../kube/informer.ts";
import { serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import { timestampMs } from "../kube/timestamps.ts";
import { AllocationIndex } from "./allocation-index.ts";
import type { AllocatorView } from "./allocator.ts";
import type { VipPool } from "./api.ts";
import { kubeVipPools } from "./kube-vip-configmap.ts";
import type { PoolInput } from "./pool-input.ts";
import { resolvePools, type Pool } from "./pools.ts";
import { sharingKeyOf, sharingProblem } from "./sharing.ts";

export interface AddressingViewOptions {
  readonly vipPools: Pick<SharedInformer<VipPool>, "list">;
  readonly namespaces: Pick<SharedInformer<V1Namespace>, "get">;
  /** kube-vip-cloud-provider's ConfigMap, read as pools too, so kube-vip users keep their plan. */
  readonly kubeVipConfig: Pick<SharedInformer<V1ConfigMap>, "list">;
  readonly poolAddressesOnly: boolean;
  /** Whether the API server serves vipd.io (its CRDs are installed); known once started. */
  readonly vipdApiServed: () => boolean;
  readonly service: (ref: ServiceRef) => V1Service | undefined;
  readonly requestOf: (service: V1Service) => RequestReading;
  readonly liveNodes: () => readonly string[];
}

/** A VIPPool object as a pool to resolve; undefined for one without a name or spec. */
export function poolInputOf(pool: VipPool): PoolInput | undefined {
  const name = pool.metadata?.name;
  if (name === undefined || pool.spec === undefined) return undefined;
  return {
    name,
    origin: "VIPPool",
    createdAt: timestampMs(pool.metadata?.creationTimestamp) ?? 0,
    spec: pool.spec,
  };
}

export class AddressingView implements Addressing, AllocatorView {
  readonly allocations = new AllocationIndex();
  readonly #options: AddressingViewOptions;
  #pools: readonly Pool[] | undefined;
  /** "namespace/name" → the addresses the Service names in its request. */
  readonly #requests = new Map<string, readonly string[]>();
  /** Address → how many Services name it. */
  readonly #requested = new Map<string, number>();

  constructor(options: AddressingViewOptions) {
    this.#options = options;
  }

  get poolAddressesOnly(): boolean {
    return this.#options.poolAddressesOnly;
  }

  get pools(): readonly Pool[] {
    this.#pools ??= resolvePools([
      ...this.#options.vipPools.list().flatMap((pool) => {
        const input = poolInputOf(pool);
        return input === undefined ? [] : [input];
      }),
      ...this.#kubeVip().pools,
    ]);
    return this.#pools;
  }

  /** What of kube-system/kubevip vipd cannot read as pools, for a log line per change. */
  kubeVipProblems(): readonly string[] {
    return this.#kubeVip().problems;
  }

  #kubeVip(): ReturnType<typeof kubeVipPools> {
    const [config] = this.#options.kubeVipConfig.list();
    if (config === undefined) return { pools: [], problems: [] };
    return kubeVipPools(config.data ?? {}, timestampMs(config.metadata?.creationTimestamp) ?? 0);
  }

  /** A VIPPool was added, changed or deleted. */
  poolsChanged(): void {
    this.#pools = undefined;
  }

  namespaceLabels(namespace: string): Readonly<Record<string, string>> | undefined {
    return this.#options.namespaces.get(namespace)?.metadata?.labels ?? undefined;
  }

  /** Keeps the index of requested addresses current from the Service's latest request. */
  requestChanged(ref: ServiceRef, request: RequestReading | undefined): void {
    const key = serviceKey(ref);
    for (const address of this.#requests.get(key) ?? []) {
      const count = (this.#requested.get(address) ?? 1) - 1;
      if (count === 0) this.#requested.delete(address);
      else this.#requested.set(address, count);
    }
    const addresses = request?.kind === "requested" ? request.vips.map((vip) => vip.address) : [];
    if (addresses.length === 0) this.#requests.delete(key);
    else this.#requests.set(key, addresses);
    for (const address of addresses) this.#requested.set(address, (this.#requested.get(address) ?? 0) + 1);
  }

  requestedAddresses(): ReadonlySet<string> {
    return new Set(this.#requested.keys());
  }

  liveNodes(): readonly string[] {
    return this.#options.liveNodes();
  }

  unavailable(): string | null {
    return this.#options.vipdApiServed()
      ? null
      : "the Service names no address, and the API server does not serve vipd.io VIPPools to allocate one from (install the CRDs: vipd manifest crds | kubectl apply -f -)";
  }

  situation(ref: ServiceRef): ReturnType<AllocatorView["situation"]> {
    const service = this.#options.service(ref);
    const own = this.allocations.ofService(ref);
    const reading = service === undefined ? undefined : this.#options.requestOf(service);
    const request =
      reading === undefined || reading.kind === "not-served"
        ? "none"
        : reading.kind === "invalid"
          ? "unreadable"
          : reading;
    if (request === "none" && own.length === 0) return null;
    const sharingKey = service === undefined ? undefined : sharingKeyOf(service, undefined);
    return {
      service: ref,
      request,
      uid: service?.metadata?.uid,
      facts: serviceFacts(service ?? { metadata: { namespace: ref.namespace } }, this),
      pools: this.pools,
      own,
      at: (address) => this.allocations.at(address),
      sharingKey,
      sharedWith: (key) =>
        this.allocations
          .all()
          .filter((record) => record.sharingKey === key && record.releasedAt === undefined),
      joinProblem: (record, key) => {
        if (service === undefined) return "the Service is gone";
        for (const each of record.services) {
          if (each.uid === service.metadata?.uid) continue;
          // A Service that is gone no longer uses the address: its own loop releases it.
          const other = this.#options.service({ namespace: each.namespace, name: each.name });
          if (other === undefined || other.metadata?.uid !== each.uid) continue;
          const problem = sharingProblem(service, key, other, record.sharingKey);
          if (problem !== null) return problem;
        }
        return key !== undefined && key === record.sharingKey
          ? null
          : sharingProblem(service, key, { metadata: {}, spec: {} }, record.sharingKey);
      },
    };
  }
}
