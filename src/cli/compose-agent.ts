// The composition root of `vipd run`: builds every collaborator of the agent once, from the one
// validated configuration, and wires them together. Nothing else constructs them; the modules
// themselves only take what they are given.
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type V1Service,
} from "@kubernetes/client-node";
import { AddressingView } from "../addresses/addressing-view.ts";
import { KubeAllocationApi } from "../addresses/allocation-api.ts";
import { Allocator } from "../addresses/allocator.ts";
import { PoolStatusWriter } from "../addresses/pool-status.ts";
import { announcementModeOf } from "../addresses/pools.ts";
import type { Clock } from "../clock/clock.ts";
import type { RunConfig } from "../config/schema.ts";
import { ControlPlaneMode, controlPlaneInformers } from "../controlplane/mode.ts";
import { nodeSubject } from "../controlplane/target.ts";
import { Heartbeat, renewalTimeout } from "../election/heartbeat.ts";
import { HeartbeatTracker } from "../election/heartbeat-tracker.ts";
import { addressLeaseName } from "../election/lease-names.ts";
import { Ownership } from "../election/ownership.ts";
import { describeApiError } from "../kube/errors.ts";
import { KubeEventRecorder } from "../kube/events.ts";
import { createAgentInformers, servesServiceCidrs, servesVipdApi } from "../kube/informers.ts";
import { KubeLeaseApi } from "../kube/leases.ts";
import { RequestLimiter } from "../kube/request-limiter.ts";
import { REQUEST_TIMEOUT_MS, requestOptions } from "../kube/request-options.ts";
import { describeUnsynced } from "../kube/sync-wait.ts";
import { KubeServiceStatusWriter } from "../kube/service-status.ts";
import type { Logger } from "../log/logger.ts";
import type { AgentMetrics } from "../metrics/metrics.ts";
import { startHttpEndpoint, type HealthCheck } from "../metrics/server.ts";
import { announcedVips, desiredVips } from "../metrics/vip-series.ts";
import { BgpSpeaker } from "../routing/bgp-speaker.ts";
import { rankCandidates } from "../election/ranking.ts";
import { BirdControl, execBirdc } from "../routing/bird-control.ts";
import { AddressExecutor } from "../agent/address-executor.ts";
import { AddressReconciler } from "../agent/address-reconciler.ts";
import { Agent } from "../agent/agent.ts";
import type { DataPlane } from "../agent/data-plane.ts";
import { FreshLeases } from "../agent/fresh-leases.ts";
import { Handover } from "../agent/handover.ts";
import { InformerClusterView } from "../agent/informer-view.ts";
import { LastAgent } from "../agent/last-agent.ts";
import { Lifecycle } from "../agent/lifecycle.ts";
import { ServicePublisher } from "../agent/service-publisher.ts";
import { canonicalAddress, intentOptions, readRequest, serviceIntent } from "../agent/service-intent.ts";
import type { ServingMode } from "../agent/serving-mode.ts";
import { ServicesMode } from "../agent/services-mode.ts";
import { ServicesTarget } from "../agent/services-target.ts";
import { SilenceWatch } from "../agent/silence-watch.ts";
import { Upkeep } from "../agent/upkeep.ts";
import { parseWork, serviceWork } from "../agent/work-keys.ts";
import { commonLabels } from "../manifest/identity.ts";

export interface AgentParts {
  readonly config: RunConfig;
  readonly kubeConfig: KubeConfig;
  readonly dataPlane: DataPlane;
  readonly metrics: AgentMetrics;
  readonly clock: Clock;
  readonly log: Logger;
}

export function composeAgent(parts: AgentParts): Lifecycle {
  const { config, kubeConfig, dataPlane, metrics, clock, log } = parts;
  const node = config.nodeName;
  const now = (): number => clock.now();
  const timeoutMs = REQUEST_TIMEOUT_MS;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const limiter = new RequestLimiter({
    qps: config.kubeApiQps,
    burst: config.kubeApiBurst,
    clock,
    onWaiting: (waiting) => {
      metrics.apiRequestsWaiting.set(waiting);
    },
  });
  const leases = new KubeLeaseApi({ api: coordination, namespace: config.namespace, timeoutMs, limiter });
  const informers = createAgentInformers({
    kubeConfig,
    namespace: config.namespace,
    listTimeoutMs: 30_000,
    clock,
    // At start-up these are the API server not up yet, or this agent's RBAC not applied or not
    // propagated yet (401, 403): retried, counted, and logged once per change of reason.
    onFailure: ({ kind, resource, error, retryInMs, repeated }) => {
      metrics.informerRestarts.inc({ resource });
      if (!repeated)
        log.warn(`${kind} informer: list or watch failed; retrying`, {
          error: describeApiError(error),
          retryInMs,
        });
    },
    // The lists are counted with every other request (kube-config.ts); the watches are not.
    onWatchFailed: ({ resource, failure }) => {
      metrics.apiErrors.inc({ operation: "watch", resource, failure });
    },
    onRecovered: (kind) => {
      log.info(`${kind} informer: listing and watching again`);
    },
    onError: (message) => {
      log.warn(message);
    },
  });
  const heartbeat = new Heartbeat({
    // Its own client, outside the limit: a heartbeat queued behind a burst of claims would look
    // like a dead node to every other agent.
    leases: new KubeLeaseApi({
      api: coordination,
      namespace: config.namespace,
      timeoutMs: renewalTimeout(config),
    }),
    node,
    timings: config,
    clock,
    macs: () => dataPlane.macs(),
    onChange: (state) => {
      log.info("heartbeat state changed", { ...state });
      agent.all();
    },
    onFailure: (failure, error, repeated) => {
      if (!repeated) log.warn("heartbeat renewal failed", { failure, error: describeApiError(error) });
    },
  });
  const statusWriter = new KubeServiceStatusWriter({
    api: core,
    timeoutMs,
    limiter,
    wallClock: () => Date.now(),
  });
  const tracker = new HeartbeatTracker();
  const ownership = new Ownership({ leases, node, leaseDuration: config.leaseDuration });
  const fresh = new FreshLeases((name) => informers.leases.get(name, config.namespace));
  const intentOf = (service: V1Service) => serviceIntent(service, intentOptions(config, view));
  const requestOf = (service: V1Service) => readRequest(service, intentOptions(config, view));
  // Known once services mode has asked the API server at start-up; false in control-plane mode.
  let vipdApiServed = (): boolean => false;
  // Whether this agent exports vipd_vip_desired: in services mode the allocating agent alone; in
  // control-plane mode every agent, a handful of them with one VIP.
  let exportsDesired = (): boolean => true;
  const addressing = new AddressingView({
    vipPools: informers.vipPools,
    namespaces: informers.namespaces,
    kubeVipConfig: informers.kubeVipConfig,
    poolAddressesOnly: config.poolAddressesOnly,
    vipdApiServed: () => vipdApiServed(),
    service: (ref) => view.service(ref),
    requestOf,
    liveNodes: () => view.liveNodes(),
  });
  const view: InformerClusterView = new InformerClusterView({
    addressing,
    informers,
    namespace: config.namespace,
    self: node,
    tracker,
    clock: now,
    leaseDuration: config.leaseDuration,
    intentOf,
    kubeconfigServer: kubeConfig.getCurrentCluster()?.server,
  });
  const eventsOn = (involvedKind: "Service" | "Node" | "VIPPool"): KubeEventRecorder =>
    new KubeEventRecorder({
      api: core,
      node,
      timeoutMs,
      involvedKind,
      limiter,
      clock,
      onDropped: () => {
        metrics.eventsDropped.inc();
      },
      onError: (message) => {
        log.warn(message);
      },
    });
  // The heartbeat and the loops reach the agent's queue, which is built last, only once it runs:
  // the heartbeat wakes every loop on a change, and the loops need the heartbeat's state.
  const requeue = (key: string, delayMs: number): void => {
    agent.addAfter(key, delayMs);
  };
  const silenceWatch = new SilenceWatch({
    leaseDuration: config.leaseDuration,
    clock,
    silentFor: (other, at) => tracker.silentFor(other, at),
    wake: (keys) => {
      for (const key of keys) requeue(key, 0);
    },
  });
  // The one place the mode is chosen; everything after reads it through ServingMode.
  const servicesMode = (): ServingMode => {
    const events = eventsOn("Service");
    const allocator = new Allocator({
      node,
      view: addressing,
      api: new KubeAllocationApi({
        api: custom,
        timeoutMs,
        limiter,
        labels: commonLabels(),
      }),
      events,
      clock,
      wallClock: () => Date.now(),
      leaseDuration: config.leaseDuration,
      cooldownMs: config.allocationCooldown,
      log,
      requeue: (service, delayMs) => {
        requeue(serviceWork(service), delayMs);
      },
      wakeWhenSilent: (other, service) => {
        silenceWatch.wakeWhenSilent(other, serviceWork(service));
      },
      counted: (step, outcome) => {
        metrics.allocationWrites.inc({ step, outcome });
      },
    });
    const poolStatus = new PoolStatusWriter({
      api: custom,
      limiter,
      timeoutMs,
      clock,
      wallClock: () => Date.now(),
      log,
      objects: () => informers.vipPools.list(),
      pools: () => addressing.pools,
      allocations: () => addressing.allocations.all(),
      writes: () => allocator.allocates(),
    });
    const target = new ServicesTarget({
      node,
      view,
      intentOf,
      modeOf: (address) => announcementModeOf(address, addressing.pools, config.announceMode),
    });
    const services = new ServicesMode({
      informers,
      view,
      addressing,
      allocator,
      poolStatus,
      requestOf,
      target,
      publisher: new ServicePublisher({
        node,
        leaseDuration: config.leaseDuration,
        renewDeadline: config.renewDeadline,
        clock,
        view,
        intentOf,
        fresh,
        heartbeat: () => heartbeat.state(),
        dataPlane,
        target,
        status: statusWriter,
        events,
        log,
        requeue,
        wakeWhenSilent: (other, key) => {
          silenceWatch.wakeWhenSilent(other, key);
        },
      }),
      events,
      servesServiceCidrs: () => servesServiceCidrs(kubeConfig, REQUEST_TIMEOUT_MS),
      servesVipdApi: () => servesVipdApi(kubeConfig, REQUEST_TIMEOUT_MS),
      retryPeriod: config.retryPeriod,
      clock,
      log,
    });
    vipdApiServed = () => services.servesVipdApi;
    exportsDesired = () => allocator.allocates();
    return services;
  };
  const controlPlaneMode = (vips: NonNullable<RunConfig["vip"]>): ServingMode =>
    new ControlPlaneMode({
      node,
      vips,
      mode: config.announceMode,
      health: {
        url: config.healthUrl,
        periodMs: config.healthPeriod,
        failureThreshold: config.healthFailureThreshold,
      },
      kubeConfig,
      informers: controlPlaneInformers(informers),
      nodes: (name) => view.node(name),
      nodeAddresses: () => view.nodeAddresses(),
      log,
      recorder: eventsOn("Node"),
      clock,
    });
  const mode = config.vip === undefined ? servicesMode() : controlPlaneMode(config.vip);
  // --bgp-speaker bird: vipd keeps the BIRD beside it configured from the BGP flags, this node's
  // annotations and the pools' spec.bgp; the routes it exports are the data plane's.
  if (config.bgp.speaker === "bird") {
    const poolEvents = eventsOn("VIPPool");
    const nodeEvents = eventsOn("Node");
    const speaker = new BgpSpeaker({
      bgp: config.bgp,
      fallbackMode: config.announceMode,
      bird: new BirdControl({
        configFile: config.bgp.birdConfig,
        birdc: execBirdc({ socket: config.bgp.birdSocket }),
      }),
      pools: () => (config.vip === undefined ? addressing.pools : []),
      node: () => informers.nodes.get(node),
      ready: () => describeUnsynced(mode.informers()) === null,
      events: {
        pool: (name, event) => {
          // Every agent reads the same pool: the first of the live ones in the pool's ranking
          // records the Event, so that it appears once rather than once per node.
          const [recorder] = rankCandidates([node, ...view.liveNodes()], `vippool/${name}`);
          if (recorder !== node) return;
          const uid = informers.vipPools.get(name)?.metadata?.uid;
          if (uid !== undefined) poolEvents.record({ namespace: "default", name, uid }, event);
        },
        node: (event) => {
          nodeEvents.record(nodeSubject(node, informers.nodes.get(node)), event);
        },
      },
      clock,
      log,
    });
    for (const event of ["add", "update", "delete"] as const) {
      informers.vipPools.on(event, () => {
        speaker.poke();
      });
      informers.nodes.on(event, (changed) => {
        if (changed.metadata?.name === node) speaker.poke();
      });
    }
    speaker.start();
  }
  const executor = new AddressExecutor({
    node,
    retryPeriod: config.retryPeriod,
    clock,
    leases,
    ownership,
    fresh,
    tracker,
    dataPlane,
    events: mode.events,
    eventSubject: (service) => mode.target.eventSubject(service),
    queue: {
      requeue,
      wakeWhenSilent: (other, key) => {
        silenceWatch.wakeWhenSilent(other, key);
      },
      // The Services sharing its addresses are told with it: they move together.
      touch: (service) => {
        requeue(serviceWork(service), 0);
        for (const address of mode.addressesOf(service))
          for (const key of mode.servedBy(address)) requeue(key, 0);
      },
    },
    metrics,
    log,
  });
  const addresses = new AddressReconciler({
    settings: { self: node, timings: config, cordonHandsOver: config.cordonHandsOver },
    clock,
    view,
    target: mode.target,
    sources: { heartbeat: () => heartbeat.state(), tracker, fresh, dataPlane },
    executor,
    log,
  });
  const upkeep = new Upkeep({
    node,
    leaseDuration: config.leaseDuration,
    clock,
    cachedLeases: () => informers.leases.list(),
    nodeNames: () => new Set(informers.nodes.list().map((each) => each.metadata?.name ?? "")),
    liveNodes: () => view.liveNodes(),
    legacyAgentLive: () => view.legacyAgentLive(),
    tracker,
    ownership,
    log,
  });
  const agent = new Agent({
    node,
    informers,
    view,
    tracker,
    mode,
    addresses,
    dataPlane,
    membershipChanged: () => void upkeep.collectLegacyLeases(),
    clock,
    metrics,
    log,
  });
  const heartbeatProblem = (): string | null => {
    const started = heartbeat.state().lastRenewalStartedAt;
    if (started === null) return "not renewed yet";
    const age = clock.now() - started;
    if (age < config.renewDeadline) return null;
    return `last renewed ${(age / 1000).toFixed(1)}s ago (renew deadline ${config.renewDeadline / 1000}s)`;
  };
  const unsyncedInformers = (): string | null => {
    const waiting = describeUnsynced(mode.informers());
    return waiting === null ? null : `not synced: ${waiting}`;
  };
  const startedAt = clock.now();
  const servicesOf = (address: string) =>
    mode.servedBy(address).flatMap((key) => {
      const work = parseWork(key);
      return work.kind === "service" ? [work.service] : [];
    });
  metrics.readFrom({
    heartbeatAgeSeconds: () => (clock.now() - (heartbeat.state().lastRenewalStartedAt ?? startedAt)) / 1000,
    informers: () => mode.informers().map(({ resource, synced }) => ({ resource, synced })),
    announced: () => announcedVips(executor.holdings(), servicesOf),
    desired: () =>
      exportsDesired()
        ? desiredVips(
            mode.everything().flatMap((key) => {
              const work = parseWork(key);
              return work.kind === "address" ? [work.address] : [];
            }),
            (address) => mode.target.demand(address)?.service ?? null,
            servicesOf,
          )
        : [],
  });
  const readiness: HealthCheck[] = [
    { name: "informers", problem: unsyncedInformers },
    { name: "heartbeat", problem: heartbeatProblem },
    { name: "data-plane", problem: () => dataPlane.problem() },
  ];
  return new Lifecycle({
    node,
    agent,
    mode,
    heartbeat,
    dataPlane,
    lastAgent:
      config.vip === undefined
        ? new LastAgent({
            node,
            liveNodes: () => view.liveNodes(),
            services: () => informers.services.list(),
            leaseNamesOf: (service) =>
              mode.addressesOf(service).flatMap((address) => {
                const reading = canonicalAddress(address);
                return reading.ok ? [addressLeaseName(reading.vip)] : [];
              }),
            // A list of one by name, read from etcd: RBAC grants list, and a get would add nothing.
            readService: async (service) => {
              const found = await core.listNamespacedService(
                { namespace: service.namespace, fieldSelector: `metadata.name=${service.name}` },
                requestOptions({ timeoutMs, limiter }),
              );
              return found.items[0] ?? null;
            },
            leases,
            status: statusWriter,
            log,
          })
        : { run: () => Promise.resolve() },
    handover: new Handover({
      node,
      cachedLeases: () => informers.leases.list(),
      leaseNameOf: (key) => {
        const work = parseWork(key);
        if (work.kind !== "address") return undefined;
        const reading = canonicalAddress(work.address);
        return reading.ok ? addressLeaseName(reading.vip) : undefined;
      },
      fresh,
      leases,
      ownership,
      dataPlane,
      metrics,
      log,
    }),
    upkeep,
    silenceWatch,
    cachedLeases: () => informers.leases.list(),
    serveHttp: (checks) =>
      startHttpEndpoint({
        listen: config.metricsAddr,
        registry: metrics.registry,
        liveness: [{ name: "event-loop", problem: () => null }],
        readiness: checks,
      }),
    readiness,
    resyncPeriod: config.resyncPeriod,
    syncTimeout: config.syncTimeout,
    clock,
    log,
  });
}
