// What the agent's two modes — LoadBalancer Services, and control-plane mode's configured VIPs —
// plug into the one agent: what they serve (a ServingTarget for the address loops), where their
// Events go, what they read from the API server, and the work their informers ask for. The agent,
// the election, the Leases and the data plane are the same for both; nothing outside a mode asks
// which mode runs.
import type { HealthCheck } from "../metrics/server.ts";
import type { EventRecorder } from "../kube/events.ts";
import type { InformerLifecycle } from "../kube/informers.ts";
import type { ServiceRef } from "../kube/service-ref.ts";
import type { ServingTarget } from "./address-reconciler.ts";

/** Where a mode's informers and checks send work: one key, or a pass over everything. */
export interface WorkIntake {
  add(key: string): void;
  all(): void;
}

export interface ServingMode {
  readonly target: ServingTarget;
  /** Where Events about the mode's addresses go (a Service, or the Node in control-plane mode). */
  readonly events: EventRecorder;
  /** /readyz checks of the mode's own, besides the agent's. */
  readonly readiness: readonly HealthCheck[];
  /**
   * Before the first decision: finds out what the API server serves, starts and fills the mode's
   * own informers (with the agent's), starts its own checks. Resolves once every cache is filled.
   */
  start(intake: WorkIntake): Promise<void>;
  stop(): void;
  /** The informers the mode reads, for readiness and for stopping. */
  informers(): readonly InformerLifecycle[];
  /** Every work key the mode serves, for a full pass. */
  everything(): readonly string[];
  /** The addresses a Service asks for (control-plane mode's one "Service" is its VIPs). */
  addressesOf(service: ServiceRef): readonly string[];
  /** The work an ownership Lease's change asks for besides its address's: the Service it serves. */
  servedBy(address: string): readonly string[];
  /** Runs a Service's loop (what it is told); control-plane mode queues no Service work. */
  reconcileService(service: ServiceRef): Promise<void>;
}
