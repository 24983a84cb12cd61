/**
 * Hosts on the LAN that are not vipd agents (issue 13; docs/design.md's rule 2, the probe before a
 * first claim): an address another machine answers for is never taken, and a holder that finds one
 * answering for its VIP gives the VIP up. Two pure parts: who sent a claim heard on the wire, and the
 * quarantine that keeps this agent off an address a foreign host answers for, with its backoff. The
 * reconciler feeds them what the wire and the Lease informer show; decide() reads the quarantine's end.
 *
 * Who answers. Every agent publishes the MACs of its VIP-capable interfaces on its heartbeat Lease
 * (`vipd.io/macs`), and the data plane drops frames from any of this node's own interfaces before
 * they get here. A MAC another agent publishes is "another agent": its kernel still holds the address
 * (a dead holder whose address has not expired yet, or two holders after a lost probe), and the
 * election settles that — rule 2's fence waits, rule 1(b) makes a degraded holder yield. Any other
 * MAC is a foreign host, with one exception: while a live agent publishes no MACs at all (a 0.1.0
 * agent during a rolling upgrade), or the holder being taken over publishes none, an unknown MAC may
 * be that agent's, and it is taken for one. That errs towards the election, which is what 0.1.0 did
 * with every MAC: a fence that hears it still does not claim (it waits and probes again), and only a
 * confirmed holder keeps its VIP instead of withdrawing. Protection against foreign hosts is back in
 * full once every agent publishes its MACs; the other choice would have a new agent withdraw VIPs
 * from under an old one in every upgrade.
 *
 * Quarantine. A foreign host answering starts one: no claim of the address before `until`. The first
 * wait is `firstWaitMs`; an answer heard at a retry (after the wait ran out) doubles it, up to
 * `longestWaitMs`, so that a host that keeps the address costs a probe round a minute, and one that
 * let it go is followed within that minute. An address counts as free again once no foreign host has
 * answered for it for `forgetAfterMs`: the quarantine is forgotten, the next conflict starts again
 * at the first wait and is reported again. Each conflict is reported once per address and MAC while
 * remembered, not on every retry.
 *
 * Safety. A quarantine only ever keeps this agent from announcing (no claim; a holder withdraws), so
 * it cannot make two agents answer at once: rules 1–3 of decide.ts hold with it as without it. What it
 * can cost is availability, if an agent's MAC were taken for a foreign host. It is not: an agent's
 * heartbeat (with its MACs) is written before its first claim and renewed with any change of them
 * within a retry period, and agents only hear each other claim one VIP after a takeover or a lost
 * probe, long after that. A heartbeat is deleted on a polite stop, after its agent withdrew, or when
 * its Node object is gone (a machine that left the cluster, whose MACs are no agent's any more).
 */

export type Claimant = "agent" | "foreign-host";

/** What the heartbeat Leases say of the agents' MACs. */
export interface AgentMacs {
  /** MACs the agents publish on their heartbeat Leases (vipd.io/macs), lower case. */
  readonly published: ReadonlySet<string>;
  /** Nodes whose heartbeat Lease publishes no MAC list (0.1.0 agents). */
  readonly withoutMacs: readonly string[];
}

export interface ClaimantInput {
  readonly mac: string;
  readonly agents: AgentMacs;
  /** Other nodes whose heartbeats are alive. */
  readonly liveNodes: readonly string[];
  /** The node named by the ownership Lease (the one a takeover is from), or null. */
  readonly holder: string | null;
}

export function claimantOf(input: ClaimantInput): Claimant {
  if (input.agents.published.has(input.mac.toLowerCase())) return "agent";
  const live = new Set(input.liveNodes);
  const mayBeAgent = input.agents.withoutMacs.some((node) => live.has(node) || node === input.holder);
  return mayBeAgent ? "agent" : "foreign-host";
}

export interface QuarantinePolicy {
  readonly firstWaitMs: number;
  readonly longestWaitMs: number;
  readonly forgetAfterMs: number;
}

/** 2 s doubling to a minute; forgotten after five quiet minutes. */
export const QUARANTINE: QuarantinePolicy = {
  firstWaitMs: 2000,
  longestWaitMs: 60_000,
  forgetAfterMs: 300_000,
};

export interface Quarantine {
  /** The address and the MAC the last foreign answer was about and from. */
  readonly ip: string;
  readonly mac: string;
  readonly lastAnsweredAt: number;
  readonly waitMs: number;
  /** No claim of the address before this. */
  readonly until: number;
}

/** What remains of a quarantine at `now`: nothing once no foreign host answered for forgetAfterMs. */
export function remembered(
  quarantine: Quarantine | null,
  now: number,
  policy: QuarantinePolicy = QUARANTINE,
): Quarantine | null {
  return quarantine !== null && now - quarantine.lastAnsweredAt < policy.forgetAfterMs ? quarantine : null;
}

/** The end of the quarantine if it is still running at `now`, else null. */
export function quarantinedUntil(quarantine: Quarantine | null, now: number): number | null {
  return quarantine !== null && now < quarantine.until ? quarantine.until : null;
}

/**
 * A foreign host answered for `answer.ip` at `now`. An answer while the wait still runs (more replies
 * to one probe round) changes only who answered and when; one at a retry doubles the wait. `report`
 * says whether this is news: no quarantine was remembered, or the address or MAC differ.
 */
export function foreignHostAnswered(
  previous: Quarantine | null,
  answer: { readonly ip: string; readonly mac: string },
  now: number,
  policy: QuarantinePolicy = QUARANTINE,
): { readonly quarantine: Quarantine; readonly report: boolean } {
  const known = remembered(previous, now, policy);
  const mac = answer.mac.toLowerCase();
  if (known === null) {
    return {
      quarantine: {
        ip: answer.ip,
        mac,
        lastAnsweredAt: now,
        waitMs: policy.firstWaitMs,
        until: now + policy.firstWaitMs,
      },
      report: true,
    };
  }
  const running = now < known.until;
  const waitMs = running ? known.waitMs : Math.min(known.waitMs * 2, policy.longestWaitMs);
  return {
    quarantine: {
      ip: answer.ip,
      mac,
      lastAnsweredAt: now,
      waitMs,
      until: running ? known.until : now + waitMs,
    },
    report: known.ip !== answer.ip || known.mac !== mac,
  };
}
