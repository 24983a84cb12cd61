// Pure readings of one routed repetition (bgp or ecmp behind the router): what the far client's
// flows and the router's kernel route saw around the fault, reduced to the figures of issue 16 §4.
import { longestOutageNs, probeRuns } from "./failover-analysis.ts";
import type { RoutedMode } from "./routed-catalogue.ts";
import type { NextHopSample } from "../../lab/index.ts";
import type { FlowSample } from "./routed-observers.ts";
import type { ProbeRun } from "./results.ts";

/** Consecutive router samples with the same next hops. */
export interface HopRun {
  readonly hops: readonly string[];
  readonly fromNs: number;
  readonly toNs: number;
}

/** A run of ticks in which the flows' requests, all sent at once, were answered by two nodes or more. */
export interface TickSpan {
  readonly fromNs: number;
  readonly toNs: number;
  readonly nodes: readonly string[];
}

export interface RoutedObservations {
  readonly mode: RoutedMode;
  /** The node the fault was done to: the holder in bgp, one of the announcers in ecmp. */
  readonly faultNode: string;
  /** Its LAN address, as the router names it as a next hop. */
  readonly faultNodeAddress: string;
  readonly faultNs: number;
  /** When the way back began (the node or its agent coming back); the end of the fault's window. */
  readonly backNs: number;
  readonly intervalMs: number;
  readonly samples: readonly FlowSample[];
  readonly hops: readonly NextHopSample[];
}

export interface RoutedFigures {
  readonly flows: number;
  /** Per node, the flows it answered last before the fault: the spread over the nodes. */
  readonly flowsBefore: Readonly<Record<string, number>>;
  /** Flows the faulted node answered at the fault: all of them in bgp. */
  readonly affectedFlows: number;
  /** The longest time one of the affected flows went without an answer after the fault, ms. */
  readonly outageMs: number;
  /** The same for the flows on the other nodes: 0 unless the fault disturbed them too. */
  readonly otherOutageMs: number;
  /** Fault → every affected flow answered by another node; null if one never was before the way back. */
  readonly faultToServedMs: number | null;
  /** Flows on other nodes that were answered by a node other than their own during the fault. */
  readonly movedFlows: number;
  /** Requests unanswered between the fault and the way back. */
  readonly lostProbes: number;
  /** Requests unanswered after the way back began. */
  readonly lostOnWayBack: number;
  /** Fault → the router's route no longer names the faulted node. */
  readonly routerDropMs: number | null;
  /** Fault → the router's route names another node (bgp: the new holder's announcement arrived). */
  readonly routerNewHopMs: number | null;
  /** bgp only: when the router had two next hops or more for a single-holder address. */
  readonly multiHops: HopRun[];
  readonly multiHopMs: number;
  /** bgp only: ticks answered by two nodes or more. */
  readonly doubleAnswers: TickSpan[];
  readonly doubleAnswerMs: number;
  /** Each flow's samples as runs of one outcome, by flow number. */
  readonly flowRuns: ProbeRun[][];
  readonly hopRuns: HopRun[];
}

const ms = (ns: number) => ns / 1e6;
const arrivalNs = (sample: FlowSample) => sample.sentNs + (sample.rttUs ?? 0) * 1000;

export function hopRuns(samples: readonly NextHopSample[]): HopRun[] {
  const runs: HopRun[] = [];
  for (const sample of [...samples].sort((a, b) => a.timeNs - b.timeNs)) {
    const last = runs.at(-1);
    if (last !== undefined && last.hops.join(" ") === sample.hops.join(" "))
      runs[runs.length - 1] = { ...last, toNs: sample.timeNs };
    else runs.push({ hops: sample.hops, fromNs: sample.timeNs, toNs: sample.timeNs });
  }
  return runs;
}

/** Ticks whose answers came from two nodes or more, merged into spans of consecutive ticks. */
export function doubleAnswerTicks(samples: readonly FlowSample[], intervalMs: number): TickSpan[] {
  const byTick = new Map<number, { sentNs: number; nodes: Set<string> }>();
  for (const sample of samples) {
    if (sample.node === null) continue;
    const tick = byTick.get(sample.tick) ?? { sentNs: sample.sentNs, nodes: new Set<string>() };
    tick.sentNs = Math.min(tick.sentNs, sample.sentNs);
    tick.nodes.add(sample.node);
    byTick.set(sample.tick, tick);
  }
  const spans: (TickSpan & { lastTick: number })[] = [];
  for (const [tick, { sentNs, nodes }] of [...byTick].sort((a, b) => a[0] - b[0])) {
    if (nodes.size < 2) continue;
    const last = spans.at(-1);
    const names = [...nodes].sort();
    if (last?.lastTick === tick - 1)
      spans[spans.length - 1] = {
        ...last,
        lastTick: tick,
        toNs: sentNs + intervalMs * 1e6,
        nodes: [...new Set([...last.nodes, ...names])].sort(),
      };
    else spans.push({ lastTick: tick, fromNs: sentNs, toNs: sentNs + intervalMs * 1e6, nodes: names });
  }
  return spans.map(({ fromNs, toNs, nodes }) => ({ fromNs, toNs, nodes }));
}

function byFlow(samples: readonly FlowSample[]): Map<number, FlowSample[]> {
  const flows = new Map<number, FlowSample[]>();
  for (const sample of samples) {
    const list = flows.get(sample.flow);
    if (list === undefined) flows.set(sample.flow, [sample]);
    else list.push(sample);
  }
  for (const list of flows.values()) list.sort((a, b) => a.tick - b.tick);
  return flows;
}

const asProbeSamples = (samples: readonly FlowSample[]) =>
  samples.map((sample) => ({ ...sample, seq: sample.tick }));

export function analyzeRoutedRepetition(observed: RoutedObservations): RoutedFigures {
  const { faultNs, backNs, faultNode } = observed;
  const flows = byFlow(observed.samples);
  const flowsBefore: Record<string, number> = {};
  let affectedFlows = 0;
  let outageNs = 0;
  let otherOutageNs = 0;
  let servedNs: number | null = 0;
  let movedFlows = 0;
  for (const samples of flows.values()) {
    const before = samples.findLast((sample) => sample.sentNs < faultNs && sample.node !== null)?.node;
    if (before === undefined || before === null) continue;
    flowsBefore[before] = (flowsBefore[before] ?? 0) + 1;
    const longest = longestOutageNs(asProbeSamples(samples), faultNs);
    const during = samples.filter((sample) => sample.sentNs >= faultNs && sample.sentNs < backNs);
    if (before === faultNode) {
      affectedFlows += 1;
      outageNs = Math.max(outageNs, longest);
      const served = during.find((sample) => sample.node !== null && sample.node !== faultNode);
      servedNs =
        served === undefined || servedNs === null ? null : Math.max(servedNs, arrivalNs(served) - faultNs);
    } else {
      otherOutageNs = Math.max(otherOutageNs, longest);
      if (during.some((sample) => sample.node !== null && sample.node !== before)) movedFlows += 1;
    }
  }
  const lost = (keep: (sample: FlowSample) => boolean) =>
    observed.samples.filter((sample) => sample.node === null && keep(sample)).length;
  const runs = hopRuns(observed.hops);
  const afterFault = runs.filter((run) => run.toNs >= faultNs);
  const dropped = afterFault.find((run) => !run.hops.includes(observed.faultNodeAddress));
  const others = afterFault.find((run) => run.hops.some((hop) => hop !== observed.faultNodeAddress));
  const since = (run: HopRun | undefined) =>
    run === undefined ? null : ms(Math.max(run.fromNs, faultNs) - faultNs);
  const single = observed.mode === "bgp";
  const multiHops = single ? runs.filter((run) => run.hops.length > 1) : [];
  const doubleAnswers = single ? doubleAnswerTicks(observed.samples, observed.intervalMs) : [];
  const total = (spans: readonly { fromNs: number; toNs: number }[]) =>
    ms(spans.reduce((sum, span) => sum + (span.toNs - span.fromNs), 0));
  return {
    flows: flows.size,
    flowsBefore,
    affectedFlows,
    outageMs: ms(outageNs),
    otherOutageMs: ms(otherOutageNs),
    faultToServedMs: affectedFlows === 0 || servedNs === null ? null : ms(servedNs),
    movedFlows,
    lostProbes: lost((sample) => sample.sentNs >= faultNs && sample.sentNs < backNs),
    lostOnWayBack: lost((sample) => sample.sentNs >= backNs),
    routerDropMs: since(dropped),
    routerNewHopMs: single ? since(others) : null,
    multiHops,
    multiHopMs: total(multiHops),
    doubleAnswers,
    doubleAnswerMs: total(doubleAnswers),
    flowRuns: [...flows.keys()]
      .sort((a, b) => a - b)
      .map((flow) => probeRuns(asProbeSamples(flows.get(flow) ?? []))),
    hopRuns: runs,
  };
}
