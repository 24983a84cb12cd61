// The routed suite's part of the report (issue 16 §4): bgp and ecmp failover behind the lab's
// router, under the heading docs link to (#bgp-and-ecmp). A pure function of the results.
import { ms, p50p99, spread, table } from "./markdown.ts";
import type { BenchResults, RoutedRepetition } from "./results.ts";
import { ROUTED_SCENARIOS, type RoutedMode } from "./routed-catalogue.ts";
import { summarize } from "./stats.ts";

const present = (values: readonly (number | null)[]) =>
  values.filter((value): value is number => value !== null);

const sum = (repetitions: readonly RoutedRepetition[], value: (r: RoutedRepetition) => number) =>
  repetitions.reduce((total, r) => total + value(r), 0);

/** The repetitions of each scenario of a mode and each profile, in catalogue order. */
function groups(
  repetitions: readonly RoutedRepetition[],
  mode: RoutedMode,
  profiles: readonly string[],
): { title: string; profile: string; mine: RoutedRepetition[] }[] {
  return ROUTED_SCENARIOS.filter((scenario) => scenario.mode === mode).flatMap((scenario) =>
    profiles.flatMap((profile) => {
      const mine = repetitions.filter((r) => r.scenario === scenario.name && r.profile === profile);
      return mine.length === 0 ? [] : [{ title: scenario.title, profile, mine }];
    }),
  );
}

const served = (mine: readonly RoutedRepetition[]) =>
  `${mine.filter((r) => r.faultToServedMs !== null).length}/${mine.length}`;

function bgpTable(repetitions: readonly RoutedRepetition[], profiles: readonly string[]): string {
  return table(
    [
      "scenario",
      "profile",
      "n",
      "outage min",
      "p50",
      "p90",
      "p99",
      "max",
      "fault → every flow served again p50 / p99",
      "router drops the old holder p50 / p99",
      "router names the new holder p50 / p99",
      "probes lost",
      "two next hops (count / time)",
      "double answers (count / time)",
      "lost on the way back",
      "served again",
    ],
    groups(repetitions, "bgp", profiles).map(({ title, profile, mine }) => [
      title,
      profile,
      String(mine.length),
      ...spread(summarize(mine.map((r) => r.outageMs))),
      p50p99(present(mine.map((r) => r.faultToServedMs))),
      p50p99(present(mine.map((r) => r.routerDropMs))),
      p50p99(present(mine.map((r) => r.routerNewHopMs))),
      String(sum(mine, (r) => r.lostProbes)),
      `${sum(mine, (r) => r.multiHops.length)} / ${ms(sum(mine, (r) => r.multiHopMs))}`,
      `${sum(mine, (r) => r.doubleAnswers.length)} / ${ms(sum(mine, (r) => r.doubleAnswerMs))}`,
      String(sum(mine, (r) => r.lostOnWayBack)),
      served(mine),
    ]),
  );
}

function ecmpTable(repetitions: readonly RoutedRepetition[], profiles: readonly string[]): string {
  return table(
    [
      "scenario",
      "profile",
      "n",
      "flows on the failed node p50",
      "their outage min",
      "p50",
      "p90",
      "p99",
      "max",
      "other flows' outage (max)",
      "other flows moved to another node",
      "router drops the node p50 / p99",
      "probes lost",
      "lost on the way back",
      "served again",
    ],
    groups(repetitions, "ecmp", profiles).map(({ title, profile, mine }) => {
      const shares = summarize(mine.map((r) => (100 * r.affectedFlows) / Math.max(1, r.flows)));
      return [
        title,
        profile,
        String(mine.length),
        shares === undefined ? "–" : `${shares.p50.toFixed(0)} %`,
        ...spread(summarize(mine.map((r) => r.outageMs))),
        ms(Math.max(0, ...mine.map((r) => r.otherOutageMs))),
        `${sum(mine, (r) => r.movedFlows)} of ${sum(mine, (r) => r.flows - r.affectedFlows)}`,
        p50p99(present(mine.map((r) => r.routerDropMs))),
        String(sum(mine, (r) => r.lostProbes)),
        String(sum(mine, (r) => r.lostOnWayBack)),
        served(mine),
      ];
    }),
  );
}

/** Flows per node at the fault over every ecmp repetition, and how uneven one repetition got. */
function spreadLine(ecmp: readonly RoutedRepetition[]): string {
  const perNode = new Map<string, number>();
  for (const r of ecmp)
    for (const [node, flows] of Object.entries(r.flowsBefore))
      perNode.set(node, (perNode.get(node) ?? 0) + flows);
  const total = [...perNode.values()].reduce((all, flows) => all + flows, 0);
  const shares = [...perNode]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([node, flows]) => `${node} ${((100 * flows) / total).toFixed(0)} %`)
    .join(", ");
  const busiest = summarize(
    ecmp.map((r) => {
      const counts = Object.values(r.flowsBefore);
      const flows = counts.reduce((all, count) => all + count, 0);
      return (100 * Math.max(0, ...counts)) / Math.max(1, flows);
    }),
  );
  const even = perNode.size === 0 ? "" : ` (an even spread is ${(100 / perNode.size).toFixed(0)} %)`;
  return (
    `Spread: the flows each node answered before the fault, over ${ecmp.length} ecmp repetitions: ${shares}. ` +
    (busiest === undefined
      ? ""
      : `The busiest node's share in one repetition: p50 ${busiest.p50.toFixed(0)} %, max ${busiest.max.toFixed(0)} %${even}.`)
  );
}

/**
 * The sentence docs/benchmarks.md opens with for bgp and ecmp: each scenario's outage p50, from the
 * first profile measured; undefined without routed repetitions.
 */
export function routedHeadline(results: BenchResults): string | undefined {
  const profile = results.routed[0]?.profile;
  if (profile === undefined) return undefined;
  const figures = ROUTED_SCENARIOS.flatMap((scenario) => {
    const outage = summarize(
      results.routed
        .filter((r) => r.scenario === scenario.name && r.profile === profile)
        .map((r) => r.outageMs),
    );
    return outage === undefined ? [] : [`${scenario.title} ${ms(outage.p50)}`];
  });
  const bfd = results.routed.filter((r) => r.mode === "bgp" && r.bfd);
  const twice = sum(bfd, (r) => r.multiHops.length + r.doubleAnswers.length);
  return (
    `BGP and ECMP behind a router (${profile} profile, [below](#bgp-and-ecmp)), outage p50: ${figures.join("; ")}; ` +
    `${twice} moments with a bgp address routed to, or answered by, two nodes in ${bfd.length} bgp repetitions with BFD.`
  );
}

export function routedSection(results: BenchResults): string[] {
  const routed = results.routed;
  const first = routed[0];
  if (first === undefined) return [];
  const { timers } = first;
  const profiles = [...new Set(routed.map((r) => r.profile))];
  const bgp = routed.filter((r) => r.mode === "bgp");
  const ecmp = routed.filter((r) => r.mode === "ecmp");
  return [
    "### BGP and ECMP",
    `The client is the lab's far client behind the router (a real BIRD 2 in eBGP with every node's BIRD, which vipd configures; it installs what the nodes announce in its kernel, equal routes as one multipath route hashed on ports): ${first.flowRuns.length} UDP flows to the VIP, each from its own source port, one request per flow every ${first.intervalMs} ms. ` +
      `BGP timers on the nodes: hold time ${timers.holdTimeS} s, keepalive ${timers.keepaliveS} s (vipd's defaults are 90 s and 30 s); BFD, where on, ${timers.bfdIntervalMs} ms × ${timers.bfdMultiplier} (vipd's default), the router asking for 100 ms × 3. ` +
      "Without BFD the router keeps a dead node's route until the hold time runs out; in bgp the new holder's route, announced once the dead one's Lease has expired, joins it, and the router spreads the flows over both (two next hops) until then. Node death: the node's LAN link down, then its agent and its BIRD killed and its management link down; it comes back with its LAN link last.",
    "*Outage*: the longest time one of the flows the failed node served went without an answer after the fault. *Fault → every flow served again*: until each of those flows was answered by another node. " +
      "*Router drops / names*: from the fault until the router's kernel route for the VIP (sampled every 5 ms) no longer names the failed node, or names another. " +
      "*Two next hops* (bgp): the single-holder address routed to two nodes at once; *double answers* (bgp): requests sent at one moment answered by two nodes. *Lost on the way back*: requests lost after the node or its agent began to come back. " +
      "*Other flows moved*: flows of the surviving nodes that another node answered during the fault: the kernel's multipath hash (hash-threshold) reassigns some of them when a next hop goes; UDP does not notice, a TCP connection would be reset.",
    ...(bgp.length === 0 ? [] : ["bgp (one holder, elected as in Layer 2):", bgpTable(bgp, profiles)]),
    ...(ecmp.length === 0
      ? []
      : [
          "ecmp (every node announces, and nobody is elected, so it runs under the first profile only; only the flows the failed node served are cut):",
          ecmpTable(ecmp, profiles),
          spreadLine(ecmp),
        ]),
  ];
}
