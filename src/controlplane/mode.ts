// Control-plane mode as the agent plugs it in: the local API server's health, the configured VIPs as
// a ServingTarget for the address loops, Events on the Node, and the informers it needs (Nodes and
// vipd's Leases; no Services, no EndpointSlices). Everything else — heartbeat, ownership Leases,
// election, fencing, degraded hold, handover, data plane — is services mode's, unchanged.
import type { KubeConfig, V1Node } from "@kubernetes/client-node";
import type { Vip } from "../agent/service-intent.ts";
import { systemClock } from "../clock/clock.ts";
import { CONTROL_PLANE_REF } from "../election/lease-names.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { AgentInformers, InformerLifecycle } from "../kube/informers.ts";
import { EVENT_REASONS } from "../kube/names.ts";
import type { Logger } from "../log/logger.ts";
import { ApiServerHealth, httpsHealthCheck, type HealthCheck } from "./health.ts";
import { ControlPlaneTarget, NodeEvents } from "./target.ts";

export interface ControlPlaneModeOptions {
  readonly node: string;
  readonly vips: readonly Vip[];
  readonly health: {
    readonly url: URL;
    readonly periodMs: number;
    readonly failureThreshold: number;
  };
  readonly kubeConfig: KubeConfig;
  readonly nodes: (name: string) => V1Node | undefined;
  readonly nodeAddresses: () => ReadonlySet<string>;
  readonly log: Logger;
  /** The agent's Event recorder; control-plane Events go on this node's Node object. */
  readonly recorder: EventRecorder;
  /** Asks for a run of the control-plane loops: health changed. */
  readonly wake: () => void;
  /** Replaces the HTTPS check, for tests. */
  readonly check?: HealthCheck;
}

export class ControlPlaneMode {
  readonly target: ControlPlaneTarget;
  /** Events about the control-plane VIPs: on this node's Node object, as kubelet's own. */
  readonly events: EventRecorder;
  readonly #health: ApiServerHealth;

  constructor(options: ControlPlaneModeOptions) {
    const { log } = options;
    const events = new NodeEvents({ node: options.node, recorder: options.recorder });
    this.events = events;
    this.#health = new ApiServerHealth({
      check:
        options.check ??
        httpsHealthCheck({ url: options.health.url, kubeConfig: options.kubeConfig, clock: systemClock }),
      periodMs: options.health.periodMs,
      failureThreshold: options.health.failureThreshold,
      clock: systemClock,
      onChange: (state) => {
        if (state.eligible) log.info("local API server healthy", { url: options.health.url.href });
        else log.warn("local API server unhealthy", { url: options.health.url.href, reason: state.reason });
        options.wake();
      },
    });
    this.target = new ControlPlaneTarget({
      self: options.node,
      vips: options.vips,
      health: () => this.#health.state(),
      node: options.nodes,
      nodeAddresses: options.nodeAddresses,
      onInvalid: (problems) => {
        log.error("not serving the control-plane VIP", { problems: problems.join("; ") });
        events.record(CONTROL_PLANE_REF, {
          type: "Warning",
          reason: EVENT_REASONS.invalid,
          message: `${options.node}: ${problems.join("; ")}`,
        });
      },
    });
  }

  informers(informers: AgentInformers): readonly InformerLifecycle[] {
    return [informers.nodes, informers.leases];
  }

  /** For /readyz: the local API server is what makes this node a candidate. */
  problem(): string | null {
    const state = this.#health.state();
    return state.eligible ? null : state.reason;
  }

  start(): Promise<void> {
    return this.#health.start();
  }

  stop(): void {
    this.#health.stop();
  }
}
