/**
 * The election of DESIGN.md section 2 as one pure function: given what an agent knows about one
 * Service at one instant, what should it do? Everything effectful (Lease writes, addresses, frames)
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
 * - A candidate whose own heartbeat is not confirmed does not claim: it could not hold the Service.
 * - Collect. The ownership Lease of a Service nobody should serve (deleted, or no longer asking for
 *   a VIP) is deleted by its holder on withdrawal. When the holder is dead, or the Lease has had no
 *   holder, for at least D, the live candidates delete it in rank order, so Leases of deleted
 *   Services do not pile up after their holder died.
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

export interface ElectionInput {
  readonly self: string;
  readonly now: number;
  readonly timings: ElectionTimings;
  /** namespace/name of the Service; the rendezvous hash key. */
  readonly serviceKey: string;
  /** The Service asks to be served: type LoadBalancer, our class, valid VIPs, not ignored. */
  readonly wanted: boolean;
  /** Rule 7 for this node and this Service, including carrier on the VIP interface. */
  readonly selfEligible: boolean;
  /** Carrier on the interface that carries (or would carry) the VIPs. */
  readonly carrier: boolean;
  /** Other nodes eligible for this Service whose heartbeats this agent sees alive. */
  readonly otherCandidates: readonly string[];
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
}

export type WithdrawReason =
  | "service-not-served"
  | "carrier-lost"
  | "not-eligible"
  | "held-by-other"
  | "not-held"
  | "renewal-expired"
  | "agent-claim-in-degraded-hold"
  | "foreign-host-claims-vip";

/**
 * What the agent does with the ownership Lease after withdrawing: leave it (it cannot reach the API
 * server, or it no longer holds it), clear the holder so candidates claim on the event (handover,
 * rule 5), or delete it because the Service is no longer served.
 */
export type LeaseRelease = "keep" | "clear-holder" | "delete";

export type Decision =
  | { readonly action: "announce"; readonly mode: "confirmed" | "degraded" }
  | { readonly action: "withdraw"; readonly reason: WithdrawReason; readonly release: LeaseRelease }
  | {
      readonly action: "claim";
      readonly takeoverFrom: string | null;
      /** Probe the wire first: every claim but that of a Lease seen handed over (see Claim above). */
      readonly fence: boolean;
    }
  | { readonly action: "collect"; readonly reason: string }
  | {
      readonly action: "wait";
      readonly until: number;
      readonly reason: string;
      /**
       * The node whose heartbeat must fall silent for D to end this wait. `until` is only the
       * earliest that can happen; each renewal moves it on, so the caller watches the node, not a clock.
       */
      readonly untilSilent?: string;
    }
  | { readonly action: "idle"; readonly reason: string };

function confirmed(input: ElectionInput): boolean {
  const started = input.ownHeartbeat.lastRenewalStartedAt;
  return started !== null && input.now - started < input.timings.renewDeadline;
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
  if (confirmed(input)) return { action: "announce", mode: "confirmed" };
  const lastConfirmed = input.ownHeartbeat.lastRenewalStartedAt;
  if (!input.announcing || !input.ownHeartbeat.apiUnreachable || lastConfirmed === null) {
    if (!input.announcing)
      return { action: "idle", reason: "ownership cannot be confirmed: heartbeat not renewed within R" };
    const inFlight = input.ownHeartbeat.renewalInFlightSince;
    if (inFlight !== null && input.now - inFlight < input.timings.renewDeadline) {
      return { action: "wait", until: inFlight + input.timings.renewDeadline, reason: "renewal in flight" };
    }
    return { action: "withdraw", reason: "renewal-expired", release: "keep" };
  }
  if (input.agentClaimSeenAt !== null && input.agentClaimSeenAt >= lastConfirmed) {
    return { action: "withdraw", reason: "agent-claim-in-degraded-hold", release: "keep" };
  }
  return { action: "announce", mode: "degraded" };
}

/** The input with a node that will not claim (dead, or handing over) left out of the ranking. */
function withoutCandidate(input: ElectionInput, node: string | null): ElectionInput {
  return { ...input, otherCandidates: input.otherCandidates.filter((candidate) => candidate !== node) };
}

function whenRanked(input: ElectionInput, opportunityAt: number, act: Decision): Decision {
  const ranking = rankCandidates([input.self, ...input.otherCandidates], input.serviceKey);
  const readyAt = opportunityAt + ranking.indexOf(input.self) * input.timings.claimStep;
  if (input.now < readyAt) {
    return {
      action: "wait",
      until: readyAt,
      reason: `ranked ${ranking.indexOf(input.self) + 1} of ${ranking.length}`,
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
  if (!input.leaseExists) return { action: "idle", reason: "service not served" };
  if (!confirmed(input)) return { action: "idle", reason: "own heartbeat not renewed within R" };
  const orphanedAt =
    input.holder === null
      ? (input.freeSince ?? input.now) + input.timings.leaseDuration
      : input.now - input.holderSilentFor + input.timings.leaseDuration;
  const whose = input.holder === null ? "nobody" : input.holder;
  if (input.now < orphanedAt) {
    return {
      action: "wait",
      until: orphanedAt,
      reason: `unserved Service's Lease held by ${whose}`,
      ...(input.holder === null ? {} : { untilSilent: input.holder }),
    };
  }
  return whenRanked(withoutCandidate(input, input.holder), orphanedAt, {
    action: "collect",
    reason: input.holder === null ? "no holder for D" : `holder ${input.holder} dead`,
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
  if (!input.wanted) return collectWhenOrphaned(input);
  if (!input.carrier || !input.selfEligible) return { action: "idle", reason: "not eligible" };
  if (!confirmed(input)) return { action: "idle", reason: "own heartbeat not renewed within R" };
  if (input.quarantinedUntil !== null) {
    return {
      action: "wait",
      until: input.quarantinedUntil,
      reason: "quarantined: a host that is no vipd agent answers for the VIP",
    };
  }
  if (input.holder === null) {
    return claimWhenRanked(withoutCandidate(input, input.releasedBy), input.freeSince ?? input.now, {
      takeoverFrom: null,
      fence: input.releasedBy === null,
    });
  }
  const silentFor = input.holderSilentFor;
  const diedAt = input.now - silentFor + input.timings.leaseDuration;
  if (input.now < diedAt)
    return { action: "wait", until: diedAt, reason: `held by ${input.holder}`, untilSilent: input.holder };
  return claimWhenRanked(withoutCandidate(input, input.holder), diedAt, {
    takeoverFrom: input.holder,
    fence: true,
  });
}

export function decide(input: ElectionInput): Decision {
  return input.holder === input.self ? decideAsHolder(input) : decideAsCandidate(input);
}
