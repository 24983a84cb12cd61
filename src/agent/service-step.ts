// The pure step of a Service's loop (service-publisher.ts): what the Service is told. Its status is
// written by the node that announces its first address and lists every one of its addresses some
// live node holds, with the vipd.io/Announced condition True naming that node and its interface; it
// is cleared by the node that wrote it once the Service no longer asks, and by one agent (the
// first-ranked live node) when nobody has held the first address for a lease duration, which then
// sets the condition False (NoEligibleNode). A refusal is logged once per change and recorded as an
// Event by one agent (refusals.ts says which), asked again if that agent's heartbeat falls silent
// first.
import type { V1Service } from "@kubernetes/client-node";
import type { OwnHeartbeat } from "../election/decide.ts";
import { rankCandidates } from "../election/ranking.ts";
import type { ServiceEvent } from "../kube/events.ts";
import { ANNOTATION_HOLDER, CONDITION_REASONS, EVENT_REASONS } from "../kube/names.ts";
import { serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import {
  NOTHING_PUBLISHED,
  statusShows,
  type AnnouncedCondition,
  type Publication,
} from "../kube/service-status.ts";
import { refusalOf, refusalRecording, type Refusal } from "./refusals.ts";
import type { ServiceIntent } from "./service-intent.ts";
import type { VipConflict } from "./vip-claims.ts";

/** What one run remembers of a Service for the next. */
export interface ServiceMemory {
  /** When this agent first saw the Service's first address without a holder; null while held. */
  readonly unheldSince: number | null;
  /** The refusal last logged, so that each is reported once, not on every run. */
  readonly refusalReported: string | null;
  /** Its Event was recorded by this agent. */
  readonly refusalRecorded: boolean;
  /** The agent its Event was left to, asked about again once that agent's heartbeat is silent. */
  readonly refusalLeftTo: string | null;
}

export const NOTHING_TOLD: ServiceMemory = {
  unheldSince: null,
  refusalReported: null,
  refusalRecorded: false,
  refusalLeftTo: null,
};

export interface ServiceStepSettings {
  readonly self: string;
  readonly leaseDuration: number;
  readonly renewDeadline: number;
}

/** One of the Service's addresses as this run sees it. */
export interface AddressSeen {
  readonly address: string;
  /** This node has it installed and announces it. */
  readonly announcing: boolean;
  /** Its ownership Lease names another live node. */
  readonly heldByLiveOther: boolean;
  /** The node its ownership Lease names, or null. */
  readonly holder: string | null;
  /** The interface this node announces it on, when it does. */
  readonly interfaceName?: string;
  /** ecmp mode: every eligible node announces it, and it has no holder. */
  readonly allActive: boolean;
}

export interface ServiceObservation {
  readonly now: number;
  readonly ref: ServiceRef;
  readonly service: V1Service;
  readonly intent: ServiceIntent;
  /** An address of the Service's VIPs that an older Service asks for too. */
  readonly conflict: VipConflict | null;
  /** The Service's addresses, first first. */
  readonly addresses: readonly AddressSeen[];
  /** A 0.1.0 agent holds the Service's per-Service Lease and is live: it writes the status itself. */
  readonly legacyHeldByLiveOther: boolean;
  readonly ownHeartbeat: OwnHeartbeat;
  readonly liveNodes: readonly string[];
  /** With an ecmp first address, the live other nodes eligible for the Service (its announcers); else empty. */
  readonly eligibleOthers: readonly string[];
  /** How long this agent has been reconciling. */
  readonly runningFor: number;
}

export type ServiceStep =
  | { readonly kind: "log-refusal"; readonly refusal: Refusal }
  | { readonly kind: "record"; readonly event: ServiceEvent }
  | { readonly kind: "publish"; readonly published: Publication }
  | { readonly kind: "requeue"; readonly afterMs: number }
  /** Another run once that agent's heartbeat has been silent for D: it was to report a Warning. */
  | { readonly kind: "wake-when-silent"; readonly node: string };

export interface ServiceStepResult {
  readonly memory: ServiceMemory;
  readonly plan: readonly ServiceStep[];
}

export function stepService(
  settings: ServiceStepSettings,
  seen: ServiceObservation,
  before: ServiceMemory,
): ServiceStepResult {
  const { intent } = seen;
  const conflict = intent.serve ? seen.conflict : null;
  const refusal = refusalOf({ intent, conflict });
  const told = tellRefusal(settings, seen, before, refusal);
  const memory = told.memory;
  const plan: ServiceStep[] = [...told.plan];
  const publish = (published: Publication): void => {
    if (!statusShows(seen.service, published)) plan.push({ kind: "publish", published });
  };
  const [primary] = seen.addresses;
  if (!intent.serve || conflict !== null) {
    clearWhenNoLongerAsked(settings, seen, publish);
    return { memory: { ...memory, unheldSince: null }, plan };
  }
  if (primary === undefined) return { memory, plan };
  if (primary.allActive) {
    const announcers = [...(primary.announcing ? [settings.self] : []), ...seen.eligibleOthers];
    if (announcers.length > 0) {
      plan.push(...publishAllActive(settings, { seen, intent, announcers }, publish));
      return { memory: { ...memory, unheldSince: null }, plan };
    }
  } else {
    if (primary.holder === settings.self) {
      const confirmed = isConfirmed(settings, seen);
      if (primary.announcing && confirmed) {
        // spec.externalIPs have no place in the status: the holder annotation and Events name them.
        const ips = seen.addresses.filter(
          (each) => (each.announcing || each.heldByLiveOther) && intent.external?.has(each.address) !== true,
        );
        publish({
          ips: ips.map((each) => each.address),
          holder: settings.self,
          condition: condition(seen, "True", CONDITION_REASONS.announced, announcedMessage(settings, seen)),
        });
      }
      return { memory: { ...memory, unheldSince: null }, plan };
    }
    if (primary.holder !== null || seen.legacyHeldByLiveOther)
      return { memory: { ...memory, unheldSince: null }, plan };
  }
  // Nobody has held the Service's first address for longer than D: its status must stop pointing
  // at an address nobody answers for. A holder that is only cut off from the API server still
  // names itself in the Lease, so this never clears the status of a Service served in degraded hold.
  // Only a Service vipd has told something is told this: one that never had a holder, refused or
  // waiting for its first claim, is left without vipd's condition.
  const unheldSince = memory.unheldSince ?? seen.now;
  const after = { ...memory, unheldSince };
  const addresses = seen.addresses.map((each) => each.address).join(", ");
  const unheld: Publication = {
    ips: [],
    holder: null,
    condition: condition(
      seen,
      "False",
      CONDITION_REASONS.noEligibleNode,
      `no node has held ${addresses} for ${settings.leaseDuration / 1000}s`,
    ),
  };
  if (statusShows(seen.service, NOTHING_PUBLISHED) || statusShows(seen.service, unheld))
    return { memory: after, plan };
  const unheldFor = seen.now - unheldSince;
  if (unheldFor < settings.leaseDuration) {
    plan.push({ kind: "requeue", afterMs: settings.leaseDuration - unheldFor });
    return { memory: after, plan };
  }
  const first = firstRanked(settings, seen);
  if (first !== settings.self) {
    plan.push({ kind: "wake-when-silent", node: first });
    return { memory: after, plan };
  }
  plan.push(
    { kind: "publish", published: unheld },
    {
      kind: "record",
      event: {
        type: "Warning",
        reason: EVENT_REASONS.noEligibleNode,
        message: `no node has held ${addresses} for ${settings.leaseDuration / 1000}s; status cleared`,
      },
    },
  );
  return { memory: after, plan };
}

// ecmp: every announcer would write the same status but for the holder annotation, so one writes
// it, the first of them in the Service's ranking, and the others wake if it falls silent. Who is
// an announcer each node reads from its informers (the others' eligibility), so two may disagree
// for a moment and both write; the status either writes is true.
function publishAllActive(
  settings: ServiceStepSettings,
  served: {
    readonly seen: ServiceObservation;
    readonly intent: Extract<ServiceIntent, { serve: true }>;
    readonly announcers: readonly string[];
  },
  publish: (published: Publication) => void,
): ServiceStep[] {
  const { seen, intent, announcers } = served;
  const [writer = settings.self] = rankCandidates(announcers, serviceKey(seen.ref));
  if (writer !== settings.self) return [{ kind: "wake-when-silent", node: writer }];
  if (!isConfirmed(settings, seen)) return [];
  const ips = seen.addresses.filter(
    (each) => (each.announcing || each.heldByLiveOther) && intent.external?.has(each.address) !== true,
  );
  const nodes = [...announcers].sort();
  const message = `${listed(ips.map((each) => each.address))} announced by every eligible node (ecmp): ${listed(nodes)}`;
  publish({
    ips: ips.map((each) => each.address),
    holder: settings.self,
    condition: condition(seen, "True", CONDITION_REASONS.announced, message),
  });
  return [];
}

function condition(
  seen: ServiceObservation,
  status: AnnouncedCondition["status"],
  reason: string,
  message: string,
): AnnouncedCondition {
  return { status, reason, message, observedGeneration: seen.service.metadata?.generation };
}

// At most this many addresses are named: the condition of a Service with hundreds of addresses
// stays a line an operator can read (the API server refuses a message over 32 kB).
const ADDRESSES_NAMED = 4;

function listed(addresses: readonly string[]): string {
  const named = addresses.slice(0, ADDRESSES_NAMED).join(", ");
  const more = addresses.length - ADDRESSES_NAMED;
  return more > 0 ? `${named} and ${more} more` : named;
}

/** "198.51.100.10 announced by node-a on eth0", and the addresses other nodes announce. */
function announcedMessage(settings: ServiceStepSettings, seen: ServiceObservation): string {
  const own = seen.addresses.filter((each) => each.announcing);
  const interfaces = [...new Set(own.flatMap((each) => each.interfaceName ?? []))];
  const on = interfaces.length === 0 ? "" : ` on ${interfaces.join(", ")}`;
  const byOthers = new Map<string, string[]>();
  for (const each of seen.addresses)
    if (!each.announcing && each.heldByLiveOther && each.holder !== null)
      byOthers.set(each.holder, [...(byOthers.get(each.holder) ?? []), each.address]);
  const others = [...byOthers].map(([node, addresses]) => `; ${listed(addresses)} by node ${node}`);
  return `${listed(own.map((each) => each.address))} announced by node ${settings.self}${on}${others.join("")}`;
}

// The node that wrote the status clears it; if that node is gone, the first-ranked live one does.
// A status without vipd's holder annotation is another load balancer's: only vipd's condition (a
// NoEligibleNode one, written with no status) is taken off it.
function clearWhenNoLongerAsked(
  settings: ServiceStepSettings,
  seen: ServiceObservation,
  publish: (published: Publication) => void,
): void {
  const writer = seen.service.metadata?.annotations?.[ANNOTATION_HOLDER];
  if (writer === undefined) {
    if (firstRanked(settings, seen) === settings.self) publish({ ...NOTHING_PUBLISHED, ips: null });
    return;
  }
  const orphaned = writer !== settings.self && !seen.liveNodes.includes(writer);
  if (writer === settings.self || (orphaned && firstRanked(settings, seen) === settings.self)) {
    publish(NOTHING_PUBLISHED);
  }
}

function tellRefusal(
  settings: ServiceStepSettings,
  seen: ServiceObservation,
  before: ServiceMemory,
  refusal: Refusal | null,
): ServiceStepResult {
  const text = refusal === null ? null : `${refusal.reason}: ${refusal.message}`;
  const changed = text !== before.refusalReported;
  const memory = changed
    ? { ...before, refusalReported: text, refusalRecorded: false, refusalLeftTo: null }
    : before;
  const plan: ServiceStep[] = changed && refusal !== null ? [{ kind: "log-refusal", refusal }] : [];
  const leftToLive = memory.refusalLeftTo !== null && seen.liveNodes.includes(memory.refusalLeftTo);
  if (refusal === null || memory.refusalRecorded || leftToLive) return { memory, plan };
  const recording = refusalRecording({
    self: settings.self,
    liveNodes: seen.liveNodes,
    serviceKey: serviceKey(seen.ref),
    runningFor: seen.runningFor,
    leaseDuration: settings.leaseDuration,
  });
  if (recording.action === "wait")
    return { memory, plan: [...plan, { kind: "requeue", afterMs: recording.forMs }] };
  if (recording.action === "leave")
    return {
      memory: { ...memory, refusalLeftTo: recording.reporter },
      plan: [...plan, { kind: "wake-when-silent", node: recording.reporter }],
    };
  const { type, reason, message } = refusal;
  return {
    memory: { ...memory, refusalRecorded: true, refusalLeftTo: null },
    plan: [...plan, { kind: "record", event: { type, reason, message } }],
  };
}

/** The first of this agent and the live others in the Service's ranking. */
function firstRanked(settings: ServiceStepSettings, seen: ServiceObservation): string {
  const [first = settings.self] = rankCandidates([settings.self, ...seen.liveNodes], serviceKey(seen.ref));
  return first;
}

// The status says "served" only while this node's heartbeat is renewed: a holder in degraded hold
// keeps serving but does not write what it cannot confirm.
function isConfirmed(settings: ServiceStepSettings, seen: ServiceObservation): boolean {
  const started = seen.ownHeartbeat.lastRenewalStartedAt;
  return started !== null && seen.now - started < settings.renewDeadline;
}
