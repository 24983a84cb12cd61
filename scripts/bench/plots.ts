// The report's plots: a failover timeline per scenario (who answered the client over time, the
// fault and the recovery marked), the outage distribution per scenario and profile, and API
// request rates against the number of Services.
import type { FailoverRepetition, ScaleRun } from "./results.ts";
import { scenarioInfo, type ScenarioName } from "./scenario-catalogue.ts";
import { document, element, FAILURE_COLOUR, linearScale, logScale, PALETTE, text } from "./svg.ts";

const WIDTH = 900;

function nodeColour(nodes: readonly string[], node: string): string {
  return PALETTE[nodes.indexOf(node) % PALETTE.length] ?? "#000000";
}

/** Which node answered the probe, which node held the VIP, and the scenario's moments, over time. */
export function timelineSvg(repetition: FailoverRepetition, nodes: readonly string[]): string {
  const { faultNs } = repetition;
  const seconds = (ns: number) => (ns - faultNs) / 1e9;
  const firstNs = repetition.probe[0]?.fromNs ?? faultNs;
  // Zoomed on what happened: half a second either side of the fault, the scenario's marks and
  // the client's last unanswered request, so a handover of 50 ms is not a sliver of the plot.
  const lastLostNs =
    repetition.probe.findLast((run) => run.node === null && run.toNs >= faultNs)?.toNs ?? faultNs;
  const lastMarkNs = Math.max(...repetition.marks.map((mark) => mark.atNs));
  const from = Math.max(seconds(firstNs), -0.5);
  const lastEventSeconds = seconds(Math.max(lastLostNs, lastMarkNs));
  const to = Math.min(
    seconds(repetition.endNs),
    lastEventSeconds + Math.max(0.5, 0.05 * (lastEventSeconds - from)),
  );
  const left = 150;
  const laneHeight = 34;
  const top = 56;
  const lanes = [...nodes, "no answer"];
  const marksTop = top + lanes.length * laneHeight + 30;
  const height = marksTop + repetition.marks.length * 16 + 12;
  const x = linearScale([from, to], [left, WIDTH - 20]);
  const clampX = (ns: number) => x(Math.min(Math.max(seconds(ns), from), to));
  const laneY = (lane: string) => top + lanes.indexOf(lane) * laneHeight;
  const body: string[] = [
    text(
      12,
      22,
      `${scenarioInfo(repetition.scenario).title} (${repetition.profile}, repetition ${repetition.repetition})`,
      {
        "font-size": 15,
        "font-weight": "bold",
      },
    ),
    text(
      12,
      40,
      `VIP ${repetition.vip}: outage ${repetition.outageMs.toFixed(0)} ms as the client saw it; thick bars: answered the probe, thin bars: held the address`,
    ),
  ];
  for (const lane of lanes) {
    body.push(text(12, laneY(lane) + 18, lane));
    body.push(
      element("line", {
        x1: left,
        x2: WIDTH - 20,
        y1: laneY(lane) + 26,
        y2: laneY(lane) + 26,
        stroke: "#dddddd",
      }),
    );
  }
  const interval = repetition.probeIntervalMs * 1e6;
  for (const run of repetition.probe) {
    if (run.toNs < firstNs) continue;
    const lane = run.node ?? "no answer";
    const colour = run.node === null ? FAILURE_COLOUR : nodeColour(nodes, run.node);
    const x1 = clampX(run.fromNs);
    body.push(
      element("rect", {
        x: x1,
        y: laneY(lane) + 4,
        width: Math.max(1, clampX(run.toNs + interval) - x1),
        height: 14,
        fill: colour,
      }),
    );
  }
  for (const holding of repetition.holdings) {
    if (!nodes.includes(holding.node)) continue;
    const x1 = clampX(holding.fromNs);
    body.push(
      element("rect", {
        x: x1,
        y: laneY(holding.node) + 21,
        width: Math.max(1, clampX(holding.toNs) - x1),
        height: 3,
        fill: nodeColour(nodes, holding.node),
      }),
    );
  }
  const axisY = top + lanes.length * laneHeight + 4;
  for (const tick of x.ticks) {
    body.push(element("line", { x1: x(tick), x2: x(tick), y1: axisY, y2: axisY + 4, stroke: "#555555" }));
    body.push(text(x(tick), axisY + 16, `${tick} s`, { "text-anchor": "middle", fill: "#555555" }));
  }
  repetition.marks.forEach((mark, index) => {
    const markX = clampX(mark.atNs);
    body.push(
      element("line", {
        x1: markX,
        x2: markX,
        y1: top - 4,
        y2: axisY,
        stroke: "#000000",
        "stroke-dasharray": "4 3",
      }),
    );
    body.push(text(markX + 3, top - 6, String(index + 1), { "font-weight": "bold" }));
    body.push(
      text(12, marksTop + index * 16, `${index + 1}: ${mark.label} at ${seconds(mark.atNs).toFixed(3)} s`),
    );
  });
  return document({ width: WIDTH, height, title: `failover timeline: ${repetition.scenario}`, body });
}

/** The repetition whose outage is the median of its scenario and profile: the typical one. */
export function typicalRepetition(
  repetitions: readonly FailoverRepetition[],
): FailoverRepetition | undefined {
  const sorted = [...repetitions].sort((a, b) => a.outageMs - b.outageMs);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

/** Every repetition's outage as a dot, per scenario and profile, on a log scale; 0 has its own column. */
export function outageDistributionSvg(
  repetitions: readonly FailoverRepetition[],
  order: readonly ScenarioName[],
): string {
  const profiles = [...new Set(repetitions.map((repetition) => repetition.profile))];
  const rows = order.flatMap((scenario) =>
    profiles
      .map((profile) => ({
        scenario,
        profile,
        outages: repetitions
          .filter((r) => r.scenario === scenario && r.profile === profile)
          .map((r) => r.outageMs),
      }))
      .filter((row) => row.outages.length > 0),
  );
  const left = 290;
  const zeroX = left + 20;
  const top = 50;
  const rowHeight = 22;
  const height = top + rows.length * rowHeight + 40;
  const x = logScale([1, 100_000], [zeroX + 40, WIDTH - 20]);
  const body: string[] = [
    text(12, 22, "Outage per repetition as the client saw it (probe every 5 ms), log scale", {
      "font-size": 15,
      "font-weight": "bold",
    }),
    text(12, 40, "each dot is one repetition; the bar is the median; 0 = not one probe lost"),
  ];
  rows.forEach((row, index) => {
    const y = top + index * rowHeight + 12;
    body.push(text(12, y + 4, `${scenarioInfo(row.scenario).title} (${row.profile})`));
    body.push(element("line", { x1: left, x2: WIDTH - 20, y1: y, y2: y, stroke: "#eeeeee" }));
    const colour = PALETTE[profiles.indexOf(row.profile) % PALETTE.length] ?? "#000000";
    row.outages.forEach((outage, dot) => {
      const cx = outage <= 0 ? zeroX : x(Math.max(outage, 1));
      body.push(
        element("circle", { cx, cy: y + ((dot % 5) - 2) * 1.5, r: 3, fill: colour, "fill-opacity": 0.6 }),
      );
    });
    const sorted = [...row.outages].sort((a, b) => a - b);
    const median = sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
    const medianX = median <= 0 ? zeroX : x(Math.max(median, 1));
    body.push(
      element("line", {
        x1: medianX,
        x2: medianX,
        y1: y - 8,
        y2: y + 8,
        stroke: "#000000",
        "stroke-width": 2,
      }),
    );
  });
  const axisY = top + rows.length * rowHeight + 6;
  const labels: [number, string][] = [
    [zeroX, "0"],
    ...x.ticks.map((tick): [number, string] => [x(tick), tick >= 1000 ? `${tick / 1000} s` : `${tick} ms`]),
  ];
  for (const [tickX, label] of labels) {
    body.push(element("line", { x1: tickX, x2: tickX, y1: top, y2: axisY, stroke: "#dddddd" }));
    body.push(text(tickX, axisY + 16, label, { "text-anchor": "middle", fill: "#555555" }));
  }
  return document({ width: WIDTH, height, title: "outage distribution", body });
}

/** The x position of a scale run: the API server alone first, then by Service count. */
function scaleCategory(run: ScaleRun): string {
  return run.agents === 0 ? "no agents" : `${run.services} Services`;
}

/** API writes and reads per second against the number of Services, one pair of lines per node count. */
export function apiRatesSvg(runs: readonly ScaleRun[]): string {
  const ordered = [...runs].sort(
    (a, b) => Number(a.agents > 0) - Number(b.agents > 0) || a.services - b.services,
  );
  const categories = [...new Set(ordered.map(scaleCategory))];
  const nodeCounts = [...new Set(ordered.map((run) => run.nodes))].sort((a, b) => a - b);
  const left = 70;
  const top = 50;
  const plotHeight = 260;
  const height = top + plotHeight + 50;
  const maxRate = Math.max(1, ...ordered.flatMap((run) => [run.writesPerSecond, run.readsPerSecond]));
  const y = linearScale([0, maxRate * 1.15], [top + plotHeight, top]);
  const slot = (WIDTH - left - 200) / Math.max(1, categories.length);
  const px = (run: ScaleRun) => left + slot * (categories.indexOf(scaleCategory(run)) + 0.5);
  const body: string[] = [
    text(12, 22, "API requests per second in the steady state, by Service count", {
      "font-size": 15,
      "font-weight": "bold",
    }),
    text(
      12,
      40,
      "from the API server's apiserver_request_total over the window; writes = POST, PUT, PATCH, DELETE",
    ),
  ];
  for (const tick of y.ticks) {
    body.push(element("line", { x1: left, x2: WIDTH - 200, y1: y(tick), y2: y(tick), stroke: "#eeeeee" }));
    body.push(text(left - 6, y(tick) + 4, String(tick), { "text-anchor": "end", fill: "#555555" }));
  }
  const series = nodeCounts.flatMap((nodes, index) => [
    {
      name: `writes/s, ${nodes} nodes`,
      nodes,
      dash: "",
      colour: PALETTE[2 * index] ?? "#000000",
      value: (run: ScaleRun) => run.writesPerSecond,
      below: false,
    },
    {
      name: `reads/s, ${nodes} nodes`,
      nodes,
      dash: "5 4",
      colour: PALETTE[2 * index + 1] ?? "#000000",
      value: (run: ScaleRun) => run.readsPerSecond,
      below: true,
    },
  ]);
  series.forEach((line, index) => {
    const points = ordered.filter((run) => run.nodes === line.nodes);
    const path = points
      .map((run, at) => `${at === 0 ? "M" : "L"}${px(run).toFixed(1)},${y(line.value(run)).toFixed(1)}`)
      .join(" ");
    body.push(
      element("path", {
        d: path,
        fill: "none",
        stroke: line.colour,
        "stroke-width": 2,
        "stroke-dasharray": line.dash,
      }),
    );
    for (const run of points) {
      body.push(element("circle", { cx: px(run), cy: y(line.value(run)), r: 4, fill: line.colour }));
      // Writes labelled above their points, reads below, so that close values stay legible.
      const labelY = y(line.value(run)) + (line.below ? 16 : -8);
      body.push(text(px(run) + 6, labelY, line.value(run).toFixed(2), { fill: line.colour }));
    }
    body.push(
      element("rect", { x: WIDTH - 180, y: top + index * 18, width: 12, height: 12, fill: line.colour }),
    );
    body.push(text(WIDTH - 162, top + index * 18 + 10, line.name));
  });
  categories.forEach((category, index) => {
    body.push(
      text(left + slot * (index + 0.5), top + plotHeight + 20, category, { "text-anchor": "middle" }),
    );
  });
  return document({ width: WIDTH, height, title: "API requests per second vs Services", body });
}
