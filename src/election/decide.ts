/**
 * The election of docs/design.md as one pure function: given what an agent knows about one
 * address at one instant, what should it do? The address, not the Service, is the unit of election:
 * one ownership Lease per address, so two Services asking for one address can never be claimed by
 * two nodes, whatever each agent's informers have seen so far. Everything effectful (Lease writes, addresses, frames)
 * happens in the agent; this module only decides, so every rule has a table test.
 *
 * Definitions. D = lease duration, R = renew deadline, P = retry period, D > R > 1.2·P. Times are
 * milliseconds of this agent's own monotonic clock; no time read from a Lease is ever used.
 *
 * Rules, as implemented below:
 * - Announce (rule 1). The holder named by the ownership Lease announces while its own heartbeat
 *   renewal last *started* less than R ago (confirmed), or — if it was already announcing — while the
 *   API server has been unreachable ever since and no other agent's MAC has claimed the VIP (degraded
 *   hold). It withdraws at once when the Lease names someone else, when the VIP interface loses
 *   carrier, when it stops being eligible, when in degraded hold another agent's MAC claims the VIP,
 *   or — confirmed or degraded — when a host that is no vipd agent answers for it (foreign-hosts.ts
 *   tells the two apart): it then deletes the Lease if it can reach the API server. A holder whose
 *   confirmation lapsed while a renewal is in flight (a process resumed after a freeze: the overdue
 *   renewal starts before the lapse is noticed) waits for that attempt's answer, at most R after it
 *   started, instead of dropping the VIP for the few milliseconds the answer takes.
 * - Claim (rule 2). A candidate claims when the Lease has no holder, or when the holder's heartbeat
 *   resourceVersion has not changed for at least D on this agent's clock. Taking over from a holder
 *   requires a fence: the agent re-reads the heartbeat just before the compare-and-swap and probes the
 *   wire (ARP probe / NDP solicitation) and gives up if anyone answers for the VIP. A first claim (no
 *   Lease, or one this agent never saw held) is fenced too, so that an address another machine uses
 *   is never taken; only a Lease this agent saw its holder clear is claimed without one (a handover:
 *   the holder withdrew first, and had probed the address while it held it). A candidate in
 *   quarantine — a foreign host answered its probe, or made it withdraw — does not claim until the
 *   quarantine ends; who answered, and how long the quarantine lasts, foreign-hosts.ts decides.
 * - Rank (rule 6). Candidates order themselves by rendezvous hash; the k-th waits k × claimStep after
 *   the opportunity arose, so the first-ranked usually wins without a conflict, and nothing reverts.
 *   A node seen clearing the holder of the Lease is left out of the ranking for that opportunity:
 *   only a holder clears itself, on handover or on losing carrier or eligibility (rule 5), so it
 *   will not claim, and counting it would make the next-ranked wait a step for nothing. Ranking only
 *   orders the claimers; the compare-and-swap keeps them safe whatever each one leaves out.
 * - Cordon (rule 7). A cordoned node (Node spec.unschedulable: kubectl cordon, kubectl drain, which
 *   leaves DaemonSet pods running) ranks after every uncordoned candidate. A cordoned holder whose
 *   heartbeat is confirmed hands over by rule 5's path (withdraw, then clear the holder) when it sees a
 *   live, eligible, uncordoned candidate; with none it keeps serving. Only while confirmed: the
 *   handover is a Lease write, and a holder that cannot make it would leave the VIP unserved until its
 *   heartbeat ran out. A node that claimed while cordoned keeps what it claimed until it is uncordoned
 *   or loses the Lease: the uncordoned candidates let their turn pass (one can look eligible from its
 *   Node object and still not serve, e.g. without carrier), so handing over again would make the VIP
 *   flap. Uncordoning moves nothing back (non-revertive).
 * - A candidate whose own heartbeat is not confirmed does not claim: it could not hold the Service.
 * - Rolling upgrade from 0.1.0 (rule 8 below). 0.1.0 agents elect per Service, on Leases named
 *   `vipd-svc-<namespace>.<name>`, and know nothing of address Leases. A Service's 0.1.0 Lease is a
 *   *legacy lock* on its addresses. A lock held by another live node is honoured in every phase:
 *   its holder may be announcing, so this node neither claims the address nor keeps announcing it.
 *   While a live heartbeat lacks the per-address marker (a 0.1.0 agent runs), the holder of an
 *   address Lease must also hold every legacy lock of the address before it announces: it claims
 *   each with the same rules as an address (free, or its holder dead for D and the wire quiet).
 *   Only the address holder holds locks; any other agent that finds itself holding one releases it.
 * - Collect. The ownership Lease of an address nobody should serve (deleted, or no longer asking for
 *   a VIP) is deleted by its holder on withdrawal. When the holder is dead, or the Lease has had no
 *   holder, for at least D, the live candidates delete it in rank order, so Leases of deleted
 *   Services do not pile up after their holder died.
 *
 * - Routed (bgp mode, docs/bgp.md). The address reaches the network as a host route that a routing
 *   daemon exports, and lives on lo, where no neighbour asks for it: there is no wire to fence on,
 *   and no frame of another agent's to hear. So a routed address is held as client-go holds a
 *   lease, on rule 1's first half alone: no degraded hold, no wait for a renewal in flight, and
 *   claims without a probe. A holder that is not confirmed withdraws, whatever else it sees.
 *
 * Safety argument (why two nodes do not answer at once, nor a node and another machine):
 * 1. Usual case — the API server reachable by both. The holder's last successful renewal started at
 *    t0 and it stops announcing at t0 + R unless it renews again. That renewal's new resourceVersion
 *    is written after t0, so a candidate cannot have seen it before t0; the candidate's "unchanged
 *    since" is ≥ t0 and it claims no earlier than t0 + D > t0 + R. Any renewal after t0 resets the
 *    candidate's count. This is client-go's guarantee and, like it, assumes clocks that advance at
 *    nearly the same rate (not that they agree).
 * 2. The holder is cut off from the API server but alive (degraded hold). It keeps announcing past
 *    t0 + R, so rule 1 alone no longer separates the two. The fence does: its kernel still holds the
 *    address and answers the candidate's probe, so the candidate does not claim. If the holder's
 *    agent died, the address expires after its valid lifetime (the dead-man switch) and the probe
 *    then meets silence.
 * 3. A lost probe, so both announce. The holder that cannot confirm ownership (degraded) withdraws
 *    on the first announcement by the other agent it sees; the confirmed one keeps the VIP. A holder
 *    that can confirm sees the new holder in the Lease and withdraws on that event.
 * 4. The wait for a renewal in flight keeps an address up to R past that attempt's start without
 *    confirmation. A candidate that took over meanwhile passed the fence, so this node's kernel did
 *    not answer: its address had expired. The data plane neither refreshes nor re-announces an
 *    address that is gone, and putting it back (announcing with a VIP missing) starts with a fresh
 *    read of the Lease; so a resumed holder does not reclaim a VIP that moved while it was frozen.
 * 5. Concurrent claimers. Claims are compare-and-swap on the Lease's resourceVersion: one wins, the
 *    others get 409 Conflict, re-read and decide again.
 * 6. Foreign hosts: not two agents, but a node and a machine that uses the address. A candidate
 *    probes before every claim but a handover's, so none takes an address a host answers for. A
 *    holder probes at the end of every announcement round and withdraws on a foreign answer whatever
 *    its mode (its confirmation says which agent may hold the VIP, not that the address is free on
 *    the LAN); so a host that starts using a held VIP is answered over for at most one refresh period,
 *    and one that took it during a handover for one round. The withdrawing holder deletes the Lease
 *    rather than clearing its holder: a cleared holder reads as a handover, which the next-ranked
 *    claims without probing, while a deleted Lease is a first claim, probed by whoever makes it.
 *    Quarantine only ever removes an announcement or holds back a claim, so it adds nothing to points
 *    1–5: no two agents answer at once with it any more than without it.
 * 7. One address, one Lease. Every agent names an address's Lease the same way from the address
 *    alone, so Services racing for one address (two created in one apply, each agent's informers
 *    seeing them in another order) still contend for one Lease, and at most one node holds it.
 * 8. Which Service an address serves (the older, when two ask) only decides the Events, the status
 *    and the rank order, never who may announce; so agents that see the Services differently for a
 *    moment still cannot put one address on two nodes.
 * 9. Mixed versions. Between new agents the address Lease arbitrates. Between a new agent and a
 *    0.1.0 agent the legacy lock does: the 0.1.0 agent announces only while it holds it, and a new
 *    agent only while it holds the address Lease and, while any 0.1.0 agent lives, every lock of the
 *    address. A lock is a Lease with one holder, so both cannot hold it at once. Once no 0.1.0 agent
 *    is left, locks are no longer needed, and the agents that hold them delete them.
 * 10. Cordon. A cordoned holder leaves by rule 5's handover: it takes its address off the wire before
 *    it clears the holder, so no candidate sees the Lease free while it still answers. Ranking cordoned
 *    candidates last only orders the claimers, which case 5 keeps safe whatever order they act in.
 * 11. Routed addresses. Point 1 alone carries them: the holder withdraws at t0 + R at the latest,
 *    and a candidate claims no earlier than t0 + D. Points 2 and 4 make a degraded hold and the wait
 *    for a renewal in flight safe, and both rest on the fence, so a routed holder has neither: cut
 *    off from the API server, it withdraws at R as client-go's leader stops leading. Point 1 assumes
 *    that the holder's agent runs, to withdraw. A frozen or killed one cannot, and unlike the address
 *    on lo, which its lifetime ends, a kernel route has no lifetime: the route stays exported until
 *    the agent runs again (a resumed one withdraws on the Lease event naming the new holder, or at
 *    once if its confirmation lapsed first; a restarted one sweeps it). Meanwhile the address has
 *    expired, so that node no longer accepts the traffic; docs/bgp.md lists this under Limits.
 */
import { rankCandidates } from "./ranking.ts";

export interface ElectionTimings {
  readonly leaseDuration: number;
  readonly renewDeadline: number;
  readonly claimStep: number;
}

export interface OwnHeartbeat {
  /** Start of this agent's last successful heartbeat renewal, or null if none succeeded yet. */
  readonly lastRenewalStartedAt: number | null;
  /** True while every renewal attempt since the last success failed to reach the API server. */
  readonly apiUnreachable: boolean;
  /** Start of the renewal attempt still waiting for its answer, or null if none is. */
  readonly renewalInFlightSince: number | null;
}

/** One 0.1.0 per-Service Lease governing this address (see rule 8). */
export interface LegacyLock {
  /** namespace/name of the Service the Lease is for. */
  readonly serviceKey: string;
  readonly exists: boolean;
  /** Holder named by the Lease; null when it is missing or has no holder. */
  readonly holder: string | null;
  /** How long that holder's heartbeat has been seen unchanged (0 for self or no holder). */
  readonly holderSilentFor: number;
}

export interface LegacyLocks {
  /** A live heartbeat lacks the per-address marker: a 0.1.0 agent runs, so the locks must be held. */
  readonly required: boolean;
  readonly locks: readonly LegacyLock[];
}

export interface ElectionInput {
  readonly self: string;
  readonly now: number;
  readonly timings: ElectionTimings;
  /**
   * The rendezvous hash key: the key of the Service the address serves, so that the addresses of a
   * dual-stack Service rank the nodes alike and move together.
   */
  readonly rankKey: string;
  /** A Service asks for this address and would be served: type LoadBalancer, our class, valid. */
  readonly wanted: boolean;
  /** Rule 7 for this node and this Service, including carrier on the VIP interface. */
  readonly selfEligible: boolean;
  /** Carrier on the interface that carries (or would carry) the VIPs. */
  readonly carrier: boolean;
  /**
   * The address is announced on the segment (l2), so the wire can be fenced and heard; false for a
   * routed address (the Routed rule above).
   */
  readonly onTheWire: boolean;
  /** Other nodes eligible for this Service whose heartbeats this agent sees alive. */
  readonly otherCandidates: readonly string[];
  /**
   * The nodes among this one and otherCandidates that are cordoned (Node spec.unschedulable); empty
   * when the cordon rule is turned off.
   */
  readonly cordoned: readonly string[];
  /** This node claimed the Lease it holds while cordoned, and has been cordoned ever since. */
  readonly claimedWhileCordoned: boolean;
  /** The ownership Lease exists (with or without a holder). */
  readonly leaseExists: boolean;
  /** Holder named by the ownership Lease; null when the Lease is missing or has no holder. */
  readonly holder: string | null;
  /** When this agent first saw the Lease without a holder (or missing); null when it has one. */
  readonly freeSince: number | null;
  /** The node this agent saw clear the Lease's holder, making it free since freeSince; null if none. */
  readonly releasedBy: string | null;
  /** How long the holder's heartbeat has been seen unchanged (HeartbeatTracker.silentFor). */
  readonly holderSilentFor: number;
  readonly ownHeartbeat: OwnHeartbeat;
  /** This agent currently has the VIPs on its interface and announces them. */
  readonly announcing: boolean;
  /** Last time another agent's MAC announced or answered for one of the VIPs; null if never. */
  readonly agentClaimSeenAt: number | null;
  /**
   * End of this agent's quarantine of the VIPs (a host that is no agent answered for one of them),
   * while it runs; null when there is none or it is over.
   */
  readonly quarantinedUntil: number | null;
  readonly legacy: LegacyLocks;
}

export type WithdrawReason =
  | "service-not-served"
  | "carrier-lost"
  | "not-eligible"
  | "cordoned"
  | "held-by-other"
  | "not-held"
  | "renewal-expired"
  | "agent-claim-in-degraded-hold"
  | "foreign-host-claims-vip"
  | "held-by-legacy-agent";

/**
 * What the agent does with the ownership Lease after withdrawing: leave it (it cannot reach the API
 * server, or it no longer holds it), clear the holder so candidates claim on the event (handover,
 * rule 5), or delete it because the Service is no longer served.
 */
/** Why decide() waits; each names what ends the wait (`until`, or a heartbeat falling silent). */
export type WaitReason =
  /** A live node holds a 0.1.0 per-Service lock of the address (rule 8). */
  | "legacy-lock-held"
  /** This node's heartbeat renewal is still in flight, within R of its start. */
  | "renewal-in-flight"
  /** Another candidate ranks before this one: its turn comes a claim step later. */
  | "claim-step"
  /** A Lease nothing asks for any more, until its holder has been silent (or it free) for D. */
  | "orphan-not-dead-yet"
  /** A host that is no agent answered for the address (foreign-hosts.ts). */
  | "quarantined"
  /** The holder's heartbeat is alive. */
  | "holder-alive";

/** Why decide() does nothing, and nothing is to be waited for. */
export type IdleReason =
  /** Nothing asks for the address and it has no Lease. */
  | "not-asked"
  /** This node cannot carry it (eligibility, carrier, interface). */
  | "not-eligible"
  /** This node's heartbeat was not renewed within R: it can neither claim nor confirm. */
  | "unconfirmed";

/** Why a Lease nothing asks for is removed. */
export type CollectReason =
  | "no-holder-for-d"
  | "holder-dead"
  /** The address is no longer elected (ecmp mode, all-active.ts). */
  | "not-elected";

export type LeaseRelease = "keep" | "clear-holder" | "delete";

export type Decision =
  /** all-active: ecmp mode's, not elected (all-active.ts). */
  | { readonly action: "announce"; readonly mode: "confirmed" | "degraded" | "all-active" }
  | { readonly action: "withdraw"; readonly reason: WithdrawReason; readonly release: LeaseRelease }
  | {
      readonly action: "claim";
      readonly takeoverFrom: string | null;
      /** Probe the wire first: every claim but that of a Lease seen handed over (see Claim above). */
      readonly fence: boolean;
    }
  /** Rule 8: take a 0.1.0 per-Service Lease of this address, as the address's holder. */
  | { readonly action: "claim-legacy"; readonly serviceKey: string; readonly takeoverFrom: string | null }
  /** Rule 8: this node holds a legacy lock of an address it does not hold; clear its holder. */
  | { readonly action: "release-legacy"; readonly serviceKey: string }
  | { readonly action: "collect"; readonly reason: CollectReason }
  | {
      readonly action: "wait";
      readonly until: number;
      readonly reason: WaitReason;
      /**
       * The node whose heartbeat must fall silent for D to end this wait. `until` is only the
       * earliest that can happen; each renewal moves it on, so the caller watches the node, not a clock.
       */
      readonly untilSilent?: string;
    }
  | { readonly action: "idle"; readonly reason: IdleReason };

function confirmed(input: ElectionInput): boolean {
  const started = input.ownHeartbeat.lastRenewalStartedAt;
  return started !== null && input.now - started < input.timings.renewDeadline;
}

/** A legacy lock held by another node whose heartbeat is not dead: it may be announcing. */
function lockHeldByLiveOther(input: ElectionInput): LegacyLock | undefined {
  return input.legacy.locks.find(
    (lock) =>
      lock.holder !== null &&
      lock.holder !== input.self &&
      lock.holderSilentFor < input.timings.leaseDuration,
  );
}

// Rule 8 for the holder of the address Lease, once the ordinary rules would have it announce.
function gateOnLegacyLocks(input: ElectionInput, announce: Decision): Decision {
  const blocking = lockHeldByLiveOther(input);
  if (blocking?.holder != null) {
    if (input.announcing) return { action: "withdraw", reason: "held-by-legacy-agent", release: "keep" };
    const diedAt = input.now - blocking.holderSilentFor + input.timings.leaseDuration;
    return {
      action: "wait",
      until: diedAt,
      reason: "legacy-lock-held",
      untilSilent: blocking.holder,
    };
  }
  if (!input.legacy.required || !confirmed(input)) return announce;
  const missing = input.legacy.locks.find((lock) => lock.holder !== input.self);
  if (missing === undefined) return announce;
  return { action: "claim-legacy", serviceKey: missing.serviceKey, takeoverFrom: missing.holder };
}

function decideAsHolder(input: ElectionInput): Decision {
  if (!input.wanted) return { action: "withdraw", reason: "service-not-served", release: "delete" };
  if (!input.carrier) return { action: "withdraw", reason: "carrier-lost", release: "clear-holder" };
  if (!input.selfEligible) return { action: "withdraw", reason: "not-eligible", release: "clear-holder" };
  if (input.quarantinedUntil !== null) {
    // Without the API server the Lease stays; once this node is confirmed again, still quarantined,
    // this rule deletes it (a later re-announcement is probed first, by the caller).
    return {
      action: "withdraw",
      reason: "foreign-host-claims-vip",
      release: confirmed(input) ? "delete" : "keep",
    };
  }
  if (confirmed(input)) {
    if (cordonHandsOver(input)) return { action: "withdraw", reason: "cordoned", release: "clear-holder" };
    return gateOnLegacyLocks(input, { action: "announce", mode: "confirmed" });
  }
  const lastConfirmed = input.ownHeartbeat.lastRenewalStartedAt;
  if (!input.announcing) return { action: "idle", reason: "unconfirmed" };
  if (!input.onTheWire) return { action: "withdraw", reason: "renewal-expired", release: "keep" };
  if (!input.ownHeartbeat.apiUnreachable || lastConfirmed === null) {
    const inFlight = input.ownHeartbeat.renewalInFlightSince;
    if (inFlight !== null && input.now - inFlight < input.timings.renewDeadline) {
      return { action: "wait", until: inFlight + input.timings.renewDeadline, reason: "renewal-in-flight" };
    }
    return { action: "withdraw", reason: "renewal-expired", release: "keep" };
  }
  if (input.agentClaimSeenAt !== null && input.agentClaimSeenAt >= lastConfirmed) {
    return { action: "withdraw", reason: "agent-claim-in-degraded-hold", release: "keep" };
  }
  return gateOnLegacyLocks(input, { action: "announce", mode: "degraded" });
}

/** Rule 7: a cordoned holder gives way to a live, eligible, uncordoned candidate, once. */
function cordonHandsOver(input: ElectionInput): boolean {
  return (
    input.cordoned.includes(input.self) &&
    !input.claimedWhileCordoned &&
    input.otherCandidates.some((node) => !input.cordoned.includes(node))
  );
}

/** The input with a node that will not claim (dead, or handing over) left out of the ranking. */
function withoutCandidate(input: ElectionInput, node: string | null): ElectionInput {
  return { ...input, otherCandidates: input.otherCandidates.filter((candidate) => candidate !== node) };
}

function whenRanked(input: ElectionInput, opportunityAt: number, act: Decision): Decision {
  const ranking = rankCandidates([input.self, ...input.otherCandidates], input.rankKey, input.cordoned);
  const readyAt = opportunityAt + ranking.indexOf(input.self) * input.timings.claimStep;
  if (input.now < readyAt) {
    return {
      action: "wait",
      until: readyAt,
      reason: "claim-step",
    };
  }
  return act;
}

function claimWhenRanked(
  input: ElectionInput,
  opportunityAt: number,
  claim: { readonly takeoverFrom: string | null; readonly fence: boolean },
): Decision {
  return whenRanked(input, opportunityAt, { action: "claim", ...claim });
}

function collectWhenOrphaned(input: ElectionInput): Decision {
  if (!input.leaseExists) return { action: "idle", reason: "not-asked" };
  if (!confirmed(input)) return { action: "idle", reason: "unconfirmed" };
  const orphanedAt =
    input.holder === null
      ? (input.freeSince ?? input.now) + input.timings.leaseDuration
      : input.now - input.holderSilentFor + input.timings.leaseDuration;
  if (input.now < orphanedAt) {
    return {
      action: "wait",
      until: orphanedAt,
      reason: "orphan-not-dead-yet",
      ...(input.holder === null ? {} : { untilSilent: input.holder }),
    };
  }
  return whenRanked(withoutCandidate(input, input.holder), orphanedAt, {
    action: "collect",
    reason: input.holder === null ? "no-holder-for-d" : "holder-dead",
  });
}

function decideAsCandidate(input: ElectionInput): Decision {
  if (input.announcing) {
    return {
      action: "withdraw",
      reason: input.holder === null ? "not-held" : "held-by-other",
      release: "keep",
    };
  }
  const ownLock = input.legacy.locks.find((lock) => lock.holder === input.self);
  if (ownLock !== undefined && confirmed(input))
    return { action: "release-legacy", serviceKey: ownLock.serviceKey };
  if (!input.wanted) return collectWhenOrphaned(input);
  if (!input.carrier || !input.selfEligible) return { action: "idle", reason: "not-eligible" };
  if (!confirmed(input)) return { action: "idle", reason: "unconfirmed" };
  if (input.quarantinedUntil !== null) {
    return {
      action: "wait",
      until: input.quarantinedUntil,
      reason: "quarantined",
    };
  }
  const blocking = lockHeldByLiveOther(input);
  if (blocking?.holder != null) {
    return {
      action: "wait",
      until: input.now - blocking.holderSilentFor + input.timings.leaseDuration,
      reason: "legacy-lock-held",
      untilSilent: blocking.holder,
    };
  }
  if (input.holder === null) {
    return claimWhenRanked(withoutCandidate(input, input.releasedBy), input.freeSince ?? input.now, {
      takeoverFrom: null,
      fence: input.onTheWire && input.releasedBy === null,
    });
  }
  const silentFor = input.holderSilentFor;
  const diedAt = input.now - silentFor + input.timings.leaseDuration;
  if (input.now < diedAt)
    return { action: "wait", until: diedAt, reason: "holder-alive", untilSilent: input.holder };
  return claimWhenRanked(withoutCandidate(input, input.holder), diedAt, {
    takeoverFrom: input.holder,
    fence: input.onTheWire,
  });
}

export function decide(input: ElectionInput): Decision {
  return input.holder === input.self ? decideAsHolder(input) : decideAsCandidate(input);
}
