// The pure step of one address's loop: what this run observed and what earlier runs remembered go
// in; what to remember and a plan of guarded steps come out. decide() (rules 1–8) says what the
// node should do; this module turns that into the steps that carry it out safely — which Leases
// to re-read first, when to probe the wire (rule 2's fence), whom to tell — and into what each
// step's outcome means (absorb). The executor (address-executor.ts) runs a plan and nothing else;
// memory changes only here.
//
// Guards. A plan's guard steps (confirm-holder-dead, fence, confirm-ownership, claim) each check one
// thing in the world just before the step after it acts on it. The executor stops the plan at the
// first guard that fails and runs that guard's `otherwise` instead (a requeue), or, for a fence
// that someone answered, what afterFence() makes of the answer. So a plan never installs an address
// without having confirmed, in the same run, the Leases that let it (or having just written them).
import type { V1Lease } from "@kubernetes/client-node";
import {
  decide,
  type CollectReason,
  type Decision,
  type ElectionTimings,
  type LeaseRelease,
  type LegacyLocks,
  type OwnHeartbeat,
  type WithdrawReason,
} from "../election/decide.ts";
import {
  decideAllActive,
  leftoverLeaseCollectable,
  type AllActiveDecision,
  type AllActiveInput,
} from "../election/all-active.ts";
import {
  claimantOf,
  foreignHostAnswered,
  quarantinedUntil,
  remembered,
  type AgentMacs,
  type Quarantine,
} from "../election/foreign-hosts.ts";
import { addressLeaseName, legacyServiceLeaseName } from "../election/lease-names.ts";
import { rankCandidates } from "../election/ranking.ts";
import type { OwnedThing } from "../election/ownership.ts";
import { EVENT_REASONS } from "../kube/names.ts";
import { parseServiceKey, serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import type { AddressDemand } from "./address-reconciler.ts";
import { isElected, isRouted } from "../routing/announcement-mode.ts";
import { refusalRecording } from "./refusals.ts";
import type { ForeignAddress, InterfaceChoice, WireClaim } from "./data-plane.ts";
import type { Eligibility } from "./eligibility.ts";
import type { Vip } from "./service-intent.ts";

/** What one run remembers for the next: facts this agent observed, never state it could re-read. */
export interface AddressMemory {
  /** The Lease's holder as the last run saw it. */
  readonly holderSeen: string | null;
  readonly freeSince: number | null;
  /** The node seen clearing the Lease's holder when it became free (see ElectionInput.releasedBy). */
  readonly releasedBy: string | null;
  readonly agentClaimSeenAt: number | null;
  /** A host that is no agent answered for the address (foreign-hosts.ts); null when none is remembered. */
  readonly quarantine: Quarantine | null;
  /**
   * The resourceVersion of the Lease this agent's last claim wrote, until the address is installed:
   * that claim was fenced (or took a handover), so installing on it needs no probe of its own.
   */
  readonly claimedVersion: string | null;
  /** The node refusal last logged, so that each is logged once. */
  readonly refusalReported: string | null;
  /** ...and recorded as an Event by this node (refusals.ts says which node records it). */
  readonly refusalRecorded: boolean;
  /** The Service the address last served here, to tell when it is withdrawn for good. */
  readonly servedFor: ServiceRef | null;
  /** See ElectionInput.claimedWhileCordoned. */
  readonly claimedWhileCordoned: boolean;
}

export const NOTHING_REMEMBERED: AddressMemory = {
  holderSeen: null,
  freeSince: null,
  releasedBy: null,
  agentClaimSeenAt: null,
  quarantine: null,
  claimedVersion: null,
  refusalReported: null,
  refusalRecorded: false,
  servedFor: null,
  claimedWhileCordoned: false,
};

export interface StepSettings {
  readonly self: string;
  readonly timings: ElectionTimings;
  /** Rule 7's cordon rule (--cordon-hands-over): cordoned nodes rank last and hand over. */
  readonly cordonHandsOver: boolean;
}

/** What one run of the loop reads of the world, all of it before anything is done. */
export interface AddressObservation {
  readonly now: number;
  readonly address: string;
  readonly vip: Vip;
  readonly demand: AddressDemand | null;
  readonly lease: V1Lease | undefined;
  /** The interface the address would go on (null when nothing asks for it). */
  readonly choice: InterfaceChoice | null;
  /** The address as this node has it from someone else (it must not serve it then). */
  readonly foreign: readonly ForeignAddress[];
  readonly eligibility: Eligibility;
  /** Live other nodes that may carry it. */
  readonly otherCandidates: readonly string[];
  /** Of this node and those candidates, the ones whose Node is cordoned. */
  readonly unschedulable: readonly string[];
  /** How long each other node's heartbeat has been seen unchanged; a node never seen is absent. */
  readonly silentFor: ReadonlyMap<string, number>;
  readonly ownHeartbeat: OwnHeartbeat;
  /** The data plane has the address installed and announces it. */
  readonly announcing: boolean;
  /** ...and it is still on its interface (not expired, not removed by someone else). */
  readonly intact: boolean;
  /** A 0.1.0 agent runs (decide.ts rule 8). */
  readonly legacyAgentLive: boolean;
  /** 0.1.0's per-Service Leases that govern the address, by Service. */
  readonly legacyLeases: readonly { readonly service: ServiceRef; readonly lease: V1Lease | undefined }[];
  /** How long this agent has been reconciling: until it has seen the others, it ranks alone. */
  readonly runningFor: number;
}

/** confirmed and degraded: rule 1's two ways of holding; all-active: ecmp mode's, not elected. */
export type AnnounceMode = "confirmed" | "degraded" | "all-active";

/** A step that acts, or tells, or asks for a later run. */
export type ActionStep =
  /** Start timing a holder whose heartbeat this agent has never seen, so that it can die after D. */
  | { readonly kind: "watch-heartbeat"; readonly node: string }
  | {
      readonly kind: "report-refusal";
      readonly service: ServiceRef;
      readonly reason: string;
      readonly message: string;
      /** A refusal new to this node, for its log. */
      readonly log: boolean;
      /** This node is the one that records it as an Event. */
      readonly record: boolean;
    }
  | {
      readonly kind: "install";
      readonly mode: AnnounceMode;
      readonly interfaceName: string;
      /** On lo with a host route (bgp, ecmp), not on the segment. */
      readonly routed: boolean;
    }
  | {
      readonly kind: "withdraw";
      readonly reason: WithdrawReason;
      /** Whether taking it off hands it to someone (the metric's outcome). */
      readonly handedOver: boolean;
      /** The Service to tell, if it still exists. */
      readonly service: ServiceRef | null;
    }
  | { readonly kind: "release-legacy"; readonly service: ServiceRef; readonly lease: V1Lease }
  | { readonly kind: "release"; readonly release: Exclude<LeaseRelease, "keep">; readonly lease: V1Lease }
  | { readonly kind: "collect"; readonly lease: V1Lease; readonly reason: CollectReason }
  | { readonly kind: "touch"; readonly service: ServiceRef }
  | { readonly kind: "requeue"; readonly afterMs: number }
  | { readonly kind: "wake-when-silent"; readonly node: string }
  | {
      readonly kind: "foreign-host";
      readonly claim: WireClaim;
      readonly retryInMs: number;
      /** Told as an Event (once per address and MAC while remembered). */
      readonly tell: ServiceRef | null;
    };

/** A step that checks the world just before the steps after it act on what it checked. */
export type GuardStep =
  /** Rule 2: the holder's heartbeat is still unchanged when re-read just before the swap. */
  | {
      readonly kind: "confirm-holder-dead";
      readonly holder: string;
      readonly otherwise: readonly ActionStep[];
    }
  /** Rule 2's probe; what an answer means is afterFence()'s. */
  | {
      readonly kind: "fence";
      readonly purpose: "takeover" | "first-claim";
      /** The node being taken over from, whose MACs count as an agent's even if it published none. */
      readonly holder: string | null;
      readonly interfaceName: string;
    }
  /** A cached Lease may be older than a takeover not delivered yet: these Leases, re-read, name this node. */
  | {
      readonly kind: "confirm-ownership";
      readonly leaseNames: readonly string[];
      readonly otherwise: readonly ActionStep[];
    }
  /** Compare-and-swap of the Lease at the version it was read at; a conflict means somebody else won. */
  | {
      readonly kind: "claim";
      readonly thing: OwnedThing;
      readonly current: V1Lease | null;
      readonly takeoverFrom: string | null;
      /** Remembered with an address claim (ElectionInput.claimedWhileCordoned). */
      readonly cordoned: boolean;
      readonly otherwise: readonly ActionStep[];
    };

export type AddressStep = ActionStep | GuardStep;
export type Plan = readonly AddressStep[];

export interface StepResult {
  /** null: nothing is left to remember, the address can be forgotten. */
  readonly memory: AddressMemory | null;
  readonly plan: Plan;
  readonly decision: Decision;
}

const AGAIN: readonly ActionStep[] = [{ kind: "requeue", afterMs: 0 }];

/** One run of the loop: what decide() says, as a plan, and what to remember. */
export function step(settings: StepSettings, seen: AddressObservation, before: AddressMemory): StepResult {
  const { self } = settings;
  const { now, demand, lease } = seen;
  const holder = lease?.spec?.holderIdentity ?? null;
  const plan: AddressStep[] = [];
  let memory: AddressMemory = {
    ...before,
    ...holderChange(before, lease, now),
    servedFor: demand?.service ?? before.servedFor,
    quarantine: remembered(before.quarantine, now),
  };
  const told = tellNodeRefusal(settings, seen, memory);
  memory = told.memory;
  plan.push(...told.plan);
  const cordoned = settings.cordonHandsOver ? seen.unschedulable : [];
  if (holder !== self || !cordoned.includes(self)) memory = { ...memory, claimedWhileCordoned: false };
  const silence = (node: string | null): number => {
    if (node === null || node === self) return 0;
    const silent = seen.silentFor.get(node);
    if (silent === undefined) plan.push({ kind: "watch-heartbeat", node });
    return silent ?? 0;
  };
  const legacy: LegacyLocks = {
    required: seen.legacyAgentLive,
    locks: seen.legacyLeases.map(({ service, lease: lock }) => {
      const lockHolder = lock?.spec?.holderIdentity ?? null;
      return {
        serviceKey: serviceKey(service),
        exists: lock !== undefined,
        holder: lockHolder,
        holderSilentFor: silence(lockHolder),
      };
    }),
  };
  const choice = seen.choice;
  const mode = demand?.mode ?? "l2";
  const selfEligible = seen.eligibility.eligible && choice?.ok === true && seen.foreign.length === 0;
  const carrier = choice?.ok === true ? choice.carrier : true;
  const interfaceName = choice?.ok === true ? choice.name : "";
  if (!isElected(mode)) {
    const allActive: AllActiveInput = {
      self,
      now,
      timings: settings.timings,
      wanted: demand !== null,
      selfEligible,
      carrier,
      announcing: seen.announcing,
      ownHeartbeat: seen.ownHeartbeat,
      leaseExists: lease !== undefined,
      holder,
      holderSilentFor: silence(holder),
    };
    const decision = decideAllActive(allActive);
    plan.push(...carryOutAllActive({ seen, memory, decision, interfaceName }));
    if (lease !== undefined && leftoverLeaseCollectable(allActive))
      plan.push({ kind: "collect", lease, reason: "not-elected" });
    return { memory, plan, decision };
  }
  const onTheWire = !isRouted(mode);
  const decision = decide({
    self,
    now,
    timings: settings.timings,
    rankKey: demand === null ? seen.address : serviceKey(demand.service),
    wanted: demand !== null,
    selfEligible,
    carrier,
    onTheWire,
    otherCandidates: seen.otherCandidates,
    cordoned,
    claimedWhileCordoned: memory.claimedWhileCordoned,
    leaseExists: lease !== undefined,
    holder,
    freeSince: memory.freeSince,
    releasedBy: memory.releasedBy,
    holderSilentFor: silence(holder),
    ownHeartbeat: seen.ownHeartbeat,
    announcing: seen.announcing,
    agentClaimSeenAt: memory.agentClaimSeenAt,
    quarantinedUntil: quarantinedUntil(memory.quarantine, now),
    legacy,
  });
  plan.push(
    ...carryOut({
      settings,
      seen,
      memory,
      decision,
      interfaceName,
      onTheWire,
      cordoned: cordoned.includes(self),
    }),
  );
  // The address now serves another Service (agents learn of the older of two a moment late): both
  // are told, whatever this run did on the wire.
  if (
    demand !== null &&
    before.servedFor !== null &&
    serviceKey(before.servedFor) !== serviceKey(demand.service)
  )
    plan.push({ kind: "touch", service: before.servedFor }, { kind: "touch", service: demand.service });
  const forget = demand === null && lease === undefined && !seen.announcing;
  return { memory: forget ? null : memory, plan, decision };
}

interface Carrying {
  readonly settings: StepSettings;
  readonly seen: AddressObservation;
  readonly memory: AddressMemory;
  readonly decision: Decision;
  readonly interfaceName: string;
  /** ElectionInput.onTheWire: an l2 address, which is fenced. */
  readonly onTheWire: boolean;
  /** This node counts as cordoned (rule 7). */
  readonly cordoned: boolean;
}

function carryOut({ settings, seen, memory, decision, interfaceName, onTheWire, cordoned }: Carrying): Plan {
  const { self } = settings;
  const { demand, lease } = seen;
  switch (decision.action) {
    case "announce": {
      const installing = !seen.announcing || !seen.intact;
      // Putting the address on afresh on a Lease that names this node (a restart, a return after a
      // lapse or a quarantine) claims it on the LAN as a claim does, and is probed like one; the
      // claim this agent just made was probed already.
      const claimed = memory.claimedVersion !== null && memory.claimedVersion === versionOf(lease);
      const fence: Plan =
        onTheWire && !seen.announcing && !claimed
          ? [{ kind: "fence", purpose: "first-claim", holder: null, interfaceName }]
          : [];
      const confirm: Plan = installing
        ? [{ kind: "confirm-ownership", leaseNames: ownershipLeaseNames(seen), otherwise: AGAIN }]
        : [];
      const told: Plan =
        demand !== null && !seen.announcing ? [{ kind: "touch", service: demand.service }] : [];
      const install: AddressStep = {
        kind: "install",
        mode: decision.mode,
        interfaceName,
        routed: !onTheWire,
      };
      return [...fence, ...confirm, install, ...told];
    }
    case "withdraw": {
      const { reason, release } = decision;
      const service = demand?.service ?? memory.servedFor;
      const off: Plan = seen.announcing
        ? [
            {
              kind: "withdraw",
              reason,
              // Giving an address up to a foreign host hands it to nobody.
              handedOver: release !== "keep" && reason !== "foreign-host-claims-vip",
              service,
            },
          ]
        : [];
      if (release === "keep") return off;
      // The locks first: while a 0.1.0 agent waits on one, it must not find the address free and
      // its lock still held by a node that no longer serves it.
      const locks: Plan = seen.legacyLeases.flatMap(({ service: locked, lease: lock }) =>
        lock?.spec?.holderIdentity === self
          ? [{ kind: "release-legacy", service: locked, lease: lock } as const]
          : [],
      );
      const again: Plan = locks.length > 0 ? AGAIN : [];
      return [
        ...off,
        ...locks,
        ...again,
        ...(lease === undefined ? [] : [{ kind: "release", release, lease } as const]),
      ];
    }
    case "claim":
      return [
        ...(decision.takeoverFrom === null
          ? []
          : [{ kind: "confirm-holder-dead", holder: decision.takeoverFrom, otherwise: AGAIN } as const]),
        ...(decision.fence
          ? [
              {
                kind: "fence",
                purpose: decision.takeoverFrom === null ? "first-claim" : "takeover",
                holder: decision.takeoverFrom,
                interfaceName,
              } as const,
            ]
          : []),
        {
          kind: "claim",
          thing: { kind: "address", vip: seen.vip },
          current: lease ?? null,
          takeoverFrom: decision.takeoverFrom,
          cordoned,
          otherwise: AGAIN,
        },
        { kind: "requeue", afterMs: 0 },
      ];
    case "claim-legacy": {
      // The address Lease's claim probed the wire already; a dead holder's lock is fenced again.
      const service = parseServiceKey(decision.serviceKey);
      const { takeoverFrom } = decision;
      const lock = seen.legacyLeases.find((each) => serviceKey(each.service) === decision.serviceKey)?.lease;
      return [
        ...(takeoverFrom === null
          ? []
          : [{ kind: "confirm-holder-dead", holder: takeoverFrom, otherwise: AGAIN } as const]),
        ...(takeoverFrom === null
          ? []
          : [{ kind: "fence", purpose: "takeover", holder: takeoverFrom, interfaceName } as const]),
        {
          kind: "claim",
          thing: { kind: "legacy-service", service },
          current: lock ?? null,
          takeoverFrom,
          cordoned,
          otherwise: AGAIN,
        },
        { kind: "requeue", afterMs: 0 },
      ];
    }
    case "release-legacy": {
      const service = parseServiceKey(decision.serviceKey);
      const lock = seen.legacyLeases.find((each) => serviceKey(each.service) === decision.serviceKey)?.lease;
      if (lock?.spec?.holderIdentity !== self) return [];
      return [{ kind: "release-legacy", service, lease: lock }, ...AGAIN];
    }
    case "collect":
      // The holder that should have deleted this Lease is gone; the Lease goes only if it is still
      // the version this decision was made on.
      return lease === undefined ? [] : [{ kind: "collect", lease, reason: decision.reason }];
    case "wait":
      return [
        decision.untilSilent === undefined
          ? { kind: "requeue", afterMs: decision.until - seen.now }
          : { kind: "wake-when-silent", node: decision.untilSilent },
      ];
    case "idle":
      return [];
  }
}

// ecmp mode's plan: no Lease to confirm or claim, and nothing on the wire to probe.
function carryOutAllActive({
  seen,
  memory,
  decision,
  interfaceName,
}: Pick<Carrying, "seen" | "memory" | "interfaceName"> & { readonly decision: AllActiveDecision }): Plan {
  const { demand } = seen;
  switch (decision.action) {
    case "announce": {
      const told: Plan =
        demand !== null && !seen.announcing ? [{ kind: "touch", service: demand.service }] : [];
      return [{ kind: "install", mode: "all-active", interfaceName, routed: true }, ...told];
    }
    case "withdraw":
      return [
        {
          kind: "withdraw",
          reason: decision.reason,
          handedOver: false,
          service: demand?.service ?? memory.servedFor,
        },
      ];
    case "idle":
      return [];
  }
}

/** What an outcome of a step, or a frame heard on the wire, changes. */
export type AddressFact =
  | {
      readonly kind: "claimed";
      readonly thing: OwnedThing["kind"];
      readonly lease: V1Lease;
      readonly cordoned: boolean;
    }
  | { readonly kind: "installed"; readonly newly: boolean }
  | { readonly kind: "wire-claim"; readonly claim: WireClaim; readonly at: number };

export interface Absorbed {
  readonly memory: AddressMemory;
  readonly plan: Plan;
}

/**
 * A fact learnt between or during runs. A frame from a MAC of another machine that announced or
 * answered for an address this node holds: another agent's is rule 1(b)'s business; a foreign
 * host's makes this node withdraw and quarantine the address. Either way the loop runs again.
 */
export function absorb(memory: AddressMemory, fact: AddressFact, seen: WireContext): Absorbed {
  switch (fact.kind) {
    case "claimed":
      return {
        memory: {
          ...memory,
          ...(fact.thing === "address"
            ? { claimedVersion: versionOf(fact.lease), claimedWhileCordoned: fact.cordoned }
            : {}),
        },
        plan: [],
      };
    case "installed":
      // Put on afresh (also after it vanished while announced): what the Service is told may change.
      return {
        memory: { ...memory, claimedVersion: null },
        plan: fact.newly && seen.servedBy !== null ? [{ kind: "touch", service: seen.servedBy }] : [],
      };
    case "wire-claim": {
      if (
        claimantOf({ mac: fact.claim.mac, agents: seen.agents, liveNodes: seen.liveNodes, holder: null }) ===
        "agent"
      )
        return { memory: { ...memory, agentClaimSeenAt: fact.at }, plan: [{ kind: "requeue", afterMs: 0 }] };
      // Heard while holding the address: only the holder hears it so, and it tells.
      const quarantined = quarantine(memory, [fact.claim], fact.at, seen.servedBy ?? memory.servedFor);
      return { memory: quarantined.memory, plan: [...quarantined.plan, { kind: "requeue", afterMs: 0 }] };
    }
  }
}

/** What absorb() and afterFence() need to know of the world beside memory. */
export interface WireContext {
  readonly self: string;
  readonly agents: AgentMacs;
  readonly liveNodes: readonly string[];
  /** Of the live nodes, those that may carry the address: who else would claim it. */
  readonly otherCandidates: readonly string[];
  /** The Service the address serves now, if any: a conflict is told there. */
  readonly servedBy: ServiceRef | null;
}

/**
 * Rule 2's fence was answered. Another agent's kernel answering (a dead holder's address not
 * expired yet, a takeover under way) means wait a retry period and probe again; a host that is no
 * agent means quarantine, and a retry when it ends.
 */
export function afterFence(
  memory: AddressMemory,
  answer: { readonly answeredBy: readonly WireClaim[]; readonly holder: string | null; readonly now: number },
  seen: WireContext,
  retryPeriod: number,
): Absorbed {
  const foreign = answer.answeredBy.filter(
    (each) =>
      claimantOf({ mac: each.mac, agents: seen.agents, liveNodes: seen.liveNodes, holder: answer.holder }) ===
      "foreign-host",
  );
  if (foreign.length === 0) return { memory, plan: [{ kind: "requeue", afterMs: retryPeriod }] };
  const service = seen.servedBy ?? memory.servedFor;
  const tell = service !== null && firstCandidate(seen, service) ? service : null;
  const quarantined = quarantine(memory, foreign, answer.now, tell);
  const until = quarantinedUntil(quarantined.memory.quarantine, answer.now);
  return {
    memory: quarantined.memory,
    plan: [...quarantined.plan, { kind: "requeue", afterMs: until === null ? 0 : until - answer.now }],
  };
}

/**
 * A fence heard a foreign host: every candidate in turn would hear it, each claiming once the ones
 * ranked above it stay off, so only the first of the live candidates for the Service tells it
 * (refusals.ts). One that never probes (it cannot carry the address, or is cordoned and claims last)
 * leaves it untold until it does; its own refusal is told meanwhile.
 */
function firstCandidate(seen: WireContext, service: ServiceRef): boolean {
  const [first] = rankCandidates([seen.self, ...seen.otherCandidates], serviceKey(service));
  return first === seen.self;
}

/** Quarantines the address for each foreign claim; `tell`, if any, is told of each new one. */
function quarantine(
  memory: AddressMemory,
  claims: readonly WireClaim[],
  now: number,
  tell: ServiceRef | null,
): Absorbed {
  let current = memory.quarantine;
  const plan: ActionStep[] = [];
  for (const claim of claims) {
    const { quarantine: next, report } = foreignHostAnswered(current, claim, now);
    current = next;
    plan.push({ kind: "foreign-host", claim, retryInMs: next.until - now, tell: report ? tell : null });
  }
  return { memory: { ...memory, quarantine: current }, plan };
}

/**
 * Notes when the Lease became free and who freed it. A Lease that still exists but lost its holder
 * from one run to the next was cleared by that holder: nobody else writes an empty holder.
 */
function holderChange(
  memory: AddressMemory,
  lease: V1Lease | undefined,
  now: number,
): Pick<AddressMemory, "holderSeen" | "freeSince" | "releasedBy"> {
  const holder = lease?.spec?.holderIdentity ?? null;
  if (holder !== null) return { holderSeen: holder, freeSince: null, releasedBy: null };
  if (memory.freeSince !== null)
    return { holderSeen: null, freeSince: memory.freeSince, releasedBy: memory.releasedBy };
  return { holderSeen: null, freeSince: now, releasedBy: lease === undefined ? null : memory.holderSeen };
}

// The address Lease, and while a 0.1.0 agent runs, its locks.
function ownershipLeaseNames(seen: AddressObservation): readonly string[] {
  return [
    addressLeaseName(seen.vip),
    ...(seen.legacyAgentLive ? seen.legacyLeases.map(({ service }) => legacyServiceLeaseName(service)) : []),
  ];
}

interface NodeRefusal {
  readonly reason: string;
  readonly message: string;
  /**
   * "itself": only this node sees it, and it is a hazard on the wire there; "first-candidate": the
   * node's interfaces, mostly alike on every node, so the first of the live candidates says it.
   */
  readonly recordedBy: "itself" | "first-candidate";
}

// Why this node does not carry the address, from what the node itself has: an address someone
// else configured, or interfaces that cannot carry it.
function nodeRefusal(choice: InterfaceChoice | null, foreign: readonly ForeignAddress[]): NodeRefusal | null {
  if (foreign.length > 0) {
    const where = foreign.map((each) =>
      each.route === undefined
        ? `${each.address}/${each.prefixLength} on ${each.interfaceName}`
        : `a route to ${each.address}/${each.prefixLength} in table ${each.route.table} with protocol ${each.route.protocol}`,
    );
    return {
      reason: EVENT_REASONS.conflict,
      message: `${where.join(", ")} was not added by vipd; this node does not serve the VIP while it is there`,
      recordedBy: "itself",
    };
  }
  if (choice !== null && !choice.ok)
    return { reason: EVENT_REASONS.invalid, message: choice.reason, recordedBy: "first-candidate" };
  return null;
}

// Each node logs its own refusal once per change. Who records the Event is refusals.ts's rule: an
// interface refusal is recorded by the first of this node and the live candidates for the Service
// (a node that may not serve the Service anyway stays quiet), asked again on every run, so the next
// candidate records it once the first falls silent.
function tellNodeRefusal(
  settings: StepSettings,
  seen: AddressObservation,
  before: AddressMemory,
): { readonly memory: AddressMemory; readonly plan: readonly ActionStep[] } {
  const refusal = nodeRefusal(seen.choice, seen.foreign);
  const text = refusal === null ? null : `${refusal.reason}: ${refusal.message}`;
  const changed = text !== before.refusalReported;
  let memory = changed ? { ...before, refusalReported: text, refusalRecorded: false } : before;
  if (refusal === null || seen.demand === null || (!changed && memory.refusalRecorded))
    return { memory, plan: [] };
  const plan: ActionStep[] = [];
  let record = !memory.refusalRecorded;
  if (record && refusal.recordedBy === "first-candidate") {
    const recording = seen.eligibility.eligible
      ? refusalRecording({
          self: settings.self,
          liveNodes: seen.otherCandidates,
          serviceKey: serviceKey(seen.demand.service),
          runningFor: seen.runningFor,
          leaseDuration: settings.timings.leaseDuration,
        })
      : null;
    record = recording?.action === "record";
    if (recording?.action === "leave") plan.push({ kind: "wake-when-silent", node: recording.reporter });
    if (recording?.action === "wait") plan.push({ kind: "requeue", afterMs: recording.forMs });
  }
  if (record) memory = { ...memory, refusalRecorded: true };
  if (changed || record)
    plan.unshift({
      kind: "report-refusal",
      service: seen.demand.service,
      reason: refusal.reason,
      message: `${settings.self}: ${refusal.message}`,
      log: changed,
      record,
    });
  return { memory, plan };
}

function versionOf(lease: V1Lease | undefined): string | null {
  return lease?.metadata?.resourceVersion ?? null;
}
