// Pure readings of what the lab observed: who served, how long the client got no answer, and
// whether two nodes ever held or claimed one IP at the same moment.
import type { AddressSample, ProbeSample, WireFrame } from "./observers.ts";

export interface ServedRun {
  readonly node: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly replies: number;
}

/** Consecutive answers by the same node, in order; timeouts end no run. */
export function servedBy(samples: readonly ProbeSample[]): ServedRun[] {
  const runs: ServedRun[] = [];
  for (const sample of samples) {
    if (sample.node === null) continue;
    const last = runs.at(-1);
    if (last?.node === sample.node)
      runs[runs.length - 1] = { ...last, toMs: sample.sentMs, replies: last.replies + 1 };
    else runs.push({ node: sample.node, fromMs: sample.sentMs, toMs: sample.sentMs, replies: 1 });
  }
  return runs;
}

export interface Outage {
  /** When the last answered request before the gap was sent. */
  readonly lastReplyMs: number;
  /** When the first answered request after the gap was sent. */
  readonly firstReplyMs: number;
  readonly durationMs: number;
  readonly lost: number;
  readonly before: string;
  readonly after: string | null;
}

/** Runs of unanswered requests between answered ones (or at the end, with after = null). */
export function outages(samples: readonly ProbeSample[]): Outage[] {
  const found: Outage[] = [];
  let lastAnswered: ProbeSample | undefined;
  let lost = 0;
  for (const sample of samples) {
    if (sample.node === null) {
      lost += 1;
      continue;
    }
    if (lost > 0 && lastAnswered?.node != null) {
      found.push({
        lastReplyMs: lastAnswered.sentMs,
        firstReplyMs: sample.sentMs,
        durationMs: sample.sentMs - lastAnswered.sentMs,
        lost,
        before: lastAnswered.node,
        after: sample.node,
      });
    }
    lastAnswered = sample;
    lost = 0;
  }
  const last = samples.at(-1);
  if (lost > 0 && lastAnswered?.node != null && last !== undefined) {
    found.push({
      lastReplyMs: lastAnswered.sentMs,
      firstReplyMs: last.sentMs,
      durationMs: last.sentMs - lastAnswered.sentMs,
      lost,
      before: lastAnswered.node,
      after: null,
    });
  }
  return found;
}

export interface Overlap {
  readonly fromMs: number;
  readonly toMs: number;
  readonly nodes: readonly string[];
}

/** Intervals during which two or more nodes held the IP at once, from presence transitions. */
export function overlaps(samples: readonly AddressSample[], endMs: number): Overlap[] {
  const holding = new Set<string>();
  const found: Overlap[] = [];
  let openedAt: number | null = null;
  let openedWith: string[] = [];
  for (const sample of [...samples].sort((a, b) => a.timeMs - b.timeMs)) {
    if (sample.present) holding.add(sample.node);
    else holding.delete(sample.node);
    if (holding.size >= 2 && openedAt === null) {
      openedAt = sample.timeMs;
      openedWith = [...holding].sort();
    } else if (holding.size < 2 && openedAt !== null) {
      found.push({ fromMs: openedAt, toMs: sample.timeMs, nodes: openedWith });
      openedAt = null;
    }
  }
  if (openedAt !== null) found.push({ fromMs: openedAt, toMs: endMs, nodes: openedWith });
  return found;
}

export interface DoubleClaim {
  readonly fromMs: number;
  readonly toMs: number;
  readonly macs: readonly string[];
}

/**
 * Frames in which a MAC claims the IP as its own (an announcement or an answer), and the intervals
 * in which two MACs alternate: A claims, then B, then A again. A handover is one switch from A to B;
 * a double claim is any switch back.
 */
export function claims(frames: readonly WireFrame[], ip: string): WireFrame[] {
  return frames.filter(
    (frame) =>
      (frame.kind === "arp-reply" && frame.senderIp === ip) ||
      (frame.kind === "arp-request" && frame.senderIp === ip) ||
      (frame.kind === "na" && frame.targetIp === ip),
  );
}

export function doubleClaims(frames: readonly WireFrame[], ip: string): DoubleClaim[] {
  const ordered = claims(frames, ip).sort((a, b) => a.timeMs - b.timeMs);
  const found: DoubleClaim[] = [];
  const lastSeen = new Map<string, number>();
  let current: WireFrame | undefined;
  for (const frame of ordered) {
    if (current !== undefined && frame.senderMac !== current.senderMac) {
      const returning = lastSeen.get(frame.senderMac);
      if (returning !== undefined) {
        found.push({
          fromMs: returning,
          toMs: frame.timeMs,
          macs: [frame.senderMac, current.senderMac].sort(),
        });
      }
    }
    lastSeen.set(frame.senderMac, frame.timeMs);
    current = frame;
  }
  return found;
}
