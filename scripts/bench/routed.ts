// The routed failover suite (issue 16 §4): for each profile, routed scenario and repetition, a fresh
// Service whose VIP (from the lab's routed range) the agents announce in bgp or ecmp mode through
// their nodes' BIRDs, many flows from the far client behind the router, the router's route for the
// VIP sampled, then the fault, the way back, and the figures.
import { setTimeout as sleep } from "node:timers/promises";
import {
  NODE_ASN,
  ROUTER_ASN,
  ROUTER_LAN_IPV4,
  monotonicNs,
  type Lab,
  type LabNode,
  type LabProcess,
  type Router,
} from "../../lab/index.ts";
import { BENCH_NAMESPACE, serviceBody, type BenchLab } from "./bench-lab.ts";
import type { Progress } from "./progress.ts";
import type { TimingProfile } from "./profiles.ts";
import type { BenchError, Mark, RoutedRepetition } from "./results.ts";
import { analyzeRoutedRepetition } from "./routed-analysis.ts";
import {
  ROUTED_TIMERS,
  routedAgentArgs,
  routedScenarioInfo,
  type RoutedScenarioInfo,
  type RoutedScenarioName,
} from "./routed-catalogue.ts";
import { startFlowProbe, type FlowProbe, type FlowSample } from "./routed-observers.ts";

/** Flows from the far client, each from its own source port, and how often each sends. */
export const ROUTED_FLOWS = 32;
export const FLOW_INTERVAL_MS = 20;
// Long, so that a request answered late on a busy machine (the prober itself stalled, which fires
// its timers before it reads its sockets) is not counted lost; a gap still shows in arrival times.
const FLOW_TIMEOUT_MS = 1000;
const NEXT_HOP_INTERVAL_MS = 5;
const ECHO_PORT = 8080;
const BEFORE_FAULT_MS = 1000;
const AFTER_RECOVERY_MS = 1500;
const SERVING_TIMEOUT_MS = 30_000;
const SESSIONS_TIMEOUT_MS = 60_000;
const SETTLED_SESSIONS_MS = 3000;
const RELEASE_TIMEOUT_MS = 30_000;
const MAX_FAILURES_IN_A_ROW = 3;

/** 203.0.113.200–249: in the lab's routed range (ROUTED_VIPS_IPV4), on no link's subnet. */
export function routedVip(index: number): string {
  return `203.0.113.${200 + (index % 50)}`;
}

function routerOf(lab: Lab): Router {
  if (lab.router === undefined) throw new Error("the routed suite needs the lab's router");
  return lab.router;
}

/**
 * Every node's IPv4 session with the router established, and the router's BFD session with each
 * node up with BFD, not up without: the router's BFD stays on (lab/bird.ts), and when nodes turn
 * theirs off, its sessions fall from up to down and take the BGP sessions with them once more.
 */
async function sessionsReady(bench: BenchLab, bfd: boolean): Promise<boolean> {
  const router = routerOf(bench.lab);
  const protocols = (await router.birdc(["show", "protocols"])).stdout;
  const established = bench.lab.nodes.every((node) =>
    new RegExp(`^${node.name}_v4\\s+BGP\\s+.*\\bup\\b.*\\bEstablished\\b`, "m").test(protocols),
  );
  if (!established) return false;
  const sessions = (await router.birdc(["show", "bfd", "sessions"])).stdout;
  return bench.lab.nodes.every(
    (node) => new RegExp(`^${node.ipv4.replaceAll(".", "\\.")}\\s+\\S+\\s+Up\\b`, "m").test(sessions) === bfd,
  );
}

/** Until sessionsReady has held for stableMs (0: once), or a minute has passed. */
async function waitSessions(bench: BenchLab, bfd: boolean, stableMs = 0): Promise<void> {
  const deadline = Date.now() + SESSIONS_TIMEOUT_MS;
  let readySince: number | undefined;
  for (;;) {
    if (await sessionsReady(bench, bfd)) {
      readySince ??= Date.now();
      if (Date.now() - readySince >= stableMs) return;
    } else readySince = undefined;
    if (Date.now() > deadline) {
      const router = routerOf(bench.lab);
      const shown = (await router.birdc(["show", "protocols"])).stdout;
      const bfdShown = (await router.birdc(["show", "bfd", "sessions"])).stdout;
      throw new Error(
        `the nodes' BGP sessions with the router did not settle:\n${shown}\n${bfdShown}\n${bench.agentLogs()}`,
      );
    }
    await sleep(100);
  }
}

/**
 * The first tick reported after this call whose every flow has been answered or timed out and that
 * satisfies done; null on timeout. The flows' samples of one tick arrive in any order, so a tick is
 * judged once all of them are in.
 */
function waitForTick(
  probe: FlowProbe,
  flows: number,
  done: (tick: readonly FlowSample[]) => boolean,
  timeoutMs: number,
): Promise<readonly FlowSample[] | null> {
  return new Promise((resolve) => {
    const ticks = new Map<number, FlowSample[]>();
    const settle = (found: readonly FlowSample[] | null) => {
      clearTimeout(timer);
      unfollow();
      resolve(found);
    };
    const unfollow = probe.follow((sample) => {
      const tick = ticks.get(sample.tick) ?? [];
      tick.push(sample);
      ticks.set(sample.tick, tick);
      if (tick.length < flows) return;
      ticks.delete(sample.tick);
      if (done(tick)) settle(tick);
    });
    const timer = setTimeout(() => {
      settle(null);
    }, timeoutMs);
  });
}

async function waitRouted(bench: BenchLab, vip: string): Promise<void> {
  const router = routerOf(bench.lab);
  const deadline = Date.now() + RELEASE_TIMEOUT_MS;
  for (;;) {
    const held = await Promise.all(
      bench.lab.nodes.map(async (node) => (await bench.lab.addressesOn(node)).has(vip)),
    );
    if ((await router.nextHops(vip)).length === 0 && !held.includes(true)) return;
    if (Date.now() > deadline)
      throw new Error(`${vip} is still routed or on a node after its Service was deleted`);
    await sleep(100);
  }
}

/**
 * After a repetition that failed half-way: every link up, every node's BIRD running. The agents are
 * restarted by the caller.
 */
async function healLab(bench: BenchLab): Promise<void> {
  const { lab } = bench;
  for (const node of lab.nodes) {
    await lab.lanUp(node);
    await lab.healApi(node);
    const bird = bench.birdOf(node);
    let running = false;
    try {
      running = lab.pids().includes(bird.process.pid);
    } catch {
      // Stopped: it has no process.
    }
    if (!running) await bird.restart();
  }
}

interface RepetitionPlan {
  readonly info: RoutedScenarioInfo;
  readonly profile: TimingProfile;
  readonly repetition: number;
  readonly vip: string;
}

interface FaultContext {
  readonly bench: BenchLab;
  readonly node: LabNode;
  readonly agent: LabProcess;
  mark(label: string): void;
  /** The way back begins: the fault's window ends here. */
  back(label: string): void;
  /** Every flow of one tick answered by a node other than the faulted one; false on timeout. */
  served(timeoutMs: number): Promise<boolean>;
  /** Waits until the router routes the VIP to every node again (ecmp) and the sessions are up. */
  rejoined(): Promise<void>;
  step(what: string): void;
}

// The slowest promised path: the dead node's Lease running out, or without BFD the router's hold
// timer, with room for a busy machine.
function servingTimeoutMs(profile: TimingProfile): number {
  return profile.leaseDurationMs + ROUTED_TIMERS.holdTimeS * 1000 + SERVING_TIMEOUT_MS;
}

async function politeHandover(context: FaultContext, profile: TimingProfile): Promise<void> {
  const { bench } = context;
  bench.lab.signal(context.agent, "SIGTERM");
  context.step("waiting for every flow to be served by another node");
  await context.served(servingTimeoutMs(profile));
  await context.agent.exited;
  context.back("agent restarted");
  bench.restartAgent(context.node);
  context.step("waiting for the restarted agent to be ready");
  await bench.waitReady();
  await context.rejoined();
}

async function nodeDeath(context: FaultContext, profile: TimingProfile): Promise<void> {
  const { bench, node } = context;
  const { lab } = bench;
  const bird = bench.birdOf(node);
  // The LAN first: a process killed while its link is up has its kernel close the BGP connection,
  // which tells the router at once; a dead node tells it nothing.
  await lab.lanDown(node);
  lab.signal(context.agent, "SIGKILL");
  lab.signal(bird.process, "SIGKILL");
  await lab.cutApi(node);
  context.step("node dead, waiting for every flow to be served by another node");
  await context.served(servingTimeoutMs(profile));
  // It comes back as after a reboot, cut off from the LAN until its agent has swept what it held
  // before: the API server, its BIRD, its agent, then its LAN link.
  context.back("management link up");
  await lab.healApi(node);
  await bird.restart();
  context.mark("BIRD restarted");
  bench.restartAgent(node);
  context.mark("agent restarted");
  context.step("waiting for the restarted agent to be ready");
  await bench.waitReady();
  await lab.lanUp(node);
  context.mark(`${node.name} LAN link up`);
  await context.rejoined();
}

async function runRepetition(
  bench: BenchLab,
  plan: RepetitionPlan,
  progress: Progress,
): Promise<RoutedRepetition> {
  const { lab } = bench;
  const { info, vip, profile } = plan;
  const far = lab.farClient;
  if (far === undefined) throw new Error("the routed suite needs the lab's far client");
  const service = `ro-${profile.name}-${info.name}-${plan.repetition}`;
  const touched = new Set<LabProcess>(bench.agents.values());
  progress.step("starting observers");
  const hopSampler = await lab.sampleNextHops({ vip, intervalMs: NEXT_HOP_INTERVAL_MS });
  const probe = await startFlowProbe(lab, {
    netns: far.netns,
    target: vip,
    port: ECHO_PORT,
    flows: ROUTED_FLOWS,
    intervalMs: FLOW_INTERVAL_MS,
    timeoutMs: FLOW_TIMEOUT_MS,
  });
  const stopObservers = async () => ({ samples: await probe.stop(), hops: await hopSampler.stop() });
  let observed: Awaited<ReturnType<typeof stopObservers>> | undefined;
  const allAddresses = lab.nodes.map((node) => node.ipv4).sort();
  const routedToAll = () => hopSampler.latest().join(" ") === allAddresses.join(" ");
  try {
    progress.step("creating the Service");
    await bench.core.createNamespacedService({
      namespace: BENCH_NAMESPACE,
      body: serviceBody({ name: service, namespace: BENCH_NAMESPACE, loadBalancerIP: vip }),
    });
    // Serving: bgp, every flow answered by one node; ecmp, the router routing to every node and
    // every flow answered.
    const ready = await waitForTick(
      probe,
      ROUTED_FLOWS,
      (tick) =>
        tick.every((sample) => sample.node !== null) &&
        (info.mode === "bgp" ? new Set(tick.map((sample) => sample.node)).size === 1 : routedToAll()),
      SERVING_TIMEOUT_MS,
    );
    if (ready === null) throw new Error(`${vip} was not served to every flow in ${SERVING_TIMEOUT_MS} ms`);
    const holder = ready[0]?.node ?? null;
    const node =
      info.mode === "bgp"
        ? bench.cluster.node(holder)
        : (lab.nodes[(plan.repetition - 1) % lab.nodes.length] ?? bench.cluster.node(holder));
    const agent = bench.agents.get(node.name);
    if (agent === undefined) throw new Error(`no agent runs on ${node.name}`);
    const readyNs = monotonicNs();
    await sleep(BEFORE_FAULT_MS);
    // A route that moved on its own (sessions still settling) would be counted as the fault's.
    const moved = hopSampler.changes().filter((change) => change.timeNs >= readyNs);
    if (moved.length > 0)
      throw new Error(
        `the router's route for ${vip} changed before the fault: ${moved.map((change) => `[${change.hops.join(" ")}]`).join(" → ")}`,
      );

    const marks: Mark[] = [];
    const faultNs = monotonicNs();
    let backNs: number | undefined;
    marks.push({ label: info.what, atNs: faultNs });
    progress.step("fault injected");
    const context: FaultContext = {
      bench,
      node,
      agent,
      mark: (label) => marks.push({ label, atNs: monotonicNs() }),
      back: (label) => {
        backNs = monotonicNs();
        marks.push({ label, atNs: backNs });
      },
      served: async (timeoutMs) =>
        (await waitForTick(
          probe,
          ROUTED_FLOWS,
          (tick) => tick.every((sample) => sample.node !== null && sample.node !== node.name),
          timeoutMs,
        )) !== null,
      rejoined: async () => {
        context.step("waiting for the node's sessions with the router");
        await waitSessions(bench, info.bfd);
        if (info.mode === "ecmp") {
          context.step("waiting for the router to route to every node again");
          const deadline = Date.now() + SERVING_TIMEOUT_MS;
          while (!routedToAll()) {
            if (Date.now() > deadline) throw new Error(`${node.name} never became a next hop again`);
            await sleep(20);
          }
        }
      },
      step: (text) => {
        progress.step(text);
      },
    };
    await (info.fault === "polite-handover" ? politeHandover(context, profile) : nodeDeath(context, profile));
    for (const each of bench.agents.values()) touched.add(each);
    await sleep(AFTER_RECOVERY_MS);
    const endNs = monotonicNs();
    observed = await stopObservers();
    const figures = analyzeRoutedRepetition({
      mode: info.mode,
      faultNode: node.name,
      faultNodeAddress: node.ipv4,
      faultNs,
      backNs: backNs ?? endNs,
      intervalMs: FLOW_INTERVAL_MS,
      ...observed,
    });
    // Two next hops for a bgp address are what BGP does while a dead node's route outlives its
    // Lease (no BFD, hold time > D); anywhere else they, or two nodes answering, are vipd's fault.
    const brokePromise =
      figures.faultToServedMs === null ||
      figures.doubleAnswers.length > 0 ||
      (figures.multiHops.length > 0 && info.bfd);
    return {
      scenario: info.name,
      mode: info.mode,
      profile: profile.name,
      repetition: plan.repetition,
      vip,
      faultNode: node.name,
      bfd: info.bfd,
      timers: ROUTED_TIMERS,
      faultNs,
      backNs: backNs ?? endNs,
      endNs,
      intervalMs: FLOW_INTERVAL_MS,
      marks,
      ...figures,
      ...(brokePromise ? { agentLogExcerpt: bench.cluster.agentLogs(touched, 4000) } : {}),
    };
  } finally {
    if (observed === undefined) await stopObservers().catch(() => undefined);
    progress.step("deleting the Service");
    await bench.core
      .deleteNamespacedService({ name: service, namespace: BENCH_NAMESPACE })
      .catch(() => undefined);
    bench.status.forget(service);
    // After a failure half-way the address may stay on a dead node until its lifetime ends; the next
    // repetition has an address of its own, and the failure is what the caller must hear about.
    await waitRouted(bench, vip).catch((error: unknown) => {
      if (observed !== undefined) throw error;
    });
  }
}

function agentArgsFor(bench: BenchLab, info: RoutedScenarioInfo): (node: LabNode) => string[] {
  return (node) =>
    routedAgentArgs({
      mode: info.mode,
      bfd: info.bfd,
      timers: ROUTED_TIMERS,
      routerAddress: ROUTER_LAN_IPV4,
      routerAsn: ROUTER_ASN,
      nodeAsn: NODE_ASN,
      bird: bench.lab.birdPaths(node),
    });
}

export async function runRoutedSuite(
  bench: BenchLab,
  options: {
    readonly profiles: readonly TimingProfile[];
    readonly scenarios: readonly RoutedScenarioName[];
    readonly repetitions: number;
    readonly progress: Progress;
    readonly record: (repetition: RoutedRepetition) => Promise<void>;
    readonly recordError: (error: BenchError) => Promise<void>;
  },
): Promise<void> {
  let index = 0;
  let failuresInARow = 0;
  for (const profile of options.profiles) {
    // Agents are restarted only when the mode or BFD changes: scenarios of one setting share them.
    let running: string | undefined;
    for (const name of options.scenarios) {
      const info = routedScenarioInfo(name);
      // ecmp elects nobody, so the profiles' election timings do not touch it: the first will do.
      if (info.mode === "ecmp" && profile !== options.profiles[0]) continue;
      const setting = `${info.mode} bfd ${info.bfd}`;
      const start = async () => {
        options.progress.phase(`routed ${profile.name}: starting agents (${setting})`);
        await bench.startAgents(profile, agentArgsFor(bench, info));
        // The nodes' BIRDs reconfigured for the setting may restart their sessions more than once.
        await waitSessions(bench, info.bfd, SETTLED_SESSIONS_MS);
        running = setting;
      };
      if (running !== setting) await start();
      for (let repetition = 1; repetition <= options.repetitions; repetition++) {
        options.progress.phase(`routed ${profile.name} ${name} ${repetition}/${options.repetitions}`);
        const plan = { info, profile, repetition, vip: routedVip(index) };
        index += 1;
        let result: RoutedRepetition;
        try {
          result = await runRepetition(bench, plan, options.progress);
          failuresInARow = 0;
        } catch (error) {
          // As in the failover suite: recorded, the lab healed and the agents restarted; several
          // failures in a row end the suite.
          const what = `routed ${profile.name} ${name} #${repetition}`;
          const message = (error as Error).message;
          await options.recordError({ what, message });
          options.progress.log(`${what}: not measured: ${message.split("\n")[0] ?? ""}`);
          failuresInARow += 1;
          if (failuresInARow >= MAX_FAILURES_IN_A_ROW) throw error;
          await healLab(bench);
          await start();
          continue;
        }
        await options.record(result);
        options.progress.log(
          `${profile.name} ${name} #${repetition}: ${result.faultNode} failed, ${result.affectedFlows}/${result.flows} flows on it, ` +
            `outage ${result.outageMs.toFixed(0)} ms, router dropped it after ${result.routerDropMs?.toFixed(0) ?? "–"} ms, ` +
            `lost ${result.lostProbes} (+${result.lostOnWayBack} on the way back)` +
            (info.mode === "bgp"
              ? `, two next hops ${result.multiHopMs.toFixed(0)} ms, double answers ${result.doubleAnswers.length}`
              : `, spread ${Object.values(result.flowsBefore).join("/")}`) +
            (result.agentLogExcerpt === undefined ? "" : "  ← broke its promise (agent logs kept)"),
        );
        await bench.waitReady();
      }
    }
  }
}
