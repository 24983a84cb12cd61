// Pure readings of one failover repetition: what the client, the wire and the nodes' kernels saw
// around the fault, reduced to the figures of issue 5 §1.
import {
  claimRuns,
  doubleAnswers,
  holdings,
  outages,
  overlaps,
  type ClaimRun,
  type DoubleAnswer,
  type Holding,
  type Overlap,
} from "../../test/lab/analysis.ts";
import type { AddressSample, ProbeSample, WireFrame } from "../../test/lab/index.ts";
import type { ProbeRun } from "./results.ts";
import type { StatusChange } from "./status-watch.ts";

export interface RepetitionObservations {
  readonly vip: string;
  readonly holderBefore: string;
  readonly faultNs: number;
  readonly samples: readonly ProbeSample[];
  readonly frames: readonly WireFrame[];
  readonly addresses: readonly AddressSample[];
  readonly statusChanges: readonly StatusChange[];
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
  const longest = Math.max(0, ...outages(ordered, { fromNs: faultNs }).map((outage) => outage.durationNs));
  const statusChange =
    holderAfter === null || holderAfter === holderBefore
      ? undefined
      : observed.statusChanges.find(
          (change) => change.atNs >= faultNs && change.holder === holderAfter && change.ingress.includes(vip),
        );
  const doubles = doubleAnswers(observed.frames, { ip: vip });
  const overlapping = overlaps(observed.addresses);
  return {
    holderAfter,
    outageMs: ms(longest),
    lostProbes: afterFault.filter((sample) => sample.node === null).length,
    faultToNewHolderMs: newHolderReply === undefined ? null : ms(newHolderReply.sentNs - faultNs),
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
