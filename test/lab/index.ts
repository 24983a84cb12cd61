// The lab: several "nodes" on one Layer-2 network built from network namespaces, a client, and a
// real API server on a separate management network. Tests, the demo and the benchmarks use it.
// Every lab is torn down on down(), and also when the process exits or is interrupted.
import { rmSync } from "node:fs";
import { monotonicMs } from "./clock.ts";
import { run, inNamespace, ip, type CommandResult } from "./command.ts";
import type { ApiServer } from "./apiserver.ts";
import {
  startAddressSampler,
  startProbe,
  startWireObserver,
  type AddressSampler,
  type Probe,
  type ProbeOptions,
  type WireObserver,
} from "./observers.ts";
import { ProcessGroup, type LabProcess } from "./processes.ts";
import {
  API_ADDRESS,
  createTopology,
  destroyTopology,
  remainingNamespaces,
  sweepStale,
  topologyFor,
  type NodeAddresses,
} from "./topology.ts";

export type { AddressSample, Probe, ProbeSample, WireFrame } from "./observers.ts";
export type { LabProcess } from "./processes.ts";
export { monotonicMs } from "./clock.ts";
export { remainingNamespaces, sweepStale } from "./topology.ts";

export interface LabOptions {
  readonly nodes: number;
  readonly apiServer?: boolean;
  readonly echoPort?: number;
  readonly log?: (line: string) => void;
}

export interface LabNode extends NodeAddresses {
  readonly echo: LabProcess;
}

export interface Lab {
  readonly prefix: string;
  readonly nodes: readonly LabNode[];
  readonly client: {
    readonly netns: string;
    readonly ipv4: string;
    readonly ipv6: string;
    readonly ifname: "eth0";
    readonly mac: string;
  };
  readonly lanNetns: string;
  readonly apiNetns: string;
  readonly api: ApiServer | undefined;
  exec(
    netns: string,
    argv: readonly string[],
    options?: { input?: string; allowFailure?: boolean },
  ): Promise<CommandResult>;
  spawn(
    netns: string,
    argv: readonly string[],
    options?: { env?: Record<string, string>; name?: string },
  ): LabProcess;
  signal(process: LabProcess, signal: "SIGKILL" | "SIGSTOP" | "SIGCONT" | "SIGTERM"): void;
  cutApi(node: LabNode): Promise<void>;
  healApi(node: LabNode): Promise<void>;
  lanDown(node: LabNode): Promise<void>;
  lanUp(node: LabNode): Promise<void>;
  restartApiServer(): Promise<void>;
  probe(options: ProbeOptions): Promise<Probe>;
  observeWire(options: { ip: string }): Promise<WireObserver>;
  sampleAddresses(options: { ip: string; intervalMs?: number }): Promise<AddressSampler>;
  /** Spawned processes still running (for tests that check nothing is left). */
  pids(): number[];
  down(): Promise<void>;
}

const ECHO_SCRIPT = new URL("echo-server-main.ts", import.meta.url).pathname;

interface LiveLab {
  readonly teardownNow: () => void;
}
const liveLabs = new Set<LiveLab>();
// Several labs may live in one process (a test that checks teardown beside a long-lived lab).
let labsStarted = 0;

// Synchronous on purpose: on exit and on a signal there is no event loop left to await in.
function teardownAll(): void {
  for (const lab of liveLabs) lab.teardownNow();
  liveLabs.clear();
}

let handlersInstalled = false;
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once("exit", teardownAll);
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
    ["SIGHUP", 129],
  ] as const) {
    process.once(signal, () => {
      teardownAll();
      process.exit(code);
    });
  }
}

export async function up(options: LabOptions): Promise<Lab> {
  if (process.getuid?.() !== 0) throw new Error("the lab creates network namespaces and needs root");
  const log = options.log ?? (() => undefined);
  installHandlers();
  const swept = sweepStale();
  if (swept.length > 0) log(`removed namespaces left by earlier runs: ${swept.join(", ")}`);
  labsStarted += 1;
  const topology = topologyFor(`v${process.pid}_${labsStarted}`, options.nodes);
  const group = new ProcessGroup();
  let api: ApiServer | undefined;
  const live: LiveLab = {
    teardownNow: () => {
      group.killAll();
      if (api !== undefined) rmSync(api.workDir, { recursive: true, force: true });
      destroyTopology(topology);
    },
  };
  liveLabs.add(live);
  const started = monotonicMs();
  try {
    await createTopology(topology);
    const echoPort = String(options.echoPort ?? 8080);
    const nodes = topology.nodes.map((node): LabNode => ({
      ...node,
      echo: group.spawn(
        node.netns,
        [process.execPath, ECHO_SCRIPT, `--name=${node.name}`, `--port=${echoPort}`],
        {
          name: `echo ${node.name}`,
        },
      ),
    }));
    await Promise.all(nodes.map((node) => node.echo.waitForLine(/listening/, 10_000)));
    if (options.apiServer === true) {
      const { startApiServer } = await import("./apiserver.ts");
      api = await startApiServer({
        netns: topology.apiNetns,
        bindAddress: API_ADDRESS,
        port: 6443,
        etcdListen: `${API_ADDRESS}:2379`,
        log,
      });
    }
    log(`lab ${topology.prefix} up in ${Math.round(monotonicMs() - started)}ms: ${nodes.length} nodes`);
    return makeLab({ topology, nodes, group, api, live });
  } catch (error) {
    await api?.stop();
    live.teardownNow();
    liveLabs.delete(live);
    throw error;
  }
}

function makeLab(parts: {
  topology: ReturnType<typeof topologyFor>;
  nodes: readonly LabNode[];
  group: ProcessGroup;
  api: ApiServer | undefined;
  live: LiveLab;
}): Lab {
  const { topology, nodes, group, api, live } = parts;
  let down = false;
  const setLink = (netns: string, name: string, state: "up" | "down") =>
    ip("-n", netns, "link", "set", name, state);
  return {
    prefix: topology.prefix,
    nodes,
    client: topology.client,
    lanNetns: topology.lanNetns,
    apiNetns: topology.apiNetns,
    api,
    exec: (netns, argv, execOptions) => run(inNamespace(netns, argv), execOptions),
    spawn: (netns, argv, spawnOptions) => group.spawn(netns, argv, spawnOptions),
    signal: (target, signal) => {
      process.kill(target.pid, signal);
    },
    // Both ends go down: the node notices at once (as with a pulled cable), and the bridge stops
    // forwarding to it.
    cutApi: async (node) => {
      await setLink(topology.apiNetns, node.mgmtPeer, "down");
      await setLink(node.netns, node.mgmtIf, "down");
    },
    healApi: async (node) => {
      await setLink(node.netns, node.mgmtIf, "up");
      await setLink(topology.apiNetns, node.mgmtPeer, "up");
      await ip("-n", node.netns, "route", "replace", "203.0.113.0/24", "dev", node.mgmtIf);
    },
    // Only the bridge side goes down, so the node's eth0 stays administratively up and reports
    // NO-CARRIER — what a node sees when its switch port or cable fails.
    lanDown: async (node) => {
      await setLink(topology.lanNetns, node.lanPeer, "down");
    },
    lanUp: async (node) => {
      await setLink(topology.lanNetns, node.lanPeer, "up");
    },
    restartApiServer: async () => {
      if (api === undefined) throw new Error("this lab has no API server");
      await api.restart();
    },
    probe: (probeOptions) => startProbe(group, topology.client.netns, probeOptions),
    observeWire: (wireOptions) =>
      startWireObserver(group, topology.client.netns, { ip: wireOptions.ip, ifname: topology.client.ifname }),
    sampleAddresses: (samplerOptions) => startAddressSampler(group, nodes, samplerOptions),
    pids: () => group.pids(),
    down: async () => {
      if (down) return;
      down = true;
      await api?.stop();
      await group.stopAll();
      destroyTopology(topology);
      liveLabs.delete(live);
      const left = remainingNamespaces(topology.prefix);
      if (left.length > 0)
        throw new Error(`lab ${topology.prefix}: namespaces left behind: ${left.join(", ")}`);
    },
  };
}
