// The Markdown summary of a results file: the tables of issue 5 with links to the plots. A pure
// function of the results, used for bench/results/<run>.md and for docs/benchmarks.md.
import { describeProfile } from "./profiles.ts";
import type { BenchResults, FailoverRepetition, ScaleRun } from "./results.ts";
import { SCENARIOS } from "./scenario-catalogue.ts";
import { summarize, type Summary } from "./stats.ts";

/** Where the plots are, relative to the Markdown file. */
export interface PlotLinks {
  readonly timeline: (scenario: string, profile: string) => string;
  readonly outages: string;
  readonly apiRates: string;
}

const ms = (value: number) =>
  value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;

function row(cells: readonly string[]): string {
  return `| ${cells.join(" | ")} |`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [row(header), row(header.map(() => "---")), ...rows.map(row)].join("\n");
}

function spread(summary: Summary | undefined): string[] {
  if (summary === undefined) return ["–", "–", "–", "–", "–"];
  return [summary.min, summary.p50, summary.p90, summary.p99, summary.max].map(ms);
}

function p50p99(values: readonly number[]): string {
  const summary = summarize(values);
  return summary === undefined ? "–" : `${ms(summary.p50)} / ${ms(summary.p99)}`;
}

/** A repetition kept its scenario's promise: nobody answered twice, and hold meant no lost probe. */
export function keptPromise(repetition: FailoverRepetition): boolean {
  const info = SCENARIOS.find((scenario) => scenario.name === repetition.scenario);
  const safe = repetition.doubleAnswers.length === 0 && repetition.overlaps.length === 0;
  if (info?.expectation === "hold")
    return safe && repetition.lostProbes === 0 && repetition.holderAfter === repetition.holderBefore;
  return safe && repetition.faultToNewHolderMs !== null;
}

function failoverTable(repetitions: readonly FailoverRepetition[], profile: string): string {
  const rows = SCENARIOS.flatMap((scenario) => {
    const mine = repetitions.filter((r) => r.scenario === scenario.name && r.profile === profile);
    if (mine.length === 0) return [];
    const takeovers = mine.flatMap((r) => (r.faultToNewHolderMs === null ? [] : [r.faultToNewHolderMs]));
    const statuses = mine.flatMap((r) => (r.statusMs === null ? [] : [r.statusMs]));
    const doubles = mine.reduce((sum, r) => sum + r.doubleAnswers.length, 0);
    const doubleMs = mine.reduce((sum, r) => sum + r.doubleAnswerMs, 0);
    const overlapCount = mine.reduce((sum, r) => sum + r.overlaps.length, 0);
    const overlapMs = mine.reduce((sum, r) => sum + r.overlapMs, 0);
    return [
      [
        scenario.title,
        String(mine.length),
        scenario.expectation === "hold" ? "keeps serving" : "another node serves",
        ...spread(summarize(mine.map((r) => r.outageMs))),
        scenario.expectation === "hold" ? "–" : p50p99(takeovers),
        scenario.expectation === "hold" ? "–" : p50p99(statuses),
        String(mine.reduce((sum, r) => sum + r.lostProbes, 0)),
        `${doubles} / ${ms(doubleMs)}`,
        `${overlapCount} / ${ms(overlapMs)}`,
        `${mine.filter(keptPromise).length}/${mine.length}`,
      ],
    ];
  });
  return table(
    [
      "scenario",
      "n",
      "promise",
      "outage min",
      "p50",
      "p90",
      "p99",
      "max",
      "fault → new holder answers p50 / p99",
      "fault → status p50 / p99",
      "probes lost",
      "double answers (count / time)",
      "address overlaps (count / time)",
      "promise kept",
    ],
    rows,
  );
}

function mb(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(0)} MB`;
}

function scaleTable(runs: readonly ScaleRun[]): string {
  const ordered = [...runs].sort(
    (a, b) => a.agents - b.agents || a.nodes - b.nodes || a.services - b.services,
  );
  return table(
    [
      "Services",
      "nodes",
      "agents",
      "all VIPs answer",
      "all statuses written",
      "API writes/s",
      "API reads/s",
      "busiest requests/s",
      "agent RSS (max)",
      "agent CPU (max, % of a core)",
      "event-loop lag p99 (max)",
      "VIPs per node",
    ],
    ordered.map((run) => {
      const maxOf = (values: readonly (number | null)[]) => {
        const present = values.filter((value): value is number => value !== null);
        return present.length === 0 ? undefined : Math.max(...present);
      };
      const rss = maxOf(run.usage.map((usage) => usage.rssBytes));
      const cpu = maxOf(run.usage.map((usage) => usage.cpuPercent));
      const lag = maxOf(run.usage.map((usage) => usage.eventLoopLagP99Ms));
      return [
        String(run.services),
        String(run.nodes),
        String(run.agents),
        run.services === 0
          ? "–"
          : run.allAnsweredMs === null
            ? `${run.answered}/${run.services} answered`
            : ms(run.allAnsweredMs),
        run.services === 0 ? "–" : run.allStatusMs === null ? "not all" : ms(run.allStatusMs),
        run.writesPerSecond.toFixed(2),
        run.readsPerSecond.toFixed(2),
        run.rates
          .slice(0, 3)
          .map((rate) => `${rate.key} ${rate.perSecond.toFixed(2)}`)
          .join("; "),
        rss === undefined ? "–" : mb(rss),
        cpu === undefined ? "–" : `${cpu.toFixed(1)} %`,
        lag === undefined ? "–" : `${lag.toFixed(1)} ms`,
        Object.values(run.spread).join(" / ") || "–",
      ];
    }),
  );
}

export interface Headlines {
  readonly politeP50Ms: number | undefined;
  readonly politeP99Ms: number | undefined;
  readonly nodeDeathP50Ms: number | undefined;
  readonly doubleAnswers: number;
  readonly writesPerSecondByServices: readonly { services: number; nodes: number; writesPerSecond: number }[];
}

/** The figures the README quotes, from the default profile. */
export function headlines(results: BenchResults): Headlines {
  const defaults = results.failover.filter((r) => r.profile === "default");
  const takeover = (scenario: string) =>
    summarize(
      defaults.flatMap((r) =>
        r.scenario === scenario && r.faultToNewHolderMs !== null ? [r.faultToNewHolderMs] : [],
      ),
    );
  const polite = takeover("polite-handover");
  return {
    politeP50Ms: polite?.p50,
    politeP99Ms: polite?.p99,
    nodeDeathP50Ms: takeover("node-death")?.p50,
    doubleAnswers: results.failover.reduce((sum, r) => sum + r.doubleAnswers.length + r.overlaps.length, 0),
    writesPerSecondByServices: results.scale
      .filter((run) => run.agents > 0)
      .map((run) => ({ services: run.services, nodes: run.nodes, writesPerSecond: run.writesPerSecond })),
  };
}

export function renderSummary(results: BenchResults, plots: PlotLinks): string {
  const sections: string[] = [];
  const last = results.runs.at(-1)?.environment;
  if (last !== undefined) {
    sections.push(
      `Measured ${last.date.slice(0, 10)} at commit \`${last.commit}\`${last.dirty ? " (with uncommitted changes)" : ""} ` +
        `on ${last.cpus} × ${last.cpuModel}, Linux ${last.kernel}, Node ${last.node}, Kubernetes ${last.kubernetes}; ` +
        `${results.runs.length} bench run(s) of ${results.runs.map((run) => `${Math.round(run.durationMs / 60_000)} min`).join(", ")}.`,
    );
  }
  for (const profile of results.profiles) {
    const mine = results.failover.filter((r) => r.profile === profile.name);
    if (mine.length === 0) continue;
    sections.push(
      `### Failover, ${profile.name} profile (${describeProfile(profile)})`,
      "Outage: the longest time the client went without an answer after the fault, from the last answer before a run of lost probes to the first after it. " +
        "Fault → new holder: from the fault to the first answer from another node. Address overlaps leave out times when one of the two nodes had no LAN link.",
      failoverTable(results.failover, profile.name),
    );
  }
  if (results.failover.length > 0) {
    const timelines = [...new Set(results.failover.map((r) => `${r.profile}\n${r.scenario}`))].map((key) => {
      const [profile = "", scenario = ""] = key.split("\n");
      return `- [${SCENARIOS.find((s) => s.name === scenario)?.title ?? scenario} (${profile})](${plots.timeline(scenario, profile)})`;
    });
    sections.push(
      "### Outage distribution",
      `![Outage per repetition, per scenario and profile](${plots.outages})`,
      "### Failover timelines (the repetition with the median outage)",
      timelines.join("\n"),
    );
  }
  if (results.latency.length > 0) {
    sections.push(
      `### Service created → VIP answering, → status written (${results.latency.length} Services, one at a time)`,
      table(
        ["", "min", "p50", "p90", "p99", "max"],
        [
          ["VIP answering", ...spread(summarize(results.latency.map((s) => s.answeredMs)))],
          ["status written", ...spread(summarize(results.latency.map((s) => s.statusMs)))],
        ],
      ),
    );
  }
  if (results.scale.length > 0) {
    sections.push(
      "### Scale and API load",
      "Steady state over the window after every status was written. The first row is the API server with no agent running: its own background requests.",
      scaleTable(results.scale),
      `![API requests per second by Service count](${plots.apiRates})`,
    );
  }
  if (results.errors.length > 0) {
    sections.push(
      "### Not measured",
      "What the bench could not measure, and why (first line of the error; the results file has it whole):",
      results.errors.map((error) => `- ${error.what}: ${error.message.split("\n")[0] ?? ""}`).join("\n"),
    );
  }
  return `${sections.join("\n\n")}\n`;
}
