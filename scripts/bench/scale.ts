// The scale suite (issue 5 §2): N Services created at once on fresh agents, the time until every
// VIP answers and every status is written, then a steady-state window over which the API server's
// own request counters, the agents' CPU time, memory and event-loop lag are read. A first window
// with no agents at all measures what the API server does on its own.
import { setTimeout as sleep } from "node:timers/promises";
import { monotonicNs } from "../../lab/index.ts";
import { eventLoopLag, gaugeValue } from "./agent-metrics.ts";
import {
  isWrite,
  parseRequestCounts,
  requestRates,
  totalPerSecond,
  type RequestCounts,
} from "./api-requests.ts";
import { BENCH_NAMESPACE, type BenchLab } from "./bench-lab.ts";
import { cpuPercent, readCpu, readRss, type CpuReading } from "./process-usage.ts";
import type { Progress } from "./progress.ts";
import type { TimingProfile } from "./profiles.ts";
import type { AgentUsage, ScaleRun } from "./results.ts";
import { startVipSweep } from "./vip-sweep.ts";

// 2001:db8:1::1:0/112 on the lab's LAN: room for 65 536 VIPs, none of them a node's or the
// client's address, and no ClusterIP either (those come from 2001:db8:ffff::/112).
const SCALE_PREFIX = "2001:db8:1::1:";
export function scaleVip(index: number): string {
  return `${SCALE_PREFIX}${index.toString(16)}`;
}

const CREATE_CONCURRENCY = 16;
// After the last status, before the window: the agents' start-up work (claims, announcement
// bursts) is over and what is left is the steady state.
export const SETTLE_MS = 5000;
// After thousands of claims the agents still have Events queued behind their request limit;
// the steady state begins once every agent has had none waiting for this long.
const QUEUES_EMPTY_FOR_MS = 5000;
const QUEUES_EMPTY_TIMEOUT_MS = 600_000;

export async function untilRequestQueuesEmpty(bench: BenchLab, progress: Progress): Promise<void> {
  const started = Date.now();
  let emptySince: number | null = null;
  while (Date.now() - started < QUEUES_EMPTY_TIMEOUT_MS) {
    const waiting = await Promise.all(
      bench.lab.nodes.map(async (node) =>
        gaugeValue(await bench.agentMetrics(node), "vipd_api_requests_waiting"),
      ),
    );
    const total = waiting.reduce<number>((sum, each) => sum + (each ?? 0), 0);
    if (total > 0) {
      emptySince = null;
      progress.step(`${total} API requests still queued in the agents`);
    } else {
      emptySince ??= Date.now();
      if (Date.now() - emptySince >= QUEUES_EMPTY_FOR_MS) return;
    }
    await sleep(1000);
  }
  progress.log(`the agents' request queues did not stay empty within ${QUEUES_EMPTY_TIMEOUT_MS / 1000} s`);
}

async function apiCounts(bench: BenchLab): Promise<RequestCounts> {
  const result = await bench.cluster.api.kubectl(["get", "--raw", "/metrics"]);
  if (result.code !== 0) throw new Error(`reading the API server's metrics: ${result.stderr}`);
  return parseRequestCounts(result.stdout);
}

/** each(0) … each(count - 1), at most limit at a time. */
async function inParallel(
  count: number,
  limit: number,
  each: (index: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next;
      next += 1;
      await each(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/** How many addresses starting with prefix each node has on its LAN link. */
export async function vipsHeld(bench: BenchLab, prefix = SCALE_PREFIX): Promise<Record<string, number>> {
  const spread: Record<string, number> = {};
  for (const node of bench.lab.nodes) {
    const shown = await bench.lab.exec(node.netns, ["ip", "-o", "addr", "show", "dev", node.lanIf]);
    spread[node.name] = shown.stdout.split("\n").filter((line) => line.includes(` ${prefix}`)).length;
  }
  return spread;
}

// With thousands of Services one delete-collection can outlast the API server's request timeout
// (504), which stops it part-way; it is asked again until nothing is left.
async function deleteServicesOnce(bench: BenchLab): Promise<void> {
  try {
    await bench.core.deleteCollectionNamespacedService({ namespace: BENCH_NAMESPACE });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 504) throw error;
  }
}

export async function deleteAllServices(
  bench: BenchLab,
  progress: Progress,
  prefix = SCALE_PREFIX,
): Promise<void> {
  progress.step("deleting the Services");
  for (;;) {
    await deleteServicesOnce(bench);
    const held = Object.values(await vipsHeld(bench, prefix)).reduce((sum, count) => sum + count, 0);
    if (held === 0 || bench.agents.size === 0) return;
    progress.step(`waiting for ${held} VIPs to be released`);
    await sleep(500);
  }
}

export interface Window {
  readonly seconds: number;
  readonly rates: ScaleRun["rates"];
  readonly usage: AgentUsage[];
}

export async function measureWindow(bench: BenchLab, windowMs: number, progress: Progress): Promise<Window> {
  const agents = bench.lab.nodes.flatMap((node) => {
    const agent = bench.agents.get(node.name);
    return agent === undefined ? [] : [{ node, agent }];
  });
  // Scraped once so that the lag gauges of the end scrape cover the window only.
  await Promise.all(agents.map(({ node }) => bench.agentMetrics(node)));
  const cpuBefore = new Map<string, CpuReading>();
  for (const { node, agent } of agents) cpuBefore.set(node.name, await readCpu(agent.pid));
  const countsBefore = await apiCounts(bench);
  const startedNs = monotonicNs();
  const endsAt = Date.now() + windowMs;
  while (Date.now() < endsAt) {
    progress.step(`steady-state window, ${Math.ceil((endsAt - Date.now()) / 1000)} s left`);
    await sleep(Math.min(1000, Math.max(0, endsAt - Date.now())));
  }
  const countsAfter = await apiCounts(bench);
  const seconds = (monotonicNs() - startedNs) / 1e9;
  const usage = await Promise.all(
    agents.map(async ({ node, agent }): Promise<AgentUsage> => {
      const lag = eventLoopLag(await bench.agentMetrics(node));
      const before = cpuBefore.get(node.name);
      if (before === undefined) throw new Error(`no CPU reading of ${node.name}`);
      return {
        node: node.name,
        rssBytes: await readRss(agent.pid),
        cpuPercent: cpuPercent(before, await readCpu(agent.pid)),
        eventLoopLagP99Ms: lag.p99Ms,
        eventLoopLagMaxMs: lag.maxMs,
      };
    }),
  );
  return { seconds, rates: requestRates(countsBefore, countsAfter, seconds), usage };
}

function scaleRun(
  parts: Omit<ScaleRun, "writesPerSecond" | "readsPerSecond" | "windowSeconds" | "rates" | "usage"> & {
    window: Window;
  },
): ScaleRun {
  const { window, ...rest } = parts;
  return {
    ...rest,
    windowSeconds: window.seconds,
    rates: window.rates,
    writesPerSecond: totalPerSecond(window.rates, isWrite),
    readsPerSecond: totalPerSecond(window.rates, (rate) => !isWrite(rate)),
    usage: window.usage,
  };
}

/**
 * count UDP LoadBalancer Services of the bench's namespace, created CREATE_CONCURRENCY at a time,
 * and when each create returned.
 */
export async function createServices(
  bench: BenchLab,
  options: {
    readonly count: number;
    readonly progress: Progress;
    readonly service: (index: number) => {
      readonly name: string;
      readonly loadBalancerIP?: string;
      readonly annotations?: Readonly<Record<string, string>>;
    };
  },
): Promise<{ createdNs: number; createdAtNs: number[]; createMs: number }> {
  const { count, progress } = options;
  const createdNs = monotonicNs();
  const createdAtNs: number[] = [];
  let created = 0;
  await inParallel(count, CREATE_CONCURRENCY, async (index) => {
    const { name, loadBalancerIP, annotations } = options.service(index);
    await bench.core.createNamespacedService({
      namespace: BENCH_NAMESPACE,
      body: {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace: BENCH_NAMESPACE, annotations: { ...annotations } },
        spec: {
          type: "LoadBalancer",
          // An IPv6 ClusterIP: the lab's IPv4 Service range has room for only 254.
          ipFamilies: ["IPv6"],
          ipFamilyPolicy: "SingleStack",
          loadBalancerIP,
          // The NodePort range holds 2768 ports, fewer than the largest run's Services; an L2
          // balancer does not need them, since kube-proxy serves the VIP itself.
          allocateLoadBalancerNodePorts: false,
          ports: [{ port: 8080, protocol: "UDP" }],
        },
      },
    });
    createdAtNs[index] = monotonicNs();
    created += 1;
    if (created % 50 === 0) progress.step(`created ${created}/${count} Services`);
  });
  return { createdNs, createdAtNs, createMs: (monotonicNs() - createdNs) / 1e6 };
}

async function runCount(
  bench: BenchLab,
  options: { count: number; profile: TimingProfile; windowMs: number; progress: Progress },
): Promise<ScaleRun> {
  const { count, progress } = options;
  const nodes = bench.lab.nodes.length;
  progress.step("starting fresh agents");
  await bench.startAgents(options.profile);
  const vips = Array.from({ length: count }, (_, index) => scaleVip(index));
  const sweep = await startVipSweep(bench.lab, { vips, workDir: bench.cluster.api.workDir });
  const { createdNs, createdAtNs, createMs } = await createServices(bench, {
    count,
    progress,
    service: (index) => ({ name: `scale-${index}`, loadBalancerIP: vips[index] }),
  });
  progress.step(`waiting for ${count} VIPs to answer`);
  const answerTimeoutMs = 120_000 + count * 50;
  const allAnswered = await sweep.allAnswered(answerTimeoutMs);
  await sweep.stop();
  const answers = sweep.answers();
  progress.step("waiting for every status");
  let lastStatusNs: number | null = null;
  for (let index = 0; index < count; index++) {
    const vip = vips[index] as string;
    const written = await bench.status.waitFor(`scale-${index}`, {
      fromNs: createdNs,
      timeoutMs: Math.max(1000, createdNs / 1e6 + answerTimeoutMs - monotonicNs() / 1e6),
      done: (change) => change.holder !== undefined && change.ingress.includes(vip),
    });
    if (written === undefined) {
      lastStatusNs = null;
      break;
    }
    lastStatusNs = Math.max(lastStatusNs ?? 0, written.atNs);
  }
  await untilRequestQueuesEmpty(bench, progress);
  await sleep(SETTLE_MS);
  const window = await measureWindow(bench, options.windowMs, progress);
  const spread = await vipsHeld(bench);
  for (let index = 0; index < count; index++) bench.status.forget(`scale-${index}`);
  const answeredAtNs = vips.map((vip) => answers.get(vip) ?? null);
  // Rounded to 0.1 ms: the file holds one of each per VIP, thousands of them.
  const sinceFirstCreate = (atNs: number) => Math.round((atNs - createdNs) / 1e5) / 10;
  return scaleRun({
    services: count,
    nodes,
    agents: nodes,
    createMs,
    allAnsweredMs: allAnswered ? (Math.max(...answeredAtNs.map(Number)) - createdNs) / 1e6 : null,
    answered: answers.size,
    allStatusMs: lastStatusNs === null ? null : (lastStatusNs - createdNs) / 1e6,
    answeredAtMs: answeredAtNs.map((atNs) => (atNs === null ? null : sinceFirstCreate(atNs))),
    createdAtMs: createdAtNs.map(sinceFirstCreate),
    spread,
    window,
  });
}

export async function runScaleSuite(
  bench: BenchLab,
  options: {
    readonly counts: readonly number[];
    readonly profile: TimingProfile;
    readonly windowMs: number;
    /** The baselines of this many nodes are in the results already (a run in parts). */
    readonly baselinesKnown: boolean;
    readonly progress: Progress;
    readonly record: (run: ScaleRun) => Promise<void>;
  },
): Promise<void> {
  const { progress } = options;
  // Without Services: first the API server on its own, then with idle agents (their heartbeats).
  const baseline = async (agents: number) =>
    scaleRun({
      services: 0,
      nodes: bench.lab.nodes.length,
      agents,
      createMs: 0,
      allAnsweredMs: 0,
      answered: 0,
      allStatusMs: 0,
      answeredAtMs: [],
      spread: {},
      window: await measureWindow(bench, options.windowMs, progress),
    });
  if (!options.baselinesKnown) {
    progress.phase("scale: the API server alone (no agents)");
    await bench.stopAgents();
    await sleep(SETTLE_MS);
    await options.record(await baseline(0));
    progress.phase("scale: idle agents (no Services)");
    await bench.startAgents(options.profile);
    await sleep(SETTLE_MS);
    await options.record(await baseline(bench.lab.nodes.length));
  }
  for (const count of options.counts) {
    progress.phase(`scale: ${count} Services on ${bench.lab.nodes.length} nodes`);
    const run = await runCount(bench, {
      count,
      profile: options.profile,
      windowMs: options.windowMs,
      progress,
    });
    // Recorded before the clean-up, so that a failure there keeps the measurement.
    await options.record(run);
    await deleteAllServices(bench, progress);
    progress.log(
      `scale ${count}: all answered in ${run.allAnsweredMs?.toFixed(0) ?? "never"} ms, ` +
        `writes ${run.writesPerSecond.toFixed(2)}/s, reads ${run.readsPerSecond.toFixed(2)}/s, ` +
        `RSS ${run.usage.map((usage) => `${(usage.rssBytes / 2 ** 20).toFixed(0)}MB`).join("/")}, ` +
        `CPU ${run.usage.map((usage) => `${usage.cpuPercent.toFixed(1)}%`).join("/")}`,
    );
  }
}
