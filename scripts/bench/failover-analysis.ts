// Pure readings of one failover repetition: what the client, the wire and the nodes' kernels saw
// around the fault, reduced to the figures of issue 5 §1.
import {
  claimRuns,
  doubleAnswers,
  holdings,
  overlaps,
  type ClaimRun,
  type DoubleAnswer,
  type Holding,
  type Overlap,
} from "../../lab/analysis.ts";
import type { AddressSample, ProbeSample, WireFrame } from "../../lab/index.ts";
import type { ProbeRun } from "./results.ts";
import type { StatusChange } from "./status-watch.ts";

/** A time when a node's LAN link was down: whatever its kernel held, nobody on the LAN could hear it. */
export interface Isolation {
  readonly node: string;
  readonly fromNs: number;
  readonly toNs: number;
}

export interface RepetitionObservations {
  readonly vip: string;
  readonly holderBefore: string;
  readonly faultNs: number;
  readonly samples: readonly ProbeSample[];
  readonly frames: readonly WireFrame[];
  readonly addresses: readonly AddressSample[];
  readonly statusChanges: readonly StatusChange[];
  readonly isolations: readonly Isolation[];
}

export interface RepetitionFigures {
  readonly holderAfter: string | null;
  readonly outageMs: number;
  readonly lostProbes: number;
  readonly faultToNewHolderMs: number | null;
  readonly statusMs: number | null;
  readonly doubleAnswerMs: number;
  readonly overlapMs: number;
  readonly probe: ProbeRun[];
  readonly claims: ClaimRun[];
  readonly doubleAnswers: DoubleAnswer[];
  readonly holdings: Holding[];
  readonly overlaps: Overlap[];
}

/** The probe's samples as runs of one outcome: lossless for who answered which request. */
export function probeRuns(samples: readonly ProbeSample[]): ProbeRun[] {
  const runs: ProbeRun[] = [];
  for (const sample of [...samples].sort((a, b) => a.seq - b.seq)) {
    const last = runs.at(-1);
    if (last?.node === sample.node && last.toSeq === sample.seq - 1)
      runs[runs.length - 1] = { ...last, toSeq: sample.seq, toNs: sample.sentNs };
    else
      runs.push({
        node: sample.node,
        fromSeq: sample.seq,
        toSeq: sample.seq,
        fromNs: sample.sentNs,
        toNs: sample.sentNs,
      });
  }
  return runs;
}

/** When the answer to a request arrived; the request may have waited in the client's neighbour queue. */
function receivedNs(sample: ProbeSample): number {
  return sample.sentNs + (sample.rttUs ?? 0) * 1000;
}

/**
 * The longest time the client went without an answer, among the gaps in which at least one
 * request went unanswered: from the arrival of the last answer before the gap to the arrival of
 * the first after it (or the last request's timeout, if nothing answered again). Arrival times,
 * not send times: requests sent during an outage can wait in the client's neighbour queue and be
 * answered when the new holder announces itself, which send times would count as served.
 */
export function longestOutageNs(samples: readonly ProbeSample[], fromNs: number): number {
  let longest = 0;
  let lastAnswerNs: number | undefined;
  let lost = 0;
  for (const sample of [...samples].sort((a, b) => a.seq - b.seq)) {
    if (sample.node === null) {
      lost += 1;
      continue;
    }
    const arrivedNs = receivedNs(sample);
    if (lost > 0 && lastAnswerNs !== undefined && arrivedNs >= fromNs)
      longest = Math.max(longest, arrivedNs - lastAnswerNs);
    lastAnswerNs = arrivedNs;
    lost = 0;
  }
  const last = samples.at(-1);
  if (lost > 0 && lastAnswerNs !== undefined && last !== undefined)
    longest = Math.max(longest, last.sentNs - lastAnswerNs);
  return longest;
}

/**
 * Overlaps of the VIP on two nodes, less the parts in which one of the two was cut off from the
 * LAN: a dead node's kernel keeps the address (the dead-man switch has yet to expire it) but
 * cannot answer anyone, which is the situation the takeover is for.
 */
export function audibleOverlaps(found: readonly Overlap[], isolations: readonly Isolation[]): Overlap[] {
  return found.flatMap((overlap) => {
    const cuts = isolations
      .filter((cut) => overlap.nodes.includes(cut.node))
      .sort((a, b) => a.fromNs - b.fromNs);
    const pieces: Overlap[] = [];
    let startNs = overlap.fromNs;
    for (const cut of cuts) {
      if (cut.toNs < startNs || cut.fromNs > overlap.toNs) continue;
      if (cut.fromNs > startNs) pieces.push({ ...overlap, fromNs: startNs, toNs: cut.fromNs });
      startNs = Math.max(startNs, cut.toNs);
    }
    if (startNs <= overlap.toNs) pieces.push({ ...overlap, fromNs: startNs });
    return pieces;
  });
}

const ms = (ns: number) => ns / 1e6;
const totalMs = (intervals: readonly { fromNs: number; toNs: number }[]) =>
  ms(intervals.reduce((sum, interval) => sum + (interval.toNs - interval.fromNs), 0));

export function analyzeRepetition(observed: RepetitionObservations): RepetitionFigures {
  const { faultNs, holderBefore, vip } = observed;
  const ordered = [...observed.samples].sort((a, b) => a.seq - b.seq);
  const afterFault = ordered.filter((sample) => sample.sentNs >= faultNs);
  const answered = ordered.filter((sample) => sample.node !== null);
  const holderAfter = answered.at(-1)?.node ?? null;
  const newHolderReply = afterFault.find((sample) => sample.node !== null && sample.node !== holderBefore);
  const longest = longestOutageNs(ordered, faultNs);
  const statusChange =
    holderAfter === null || holderAfter === holderBefore
      ? undefined
      : observed.statusChanges.find(
          (change) => change.atNs >= faultNs && change.holder === holderAfter && change.ingress.includes(vip),
        );
  const doubles = doubleAnswers(observed.frames, { ip: vip });
  const overlapping = audibleOverlaps(overlaps(observed.addresses), observed.isolations);
  return {
    holderAfter,
    outageMs: ms(longest),
    lostProbes: afterFault.filter((sample) => sample.node === null).length,
    faultToNewHolderMs: newHolderReply === undefined ? null : ms(receivedNs(newHolderReply) - faultNs),
    statusMs: statusChange === undefined ? null : ms(statusChange.atNs - faultNs),
    doubleAnswerMs: totalMs(doubles),
    overlapMs: totalMs(overlapping),
    probe: probeRuns(ordered),
    claims: claimRuns(observed.frames, vip),
    doubleAnswers: doubles,
    holdings: holdings(observed.addresses),
    overlaps: overlapping,
  };
}
