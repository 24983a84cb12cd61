// The routed suite's pure parts: the readings of the far client's flows and the router's samples,
// the agents' flags, and the report section the docs link to.
import test from "ava";
import { renderSummary } from "../../scripts/bench/report-markdown.ts";
import { routedHeadline } from "../../scripts/bench/report-routed.ts";
import { emptyResults, type RoutedRepetition } from "../../scripts/bench/results.ts";
import {
  analyzeRoutedRepetition,
  doubleAnswerTicks,
  hopRuns,
  type RoutedObservations,
} from "../../scripts/bench/routed-analysis.ts";
import { ROUTED_TIMERS, routedAgentArgs } from "../../scripts/bench/routed-catalogue.ts";
import type { NextHopSample } from "../../lab/index.ts";
import type { FlowSample } from "../../scripts/bench/routed-observers.ts";

const MS = 1e6;
const INTERVAL_MS = 20;
const NODE1 = "198.51.100.11";
const NODE2 = "198.51.100.12";
const NODE3 = "198.51.100.13";

/** Ticks 0..ticks-1 of each flow, answered by whoever answer(flow, tick) names (null: lost). */
function flowSamples(
  flows: number,
  ticks: number,
  answer: (flow: number, tick: number) => string | null,
): FlowSample[] {
  const samples: FlowSample[] = [];
  for (let tick = 0; tick < ticks; tick++)
    for (let flow = 0; flow < flows; flow++) {
      const node = answer(flow, tick);
      samples.push({ flow, tick, sentNs: tick * INTERVAL_MS * MS, node, rttUs: node === null ? null : 1000 });
    }
  return samples;
}

function hopSamples(untilMs: number, hopsAt: (atMs: number) => string[]): NextHopSample[] {
  const samples: NextHopSample[] = [];
  for (let atMs = 0; atMs < untilMs; atMs += 5) samples.push({ timeNs: atMs * MS, hops: hopsAt(atMs) });
  return samples;
}

function observations(overrides: Partial<RoutedObservations>): RoutedObservations {
  return {
    mode: "ecmp",
    faultNode: "node1",
    faultNodeAddress: NODE1,
    faultNs: 1000 * MS,
    backNs: 3000 * MS,
    intervalMs: INTERVAL_MS,
    samples: [],
    hops: [],
    ...overrides,
  };
}

test("hop runs merge equal samples; double-answer ticks merge consecutive ticks", (t) => {
  t.deepEqual(
    hopRuns([
      { timeNs: 0, hops: [NODE1] },
      { timeNs: 5, hops: [NODE1] },
      { timeNs: 10, hops: [NODE1, NODE2] },
      { timeNs: 15, hops: [] },
    ]),
    [
      { hops: [NODE1], fromNs: 0, toNs: 5 },
      { hops: [NODE1, NODE2], fromNs: 10, toNs: 10 },
      { hops: [], fromNs: 15, toNs: 15 },
    ],
  );
  const samples = flowSamples(2, 6, (flow, tick) => (tick === 2 || tick === 3 ? `node${flow + 1}` : "node1"));
  t.deepEqual(doubleAnswerTicks(samples, INTERVAL_MS), [
    { fromNs: 40 * MS, toNs: 80 * MS, nodes: ["node1", "node2"] },
  ]);
});

test("ecmp: the flows on the dead node are cut until the router drops it; the others are not", (t) => {
  // Flows 0–3 on node1, 4–7 on node2, 8–11 on node3; node1 dies at 1000 ms, the router drops it at
  // 1300 ms, and its flows go to node2 from tick 65 (1300 ms). Flow 8 is rehashed to node2.
  const home = (flow: number) => `node${Math.floor(flow / 4) + 1}`;
  const samples = flowSamples(12, 200, (flow, tick) => {
    if (home(flow) !== "node1") return flow === 8 && tick >= 65 ? "node2" : home(flow);
    if (tick < 50) return "node1";
    return tick < 65 ? null : "node2";
  });
  const figures = analyzeRoutedRepetition(
    observations({
      samples,
      hops: hopSamples(4000, (atMs) => (atMs < 1300 ? [NODE1, NODE2, NODE3] : [NODE2, NODE3])),
    }),
  );
  t.deepEqual(figures.flowsBefore, { node1: 4, node2: 4, node3: 4 });
  t.is(figures.flows, 12);
  t.is(figures.affectedFlows, 4);
  // From the answer to tick 49 (arriving at 981 ms) to the answer to tick 65 (1301 ms).
  t.is(Math.round(figures.outageMs), 320);
  t.is(figures.otherOutageMs, 0);
  t.is(Math.round(figures.faultToServedMs ?? 0), 301);
  t.is(figures.movedFlows, 1);
  t.is(figures.lostProbes, 4 * 15);
  t.is(figures.lostOnWayBack, 0);
  t.is(figures.routerDropMs, 300);
  t.is(figures.routerNewHopMs, null, "only asked of bgp");
  t.deepEqual(figures.multiHops, [], "many next hops are ecmp's point");
  t.deepEqual(figures.doubleAnswers, []);
  t.is(figures.flowRuns.length, 12);
  t.deepEqual(
    figures.flowRuns[0]?.map((run) => run.node),
    ["node1", null, "node2"],
  );
});

test("bgp: two next hops and two nodes answering one tick are counted", (t) => {
  // node1 holds; at 1000 ms it dies without BFD; node2 announces at 2000 ms, while the router still
  // has node1's route until 2500 ms; a flow reaching node2 and one reaching node1 answer tick 100.
  const samples = flowSamples(4, 200, (flow, tick) => {
    if (tick < 50) return "node1";
    if (tick === 100) return flow === 0 ? "node1" : "node2";
    if (tick < 100) return null;
    return tick < 125 && flow % 2 === 1 ? null : "node2";
  });
  const figures = analyzeRoutedRepetition(
    observations({
      mode: "bgp",
      samples,
      hops: hopSamples(4000, (atMs) => (atMs < 2000 ? [NODE1] : atMs < 2500 ? [NODE1, NODE2] : [NODE2])),
    }),
  );
  t.is(figures.affectedFlows, 4);
  t.is(figures.routerNewHopMs, 1000);
  t.is(figures.routerDropMs, 1500);
  t.is(figures.multiHops.length, 1);
  t.is(Math.round(figures.multiHopMs), 495);
  t.deepEqual(figures.doubleAnswers, [{ fromNs: 2000 * MS, toNs: 2020 * MS, nodes: ["node1", "node2"] }]);
  t.is(figures.doubleAnswerMs, 20);
  // Flow 0's first answer from another node: tick 101, sent at 2020 ms, arriving 1 ms later.
  t.is(Math.round(figures.faultToServedMs ?? 0), 1021);
});

test("an affected flow never served by another node leaves faultToServed unmeasured", (t) => {
  const samples = flowSamples(2, 100, (flow, tick) => (tick < 50 || flow === 1 ? `node${flow + 1}` : null));
  const figures = analyzeRoutedRepetition(observations({ samples }));
  t.is(figures.affectedFlows, 1);
  t.is(figures.faultToServedMs, null);
  t.is(figures.lostProbes, 50);
});

test("the agents' flags name the mode, the node's BIRD, the router as peer and the timers", (t) => {
  const args = routedAgentArgs({
    mode: "ecmp",
    bfd: false,
    timers: ROUTED_TIMERS,
    routerAddress: "198.51.100.1",
    routerAsn: 64496,
    nodeAsn: 64497,
    bird: { socketPath: "/tmp/x/node1/bird.ctl", configPath: "/tmp/x/node1/bird.conf" },
  });
  t.deepEqual(args, [
    "--announce-mode=ecmp",
    "--bgp-speaker=bird",
    "--bird-socket=/tmp/x/node1/bird.ctl",
    "--bird-config=/tmp/x/node1/bird.conf",
    "--bgp-local-asn=64497",
    "--bgp-peers=198.51.100.1:64496",
    "--bgp-hold-time=9s",
    "--bgp-keepalive-time=3s",
    "--bgp-bfd=false",
    "--bgp-bfd-interval=300ms",
    "--bgp-bfd-multiplier=3",
  ]);
});

function repetition(overrides: Partial<RoutedRepetition>): RoutedRepetition {
  const figures = analyzeRoutedRepetition(
    observations({
      samples: flowSamples(3, 100, (flow, tick) =>
        flow === 0 && tick >= 50 && tick < 60 ? null : `node${flow + 1}`,
      ),
      hops: hopSamples(2000, (atMs) => (atMs < 1100 ? [NODE1, NODE2, NODE3] : [NODE2, NODE3])),
    }),
  );
  return {
    ...figures,
    scenario: "ecmp-node-death-bfd",
    mode: "ecmp",
    profile: "fast",
    repetition: 1,
    vip: "203.0.113.200",
    faultNode: "node1",
    bfd: true,
    timers: ROUTED_TIMERS,
    faultNs: 1000 * MS,
    backNs: 3000 * MS,
    endNs: 4000 * MS,
    intervalMs: INTERVAL_MS,
    marks: [],
    ...overrides,
  };
}

test("the report has a BGP and ECMP section with the timers, the bgp and ecmp tables and the spread", (t) => {
  const results = emptyResults();
  results.routed.push(
    repetition({}),
    repetition({ scenario: "bgp-node-death-hold", mode: "bgp", bfd: false, flowsBefore: { node1: 3 } }),
  );
  const summary = renderSummary(results, { timeline: () => "", outages: "", apiRates: "" });
  t.regex(summary, /^### BGP and ECMP$/m, "the heading behind #bgp-and-ecmp");
  t.regex(summary, /hold time 9 s, keepalive 3 s/);
  t.regex(summary, /\| bgp: node death, BFD off \(hold timer\) \| fast \| 1 \|/);
  t.regex(summary, /\| ecmp: node death, BFD on \| fast \| 1 \| 33 % \|/);
  t.regex(summary, /over 1 ecmp repetitions: node1 33 %, node2 33 %, node3 33 %/);
  t.notRegex(summary, /### Failover,/, "no Layer-2 table without Layer-2 repetitions");
});

test("the docs' headline names each routed scenario's outage and the bgp oracle", (t) => {
  const results = emptyResults();
  t.is(routedHeadline(results), undefined);
  results.routed.push(repetition({}), repetition({ scenario: "bgp-polite-handover", mode: "bgp" }));
  t.is(
    routedHeadline(results),
    "BGP and ECMP behind a router (fast profile, [below](#bgp-and-ecmp)), outage p50: " +
      "bgp: polite handover 220 ms; ecmp: node death, BFD on 220 ms; " +
      "0 moments with a bgp address routed to, or answered by, two nodes in 1 bgp repetitions with BFD.",
  );
});
