// The lab as the benchmarks use it: one lab and one API server for a whole run, agents started
// with a timing profile and brought back after each fault, a client for the API server, and the
// agents' own metrics endpoints. A lab asked for its router also runs a BIRD on every node, which
// agents in a routed mode configure (the sidecar of the DaemonSet's --bgp manifest).
import { CoreV1Api, KubeConfig, type V1Service } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { loadBalancerService, prepareCluster, type Cluster } from "../../lab/agents.ts";
import { up, type Bird, type Lab, type LabNode, type LabProcess } from "../../lab/index.ts";
import { agentArgs, type TimingProfile } from "./profiles.ts";
import { watchServiceStatus, type StatusWatch } from "./status-watch.ts";

export const BENCH_NAMESPACE = "bench";
const METRICS_URL = "http://127.0.0.1:9559";
const READY_TIMEOUT_MS = 60_000;

export interface BenchLab {
  readonly lab: Lab;
  readonly cluster: Cluster;
  readonly core: CoreV1Api;
  readonly status: StatusWatch;
  /** The running agent of each node; absent while a fault has it dead. */
  readonly agents: Map<string, LabProcess>;
  /** The profile the agents run with. */
  profile(): TimingProfile | undefined;
  /**
   * Stops every agent and starts one per node with the profile and a node's extra flags (none
   * unless given); resolves when all are ready.
   */
  startAgents(profile: TimingProfile, extraArgs?: (node: LabNode) => readonly string[]): Promise<void>;
  /** Starts the agent of a node that has none (after a fault killed it). */
  restartAgent(node: LabNode): LabProcess;
  stopAgents(): Promise<void>;
  /** Every agent answers /readyz with 200. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** An agent's Prometheus text, or "" when it does not answer. */
  agentMetrics(node: LabNode): Promise<string>;
  /** The node's BIRD, in a lab with the router; throws without one. */
  birdOf(node: LabNode): Bird;
  /** Which nodes have the address on eth0 right now. */
  holdersOf(ip: string): Promise<string[]>;
  agentLogs(characters?: number): string;
  down(): Promise<void>;
}

/** The lab's LoadBalancer Service (a UDP port the echo servers answer on), as an API object. */
export function serviceBody(options: Parameters<typeof loadBalancerService>[0]): V1Service {
  return JSON.parse(loadBalancerService(options)) as V1Service;
}

async function httpGet(lab: Lab, node: LabNode, path: string): Promise<{ code: string; body: string }> {
  const result = await lab.exec(
    node.netns,
    ["curl", "-s", "-m", "2", "-w", "\n%{http_code}", `${METRICS_URL}${path}`],
    { allowFailure: true },
  );
  const cut = result.stdout.lastIndexOf("\n");
  return { code: result.stdout.slice(cut + 1), body: result.stdout.slice(0, Math.max(cut, 0)) };
}

export async function benchLab(options: {
  nodes: number;
  /** The router, its far client and a BIRD per node, for the routed suite. */
  router?: boolean;
  log: (line: string) => void;
}): Promise<BenchLab> {
  const lab = await up({
    nodes: options.nodes,
    apiServer: true,
    router: options.router === true,
    log: options.log,
  });
  try {
    // Each with the bootstrap config until an agent in a routed mode writes its own and applies it.
    const birds = new Map<string, Bird>();
    if (options.router === true)
      for (const node of lab.nodes) birds.set(node.name, await lab.startNodeBird(node));
    const cluster = await prepareCluster(lab);
    await cluster.kubectl(["create", "namespace", BENCH_NAMESPACE]);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster.api.kubeconfigPath);
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const status = await watchServiceStatus(kubeConfig, BENCH_NAMESPACE);
    return makeBenchLab({ lab, cluster, core, status, birds });
  } catch (error) {
    await lab.down();
    throw error;
  }
}

function makeBenchLab(parts: {
  lab: Lab;
  cluster: Cluster;
  core: CoreV1Api;
  status: StatusWatch;
  birds: ReadonlyMap<string, Bird>;
}): BenchLab {
  const { lab, cluster, core, status, birds } = parts;
  const agents = new Map<string, LabProcess>();
  let profile: TimingProfile | undefined;
  let extraArgsOf: (node: LabNode) => readonly string[] = () => [];

  const stopAgents = async () => {
    const running = [...agents.values()];
    agents.clear();
    for (const agent of running) {
      try {
        lab.signal(agent, "SIGCONT");
        lab.signal(agent, "SIGKILL");
      } catch {
        // It had exited already.
      }
    }
    await Promise.all(running.map((agent) => agent.exited));
  };

  const waitReady = async (timeoutMs = READY_TIMEOUT_MS) => {
    const deadline = Date.now() + timeoutMs;
    for (const node of lab.nodes) {
      while ((await httpGet(lab, node, "/readyz")).code !== "200") {
        if (Date.now() > deadline)
          throw new Error(
            `the agent on ${node.name} is not ready\n${cluster.agentLogs(agents.values(), 3000)}`,
          );
        await sleep(100);
      }
    }
  };

  const restartAgent = (node: LabNode) => {
    if (profile === undefined) throw new Error("no profile: startAgents() first");
    const agent = cluster.startAgent(node, [...agentArgs(profile), ...extraArgsOf(node)]);
    agents.set(node.name, agent);
    return agent;
  };

  return {
    lab,
    cluster,
    core,
    status,
    agents,
    profile: () => profile,
    startAgents: async (next, extraArgs) => {
      await stopAgents();
      profile = next;
      extraArgsOf = extraArgs ?? (() => []);
      for (const node of lab.nodes) restartAgent(node);
      await waitReady();
    },
    restartAgent,
    stopAgents,
    waitReady,
    birdOf: (node) => {
      const bird = birds.get(node.name);
      if (bird === undefined) throw new Error(`${node.name} runs no BIRD: the bench lab has no router`);
      return bird;
    },
    agentMetrics: async (node) => (await httpGet(lab, node, "/metrics")).body,
    holdersOf: async (ip) => {
      const held = await Promise.all(
        lab.nodes.map(async (node) => {
          const shown = await lab.exec(node.netns, ["ip", "-o", "addr", "show", "dev", node.lanIf]);
          return shown.stdout.includes(` ${ip}/`) ? [node.name] : [];
        }),
      );
      return held.flat();
    },
    agentLogs: (characters = 4000) => cluster.agentLogs(agents.values(), characters),
    down: async () => {
      status.stop();
      await stopAgents();
      await lab.down();
    },
  };
}
