// The failover suite (issue 5 §1): for each profile, scenario and repetition, a fresh Service with
// its own VIP, the client probe every 5 ms, the wire observer and the address sampler, then the
// fault, the way back, and the figures.
import { setTimeout as sleep } from "node:timers/promises";
import { monotonicNs, type LabNode, type LabProcess } from "../../lab/index.ts";
import { BENCH_NAMESPACE, serviceBody, type BenchLab } from "./bench-lab.ts";
import { analyzeRepetition, type Isolation } from "./failover-analysis.ts";
import type { Progress } from "./progress.ts";
import type { TimingProfile } from "./profiles.ts";
import type { BenchError, FailoverRepetition, Mark } from "./results.ts";
import { scenarioInfo, type ScenarioName } from "./scenario-catalogue.ts";
import { injectFault } from "./scenarios.ts";

export const PROBE_INTERVAL_MS = 5;
// Steady service before the fault, so the timeline shows the holder answering.
const BEFORE_FAULT_MS = 1000;
// Observation after the scenario's way back, where a returning node could still misbehave.
const AFTER_RECOVERY_MS = 1500;
const FIRST_ANSWER_TIMEOUT_MS = 30_000;
const STATUS_TIMEOUT_MS = 30_000;
const RELEASE_TIMEOUT_MS = 30_000;
const MAX_FAILURES_IN_A_ROW = 3;

/** 198.51.100.100–199: free in the lab, and apart from the e2e tests' 198.51.100.200–230. */
export function failoverVip(index: number): string {
  return `198.51.100.${100 + (index % 100)}`;
}

interface RepetitionPlan {
  readonly scenario: ScenarioName;
  readonly profile: TimingProfile;
  readonly repetition: number;
  readonly vip: string;
  readonly apiDownMs: number;
}

function deleteService(bench: BenchLab, name: string): Promise<unknown> {
  return bench.core.deleteNamespacedService({ name, namespace: BENCH_NAMESPACE });
}

async function waitReleased(bench: BenchLab, vip: string): Promise<void> {
  const deadline = Date.now() + RELEASE_TIMEOUT_MS;
  while ((await bench.holdersOf(vip)).length > 0) {
    if (Date.now() > deadline) throw new Error(`${vip} is still held after its Service was deleted`);
    await sleep(100);
  }
}

async function runRepetition(
  bench: BenchLab,
  plan: RepetitionPlan,
  progress: Progress,
): Promise<FailoverRepetition> {
  const { lab, status } = bench;
  const { vip, scenario, profile } = plan;
  const service = `fo-${profile.name}-${scenario}-${plan.repetition}`;
  const touched = new Set<LabProcess>(bench.agents.values());
  progress.step("starting observers");
  const sampler = await lab.sampleAddresses({ ip: vip, intervalMs: PROBE_INTERVAL_MS });
  const wire = await lab.observeWire({ ip: vip });
  const probe = await lab.probe({ target: vip, intervalMs: PROBE_INTERVAL_MS });
  const stopObservers = async () => {
    const samples = await probe.stop();
    return { samples, frames: await wire.stop(), addresses: await sampler.stop() };
  };
  let observed: Awaited<ReturnType<typeof stopObservers>> | undefined;
  try {
    progress.step("creating the Service");
    await bench.core.createNamespacedService({
      namespace: BENCH_NAMESPACE,
      body: serviceBody({ name: service, namespace: BENCH_NAMESPACE, loadBalancerIP: vip }),
    });
    const first = await probe.waitFor((sample) => sample.node !== null, FIRST_ANSWER_TIMEOUT_MS);
    const holder: LabNode = bench.cluster.node(first.node);
    const agent = bench.agents.get(holder.name);
    if (agent === undefined) throw new Error(`no agent runs on ${holder.name}`);
    await status.waitFor(service, {
      fromNs: 0,
      timeoutMs: STATUS_TIMEOUT_MS,
      done: (change) => change.holder === holder.name && change.ingress.includes(vip),
    });
    await sleep(BEFORE_FAULT_MS);

    const marks: Mark[] = [];
    const isolations: Isolation[] = [];
    const isolatedSince = new Map<string, number>();
    const faultNs = monotonicNs();
    marks.push({ label: scenarioInfo(scenario).fault, atNs: faultNs });
    progress.step("fault injected");
    await injectFault(scenario, {
      bench,
      holder,
      agent,
      profile,
      apiDownMs: plan.apiDownMs,
      mark: (label) => marks.push({ label, atNs: monotonicNs() }),
      lanDown: async (node) => {
        await lab.lanDown(node);
        isolatedSince.set(node.name, monotonicNs());
      },
      lanUp: async (node) => {
        await lab.lanUp(node);
        const atNs = monotonicNs();
        isolations.push({ node: node.name, fromNs: isolatedSince.get(node.name) ?? faultNs, toNs: atNs });
        isolatedSince.delete(node.name);
        marks.push({ label: `${node.name} LAN link up`, atNs });
      },
      step: (text) => {
        progress.step(text);
      },
      waitForAnotherNode: async (timeoutMs) => {
        const isOther = (sample: { node: string | null; sentNs: number }) =>
          sample.sentNs >= faultNs && sample.node !== null && sample.node !== holder.name;
        const seen = probe.samples().find(isOther);
        if (seen !== undefined) return seen.node;
        return probe.waitFor(isOther, timeoutMs).then(
          (sample) => sample.node,
          () => null,
        );
      },
    });
    for (const each of bench.agents.values()) touched.add(each);
    const servingNow = probe.samples().findLast((sample) => sample.node !== null)?.node;
    if (servingNow !== undefined && servingNow !== holder.name) {
      progress.step("waiting for the status to name the new holder");
      await status.waitFor(service, {
        fromNs: faultNs,
        timeoutMs: STATUS_TIMEOUT_MS,
        done: (change) => change.holder === servingNow && change.ingress.includes(vip),
      });
    }
    await sleep(AFTER_RECOVERY_MS);
    const endNs = monotonicNs();
    for (const [node, fromNs] of isolatedSince) isolations.push({ node, fromNs, toNs: endNs });
    observed = await stopObservers();
    const figures = analyzeRepetition({
      vip,
      holderBefore: holder.name,
      faultNs,
      ...observed,
      statusChanges: status.changes(service),
      isolations,
    });
    const expected = scenarioInfo(scenario).expectation;
    const brokePromise =
      figures.doubleAnswers.length > 0 ||
      figures.overlaps.length > 0 ||
      (expected === "hold"
        ? figures.lostProbes > 0 || figures.holderAfter !== holder.name
        : figures.faultToNewHolderMs === null);
    return {
      scenario,
      profile: profile.name,
      repetition: plan.repetition,
      vip,
      holderBefore: holder.name,
      faultNs,
      endNs,
      marks,
      probeIntervalMs: PROBE_INTERVAL_MS,
      isolations,
      ...figures,
      ...(brokePromise ? { agentLogExcerpt: bench.cluster.agentLogs(touched, 4000) } : {}),
    };
  } finally {
    if (observed === undefined) await stopObservers().catch(() => undefined);
    progress.step("deleting the Service");
    await deleteService(bench, service).catch(() => undefined);
    status.forget(service);
    await waitReleased(bench, vip);
  }
}

export async function runFailoverSuite(
  bench: BenchLab,
  options: {
    readonly profiles: readonly TimingProfile[];
    readonly scenarios: readonly ScenarioName[];
    readonly repetitions: number;
    readonly apiDownMs: number;
    readonly progress: Progress;
    /** Called with each repetition as soon as it is measured, so a long run loses nothing. */
    readonly record: (repetition: FailoverRepetition) => Promise<void>;
    readonly recordError: (error: BenchError) => Promise<void>;
  },
): Promise<void> {
  let index = 0;
  let failuresInARow = 0;
  for (const profile of options.profiles) {
    options.progress.phase(`failover ${profile.name}: starting agents`);
    await bench.startAgents(profile);
    for (const scenario of options.scenarios) {
      for (let repetition = 1; repetition <= options.repetitions; repetition++) {
        options.progress.phase(`failover ${profile.name} ${scenario} ${repetition}/${options.repetitions}`);
        const plan = { scenario, profile, repetition, vip: failoverVip(index), apiDownMs: options.apiDownMs };
        index += 1;
        let result: FailoverRepetition;
        try {
          result = await runRepetition(bench, plan, options.progress);
          failuresInARow = 0;
        } catch (error) {
          // One repetition that could not be measured (an agent that would not start, a Service
          // that never answered) is recorded and the lab reset; several in a row end the suite.
          const what = `failover ${profile.name} ${scenario} #${repetition}`;
          const message = (error as Error).message;
          await options.recordError({ what, message });
          options.progress.log(`${what}: not measured: ${message.split("\n")[0] ?? ""}`);
          failuresInARow += 1;
          if (failuresInARow >= MAX_FAILURES_IN_A_ROW) throw error;
          await bench.startAgents(profile);
          continue;
        }
        await options.record(result);
        options.progress.log(
          `${profile.name} ${scenario} #${repetition}: ${result.holderBefore} → ${result.holderAfter ?? "nobody"}, ` +
            `outage ${result.outageMs.toFixed(0)} ms, lost ${result.lostProbes}, ` +
            `double answers ${result.doubleAnswers.length}, overlaps ${result.overlaps.length}` +
            (result.agentLogExcerpt === undefined ? "" : "  ← broke its promise (agent logs kept)"),
        );
        await bench.waitReady();
      }
    }
  }
}
