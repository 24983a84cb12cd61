// Pure readings of what the lab observed: who served, how long the client went unanswered, and
// whether two nodes ever held or claimed one IP at the same moment. All times are CLOCK_MONOTONIC
// nanoseconds, as the probe, the samplers and the wire observer record them.
import type { AddressSample } from "./address-sampler.ts";
import type { ProbeSample } from "./probe.ts";
import type { WireFrame } from "./wire-observer.ts";

export interface ServedRun {
  readonly node: string;
  readonly fromNs: number;
  readonly toNs: number;
  readonly replies: number;
}

function bySeq(samples: readonly ProbeSample[]): ProbeSample[] {
  return [...samples].sort((a, b) => a.seq - b.seq);
}

/** Consecutive answers by the same node, in sequence order; timeouts do not end a run. */
export function servedBy(samples: readonly ProbeSample[]): ServedRun[] {
  const runs: ServedRun[] = [];
  for (const sample of bySeq(samples)) {
    if (sample.node === null) continue;
    const last = runs.at(-1);
    if (last?.node === sample.node)
      runs[runs.length - 1] = { ...last, toNs: sample.sentNs, replies: last.replies + 1 };
    else runs.push({ node: sample.node, fromNs: sample.sentNs, toNs: sample.sentNs, replies: 1 });
  }
  return runs;
}

export interface Outage {
  /** When the last answered request before the gap was sent. */
  readonly fromNs: number;
  /** When the first answered request after the gap was sent (the last request, if none was). */
  readonly toNs: number;
  readonly durationNs: number;
  /** Requests sent in between that got no answer. */
  readonly lost: number;
  readonly before: string;
  /** Who answered after the gap; null if nobody did before the probe stopped. */
  readonly after: string | null;
}

/**
 * Gaps between consecutive answered requests, in sequence order. The probe sends at a fixed
 * interval, so a gap longer than one interval is exactly a run of unanswered requests; counting by
 * sequence number needs no interval and is not fooled by a late timer. Requests unanswered before
 * the first answer are the path being set up, not an outage.
 */
export function outages(samples: readonly ProbeSample[]): Outage[] {
  const found: Outage[] = [];
  let answered: (ProbeSample & { node: string }) | undefined;
  let lost = 0;
  let last: ProbeSample | undefined;
  for (const sample of bySeq(samples)) {
    last = sample;
    if (sample.node === null) {
      lost += 1;
      continue;
    }
    if (answered !== undefined && lost > 0)
      found.push({
        fromNs: answered.sentNs,
        toNs: sample.sentNs,
        durationNs: sample.sentNs - answered.sentNs,
        lost,
        before: answered.node,
        after: sample.node,
      });
    answered = { ...sample, node: sample.node };
    lost = 0;
  }
  if (answered !== undefined && last !== undefined && lost > 0)
    found.push({
      fromNs: answered.sentNs,
      toNs: last.sentNs,
      durationNs: last.sentNs - answered.sentNs,
      lost,
      before: answered.node,
      after: null,
    });
  return found;
}

export interface Overlap {
  readonly fromNs: number;
  readonly toNs: number;
  readonly nodes: readonly string[];
}

/**
 * Intervals during which two or more nodes held the IP at once. Each node's state holds from one
 * of its samples to the next; an overlap still open at the last sample ends there.
 */
export function overlaps(samples: readonly AddressSample[]): Overlap[] {
  const ordered = [...samples].sort((a, b) => a.timeNs - b.timeNs);
  const holding = new Set<string>();
  const found: Overlap[] = [];
  let open: { fromNs: number; nodes: Set<string> } | undefined;
  for (const sample of ordered) {
    if (sample.present) holding.add(sample.node);
    else holding.delete(sample.node);
    if (holding.size >= 2) {
      open ??= { fromNs: sample.timeNs, nodes: new Set() };
      for (const node of holding) open.nodes.add(node);
    } else if (open !== undefined) {
      found.push({ fromNs: open.fromNs, toNs: sample.timeNs, nodes: [...open.nodes].sort() });
      open = undefined;
    }
  }
  const end = ordered.at(-1)?.timeNs;
  if (open !== undefined && end !== undefined)
    found.push({ fromNs: open.fromNs, toNs: end, nodes: [...open.nodes].sort() });
  return found;
}

/** The IP a frame tells its listeners is at its sender's MAC, if any. */
export function claimedIp(frame: WireFrame): string | undefined {
  switch (frame.kind) {
    case "arp-reply":
      return frame.targetIp;
    // Every ARP request also teaches listeners its sender's address (a gratuitous one does nothing
    // else), except an ARP probe's, which is 0.0.0.0 precisely so that it claims nothing.
    case "arp-request":
      return frame.senderIp === "0.0.0.0" ? undefined : frame.senderIp;
    case "na":
      return frame.targetIp;
    case "ns":
      return undefined;
  }
}

export interface DoubleAnswer {
  readonly ip: string;
  readonly first: WireFrame;
  readonly second: WireFrame;
}

/**
 * Pairs of frames in which two different MACs claim one IP within windowNs of each other: two
 * nodes answering for (or announcing) the same address at once. A clean handover has the old
 * owner's last claim and the new owner's first further apart than the window the caller picks.
 */
export function doubleAnswers(frames: readonly WireFrame[], windowNs: number): DoubleAnswer[] {
  const lastClaim = new Map<string, WireFrame>();
  const found: DoubleAnswer[] = [];
  // Within one IP, a pair of different MACs inside the window implies an adjacent such pair, so
  // comparing each claim with the one before it finds them all.
  for (const frame of [...frames].sort((a, b) => a.timeNs - b.timeNs)) {
    const ip = claimedIp(frame);
    if (ip === undefined) continue;
    const previous = lastClaim.get(ip);
    if (
      previous !== undefined &&
      previous.senderMac !== frame.senderMac &&
      frame.timeNs - previous.timeNs <= windowNs
    )
      found.push({ ip, first: previous, second: frame });
    lastClaim.set(ip, frame);
  }
  return found;
}
