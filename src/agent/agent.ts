// `vipd run` in services mode: wires the informers, the heartbeat, the per-Service reconcile loops
// and the data plane together, and hands everything over politely on shutdown (rule 5). Losing
// leadership never ends the process; only a signal does.
import {
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  type V1Lease,
  type V1Service,
} from "@kubernetes/client-node";
import type { Server } from "node:http";
import type { RunConfig } from "../config/schema.ts";
import { ControlPlaneMode } from "../controlplane/mode.ts";
import { Heartbeat, renewalTimeout } from "../election/heartbeat.ts";
import { HeartbeatTracker } from "../election/heartbeat-tracker.ts";
import { LEASE_ANNOTATION_ADDRESS, LEASE_ANNOTATION_SERVICE } from "../election/lease-names.ts";
import { Ownership } from "../election/ownership.ts";
import { staleHeartbeats } from "../election/stale-heartbeats.ts";
import { classifyApiError, describeApiError } from "../kube/errors.ts";
import { KubeEventRecorder } from "../kube/events.ts";
import {
  allInformers,
  createAgentInformers,
  servesServiceCidrs,
  type AgentInformers,
  type InformerLifecycle,
} from "../kube/informers.ts";
import { KubeLeaseApi } from "../kube/leases.ts";
import { RequestLimiter } from "../kube/request-limiter.ts";
import { REQUEST_TIMEOUT_MS } from "../kube/request-options.ts";
import { parseServiceKey, serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import { KubeServiceStatusWriter } from "../kube/service-status.ts";
import type { Logger } from "../log/logger.ts";
import { AgentMetrics } from "../metrics/metrics.ts";
import { startHttpEndpoint } from "../metrics/server.ts";
import { AddressReconciler, type ServingTarget } from "./address-reconciler.ts";
import type { DataPlane } from "./data-plane.ts";
import { FreshLeases } from "./fresh-leases.ts";
import { InformerClusterView, isHeartbeat, KUBERNETES_SERVICE_KEY } from "./informer-view.ts";
import { legacyLeasesToDelete } from "./legacy-leases.ts";
import { ServicePublisher } from "./service-publisher.ts";
import {
  canonicalAddress,
  intentOptions,
  serviceIntent,
  type ServiceIntent,
  type Vip,
} from "./service-intent.ts";
import { ServicesTarget } from "./services-target.ts";
import { SilenceWatch } from "./silence-watch.ts";
import { WorkQueue } from "./work-queue.ts";
import { addressWork, parseWork, serviceWork } from "./work-keys.ts";

export interface AgentOptions {
  readonly config: RunConfig;
  readonly kubeConfig: KubeConfig;
  readonly dataPlane: DataPlane;
  readonly log: Logger;
  readonly clock?: () => number;
}

// Enough parallel reconciles to keep a few thousand claims moving at start-up without bursting the
// API server; each run is mostly waiting on one request.
const RECONCILE_CONCURRENCY = 8;

/**
 * The address an ownership Lease elects a holder for, in canonical form; undefined for any other
 * Lease, and for one whose annotation is no address (written by hand: it elects nothing).
 */
function addressOf(lease: V1Lease): string | undefined {
  const reading = canonicalAddress(lease.metadata?.annotations?.[LEASE_ANNOTATION_ADDRESS] ?? "");
  return reading.ok ? reading.vip.address : undefined;
}

function refOf(service: V1Service): ServiceRef {
  return { namespace: service.metadata?.namespace ?? "", name: service.metadata?.name ?? "" };
}

export class Agent {
  readonly metrics = new AgentMetrics();
  readonly #config: RunConfig;
  readonly #kubeConfig: KubeConfig;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #dataPlane: DataPlane;
  readonly #informers: AgentInformers;
  readonly #tracker = new HeartbeatTracker();
  readonly #heartbeat: Heartbeat;
  readonly #leases: KubeLeaseApi;
  readonly #ownership: Ownership;
  readonly #view: InformerClusterView;
  readonly #fresh: FreshLeases;
  readonly #target: ServingTarget;
  readonly #addresses: AddressReconciler;
  /** Services mode only: control-plane mode has no Service to tell anything. */
  readonly #publisher: ServicePublisher | undefined;
  readonly #queue: WorkQueue;
  readonly #silenceWatch: SilenceWatch;
  /** Set in control-plane mode (--control-plane): one VIP instead of Services. */
  readonly #controlPlane: ControlPlaneMode | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #http: Server | undefined;
  #networkPassPending = false;
  /**
   * Whether reconciles may run: only once every cache is filled and stale VIPs are swept. A loop run
   * on a half-filled cache decides on what it has not seen yet: an ownership Lease listed before this
   * node's Node object makes the holder look ineligible, and it would hand its VIP over at start-up.
   */
  #deciding = false;
  /** Found out at start-up: older API servers serve no ServiceCIDRs, and VIPs go unchecked there. */
  #servesServiceCidrs = false;

  constructor(options: AgentOptions) {
    const { config, kubeConfig, log } = options;
    this.#config = config;
    this.#kubeConfig = kubeConfig;
    this.#log = log;
    this.#clock = options.clock ?? (() => performance.now());
    this.#dataPlane = options.dataPlane;
    const timeoutMs = REQUEST_TIMEOUT_MS;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
    const limiter = new RequestLimiter({
      qps: config.kubeApiQps,
      burst: config.kubeApiBurst,
      onWaiting: (waiting) => {
        this.metrics.apiRequestsWaiting.set(waiting);
      },
    });
    this.#leases = new KubeLeaseApi({
      api: coordination,
      namespace: config.namespace,
      timeoutMs,
      limiter,
    });
    this.#informers = createAgentInformers({
      kubeConfig,
      namespace: config.namespace,
      listTimeoutMs: 30_000,
      // At start-up these are the API server not up yet, or this agent's RBAC not applied or not
      // propagated yet (401, 403): retried, counted, and logged once per change of reason.
      onFailure: ({ kind, error, retryInMs, repeated }) => {
        this.metrics.apiErrors.inc({ operation: "list-watch", failure: classifyApiError(error) });
        if (!repeated)
          log.warn(`${kind} informer: list or watch failed; retrying`, {
            error: describeApiError(error),
            retryInMs,
          });
      },
      onRecovered: (kind) => {
        log.info(`${kind} informer: listing and watching again`);
      },
      onError: (message) => {
        log.warn(message);
      },
    });
    this.#heartbeat = new Heartbeat({
      // Its own client, outside the limit: a heartbeat queued behind a burst of claims would look
      // like a dead node to every other agent.
      leases: new KubeLeaseApi({
        api: coordination,
        namespace: config.namespace,
        timeoutMs: renewalTimeout(config),
      }),
      node: config.nodeName,
      timings: config,
      clock: this.#clock,
      macs: () => this.#dataPlane.macs(),
      onChange: (state) => {
        log.info("heartbeat state changed", { ...state });
        this.#enqueueAll();
      },
      onFailure: (failure, error, repeated) => {
        this.metrics.apiErrors.inc({ operation: "heartbeat", failure });
        if (!repeated) log.warn("heartbeat renewal failed", { failure, error: describeApiError(error) });
      },
    });
    this.#ownership = new Ownership({
      leases: this.#leases,
      node: config.nodeName,
      leaseDuration: config.leaseDuration,
    });
    this.#fresh = new FreshLeases((name) => this.#informers.leases.get(name, config.namespace));
    this.#view = new InformerClusterView({
      informers: this.#informers,
      namespace: config.namespace,
      self: config.nodeName,
      tracker: this.#tracker,
      clock: this.#clock,
      leaseDuration: config.leaseDuration,
      intentOf: (service) => this.#intentOf(service),
      kubeconfigServer: kubeConfig.getCurrentCluster()?.server,
    });
    this.#queue = new WorkQueue({
      concurrency: RECONCILE_CONCURRENCY,
      // Informer events queue keys from the first list on; they wait for start() to open the gate.
      process: (key) => (this.#deciding ? this.#run(key) : Promise.resolve()),
      onError: (key, error) => {
        this.metrics.apiErrors.inc({ operation: "reconcile", failure: "error" });
        log.warn("reconcile failed; retrying", { service: key, error: describeApiError(error) });
      },
    });
    this.#silenceWatch = new SilenceWatch({
      leaseDuration: config.leaseDuration,
      clock: this.#clock,
      silentFor: (node, now) => this.#tracker.silentFor(node, now),
      wake: (keys) => {
        for (const key of keys) this.#queue.add(key);
      },
    });
    const events = new KubeEventRecorder({
      api: core,
      node: config.nodeName,
      timeoutMs,
      involvedKind: config.vip === undefined ? "Service" : "Node",
      limiter,
      onDropped: () => {
        this.metrics.eventsDropped.inc();
      },
      onError: (message) => {
        log.warn(message);
      },
    });
    this.#controlPlane =
      config.vip === undefined
        ? undefined
        : new ControlPlaneMode({
            node: config.nodeName,
            vips: config.vip,
            health: {
              url: config.healthUrl,
              periodMs: config.healthPeriod,
              failureThreshold: config.healthFailureThreshold,
            },
            kubeConfig,
            nodes: (name) => this.#view.node(name),
            nodeAddresses: () => this.#view.nodeAddresses(),
            log,
            recorder: events,
            wake: () => {
              this.#enqueueAll();
            },
          });
    const requeue = (key: string, delayMs: number): void => {
      this.#queue.addAfter(key, delayMs);
    };
    this.#target =
      this.#controlPlane?.target ??
      new ServicesTarget({
        node: config.nodeName,
        view: this.#view,
        intentOf: (service) => this.#intentOf(service),
      });
    this.#addresses = new AddressReconciler({
      node: config.nodeName,
      timings: config,
      cordonHandsOver: config.cordonHandsOver,
      clock: this.#clock,
      view: this.#view,
      target: this.#target,
      heartbeat: () => this.#heartbeat.state(),
      tracker: this.#tracker,
      leases: this.#leases,
      ownership: this.#ownership,
      fresh: this.#fresh,
      events: this.#controlPlane?.events ?? events,
      dataPlane: this.#dataPlane,
      metrics: this.metrics,
      log,
      requeue,
      wakeWhenSilent: (node, key) => {
        this.#silenceWatch.wakeWhenSilent(node, key);
      },
      serviceTouched: (service) => {
        if (this.#publisher !== undefined) this.#queue.add(serviceWork(service));
      },
    });
    this.#publisher =
      this.#controlPlane === undefined
        ? new ServicePublisher({
            node: config.nodeName,
            leaseDuration: config.leaseDuration,
            renewDeadline: config.renewDeadline,
            clock: this.#clock,
            view: this.#view,
            intentOf: (service) => this.#intentOf(service),
            fresh: this.#fresh,
            heartbeat: () => this.#heartbeat.state(),
            dataPlane: this.#dataPlane,
            status: new KubeServiceStatusWriter({ api: core, timeoutMs, limiter }),
            events,
            log,
            requeue,
          })
        : undefined;
  }

  async start(): Promise<void> {
    this.#http = await startHttpEndpoint({
      listen: this.#config.metricsAddr,
      registry: this.metrics.registry,
      liveness: [{ name: "event-loop", problem: () => null }],
      readiness: [
        { name: "informers", problem: () => this.#unsyncedInformers() },
        { name: "heartbeat", problem: () => this.#heartbeatProblem() },
        { name: "data-plane", problem: () => this.#dataPlane.problem() },
        ...(this.#controlPlane === undefined
          ? []
          : [{ name: "local-api-server", problem: () => this.#controlPlane?.problem() ?? null }]),
      ],
    });
    this.#watchInformers();
    this.#dataPlane.subscribe({
      foreignClaim: (key, claim) => {
        const work = parseWork(key);
        if (work.kind === "address") this.#addresses.foreignClaimSeen(work.address, claim);
      },
      networkChanged: () => {
        // Netlink events come in bursts (an interface going down removes all its addresses); one
        // pass over the Services per burst is enough.
        if (this.#networkPassPending) return;
        this.#networkPassPending = true;
        setImmediate(() => {
          this.#networkPassPending = false;
          this.#enqueueAll();
        });
      },
    });
    await this.#syncInformers();
    await this.#dataPlane.sweep(this.#ownedVips());
    await this.#controlPlane?.start();
    this.#heartbeat.start();
    // Every key the loops skipped while the gate was shut is queued here.
    this.#deciding = true;
    this.#enqueueAll();
    this.#resyncTimer = setInterval(() => {
      this.#enqueueAll();
      void this.#collectStaleHeartbeats();
      void this.#collectLegacyLeases();
    }, this.#config.resyncPeriod);
    this.#log.info("vipd started", { namespace: this.#config.namespace });
  }

  /** Rule 5: withdraw every VIP, then clear the holder of each ownership Lease, then the heartbeat. */
  async shutdown(): Promise<void> {
    this.#log.info("shutting down: handing over");
    clearInterval(this.#resyncTimer);
    this.#controlPlane?.stop();
    this.#silenceWatch.stop();
    this.#queue.stop();
    const held = this.#informers.leases
      .list()
      .map((lease) => this.#fresh.current(lease.metadata?.name ?? "") ?? lease)
      .filter((lease) => !isHeartbeat(lease) && lease.spec?.holderIdentity === this.#config.nodeName);
    for (const lease of held) {
      const address = addressOf(lease);
      if (address !== undefined) await this.#dataPlane.withdraw(addressWork(address));
    }
    await Promise.all(held.map((lease) => this.#handOver(lease)));
    await this.#heartbeat.stop({ release: true }).catch((error: unknown) => {
      this.#log.warn("could not delete the heartbeat Lease", { error: describeApiError(error) });
    });
    await Promise.all(this.#activeInformers().map((informer) => informer.stop()));
    await this.#dataPlane.close();
    const http = this.#http;
    if (http !== undefined) await new Promise((resolve) => http.close(resolve));
    this.#log.info("vipd stopped");
  }

  async #handOver(lease: V1Lease): Promise<void> {
    const name = lease.metadata?.name;
    try {
      await this.#ownership.clearHolder(lease);
      this.metrics.elections.inc({ outcome: "handed_over" });
      this.#log.info("handed over", { lease: name });
    } catch (error) {
      this.#log.warn("handover write failed; the Lease will expire with the heartbeat", {
        lease: name,
        error: describeApiError(error),
      });
    }
  }

  #watchInformers(): void {
    const { services, endpointSlices, nodes, leases, serviceCidrs } = this.#informers;
    for (const event of ["add", "update", "delete"] as const) {
      services.on(event, (service) => {
        this.#serviceChanged(service, event === "delete");
        if (serviceKey(refOf(service)) === KUBERNETES_SERVICE_KEY) this.#clusterAddressesChanged();
      });
      endpointSlices.on(event, (slice) => {
        const key = this.#view.endpointSliceChanged(slice, event === "delete");
        if (key !== undefined) this.#addressesOfService(parseServiceKey(key));
        if (key === KUBERNETES_SERVICE_KEY) this.#clusterAddressesChanged();
      });
      serviceCidrs.on(event, () => {
        this.#view.serviceCidrChanged();
        this.#clusterAddressesChanged();
      });
      nodes.on(event, (node) => {
        if (this.#view.nodeChanged(node, event === "delete")) this.#enqueueAll();
      });
      leases.on(event, (lease) => {
        this.#leaseChanged(lease, event === "delete");
      });
    }
  }

  #leaseChanged(lease: V1Lease, deleted: boolean): void {
    this.#view.leaseChanged(lease, deleted);
    if (isHeartbeat(lease)) {
      const node = lease.spec?.holderIdentity;
      if (node === undefined || node === this.#config.nodeName) return;
      const wasLive = this.#tracker.sighting(node)?.resourceVersion;
      this.#tracker.observe(node, deleted ? null : (lease.metadata?.resourceVersion ?? null), this.#clock());
      // A node joining or leaving changes every ranking; a renewal changes nothing to re-decide.
      if (deleted || wasLive === undefined || wasLive === null) {
        this.#enqueueAll();
        void this.#collectLegacyLeases();
      }
      return;
    }
    const address = addressOf(lease);
    if (address !== undefined) {
      this.#queue.add(addressWork(address));
      const keeper = this.#controlPlane === undefined ? this.#view.keeperOf(address) : null;
      if (keeper !== null) this.#queue.add(serviceWork(parseServiceKey(keeper)));
      return;
    }
    const legacyService = lease.metadata?.annotations?.[LEASE_ANNOTATION_SERVICE];
    if (legacyService !== undefined) this.#addressesOfService(parseServiceKey(legacyService));
  }

  // Runs the address loops of a Service's addresses; control-plane mode's one "Service" is its VIPs.
  #addressesOfService(service: ServiceRef): void {
    const addresses = this.#controlPlane?.target.addresses() ?? this.#view.addressesOf(service);
    for (const address of addresses) this.#queue.add(addressWork(address));
  }

  #run(key: string): Promise<void> {
    const work = parseWork(key);
    if (work.kind === "address") return this.#addresses.reconcile(work.address);
    return this.#publisher?.reconcile(work.service) ?? Promise.resolve();
  }

  // The index of which Service asks for which address follows the Service; whatever may have
  // changed for the other Services and addresses runs again.
  #serviceChanged(service: V1Service, deleted: boolean): void {
    const changed = this.#view.serviceChanged(service, deleted);
    for (const address of changed.addresses) this.#queue.add(addressWork(address));
    for (const key of changed.services) this.#queue.add(serviceWork(parseServiceKey(key)));
    this.#queue.add(serviceWork(refOf(service)));
  }

  // The API server's addresses or the Service CIDRs changed: every Service may now be refused, or
  // no longer, and the index of which Service claims which address has to read them again.
  #clusterAddressesChanged(): void {
    for (const service of this.#informers.services.list()) this.#serviceChanged(service, false);
    this.#enqueueAll();
  }

  async #discoverServiceCidrs(): Promise<void> {
    if (this.#controlPlane !== undefined) return;
    let reported = "";
    for (;;) {
      try {
        this.#servesServiceCidrs = await servesServiceCidrs(this.#kubeConfig, REQUEST_TIMEOUT_MS);
        break;
      } catch (error) {
        this.metrics.apiErrors.inc({ operation: "discovery", failure: classifyApiError(error) });
        const problem = describeApiError(error);
        if (problem !== reported) {
          reported = problem;
          this.#log.warn("could not read whether the API server serves ServiceCIDRs; retrying", {
            error: problem,
          });
        }
        await new Promise((resolve) => setTimeout(resolve, this.#config.retryPeriod));
      }
    }
    if (!this.#servesServiceCidrs) {
      this.#log.warn(
        "the API server serves no networking.k8s.io/v1 ServiceCIDRs (Kubernetes 1.33 and later): VIPs are not checked against the Service CIDRs",
      );
    }
  }

  // No decision is taken before every cache has been filled once. Each informer retries on its own,
  // with backoff, for as long as it takes: an API server that is not up yet and a ServiceAccount whose
  // RBAC has not propagated yet are the usual start of a fresh install, not a reason to exit.
  // The ServiceCIDR informer starts once discovery says the API server serves them; the others
  // are retrying meanwhile, so an API server that is not there yet is waited for once, not twice.
  async #syncInformers(): Promise<void> {
    await Promise.all(this.#activeInformers().map((informer) => informer.start()));
    await this.#discoverServiceCidrs();
    if (this.#servesServiceCidrs) await this.#informers.serviceCidrs.start();
    await Promise.all(this.#activeInformers().map((informer) => informer.whenSynced()));
  }

  // The addresses this node may keep across a restart: those whose address Lease names it, and
  // those of a Service whose 0.1.0 Lease does (an upgrade on this node from 0.1.0).
  #ownedVips(): Map<string, readonly Vip[]> {
    const owned = new Map<string, readonly Vip[]>();
    for (const lease of this.#informers.leases.list()) {
      if (lease.spec?.holderIdentity !== this.#config.nodeName) continue;
      const address = addressOf(lease);
      const legacyService = lease.metadata?.annotations?.[LEASE_ANNOTATION_SERVICE];
      const addresses =
        address !== undefined
          ? [address]
          : legacyService === undefined
            ? []
            : (this.#controlPlane?.target.addresses() ??
              this.#view.addressesOf(parseServiceKey(legacyService)));
      for (const each of addresses) {
        const vip = this.#target.demand(each)?.vip;
        if (vip !== undefined) owned.set(addressWork(each), [vip]);
      }
    }
    return owned;
  }

  // Once no 0.1.0 agent is left, its per-Service Leases are no longer needed (decide.ts rule 8).
  async #collectLegacyLeases(): Promise<void> {
    const now = this.#clock();
    const doomed = legacyLeasesToDelete({
      self: this.#config.nodeName,
      legacyAgentLive: this.#view.legacyAgentLive(),
      leaseDuration: this.#config.leaseDuration,
      leases: this.#informers.leases
        .list()
        .filter((lease) => lease.metadata?.annotations?.[LEASE_ANNOTATION_SERVICE] !== undefined),
      silentFor: (node) => this.#tracker.silentFor(node, now),
    });
    for (const lease of doomed) {
      try {
        await this.#ownership.remove(lease);
        this.#log.info("removed a 0.1.0 per-Service Lease: no 0.1.0 agent is left", {
          lease: lease.metadata?.name,
        });
      } catch (error) {
        this.#log.debug("could not remove a 0.1.0 Lease", { error: describeApiError(error) });
      }
    }
  }

  async #collectStaleHeartbeats(): Promise<void> {
    const now = this.#clock();
    const heartbeats = this.#informers.leases.list().filter(isHeartbeat);
    const stale = staleHeartbeats({
      self: this.#config.nodeName,
      leaseDuration: this.#config.leaseDuration,
      heartbeats: heartbeats.map((lease) => lease.spec?.holderIdentity ?? ""),
      nodes: new Set(this.#informers.nodes.list().map((node) => node.metadata?.name ?? "")),
      liveNodes: this.#view.liveNodes(),
      silentFor: (node) => this.#tracker.silentFor(node, now),
    });
    for (const lease of heartbeats.filter((each) => stale.includes(each.spec?.holderIdentity ?? ""))) {
      try {
        await this.#leases.delete(lease.metadata?.name ?? "", lease.metadata?.resourceVersion ?? "");
        this.#log.info("deleted the heartbeat of a node that left the cluster", {
          node: lease.spec?.holderIdentity,
        });
      } catch (error) {
        this.#log.warn("could not delete a stale heartbeat", { error: describeApiError(error) });
      }
    }
  }

  #intentOf(service: V1Service): ServiceIntent {
    return serviceIntent(service, intentOptions(this.#config, this.#view));
  }

  // Control-plane mode watches no Services: the Service informer stays empty and never starts.
  #activeInformers(): readonly InformerLifecycle[] {
    return (
      this.#controlPlane?.informers(this.#informers) ??
      allInformers(this.#informers, { serviceCidrs: this.#servesServiceCidrs })
    );
  }

  #enqueueAll(): void {
    for (const address of this.#controlPlane?.target.addresses() ?? []) this.#queue.add(addressWork(address));
    for (const service of this.#informers.services.list()) {
      const ref = { namespace: service.metadata?.namespace ?? "", name: service.metadata?.name ?? "" };
      this.#queue.add(serviceWork(ref));
      for (const address of this.#view.addressesOf(ref)) this.#queue.add(addressWork(address));
    }
    for (const lease of this.#informers.leases.list()) {
      const address = addressOf(lease);
      if (address !== undefined) this.#queue.add(addressWork(address));
    }
  }

  #unsyncedInformers(): string | null {
    const waiting = this.#activeInformers()
      .filter((informer) => !informer.synced)
      .map((informer) => informer.kind);
    return waiting.length === 0 ? null : `not synced: ${waiting.join(", ")}`;
  }

  #heartbeatProblem(): string | null {
    const started = this.#heartbeat.state().lastRenewalStartedAt;
    if (started === null) return "not renewed yet";
    const age = this.#clock() - started;
    this.metrics.heartbeatAge.set(age / 1000);
    if (age < this.#config.renewDeadline) return null;
    return `last renewed ${(age / 1000).toFixed(1)}s ago (renew deadline ${this.#config.renewDeadline / 1000}s)`;
  }
}
