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
import { CONTROL_PLANE_KEY, ControlPlaneMode } from "../controlplane/mode.ts";
import { Heartbeat, renewalTimeout } from "../election/heartbeat.ts";
import { HeartbeatTracker } from "../election/heartbeat-tracker.ts";
import { LEASE_ANNOTATION_SERVICE } from "../election/lease-names.ts";
import { Ownership } from "../election/ownership.ts";
import { staleHeartbeats } from "../election/stale-heartbeats.ts";
import { describeApiError } from "../kube/errors.ts";
import { KubeEventRecorder } from "../kube/events.ts";
import {
  allInformers,
  createAgentInformers,
  type AgentInformers,
  type InformerLifecycle,
} from "../kube/informers.ts";
import { KubeLeaseApi } from "../kube/leases.ts";
import { RequestLimiter } from "../kube/request-limiter.ts";
import { parseServiceKey, serviceKey } from "../kube/service-ref.ts";
import { KubeServiceStatusWriter } from "../kube/service-status.ts";
import type { Logger } from "../log/logger.ts";
import { AgentMetrics } from "../metrics/metrics.ts";
import { startHttpEndpoint } from "../metrics/server.ts";
import type { DataPlane } from "./data-plane.ts";
import { InformerClusterView, isHeartbeat } from "./informer-view.ts";
import { ServiceReconciler } from "./service-reconciler.ts";
import { serviceIntent, type ServiceIntent, type Vip } from "./service-intent.ts";
import { SilenceWatch } from "./silence-watch.ts";
import { WorkQueue } from "./work-queue.ts";

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

// The deadline of every request but the heartbeat's. A renewal is worth nothing once the retry
// period is over, but a claim, a status write or an Event is as good late as early, and cutting
// them short under load made things worse: an HTTP/1.1 request that is aborted takes its connection
// with it, so a busy API server was sent a new TLS handshake for each retry (seen with 4000
// Services: a thousand connections in TIME-WAIT per agent, every request timing out). Long enough
// for a busy API server, short enough that a request into a cut network is retried.
const REQUEST_TIMEOUT_MS = 10_000;

export class Agent {
  readonly metrics = new AgentMetrics();
  readonly #config: RunConfig;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #dataPlane: DataPlane;
  readonly #informers: AgentInformers;
  readonly #tracker = new HeartbeatTracker();
  readonly #heartbeat: Heartbeat;
  readonly #leases: KubeLeaseApi;
  readonly #ownership: Ownership;
  readonly #view: InformerClusterView;
  readonly #reconciler: ServiceReconciler;
  readonly #queue: WorkQueue;
  readonly #silenceWatch: SilenceWatch;
  /** Set in control-plane mode (--control-plane): one VIP instead of Services. */
  readonly #controlPlane: ControlPlaneMode | undefined;
  #resyncTimer: NodeJS.Timeout | undefined;
  #http: Server | undefined;
  #networkPassPending = false;

  constructor(options: AgentOptions) {
    const { config, kubeConfig, log } = options;
    this.#config = config;
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
      onFailure: (failure, error) => {
        this.metrics.apiErrors.inc({ operation: "heartbeat", failure });
        log.warn("heartbeat renewal failed", { failure, error: describeApiError(error) });
      },
    });
    this.#ownership = new Ownership({
      leases: this.#leases,
      node: config.nodeName,
      leaseDuration: config.leaseDuration,
    });
    this.#view = new InformerClusterView({
      informers: this.#informers,
      namespace: config.namespace,
      self: config.nodeName,
      tracker: this.#tracker,
      clock: this.#clock,
      leaseDuration: config.leaseDuration,
      intentOf: (service) => this.#intentOf(service),
    });
    this.#queue = new WorkQueue({
      concurrency: RECONCILE_CONCURRENCY,
      process: (key) => this.#reconciler.reconcile(key),
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
            wake: () => {
              this.#queue.add(CONTROL_PLANE_KEY);
            },
          });
    const events = new KubeEventRecorder({
      api: core,
      node: config.nodeName,
      timeoutMs,
      involvedKind: this.#controlPlane === undefined ? "Service" : "Node",
      limiter,
      onDropped: () => {
        this.metrics.eventsDropped.inc();
      },
      onError: (message) => {
        log.warn(message);
      },
    });
    this.#reconciler = new ServiceReconciler({
      node: config.nodeName,
      timings: config,
      loadBalancerClass: config.loadBalancerClass,
      classOnly: config.classOnly,
      clock: this.#clock,
      view: this.#view,
      heartbeat: () => this.#heartbeat.state(),
      tracker: this.#tracker,
      leases: this.#leases,
      ownership: this.#ownership,
      status: new KubeServiceStatusWriter({ api: core, timeoutMs, limiter }),
      events: this.#controlPlane?.events(events) ?? events,
      target: this.#controlPlane?.target,
      dataPlane: this.#dataPlane,
      metrics: this.metrics,
      log,
      requeue: (key, delayMs) => {
        this.#queue.addAfter(key, delayMs);
      },
      wakeWhenSilent: (node, key) => {
        this.#silenceWatch.wakeWhenSilent(node, key);
      },
    });
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
        this.#reconciler.foreignClaimSeen(key, claim);
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
    this.#enqueueAll();
    this.#resyncTimer = setInterval(() => {
      this.#enqueueAll();
      void this.#collectStaleHeartbeats();
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
      .filter((lease) => !isHeartbeat(lease) && lease.spec?.holderIdentity === this.#config.nodeName);
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
    const key = lease.metadata?.annotations?.[LEASE_ANNOTATION_SERVICE];
    if (key !== undefined) await this.#dataPlane.withdraw(key);
    try {
      await this.#ownership.clearHolder(lease);
      this.metrics.elections.inc({ outcome: "handed_over" });
      this.#log.info("handed over", { service: key });
    } catch (error) {
      this.#log.warn("handover write failed; the Lease will expire with the heartbeat", {
        service: key,
        error: describeApiError(error),
      });
    }
  }

  #watchInformers(): void {
    const { services, endpointSlices, nodes, leases } = this.#informers;
    for (const event of ["add", "update", "delete"] as const) {
      services.on(event, (service) => {
        for (const key of this.#view.serviceChanged(service, event === "delete")) this.#queue.add(key);
        this.#queue.add(
          serviceKey({ namespace: service.metadata?.namespace ?? "", name: service.metadata?.name ?? "" }),
        );
      });
      endpointSlices.on(event, (slice) => {
        const key = this.#view.endpointSliceChanged(slice, event === "delete");
        if (key !== undefined) this.#queue.add(key);
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
      if (deleted || wasLive === undefined || wasLive === null) this.#enqueueAll();
      return;
    }
    const key = lease.metadata?.annotations?.[LEASE_ANNOTATION_SERVICE];
    if (key !== undefined) this.#queue.add(key);
  }

  async #syncInformers(): Promise<void> {
    for (const informer of this.#activeInformers()) {
      await informer.start();
      while (!informer.synced) {
        this.#log.warn(`waiting for the ${informer.kind} informer to sync`);
        await new Promise((resolve) => setTimeout(resolve, this.#config.retryPeriod));
      }
    }
  }

  #ownedVips(): Map<string, readonly Vip[]> {
    const owned = new Map<string, readonly Vip[]>();
    for (const lease of this.#informers.leases.list()) {
      const key = lease.metadata?.annotations?.[LEASE_ANNOTATION_SERVICE];
      if (key === undefined || lease.spec?.holderIdentity !== this.#config.nodeName) continue;
      const ref = parseServiceKey(key);
      const service = this.#view.service(ref);
      const intent =
        this.#controlPlane?.target.intent(ref) ??
        (service === undefined ? undefined : this.#intentOf(service));
      if (intent?.serve === true) owned.set(key, intent.vips);
    }
    return owned;
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
    return serviceIntent(service, {
      loadBalancerClass: this.#config.loadBalancerClass,
      classOnly: this.#config.classOnly,
      nodeAddresses: this.#view.nodeAddresses(),
    });
  }

  // Control-plane mode watches no Services: the Service informer stays empty and never starts.
  #activeInformers(): readonly InformerLifecycle[] {
    return this.#controlPlane?.informers(this.#informers) ?? allInformers(this.#informers);
  }

  #enqueueAll(): void {
    if (this.#controlPlane !== undefined) this.#queue.add(CONTROL_PLANE_KEY);
    for (const service of this.#informers.services.list()) {
      this.#queue.add(
        serviceKey({ namespace: service.metadata?.namespace ?? "", name: service.metadata?.name ?? "" }),
      );
    }
    for (const lease of this.#informers.leases.list()) {
      const key = lease.metadata?.annotations?.[LEASE_ANNOTATION_SERVICE];
      if (key !== undefined) this.#queue.add(key);
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
