// The report of a results file: tables, promises kept, headline figures and the plots' markup.
import test from "ava";
import {
  apiRatesSvg,
  outageDistributionSvg,
  timelineSvg,
  typicalRepetition,
} from "../../scripts/bench/plots.ts";
import { DEFAULT_PROFILE } from "../../scripts/bench/profiles.ts";
import { formatElapsed, statusLine } from "../../scripts/bench/progress.ts";
import {
  headlines,
  keptPromise,
  perVipAnswerMs,
  renderSummary,
  targets,
} from "../../scripts/bench/report-markdown.ts";
import {
  emptyResults,
  type BenchResults,
  type FailoverRepetition,
  type ScaleRun,
} from "../../scripts/bench/results.ts";
import { escapeXml, linearScale, logScale } from "../../scripts/bench/svg.ts";

const MS = 1e6;

function repetition(overrides: Partial<FailoverRepetition>): FailoverRepetition {
  return {
    scenario: "polite-handover",
    profile: "default",
    repetition: 1,
    vip: "198.51.100.100",
    holderBefore: "node1",
    holderAfter: "node2",
    faultNs: 1000 * MS,
    endNs: 1500 * MS,
    outageMs: 40,
    lostProbes: 8,
    faultToNewHolderMs: 42,
    statusMs: 90,
    doubleAnswerMs: 0,
    overlapMs: 0,
    isolations: [],
    marks: [{ label: "SIGTERM of the holder's agent", atNs: 1000 * MS }],
    probeIntervalMs: 5,
    probe: [
      { node: "node1", fromSeq: 0, toSeq: 199, fromNs: 0, toNs: 995 * MS },
      { node: null, fromSeq: 200, toSeq: 207, fromNs: 1000 * MS, toNs: 1035 * MS },
      { node: "node2", fromSeq: 208, toSeq: 299, fromNs: 1040 * MS, toNs: 1495 * MS },
    ],
    claims: [],
    doubleAnswers: [],
    holdings: [
      { node: "node1", fromNs: 0, toNs: 1001 * MS },
      { node: "node2", fromNs: 1030 * MS, toNs: 1500 * MS },
    ],
    overlaps: [],
    ...overrides,
  };
}

function scaleRun(services: number, agents: number, writesPerSecond: number): ScaleRun {
  return {
    services,
    nodes: 3,
    agents,
    createMs: 100,
    allAnsweredMs: services === 0 ? 0 : 2000,
    answered: services,
    allStatusMs: services === 0 ? 0 : 2500,
    answeredAtMs: [],
    windowSeconds: 60,
    rates: [{ key: "PUT leases", verb: "PUT", resource: "leases", perSecond: writesPerSecond }],
    writesPerSecond,
    readsPerSecond: 0.2,
    usage:
      agents === 0
        ? []
        : [
            {
              node: "node1",
              rssBytes: 100 * 2 ** 20,
              cpuPercent: 1.5,
              eventLoopLagP99Ms: 11,
              eventLoopLagMaxMs: 20,
            },
          ],
    spread: {},
  };
}

function results(): BenchResults {
  return {
    ...emptyResults(),
    profiles: [DEFAULT_PROFILE],
    failover: [
      repetition({}),
      repetition({ repetition: 2, outageMs: 80, faultToNewHolderMs: 85 }),
      repetition({
        scenario: "api-partition",
        holderAfter: "node1",
        outageMs: 0,
        lostProbes: 0,
        faultToNewHolderMs: null,
        statusMs: null,
      }),
    ],
    latency: [{ vip: "198.51.100.100", answeredMs: 20, statusMs: 60 }],
    scale: [scaleRun(0, 0, 0.1), scaleRun(100, 3, 3.1), scaleRun(1000, 3, 3.1)],
  };
}

test("a promise is kept when nobody answered twice, and hold means no lost probe", (t) => {
  t.true(keptPromise(repetition({})));
  t.false(keptPromise(repetition({ faultToNewHolderMs: null })));
  t.false(keptPromise(repetition({ overlaps: [{ fromNs: 0, toNs: 1, nodes: ["node1", "node2"] }] })));
  t.true(keptPromise(repetition({ scenario: "api-partition", holderAfter: "node1", lostProbes: 0 })));
  t.false(keptPromise(repetition({ scenario: "api-partition", holderAfter: "node1", lostProbes: 3 })));
});

test("the summary has a row per scenario with its percentiles, and the scale table", (t) => {
  const summary = renderSummary(results(), {
    timeline: (scenario, profile) => `plots/timeline-${profile}-${scenario}.svg`,
    outages: "plots/outages.svg",
    apiRates: "plots/api-rates.svg",
  });
  t.regex(
    summary,
    /\| Polite handover \| 2 \| another node serves \| 40 ms \| 40 ms \| 80 ms \| 80 ms \| 80 ms \| 42 ms \/ 85 ms \|/,
  );
  t.regex(summary, /\| API partition of the holder \| 1 \| keeps serving \| 0 ms \|.*\| 1\/1 \|/);
  t.regex(summary, /\| 1000 \| 3 \| 3 \| 100 ms \| 2000 ms \| 2500 ms \| – \| 3\.10 \|/);
  t.regex(summary, /\(plots\/timeline-default-polite-handover\.svg\)/);
  t.regex(summary, /!\[API requests per second by Service count\]\(plots\/api-rates\.svg\)/);
});

test("headlines come from the default profile", (t) => {
  const figures = headlines(results());
  t.is(figures.politeP50Ms, 42);
  t.is(figures.politeP99Ms, 85);
  t.is(figures.nodeDeathP50Ms, undefined);
  t.is(figures.doubleAnswers, 0);
  t.deepEqual(
    figures.writesPerSecondByServices.map((run) => run.services),
    [100, 1000],
  );
});

test("plots are SVG documents naming what they show", (t) => {
  const timeline = timelineSvg(repetition({}), ["node1", "node2", "node3"]);
  t.true(timeline.startsWith("<svg "));
  t.regex(timeline, /SIGTERM of the holder's agent/);
  t.regex(timeline, /no answer/);
  t.regex(
    outageDistributionSvg(results().failover, ["polite-handover", "api-partition"]),
    /Polite handover \(default\)/,
  );
  t.regex(apiRatesSvg(results().scale), /1000 Services/);
  t.regex(apiRatesSvg(results().scale), /writes\/s, 3 nodes/);
  t.is(typicalRepetition(results().failover.slice(0, 2))?.outageMs, 40);
});

test("scales: round linear ticks and powers of ten", (t) => {
  const linear = linearScale([0, 10], [0, 100]);
  t.is(linear(5), 50);
  t.deepEqual(linear.ticks, [0, 2, 4, 6, 8, 10]);
  const log = logScale([1, 1000], [0, 300]);
  t.is(log(10), 100);
  t.deepEqual(log.ticks, [1, 10, 100, 1000]);
  t.is(escapeXml(`<a & "b">`), "&lt;a &amp; &quot;b&quot;&gt;");
});

test("the progress line shows elapsed time, phase and step, cut to the terminal", (t) => {
  t.is(formatElapsed(65_000), "01:05");
  t.is(formatElapsed(3_725_000), "1h02m05s");
  t.is(
    statusLine({ elapsedMs: 1000, phase: "failover", step: "fault", width: 80 }),
    "bench 00:01 · failover · fault",
  );
  t.is(statusLine({ elapsedMs: 0, phase: "x".repeat(100), step: "", width: 20 }).length, 20);
});

test("tick labels have no floating-point residue", (t) => {
  t.deepEqual(linearScale([-0.5, 0.61], [0, 100]).ticks, [-0.4, -0.2, 0, 0.2, 0.4, 0.6]);
});

test("issue 3's targets are checked against what was measured, and only that", (t) => {
  const checked = new Map(targets(results()).map((target) => [target.target, target]));
  t.is(checked.get("polite handover p50 ≤ 100 ms")?.met, true);
  t.is(checked.get("API partition of the holder: zero probe failures")?.measured, "0 lost in 1 repetitions");
  t.is(checked.get("API writes independent of Service count (≈ nodes / P)")?.met, true);
  t.is(checked.get("1000 Services on 3 nodes: agent RSS ≤ 150 MB")?.met, true);
  t.false(checked.has("node death ≤ D + 500 ms = 5500 ms"), "no node death was measured");
  const slow = { ...results(), latency: [{ vip: "198.51.100.100", answeredMs: 20, statusMs: 900 }] };
  t.is(targets(slow).find((target) => target.target.startsWith("Service created"))?.met, false);
});

test("each scale VIP's latency runs from its own create to its own first answer", (t) => {
  const run = { ...scaleRun(3, 3, 3), answeredAtMs: [50, null, 400], createdAtMs: [10, 20, 30] };
  t.deepEqual(perVipAnswerMs(run), [40, 370]);
  t.deepEqual(perVipAnswerMs(scaleRun(3, 3, 3)), [], "runs that did not record create times");
});

test("a scale run that ends with VIPs no node carries fails the target and says so in its row", (t) => {
  const whole = { ...scaleRun(100, 3, 3.1), spread: { node1: 33, node2: 33, node3: 34 } };
  const short = { ...scaleRun(1000, 3, 3.1), spread: { node1: 334, node2: 333, node3: 253 } };
  const target = (runs: ScaleRun[]) =>
    targets({ ...results(), scale: runs }).find((each) => each.target.startsWith("every VIP carried"));
  t.like(target([whole]), { measured: "100/100", met: true });
  t.like(target([whole, short]), { measured: "100/100, 920/1000", met: false });
  const summary = renderSummary(
    { ...results(), scale: [whole, short] },
    {
      timeline: () => "",
      outages: "",
      apiRates: "",
    },
  );
  t.regex(summary, /\| 334 \/ 333 \/ 253 \(\*\*80 not carried\*\*\) \|/);
  t.regex(summary, /\| 33 \/ 33 \/ 34 \|/);
});
