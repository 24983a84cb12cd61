// The Markdown summary of a results file: the tables of issue 5 with links to the plots. A pure
// function of the results, used for bench/results/<run>.md and for docs/benchmarks.md.
import { allocationLegs, isAllocationWrite, steadyWrites } from "./allocation-analysis.ts";
import { totalPerSecond } from "./api-requests.ts";
import { describeProfile } from "./profiles.ts";
import type { AllocationRun, BenchResults, FailoverRepetition, ScaleRun, SteadyState } from "./results.ts";
import { ms, p50p99, spread, table } from "./markdown.ts";
import { routedSection } from "./report-routed.ts";
import { SCENARIOS } from "./scenario-catalogue.ts";
import { summarize } from "./stats.ts";

/** Where the plots are, relative to the Markdown file. */
export interface PlotLinks {
  readonly timeline: (scenario: string, profile: string) => string;
  readonly outages: string;
  readonly apiRates: string;
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

/** Each VIP's own created → answering time, where the run recorded when each create returned. */
export function perVipAnswerMs(run: ScaleRun): number[] {
  const created = run.createdAtMs;
  if (created === undefined) return [];
  return run.answeredAtMs.flatMap((answeredAt, index) => {
    const createdAt = created[index];
    return answeredAt === null || createdAt === undefined ? [] : [Math.max(0, answeredAt - createdAt)];
  });
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
      "creating them took",
      "all VIPs answer",
      "all statuses written",
      "each VIP: created → answering p50 / p99",
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
        run.services === 0 ? "–" : ms(run.createMs),
        run.services === 0
          ? "–"
          : run.allAnsweredMs === null
            ? `${run.answered}/${run.services} answered`
            : ms(run.allAnsweredMs),
        run.services === 0 ? "–" : run.allStatusMs === null ? "not all" : ms(run.allStatusMs),
        p50p99(perVipAnswerMs(run)),
        run.writesPerSecond.toFixed(2),
        run.readsPerSecond.toFixed(2),
        run.rates
          .slice(0, 3)
          .map((rate) => `${rate.key} ${rate.perSecond.toFixed(2)}`)
          .join("; "),
        rss === undefined ? "–" : mb(rss),
        cpu === undefined ? "–" : `${cpu.toFixed(1)} %`,
        lag === undefined ? "–" : `${lag.toFixed(1)} ms`,
        spreadCell(run),
      ];
    }),
  );
}

function allocationLegsTable(run: AllocationRun): string {
  const legs = allocationLegs(run);
  return table(
    ["each Service", "n", "min", "p50", "p90", "p99", "max"],
    [
      ["created → allocated", legs.createdToAllocated],
      ["allocated → answering", legs.allocatedToAnswering],
      ["created → answering", legs.createdToAnswering],
      ["created → status written", legs.createdToStatus],
    ].map(([label, values]) => [
      label as string,
      String((values as number[]).length),
      ...spread(summarize(values as number[])),
    ]),
  );
}

function steadyRow(label: string, state: SteadyState): string[] {
  const rss = Math.max(0, ...state.usage.map((usage) => usage.rssBytes));
  const cpu = Math.max(0, ...state.usage.map((usage) => usage.cpuPercent));
  const lag = Math.max(0, ...state.usage.map((usage) => usage.eventLoopLagP99Ms ?? 0));
  return [
    label,
    state.writesPerSecond.toFixed(2),
    totalPerSecond(state.rates, isAllocationWrite).toFixed(2),
    state.readsPerSecond.toFixed(2),
    state.rates
      .slice(0, 3)
      .map((rate) => `${rate.key} ${rate.perSecond.toFixed(2)}`)
      .join("; "),
    state.usage.length === 0 ? "–" : mb(rss),
    state.usage.length === 0 ? "–" : `${cpu.toFixed(1)} %`,
    state.usage.length === 0 ? "–" : `${lag.toFixed(1)} ms`,
  ];
}

function allocationSection(run: AllocationRun): string[] {
  const legs = allocationLegs(run);
  const when = (value: number | null, what: string) =>
    value === null ? `not all ${what}` : `all ${what} in ${ms(value)}`;
  const problems = [
    ...run.sharedAddresses.map((text) => `- **address given twice**: ${text}`),
    ...run.doubleAllocations.map((text) => `- two allocations at once (one released): ${text}`),
  ];
  return [
    `### Allocation: ${run.services} Services from one VIPPool (${run.pool}), on ${run.nodes} nodes`,
    "Services that name no address (IPv6 SingleStack, annotated `vipd.io/pool`) created at once, 16 create requests in flight. " +
      "Created: the create request returned. Allocated: the bench's watch saw the VIPAllocation naming the Service. " +
      "Answering: its address answered the client's neighbour solicitation. A leg whose two ends were seen in the other order (an agent can act before the create returns to the bench) counts as 0.",
    `Creating them took ${ms(run.createMs)}; from the first create, ${when(legs.allAllocatedMs, "allocated")}, ` +
      `${when(legs.allAnsweredMs, "answering")} (${legs.answered}/${run.services}), ${when(legs.allStatusMs, "statuses written")}. ` +
      `Addresses per node at the end: ${Object.values(run.spread).join(" / ") || "–"}.`,
    allocationLegsTable(run),
    "Steady state over the window, the same agents with the pool and no Service, then with every Service allocated and served:",
    table(
      [
        "",
        "API writes/s",
        "of which VIPAllocations and VIPPools",
        "API reads/s",
        "busiest requests/s",
        "agent RSS (max)",
        "agent CPU (max, % of a core)",
        "event-loop lag p99 (max)",
      ],
      [steadyRow("no Service", run.idle), steadyRow(`${run.services} allocated Services`, run.loaded)],
    ),
    ...(problems.length === 0 ? [] : [problems.join("\n")]),
    ...(run.agentWarnings.length === 0
      ? []
      : [
          "The agents' warnings and errors over the run (each message once):",
          ["```", ...run.agentWarnings, "```"].join("\n"),
        ]),
  ];
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

interface Target {
  readonly target: string;
  readonly measured: string;
  readonly met: boolean | undefined;
}

function carried(run: ScaleRun): number {
  return Object.values(run.spread).reduce((sum, held) => sum + held, 0);
}

// A VIP whose Service exists but that no node carries at the end of the window is an outage the
// figures above it would hide.
function spreadCell(run: ScaleRun): string {
  const perNode = Object.values(run.spread).join(" / ");
  if (perNode === "") return "–";
  const missing = run.services - carried(run);
  return missing > 0 ? `${perNode} (**${missing} not carried**)` : perNode;
}

/** Issue 3's targets against what was measured; undefined where nothing was. */
export function targets(results: BenchResults): Target[] {
  const found: Target[] = [];
  const defaults = results.failover.filter((r) => r.profile === "default");
  const takeovers = (scenario: string) =>
    summarize(
      defaults.flatMap((r) =>
        r.scenario === scenario && r.faultToNewHolderMs !== null ? [r.faultToNewHolderMs] : [],
      ),
    );
  const polite = takeovers("polite-handover");
  if (polite !== undefined) {
    found.push({ target: "polite handover p50 ≤ 100 ms", measured: ms(polite.p50), met: polite.p50 <= 100 });
    found.push({ target: "polite handover p99 ≤ 300 ms", measured: ms(polite.p99), met: polite.p99 <= 300 });
  }
  const death = takeovers("node-death");
  const profile = results.profiles.find((known) => known.name === "default");
  if (death !== undefined && profile !== undefined) {
    const limit = profile.leaseDurationMs + 500;
    found.push({
      target: `node death ≤ D + 500 ms = ${ms(limit)}`,
      measured: `p50 ${ms(death.p50)}, max ${ms(death.max)}`,
      met: death.max <= limit,
    });
  }
  for (const scenario of SCENARIOS.filter((s) => s.expectation === "hold")) {
    const mine = results.failover.filter((r) => r.scenario === scenario.name);
    if (mine.length === 0) continue;
    const lost = mine.reduce((sum, r) => sum + r.lostProbes, 0);
    found.push({
      target: `${scenario.title}: zero probe failures`,
      measured: `${lost} lost in ${mine.length} repetitions`,
      met: lost === 0,
    });
  }
  const doubles = results.failover.reduce((sum, r) => sum + r.doubleAnswers.length + r.overlaps.length, 0);
  if (results.failover.length > 0)
    found.push({
      target: "never two nodes answering: double answers and address overlaps = 0",
      measured: `${doubles} in ${results.failover.length} repetitions`,
      met: doubles === 0,
    });
  const answered = summarize(results.latency.map((s) => s.answeredMs));
  const written = summarize(results.latency.map((s) => s.statusMs));
  if (answered !== undefined && written !== undefined)
    found.push({
      target: "Service created → VIP answering and status written: p50 ≤ 200 ms",
      measured: `${ms(answered.p50)} and ${ms(written.p50)}`,
      met: answered.p50 <= 200 && written.p50 <= 200,
    });
  const loaded = results.scale.filter((run) => run.agents > 0 && run.nodes === 3);
  if (loaded.length > 1) {
    const writes = loaded.map((run) => run.writesPerSecond);
    found.push({
      target: "API writes independent of Service count (≈ nodes / P)",
      measured: loaded.map((run) => `${run.writesPerSecond.toFixed(2)}/s at ${run.services}`).join(", "),
      met: Math.max(...writes) <= 1.2 * Math.min(...writes),
    });
  }
  const served = results.scale.filter((run) => run.services > 0);
  if (served.length > 0)
    found.push({
      target: "every VIP carried by a node after a scale run's steady-state window",
      measured: served.map((run) => `${carried(run)}/${run.services}`).join(", "),
      met: served.every((run) => carried(run) >= run.services),
    });
  for (const run of results.allocation) {
    const legs = allocationLegs(run);
    const writes = steadyWrites(run);
    found.push({
      target: `allocation: ${run.services} Services from a pool, each given its own address and answering`,
      measured:
        `${legs.answered}/${run.services} answering, ${run.sharedAddresses.length} addresses given twice` +
        (legs.allAnsweredMs === null ? "" : `, all in ${ms(legs.allAnsweredMs)}`),
      met: legs.answered === run.services && run.sharedAddresses.length === 0,
    });
    found.push({
      target: `allocation: ${run.services} allocated Services add no steady-state API write`,
      measured:
        `${writes.loadedPerSecond.toFixed(2)}/s against ${writes.idlePerSecond.toFixed(2)}/s with none; ` +
        `${writes.allocationPerSecond.toFixed(2)}/s to VIPAllocations and VIPPools`,
      met: writes.flat,
    });
  }
  const thousand = loaded.find((run) => run.services === 1000);
  if (thousand !== undefined && thousand.usage.length > 0) {
    const rss = Math.max(...thousand.usage.map((usage) => usage.rssBytes));
    const cpu = Math.max(...thousand.usage.map((usage) => usage.cpuPercent));
    found.push({
      target: "1000 Services on 3 nodes: agent RSS ≤ 150 MB",
      measured: mb(rss),
      met: rss <= 150 * 2 ** 20,
    });
    found.push({
      target: "1000 Services on 3 nodes: idle CPU ≤ 2 % of a core",
      measured: `${cpu.toFixed(1)} %`,
      met: cpu <= 2,
    });
  }
  return found;
}

function environmentLine(results: BenchResults): string | undefined {
  const last = results.runs.at(-1)?.environment;
  if (last === undefined) return undefined;
  const commits = [...new Set(results.runs.map((run) => `\`${run.environment.commit}\``))].join(", ");
  const dates = [...new Set(results.runs.map((run) => run.environment.date.slice(0, 10)))].join(", ");
  const dirty = results.runs.some((run) => run.environment.dirty)
    ? " (working tree with uncommitted changes)"
    : "";
  const minutes = results.runs.reduce((sum, run) => sum + run.durationMs, 0) / 60_000;
  return (
    `Measured ${dates} at commit ${commits}${dirty} on ${last.cpus} × ${last.cpuModel}, Linux ${last.kernel}, ` +
    `Node ${last.node}, Kubernetes ${last.kubernetes}, in ${results.runs.length} bench run(s) taking ${Math.round(minutes)} min in all.`
  );
}

export function renderSummary(results: BenchResults, plots: PlotLinks): string {
  const sections: string[] = [];
  const environment = environmentLine(results);
  if (environment !== undefined)
    sections.push(
      environment,
      "The runs, in order:",
      ["```sh", ...results.runs.map((run) => ["sudo npm run bench --", ...run.argv].join(" ")), "```"].join(
        "\n",
      ),
    );
  const checked = targets(results);
  if (checked.length > 0)
    sections.push(
      "### Targets (issue 3)",
      table(
        ["target", "measured", "met"],
        checked.map((target) => [
          target.target,
          target.measured,
          target.met === undefined ? "–" : target.met ? "yes" : "**no**",
        ]),
      ),
    );
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
    const measured = new Set(results.failover.map((r) => `${r.profile} ${r.scenario}`));
    const timelines = results.profiles.flatMap((profile) =>
      SCENARIOS.filter((scenario) => measured.has(`${profile.name} ${scenario.name}`)).map(
        (scenario) =>
          `![${scenario.title} (${profile.name}): who answered over time](${plots.timeline(scenario.name, profile.name)})`,
      ),
    );
    sections.push(
      "### Outage distribution",
      `![Outage per repetition, per scenario and profile](${plots.outages})`,
      "### Failover timelines (the repetition with the median outage)",
      timelines.join("\n\n"),
    );
  }
  sections.push(...routedSection(results));
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
      "Services created at once, 16 create requests in flight; times from the first create request. " +
        "API rates, CPU, RSS and lag: the steady state, over the window after every status was written. " +
        "The first rows are the API server with no agent running (its own background requests) and idle agents with no Service.",
      scaleTable(results.scale),
      `![API requests per second by Service count](${plots.apiRates})`,
    );
  }
  for (const run of results.allocation) sections.push(...allocationSection(run));
  if (results.errors.length > 0) {
    sections.push(
      "### Not measured",
      "What the bench could not measure, and why (first line of the error; the results file has it whole):",
      results.errors.map((error) => `- ${error.what}: ${error.message.split("\n")[0] ?? ""}`).join("\n"),
    );
  }
  return `${sections.join("\n\n")}\n`;
}
