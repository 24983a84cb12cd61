// Pure readings of what the lab observed: who served, how long the client went unanswered, and
// whether two nodes ever held, or answered for, one IP at the same moment. All times are
// CLOCK_MONOTONIC nanoseconds.
import type { AddressSample } from "./address-sampler.ts";
import type { ProbeSample } from "./probe.ts";
import type { WireFrame } from "./wire-observer.ts";

export interface ServedRun {
  readonly node: string;
  /** sentNs of the run's first and last answered requests. */
  readonly fromNs: number;
  readonly toNs: number;
  readonly replies: number;
}

/** Consecutive answers by the same node, in request order; timeouts neither end nor start a run. */
export function servedBy(samples: readonly ProbeSample[]): ServedRun[] {
  const runs: ServedRun[] = [];
  for (const sample of [...samples].sort((a, b) => a.seq - b.seq)) {
    if (sample.node === null) continue;
    const last = runs.at(-1);
    if (last?.node === sample.node)
      runs[runs.length - 1] = { ...last, toNs: sample.sentNs, replies: last.replies + 1 };
    else runs.push({ node: sample.node, fromNs: sample.sentNs, toNs: sample.sentNs, replies: 1 });
  }
  return runs;
}

export interface Outage {
  /** sentNs of the last answered request before the gap. */
  readonly lastReplyNs: number;
  /** sentNs of the first answered request after it, or of the last request when none was answered. */
  readonly firstReplyNs: number;
  /** At most one probe interval longer than the client's real outage. */
  readonly durationNs: number;
  readonly lost: number;
  readonly before: string;
  readonly after: string | null;
}

/**
 * Runs of unanswered requests after an answered one, ending at the next answer (or with after =
 * null, at the last request). Misses before the first answer are the service not being up yet, not
 * an outage. With fromNs/toNs, only outages overlapping that window.
 */
export function outages(
  samples: readonly ProbeSample[],
  window: { fromNs?: number; toNs?: number } = {},
): Outage[] {
  const ordered = [...samples].sort((a, b) => a.seq - b.seq);
  const found: Outage[] = [];
  let lastAnswered: (ProbeSample & { node: string }) | undefined;
  let lost = 0;
  const close = (endNs: number, after: string | null) => {
    if (lost === 0 || lastAnswered === undefined) return;
    const { sentNs, node } = lastAnswered;
    found.push({
      lastReplyNs: sentNs,
      firstReplyNs: endNs,
      durationNs: endNs - sentNs,
      lost,
      before: node,
      after,
    });
  };
  for (const sample of ordered) {
    if (sample.node === null) {
      lost += 1;
      continue;
    }
    close(sample.sentNs, sample.node);
    lastAnswered = { ...sample, node: sample.node };
    lost = 0;
  }
  close(ordered.at(-1)?.sentNs ?? 0, null);
  const { fromNs = -Infinity, toNs = Infinity } = window;
  return found.filter((outage) => outage.firstReplyNs >= fromNs && outage.lastReplyNs <= toNs);
}

export interface Holding {
  readonly node: string;
  /** The first and last samples that saw the IP on the node, in one unbroken run. */
  readonly fromNs: number;
  readonly toNs: number;
}

/** When each node held the IP, as far as the samples saw it (never longer than it really did). */
export function holdings(samples: readonly AddressSample[]): Holding[] {
  const open = new Map<string, Holding>();
  const found: Holding[] = [];
  for (const sample of [...samples].sort((a, b) => a.timeNs - b.timeNs)) {
    const current = open.get(sample.node);
    if (sample.present) {
      open.set(sample.node, {
        node: sample.node,
        fromNs: current?.fromNs ?? sample.timeNs,
        toNs: sample.timeNs,
      });
    } else if (current !== undefined) {
      found.push(current);
      open.delete(sample.node);
    }
  }
  found.push(...open.values());
  return found.sort((a, b) => a.fromNs - b.fromNs);
}

export interface Overlap {
  readonly fromNs: number;
  readonly toNs: number;
  readonly nodes: readonly [string, string];
}

/**
 * Intervals in which two nodes were both seen holding the IP. Built from holdings, so a handover
 * faster than the sampling interval is not mistaken for an overlap; an overlap shorter than it may
 * go unseen.
 */
export function overlaps(samples: readonly AddressSample[]): Overlap[] {
  const held = holdings(samples);
  const found: Overlap[] = [];
  held.forEach((a, index) => {
    for (const b of held.slice(index + 1)) {
      if (a.node === b.node) continue;
      const fromNs = Math.max(a.fromNs, b.fromNs);
      const toNs = Math.min(a.toNs, b.toNs);
      if (fromNs <= toNs) found.push({ fromNs, toNs, nodes: [a.node, b.node].sort() as [string, string] });
    }
  });
  return found.sort((a, b) => a.fromNs - b.fromNs);
}

function isAnswer(frame: WireFrame, ip: string): boolean {
  return (
    (frame.kind === "arp-reply" && frame.senderIp === ip) || (frame.kind === "na" && frame.targetIp === ip)
  );
}

/** Frames in which a MAC says the IP is its own: ARP replies, ARP requests sent from it, NAs. */
export function claims(frames: readonly WireFrame[], ip: string): WireFrame[] {
  return frames
    .filter((frame) => isAnswer(frame, ip) || (frame.kind === "arp-request" && frame.senderIp === ip))
    .sort((a, b) => a.timeNs - b.timeNs);
}

export interface ClaimRun {
  readonly mac: string;
  readonly fromNs: number;
  readonly toNs: number;
  readonly frames: number;
}

/** Consecutive claims by the same MAC: one run per holder, so a flapping IP shows A, B, A, B. */
export function claimRuns(frames: readonly WireFrame[], ip: string): ClaimRun[] {
  const runs: ClaimRun[] = [];
  for (const frame of claims(frames, ip)) {
    const last = runs.at(-1);
    if (last?.mac === frame.senderMac)
      runs[runs.length - 1] = { ...last, toNs: frame.timeNs, frames: last.frames + 1 };
    else runs.push({ mac: frame.senderMac, fromNs: frame.timeNs, toNs: frame.timeNs, frames: 1 });
  }
  return runs;
}

export interface DoubleAnswer {
  /** The solicitation, and the last answer to it. */
  readonly fromNs: number;
  readonly toNs: number;
  readonly macs: readonly string[];
}

/**
 * ARP requests and neighbour solicitations for the IP that more than one MAC answered within
 * windowNs (default 100 ms; on the lab's bridge answers take well under a millisecond). Two answers
 * to one question are proof that two nodes answered at once, whatever the timing of the handover.
 */
export function doubleAnswers(
  frames: readonly WireFrame[],
  options: { ip: string; windowNs?: number },
): DoubleAnswer[] {
  const { ip, windowNs = 100e6 } = options;
  const ordered = [...frames].sort((a, b) => a.timeNs - b.timeNs);
  const found: DoubleAnswer[] = [];
  ordered.forEach((question, index) => {
    const asks =
      (question.kind === "arp-request" && question.targetIp === ip && question.senderIp !== ip) ||
      (question.kind === "ns" && question.targetIp === ip);
    if (!asks) return;
    const answers: WireFrame[] = [];
    // Frames are in time order: past the window, nothing more can be an answer to this question.
    for (let next = index + 1; next < ordered.length; next++) {
      const frame = ordered[next];
      if (frame === undefined || frame.timeNs - question.timeNs > windowNs) break;
      if (isAnswer(frame, ip)) answers.push(frame);
    }
    const macs = [...new Set(answers.map((frame) => frame.senderMac))].sort();
    const last = answers.at(-1);
    if (macs.length > 1 && last !== undefined)
      found.push({ fromNs: question.timeNs, toNs: last.timeNs, macs });
  });
  return found;
}

/**
 * A capture of a set of IPs split by IP: the frames that name each as sender or target, all that the
 * readings above look at for it, so that they need not go through every frame once per IP.
 */
export function framesByIp(frames: readonly WireFrame[]): Map<string, WireFrame[]> {
  const byIp = new Map<string, WireFrame[]>();
  const add = (ip: string, frame: WireFrame) => {
    const list = byIp.get(ip);
    if (list === undefined) byIp.set(ip, [frame]);
    else list.push(frame);
  };
  for (const frame of frames) {
    add(frame.targetIp, frame);
    if (frame.senderIp !== null && frame.senderIp !== frame.targetIp) add(frame.senderIp, frame);
  }
  return byIp;
}
