// Control-plane mode as the agent plugs it in (a ServingMode): the local API server's health, the
// configured VIPs as a ServingTarget for the address loops, Events on the Node, and the informers it
// needs (Nodes and vipd's Leases; no Services, no EndpointSlices). Everything else — heartbeat,
// ownership Leases, election, fencing, degraded hold, handover, data plane — is the agent's, the
// same as in services mode.
import type { KubeConfig, V1Node } from "@kubernetes/client-node";
import type { Vip } from "../agent/service-intent.ts";
import type { ServingMode, WorkIntake } from "../agent/serving-mode.ts";
import { addressWork } from "../agent/work-keys.ts";
import type { Clock } from "../clock/clock.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { AgentInformers, InformerLifecycle } from "../kube/informers.ts";
import { EVENT_REASONS } from "../kube/names.ts";
import type { Logger } from "../log/logger.ts";
import { ApiServerHealth, httpsHealthCheck, type HealthCheck } from "./health.ts";
import { ControlPlaneTarget, nodeSubject } from "./target.ts";
import type { AnnouncementMode } from "../routing/announcement-mode.ts";

export interface ControlPlaneModeOptions {
  readonly node: string;
  readonly vips: readonly Vip[];
  /** --announce-mode. */
  readonly mode: AnnouncementMode;
  readonly health: {
    readonly url: URL;
    readonly periodMs: number;
    readonly failureThreshold: number;
  };
  readonly kubeConfig: KubeConfig;
  /** The informers the mode reads: Nodes and vipd's Leases (controlPlaneInformers). */
  readonly informers: readonly InformerLifecycle[];
  readonly nodes: (name: string) => V1Node | undefined;
  readonly nodeAddresses: () => ReadonlySet<string>;
  readonly log: Logger;
  /** The agent's Event recorder; control-plane Events go on this node's Node object. */
  readonly recorder: EventRecorder;
  readonly clock: Clock;
  /** Replaces the HTTPS check, for tests. */
  readonly check?: HealthCheck;
}

/** Control-plane mode watches no Services: only Nodes and vipd's Leases. */
export function controlPlaneInformers(informers: AgentInformers): readonly InformerLifecycle[] {
  return [informers.nodes, informers.leases];
}

export class ControlPlaneMode implements ServingMode {
  readonly target: ControlPlaneTarget;
  /** Events about the control-plane VIPs: on this node's Node object, as kubelet's own. */
  readonly events: EventRecorder;
  /** The local API server is what makes this node a candidate. */
  readonly readiness = [{ name: "local-api-server", problem: () => this.#problem() }];
  readonly #informers: readonly InformerLifecycle[];
  readonly #health: ApiServerHealth;
  #intake: WorkIntake | undefined;

  constructor(options: ControlPlaneModeOptions) {
    const { log } = options;
    this.#informers = options.informers;
    this.events = options.recorder;
    this.#health = new ApiServerHealth({
      check:
        options.check ??
        httpsHealthCheck({ url: options.health.url, kubeConfig: options.kubeConfig, clock: options.clock }),
      periodMs: options.health.periodMs,
      failureThreshold: options.health.failureThreshold,
      clock: options.clock,
      onChange: (state) => {
        if (state.eligible) log.info("local API server healthy", { url: options.health.url.href });
        else log.warn("local API server unhealthy", { url: options.health.url.href, reason: state.reason });
        this.#intake?.all();
      },
    });
    this.target = new ControlPlaneTarget({
      self: options.node,
      vips: options.vips,
      mode: options.mode,
      health: () => this.#health.state(),
      node: options.nodes,
      nodeAddresses: options.nodeAddresses,
      onInvalid: (problems) => {
        log.error("not serving the control-plane VIP", { problems: problems.join("; ") });
        options.recorder.record(nodeSubject(options.node, options.nodes(options.node)), {
          type: "Warning",
          reason: EVENT_REASONS.invalid,
          message: `${options.node}: ${problems.join("; ")}`,
        });
      },
    });
  }

  async start(intake: WorkIntake): Promise<void> {
    this.#intake = intake;
    await Promise.all(this.#informers.map((informer) => informer.start()));
    await Promise.all(this.#informers.map((informer) => informer.whenSynced()));
    await this.#health.start();
  }

  stop(): void {
    this.#health.stop();
  }

  informers(): readonly InformerLifecycle[] {
    return this.#informers;
  }

  everything(): readonly string[] {
    return this.target.addresses().map(addressWork);
  }

  addressesOf(): readonly string[] {
    return this.target.addresses();
  }

  servedBy(): readonly string[] {
    return [];
  }

  reconcileService(): Promise<void> {
    return Promise.resolve();
  }

  #problem(): string | null {
    const state = this.#health.state();
    return state.eligible ? null : state.reason;
  }
}
