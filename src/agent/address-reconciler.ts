// The reconcile loop of one address, level-triggered: each run reads the desired state (what asks
// for the address, its ownership Lease, eligibility) and the actual state (what the data plane
// holds) into one observation, hands it with what earlier runs remembered to the pure step
// (address-step.ts), and has the executor carry out the plan that comes back. Running it twice in a
// row changes nothing the second time. The work queue guarantees one run per address at a time.
// What a Service is told about its addresses (status, refusals) is service-publisher.ts's.
import type { Clock } from "../clock/clock.ts";
import type { OwnHeartbeat } from "../election/decide.ts";
import type { AgentMacs } from "../election/foreign-hosts.ts";
import type { HeartbeatTracker } from "../election/heartbeat-tracker.ts";
import { addressLeaseName, legacyServiceLeaseName } from "../election/lease-names.ts";
import type { ServiceRef } from "../kube/service-ref.ts";
import type { Logger } from "../log/logger.ts";
import type { AddressExecutor, PlanTarget } from "./address-executor.ts";
import { NOTHING_REMEMBERED, step, type AddressMemory, type StepSettings } from "./address-step.ts";
import type { DataPlane, WireClaim } from "./data-plane.ts";
import { isCordoned, type Eligibility, type NodeShape } from "./eligibility.ts";
import type { FreshLeases } from "./fresh-leases.ts";
import { canonicalAddress, type Vip } from "./service-intent.ts";
import { addressWork } from "./work-keys.ts";
import type { EventSubject } from "../kube/events.ts";
import { isRouted, type AnnouncementMode } from "../routing/announcement-mode.ts";

/** What the address loop reads of the cluster besides its Leases (fresh-leases.ts): who is alive. */
export interface LeaseView {
  node(name: string): NodeShape | undefined;
  /** Other nodes whose heartbeat Lease exists and has changed within the lease duration. */
  liveNodes(): readonly string[];
  /** A live heartbeat lacks the per-address marker: a 0.1.0 agent runs. */
  legacyAgentLive(): boolean;
  /** The MACs the agents publish on their heartbeats, and who publishes none. */
  agentMacs(): AgentMacs;
}

/** Why an address is asked for, and by whom. */
export interface AddressDemand {
  readonly vip: Vip;
  /** The Service the address serves: its Events, and the rank key it shares with its other address. */
  readonly service: ServiceRef;
  /** vipd.io/interface of that Service, if set. */
  readonly interfaceOverride: string | undefined;
  /** How the address reaches the network: its VIPPool's mode, else the agent's --announce-mode. */
  readonly mode: AnnouncementMode;
}

/**
 * What a mode serves and who may serve it: services mode reads LoadBalancer Services, control-plane
 * mode its one configured VIP. The election, the Leases and the data plane are the same for both.
 */
export interface ServingTarget {
  /** What asks for the address and would be served, or null if nothing does. */
  demand(address: string): AddressDemand | null;
  selfEligibility(service: ServiceRef): Eligibility;
  otherEligible(node: string, service: ServiceRef): boolean;
  /** The Services whose 0.1.0 per-Service Leases govern the address. */
  legacyServices(address: string): readonly ServiceRef[];
  /**
   * What an Event about the Service goes on, with the uid `kubectl describe` finds it by; null once
   * the Service is gone, when an Event on it has no reader.
   */
  eventSubject(service: ServiceRef): EventSubject | null;
}

export interface AddressReconcilerOptions {
  readonly settings: StepSettings;
  readonly clock: Clock;
  readonly view: LeaseView;
  readonly target: ServingTarget;
  /** Where the rest of an observation comes from. */
  readonly sources: {
    readonly heartbeat: () => OwnHeartbeat;
    readonly tracker: Pick<HeartbeatTracker, "sighting" | "silentFor">;
    readonly fresh: Pick<FreshLeases, "current">;
    readonly dataPlane: Pick<DataPlane, "interfaceFor" | "foreignAddresses" | "holding" | "intact">;
  };
  readonly executor: AddressExecutor;
  readonly log: Logger;
}

export class AddressReconciler {
  readonly #options: AddressReconcilerOptions;
  readonly #memory = new Map<string, AddressMemory>();
  /** When this agent first reconciled: who records a refusal waits until it has seen the others. */
  #firstRunAt: number | undefined;

  constructor(options: AddressReconcilerOptions) {
    this.#options = options;
  }

  /** A frame from a MAC of another machine announced or answered for an address this node holds. */
  foreignClaimSeen(address: string, claim: WireClaim): Promise<void> {
    const fact = { kind: "wire-claim", claim, at: this.#options.clock.now() } as const;
    return this.#options.executor.learn(fact, this.#planTarget(address, vipOf(address)));
  }

  async reconcile(address: string): Promise<void> {
    const o = this.#options;
    const { self } = o.settings;
    const now = o.clock.now();
    this.#firstRunAt ??= now;
    const { heartbeat, tracker, fresh, dataPlane } = o.sources;
    const key = addressWork(address);
    const demand = o.target.demand(address);
    const vip = demand?.vip ?? vipOf(address);
    const lease = fresh.current(addressLeaseName(vip));
    const otherCandidates = this.#otherCandidates(demand);
    const legacyLeases = o.target
      .legacyServices(address)
      .map((service) => ({ service, lease: fresh.current(legacyServiceLeaseName(service)) }));
    const holders = [lease, ...legacyLeases.map((each) => each.lease)].flatMap(
      (each) => each?.spec?.holderIdentity ?? [],
    );
    const silentFor = new Map(
      holders
        .filter((node) => node !== self && tracker.sighting(node) !== undefined)
        .map((node) => [node, tracker.silentFor(node, now)] as const),
    );
    const eligibility: Eligibility =
      demand === null
        ? { eligible: false, code: "not-asked", reason: "not asked for" }
        : o.target.selfEligibility(demand.service);
    const result = step(
      o.settings,
      {
        now,
        address,
        vip,
        demand,
        lease,
        choice:
          demand === null
            ? null
            : dataPlane.interfaceFor([vip], demand.interfaceOverride, isRouted(demand.mode)),
        foreign: demand === null ? [] : dataPlane.foreignAddresses([vip]),
        eligibility,
        otherCandidates,
        unschedulable: [self, ...otherCandidates].filter((node) => isCordoned(o.view.node(node))),
        silentFor,
        ownHeartbeat: heartbeat(),
        announcing: dataPlane.holding(key) !== undefined,
        intact: dataPlane.intact(key),
        legacyAgentLive: o.view.legacyAgentLive(),
        legacyLeases,
        runningFor: now - this.#firstRunAt,
      },
      this.#memory.get(address) ?? NOTHING_REMEMBERED,
    );
    o.log.debug("decision", { address, ...result.decision });
    if (result.memory === null) {
      this.#memory.delete(address);
      return;
    }
    this.#memory.set(address, result.memory);
    await o.executor.run(result.plan, this.#planTarget(address, vip));
  }

  #planTarget(address: string, vip: Vip): PlanTarget {
    const o = this.#options;
    return {
      address,
      key: addressWork(address),
      vip,
      memory: {
        get: () => this.#memory.get(address) ?? NOTHING_REMEMBERED,
        set: (memory) => this.#memory.set(address, memory),
      },
      wire: () => {
        const demand = o.target.demand(address);
        return {
          self: o.settings.self,
          agents: o.view.agentMacs(),
          liveNodes: o.view.liveNodes(),
          otherCandidates: this.#otherCandidates(demand),
          servedBy: demand?.service ?? this.#memory.get(address)?.servedFor ?? null,
        };
      },
    };
  }

  /** The other live nodes that may carry what asks for the address. */
  #otherCandidates(demand: AddressDemand | null): readonly string[] {
    const o = this.#options;
    return o.view
      .liveNodes()
      .filter((node) => demand === null || o.target.otherEligible(node, demand.service));
  }
}

function vipOf(address: string): Vip {
  const reading = canonicalAddress(address);
  if (!reading.ok) throw new Error(`not an address: ${reading.problem}`);
  return reading.vip;
}
