// Services mode: LoadBalancer Services ask for addresses. It reads Services, EndpointSlices and,
// where the API server serves them, ServiceCIDRs and vipd's pools and allocations; a Service's loop
// first gives it addresses (the Allocator), then tells it about them (ServicePublisher), and each
// address it serves is elected by the address loops through ServicesTarget.
import type { V1Service } from "@kubernetes/client-node";
import type { AddressingView } from "../addresses/addressing-view.ts";
import type { Allocator } from "../addresses/allocator.ts";
import type { PoolStatusWriter } from "../addresses/pool-status.ts";
import type { Clock } from "../clock/clock.ts";
import { describeApiError } from "../kube/errors.ts";
import type { EventRecorder } from "../kube/events.ts";
import {
  allInformers,
  vipdApiInformers,
  type AgentInformers,
  type InformerLifecycle,
} from "../kube/informers.ts";
import { parseServiceKey, serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import type { Logger } from "../log/logger.ts";
import type { ServingTarget } from "./address-reconciler.ts";
import { KUBERNETES_SERVICE_KEY, type InformerClusterView } from "./informer-view.ts";
import type { RequestReading } from "./service-intent.ts";
import type { ServicePublisher } from "./service-publisher.ts";
import type { ServingMode, WorkIntake } from "./serving-mode.ts";
import { addressWork, serviceWork } from "./work-keys.ts";

export interface ServicesModeOptions {
  readonly informers: AgentInformers;
  readonly view: InformerClusterView;
  readonly target: ServingTarget;
  readonly publisher: ServicePublisher;
  readonly addressing: AddressingView;
  readonly allocator: Allocator;
  readonly poolStatus: PoolStatusWriter;
  readonly requestOf: (service: V1Service) => RequestReading;
  readonly events: EventRecorder;
  /** Whether the API server serves networking.k8s.io/v1 ServiceCIDRs (asked once, at start-up). */
  readonly servesServiceCidrs: () => Promise<boolean>;
  /** Whether it serves vipd.io's VIPPools and VIPAllocations: the CRDs are installed (likewise). */
  readonly servesVipdApi: () => Promise<boolean>;
  readonly retryPeriod: number;
  readonly clock: Clock;
  readonly log: Logger;
}

function refOf(service: V1Service): ServiceRef {
  return { namespace: service.metadata?.namespace ?? "", name: service.metadata?.name ?? "" };
}

export class ServicesMode implements ServingMode {
  readonly target: ServingTarget;
  readonly events: EventRecorder;
  readonly readiness = [];
  readonly #options: ServicesModeOptions;
  /** Found out at start-up: older API servers serve no ServiceCIDRs, and VIPs go unchecked there. */
  #servesServiceCidrs = false;
  /** Found out at start-up: without vipd's CRDs there are no pools, and nothing is allocated. */
  #servesVipdApi = false;

  constructor(options: ServicesModeOptions) {
    this.#options = options;
    this.target = options.target;
    this.events = options.events;
  }

  // The ServiceCIDR informer starts once discovery says the API server serves them; the others are
  // retrying meanwhile, so an API server that is not there yet is waited for once, not twice.
  async start(intake: WorkIntake): Promise<void> {
    this.#watch(intake);
    const { informers } = this.#options;
    await Promise.all(this.informers().map((informer) => informer.start()));
    this.#servesServiceCidrs = await this.#discover(
      "ServiceCIDRs",
      this.#options.servesServiceCidrs,
      "the API server serves no networking.k8s.io/v1 ServiceCIDRs (Kubernetes 1.33 and later): VIPs are not checked against the Service CIDRs",
    );
    if (this.#servesServiceCidrs) await informers.serviceCidrs.start();
    this.#servesVipdApi = await this.#discover(
      "vipd.io",
      this.#options.servesVipdApi,
      "the API server serves no vipd.io VIPPools: vipd's CRDs are not installed (apply manifests/crds.yaml, or `vipd manifest crds | kubectl apply -f -`, and restart the agents); only Services that name their addresses are served",
    );
    if (this.#servesVipdApi) await Promise.all(vipdApiInformers(informers).map((each) => each.start()));
    await Promise.all(this.informers().map((informer) => informer.whenSynced()));
  }

  /** Whether vipd's CRDs are installed, as found at start-up. */
  get servesVipdApi(): boolean {
    return this.#servesVipdApi;
  }

  stop(): void {
    // The informers are stopped with the agent's; a status pass in flight ends on its own.
    void this.#options.poolStatus.stop();
  }

  informers(): readonly InformerLifecycle[] {
    return allInformers(this.#options.informers, {
      serviceCidrs: this.#servesServiceCidrs,
      vipdApi: this.#servesVipdApi,
    });
  }

  everything(): readonly string[] {
    const { informers, view, addressing } = this.#options;
    const keys = new Set(
      informers.services.list().flatMap((service) => {
        const ref = refOf(service);
        return [serviceWork(ref), ...view.addressesOf(ref).map(addressWork)];
      }),
    );
    // A Service deleted while no agent ran still names its allocations: its loop releases them.
    for (const record of addressing.allocations.all())
      for (const ref of record.services) keys.add(serviceWork(ref));
    return [...keys];
  }

  addressesOf(service: ServiceRef): readonly string[] {
    return this.#options.view.addressesOf(service);
  }

  servedBy(address: string): readonly string[] {
    return this.#options.view.sharing(address).map((key) => serviceWork(parseServiceKey(key)));
  }

  async reconcileService(service: ServiceRef): Promise<void> {
    await this.#options.allocator.reconcile(service);
    await this.#options.publisher.reconcile(service);
  }

  #watch(intake: WorkIntake): void {
    const { informers, view, addressing, allocator, requestOf, poolStatus } = this.#options;
    // The index of which Service asks for which address follows the Service; whatever may have
    // changed for the other Services and addresses runs again.
    const serviceChanged = (service: V1Service, deleted: boolean): void => {
      addressing.requestChanged(refOf(service), deleted ? undefined : requestOf(service));
      const changed = view.serviceChanged(service, deleted);
      for (const address of changed.addresses) intake.add(addressWork(address));
      for (const key of changed.services) intake.add(serviceWork(parseServiceKey(key)));
      intake.add(serviceWork(refOf(service)));
    };
    // The API server's addresses or the Service CIDRs changed: every Service may now be refused, or
    // no longer, and the index of which Service claims which address has to read them again.
    const clusterAddressesChanged = (): void => {
      for (const service of informers.services.list()) serviceChanged(service, false);
      intake.all();
    };
    for (const event of ["add", "update", "delete"] as const) {
      informers.services.on(event, (service) => {
        serviceChanged(service, event === "delete");
        if (serviceKey(refOf(service)) === KUBERNETES_SERVICE_KEY) clusterAddressesChanged();
      });
      informers.endpointSlices.on(event, (slice) => {
        const key = view.endpointSliceChanged(slice, event === "delete");
        if (key === undefined) return;
        for (const address of view.addressesOf(parseServiceKey(key))) intake.add(addressWork(address));
        if (key === KUBERNETES_SERVICE_KEY) clusterAddressesChanged();
      });
      informers.serviceCidrs.on(event, () => {
        view.serviceCidrChanged();
        clusterAddressesChanged();
      });
      // An allocation changes the addresses of the Services it names, before and after.
      informers.vipAllocations.on(event, (allocation) => {
        const changed = addressing.allocations.set(allocation, event === "delete");
        poolStatus.poke();
        if (changed.address !== undefined) {
          allocator.allocationSeen(changed.address);
          intake.add(addressWork(changed.address));
        }
        if (event === "delete") allocator.addressFreed();
        for (const ref of changed.services) {
          const service = informers.services.get(ref.name, ref.namespace);
          if (service === undefined) intake.add(serviceWork(ref));
          else serviceChanged(service, false);
        }
      });
      informers.vipPools.on(event, () => {
        addressing.poolsChanged();
        poolStatus.poke();
        clusterAddressesChanged();
      });
      informers.kubeVipConfig.on(event, () => {
        addressing.poolsChanged();
        for (const problem of addressing.kubeVipProblems())
          this.#options.log.warn("kube-system/kubevip: an entry vipd cannot read as a pool", { problem });
        clusterAddressesChanged();
      });
      // Only pools that select namespaces by label read them.
      informers.namespaces.on(event, () => {
        if (addressing.pools.some((pool) => pool.namespaceSelectors.length > 0)) clusterAddressesChanged();
      });
    }
  }

  // Asked once at start-up, retried until the API server answers.
  async #discover(what: string, serves: () => Promise<boolean>, whenNot: string): Promise<boolean> {
    const { clock, log, retryPeriod } = this.#options;
    let reported = "";
    for (;;) {
      try {
        const served = await serves();
        if (!served) log.warn(whenNot);
        return served;
      } catch (error) {
        const problem = describeApiError(error);
        if (problem !== reported) {
          reported = problem;
          log.warn(`could not read whether the API server serves ${what}; retrying`, { error: problem });
        }
        await clock.sleep(retryPeriod);
      }
    }
  }
}
