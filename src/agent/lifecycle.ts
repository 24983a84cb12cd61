// The agent's start-up and shutdown, in the one order that is safe. Start: the HTTP endpoint (so
// /healthz answers while caches fill), the informers until every cache is filled (saying what it
// waits for, and ending the agent if the API server refuses it for --sync-timeout: sync-wait.ts),
// the sweep of a previous run's leftovers, the heartbeat, and only then the first decision. Stop (rule 5): no more
// work taken, every run in progress ended, every address off the wire, every ownership Lease
// naming this node cleared, the status taken back if no other agent is left (last-agent.ts), then
// the heartbeat released after its renewal in flight. Losing
// leadership never ends the process; only a signal does.
import type { V1Lease } from "@kubernetes/client-node";
import type { Server } from "node:http";
import type { Cancel, Clock } from "../clock/clock.ts";
import type { Heartbeat } from "../election/heartbeat.ts";
import { LEASE_ANNOTATION_SERVICE } from "../election/lease-names.ts";
import type { InformerLifecycle } from "../kube/informers.ts";
import { parseServiceKey } from "../kube/service-ref.ts";
import { waitForSync } from "../kube/sync-wait.ts";
import type { Logger } from "../log/logger.ts";
import type { HealthCheck } from "../metrics/server.ts";
import { addressOf, type Agent } from "./agent.ts";
import type { DataPlane } from "./data-plane.ts";
import type { Handover } from "./handover.ts";
import type { LastAgent } from "./last-agent.ts";
import type { Vip } from "./service-intent.ts";
import type { ServingMode } from "./serving-mode.ts";
import type { SilenceWatch } from "./silence-watch.ts";
import type { Upkeep } from "./upkeep.ts";
import { addressWork, parseWork } from "./work-keys.ts";

export interface LifecycleOptions {
  readonly node: string;
  readonly agent: Agent;
  readonly mode: ServingMode;
  readonly heartbeat: Heartbeat;
  readonly dataPlane: DataPlane;
  readonly handover: Handover;
  /** Takes back the status this node published when it is the last agent (services mode). */
  readonly lastAgent: Pick<LastAgent, "run">;
  readonly upkeep: Upkeep;
  readonly silenceWatch: SilenceWatch;
  readonly cachedLeases: () => readonly V1Lease[];
  /** Starts /metrics, /healthz and /readyz with the agent's checks and the mode's. */
  readonly serveHttp: (readiness: readonly HealthCheck[]) => Promise<Server>;
  /** The agent's own readiness checks (the mode adds its own). */
  readonly readiness: readonly HealthCheck[];
  readonly resyncPeriod: number;
  /** --sync-timeout. */
  readonly syncTimeout: number;
  readonly clock: Clock;
  readonly log: Logger;
}

/**
 * The addresses this node may keep across a restart: those whose address Lease names it, those of
 * a Service whose 0.1.0 Lease does (an upgrade on this node from 0.1.0), and the ecmp addresses it
 * is eligible for.
 */
export function ownedAtStart(
  leases: readonly V1Lease[],
  node: string,
  mode: Pick<ServingMode, "addressesOf" | "target" | "everything">,
): Map<string, readonly Vip[]> {
  const owned = new Map<string, readonly Vip[]>();
  // ecmp addresses have no Lease: this node keeps what it would announce anyway, so that a restart
  // does not take its routes away for the moment before its first reconcile puts them back.
  for (const key of mode.everything()) {
    const item = parseWork(key);
    if (item.kind !== "address") continue;
    const demand = mode.target.demand(item.address);
    if (demand?.mode === "ecmp" && mode.target.selfEligibility(demand.service).eligible)
      owned.set(key, [demand.vip]);
  }
  for (const lease of leases) {
    if (lease.spec?.holderIdentity !== node) continue;
    const address = addressOf(lease);
    const legacyService = lease.metadata?.annotations?.[LEASE_ANNOTATION_SERVICE];
    const addresses =
      address !== undefined
        ? [address]
        : legacyService === undefined
          ? []
          : mode.addressesOf(parseServiceKey(legacyService));
    for (const each of addresses) {
      const vip = mode.target.demand(each)?.vip;
      if (vip !== undefined) owned.set(addressWork(each), [vip]);
    }
  }
  return owned;
}

export class Lifecycle {
  readonly #options: LifecycleOptions;
  #http: Server | undefined;
  #stopResync: Cancel | undefined;
  #stopping = false;

  constructor(options: LifecycleOptions) {
    this.#options = options;
  }

  async start(): Promise<void> {
    const o = this.#options;
    this.#http = await o.serveHttp([...o.readiness, ...o.mode.readiness]);
    o.agent.watch();
    await waitForSync({
      synced: o.mode.start(o.agent),
      informers: () => o.mode.informers(),
      timeoutMs: o.syncTimeout,
      clock: o.clock,
      report: (waiting) => {
        o.log.warn("waiting for the caches to fill before serving", { waiting });
      },
    });
    await o.dataPlane.sweep(ownedAtStart(o.cachedLeases(), o.node, o.mode));
    o.heartbeat.start();
    o.agent.open();
    this.#resync();
    o.log.info("vipd started");
  }

  async stop(): Promise<void> {
    const o = this.#options;
    if (this.#stopping) return;
    this.#stopping = true;
    o.log.info("shutting down: handing over");
    this.#stopResync?.();
    o.mode.stop();
    o.silenceWatch.stop();
    await o.agent.drain();
    await o.handover.run();
    await o.lastAgent.run();
    const released = await o.heartbeat.stop({ release: true });
    if (released.outcome === "failed")
      o.log.warn("could not delete the heartbeat Lease", {
        failure: released.failure,
        error: released.error,
      });
    await Promise.all(o.mode.informers().map((informer: InformerLifecycle) => informer.stop()));
    await o.dataPlane.close();
    const http = this.#http;
    if (http !== undefined) await new Promise((resolve) => http.close(resolve));
    o.log.info("vipd stopped");
  }

  #resync(): void {
    const o = this.#options;
    this.#stopResync = o.clock.after(o.resyncPeriod, () => {
      o.agent.all();
      void o.upkeep.collectStaleHeartbeats();
      void o.upkeep.collectLegacyLeases();
      this.#resync();
    });
  }
}
