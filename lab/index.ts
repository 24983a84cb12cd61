// The lab (docs/design.md, the lab): nodes on one Layer-2 network built from network namespaces, a
// client on the same network, optionally a real API server on a separate management network, and
// optionally a router running BIRD with a far client behind it, for routed (BGP) VIPs.
// Tests, the demo and the benchmarks use it through this module. A lab is torn down by down(), and
// also when the process exits or is interrupted.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ApiServer } from "./apiserver.ts";
import {
  addressesIn,
  startAddressSampler,
  startAddressSetSampler,
  type AddressSampler,
  type AddressSetSampler,
} from "./address-sampler.ts";
import { birdPaths, bootstrapBirdConfig, startBird, type Bird, type BirdPaths } from "./bird.ts";
import { monotonicNs } from "./clock.ts";
import { startEchoServer } from "./echo-server.ts";
import { sendFlows, type FlowAnswer, type FlowsOptions } from "./flows.ts";
import { canonicalIp } from "./ip-address.ts";
import { inNamespace, ip, killNow, namespacePids, processAlive, run, type CommandResult } from "./netns.ts";
import { startNeighbourAsker, type NeighbourAsker } from "./neighbour-asker.ts";
import { startNextHopSampler, type NextHopSampler } from "./next-hop-sampler.ts";
import { startProbe, type Probe, type ProbeOptions } from "./probe.ts";
import { ProcessGroup, type LabProcess } from "./process.ts";
import { startRouter, type Router } from "./router.ts";
import { namespacesWithPrefix, nextRunPrefix, sweepStale } from "./run-prefix.ts";
import { tearDownOnExit } from "./teardown.ts";
import {
  API_ADDRESS,
  createLanHost,
  createTopology,
  destroyTopology,
  replugLan,
  topologyFor,
  type ClientAddresses,
  type FarClientAddresses,
  type LanHost,
  type NodeAddresses,
  type Topology,
} from "./topology.ts";
import { startWireObserver, type WireObserver } from "./wire-observer.ts";

export type { Bird, BirdPaths } from "./bird.ts";
export type { Router } from "./router.ts";
export {
  NODE_ASN,
  NODE_VIP_PROTO,
  NODE_VIP_TABLE,
  ROUTER_ASN,
  bootstrapBirdConfig,
  nodeBirdConfig,
  routerBirdConfig,
} from "./bird.ts";
export {
  FAR_CLIENT_IPV4,
  FAR_CLIENT_IPV6,
  FAR_SEGMENT_IPV4,
  FAR_SEGMENT_IPV6,
  ROUTED_VIPS_IPV4,
  ROUTED_VIPS_IPV6,
  ROUTER_LAN_IPV4,
  ROUTER_LAN_IPV6,
} from "./topology.ts";
export type { AddressSample, AddressSampler, AddressSetSampler } from "./address-sampler.ts";
export type { NeighbourAsker } from "./neighbour-asker.ts";
export type { FlowAnswer, FlowsOptions } from "./flows.ts";
export { answersByNode } from "./flows.ts";
export type { NextHopSample, NextHopSampler } from "./next-hop-sampler.ts";
export type { CommandResult } from "./netns.ts";
export type { Probe, ProbeOptions, ProbeSample } from "./probe.ts";
export type { LabProcess, ProcessExit } from "./process.ts";
export type { LanHost } from "./topology.ts";
export type { WireFrame, WireObserver } from "./wire-observer.ts";
export { monotonicNs } from "./clock.ts";
export { namespacesWithPrefix, sweepStale } from "./run-prefix.ts";

export interface LabOptions {
  readonly nodes: number;
  readonly apiServer?: boolean;
  /** The echo servers' UDP and TCP port, and the probe's default. 8080 unless given. */
  readonly echoPort?: number;
  /** A router on the LAN running BIRD, and a far client behind it; off unless asked for. */
  readonly router?: boolean;
  readonly log?: (line: string) => void;
}

export interface LabNode extends NodeAddresses {
  readonly echo: LabProcess;
}

/** The client behind the router: reaches the nodes only through it. */
export interface FarClient extends FarClientAddresses {
  exec(argv: readonly string[], options?: { input?: string; allowFailure?: boolean }): Promise<CommandResult>;
  /** Starts probing from the far client, as lab.probe does from the LAN client. */
  probe(options: ProbeOptions): Promise<Probe>;
  /** Opens many UDP flows to the target at once, each from its own source port: who answered each. */
  flows(options: FlowsOptions): Promise<FlowAnswer[]>;
}

export type LabSignal = "SIGKILL" | "SIGSTOP" | "SIGCONT" | "SIGTERM";

export interface Lab {
  readonly prefix: string;
  readonly nodes: readonly LabNode[];
  readonly client: ClientAddresses;
  readonly lanNetns: string;
  readonly apiNetns: string;
  readonly api: ApiServer | undefined;
  /** Only in a lab brought up with { router: true }; its BIRD is running when up() returns. */
  readonly router: Router | undefined;
  readonly farClient: FarClient | undefined;
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
  signal(target: LabProcess, signal: LabSignal): void;
  /** The node's management link loses carrier at the bridge: the API server is out of its reach. */
  cutApi(node: LabNode): Promise<void>;
  healApi(node: LabNode): Promise<void>;
  /** The node's eth0 loses carrier (NO-CARRIER), as when its switch port or cable fails. */
  lanDown(node: LabNode): Promise<void>;
  lanUp(node: LabNode): Promise<void>;
  /**
   * The node's eth0 is deleted and created again (a VLAN or bond recreated): a new index, the same
   * name, MAC and addresses, up. Its default route is gone; the caller puts it back, as ifup would.
   */
  recreateLan(node: LabNode): Promise<void>;
  restartApiServer(): Promise<void>;
  /** Plugs a machine that is no node into the LAN; teardown removes it with the lab. */
  addLanHost(options: { name: string; mac: string; addresses: readonly string[] }): Promise<LanHost>;
  /** Starts probing from the client namespace; resolves once the first request is on its way. */
  probe(options: ProbeOptions): Promise<Probe>;
  /** Starts tcpdump on the client's eth0 for an IP or a set of them; resolves once it is capturing. */
  observeWire(options: { ip: string } | { ips: readonly string[] }): Promise<WireObserver>;
  /** Starts sampling every node; resolves once each node has been sampled once. */
  sampleAddresses(options: { ip: string; intervalMs?: number }): Promise<AddressSampler>;
  /** The same for each IP of a set, on any of a node's interfaces. */
  sampleAddressSet(options: { ips: readonly string[]; intervalMs?: number }): Promise<AddressSetSampler>;
  /**
   * Starts a client that forgets its neighbours and asks for each IP every interval, so that the wire
   * shows every node that answers for one; resolves once the first questions are out.
   */
  askNeighbours(options: { ips: readonly string[]; intervalMs?: number }): Promise<NeighbourAsker>;
  /**
   * Starts sampling the next hops of the router's route to a VIP; resolves once it has been sampled
   * once. Only in a lab with a router.
   */
  sampleNextHops(options: { vip: string; intervalMs?: number }): Promise<NextHopSampler>;
  /** Every address on any of the node's interfaces right now, as the kernel prints it. */
  addressesOn(node: LabNode): Promise<Set<string>>;
  /**
   * Where the node's BIRD keeps its config and control socket, in the run's directory: what a test
   * starts with startNodeBird, or what an agent is given to write and reconfigure through.
   */
  birdPaths(node: LabNode): BirdPaths;
  /**
   * Starts a BIRD in the node's namespace on its birdPaths, with configText or, without one, a
   * bootstrap config that runs and does nothing until it is overwritten and reconfigured.
   */
  startNodeBird(node: LabNode, options?: { configText?: string }): Promise<Bird>;
  /** Processes the lab started that are still running. */
  pids(): number[];
  /** Idempotent; throws if anything of the lab is left behind. */
  down(): Promise<void>;
}

const NAMESPACE_EMPTY_TIMEOUT_MS = 5000;

async function emptyNamespaces(topology: Topology): Promise<void> {
  const deadline = monotonicNs() + NAMESPACE_EMPTY_TIMEOUT_MS * 1e6;
  for (const netns of topology.namespaces) {
    // Whatever the lab started that did not end with its process group (a child of a child).
    for (const pid of namespacePids(netns)) killNow(pid);
    while (namespacePids(netns).length > 0) {
      if (monotonicNs() > deadline)
        throw new Error(`processes still running in ${netns}: ${namespacePids(netns).join(" ")}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

const RUN_DIR_NAME = /^vipd-lab-v(\d+)_\d+-/;

/** The run directories of owners that no longer exist, as sweepStale does for their namespaces. */
function sweepStaleRunDirs(): void {
  for (const name of readdirSync(tmpdir())) {
    const owner = RUN_DIR_NAME.exec(name)?.[1];
    if (owner !== undefined && Number(owner) !== process.pid && !processAlive(Number(owner)))
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

export async function up(options: LabOptions): Promise<Lab> {
  if (process.getuid?.() !== 0) throw new Error("the lab creates network namespaces and must run as root");
  const log = options.log ?? (() => undefined);
  const swept = sweepStale();
  if (swept.length > 0) log(`removed namespaces left by earlier runs: ${swept.join(", ")}`);
  sweepStaleRunDirs();
  const startedNs = monotonicNs();
  const topology = topologyFor(nextRunPrefix(), options.nodes, { router: options.router === true });
  const group = new ProcessGroup();
  // BIRD's configs and sockets; the path carries the run's prefix, so a leftover is told apart.
  const runDir = mkdtempSync(join(tmpdir(), `vipd-lab-${topology.prefix}-`));
  const forget = tearDownOnExit(() => {
    group.killAll();
    destroyTopology(topology);
    rmSync(runDir, { recursive: true, force: true });
  });
  let api: ApiServer | undefined;
  let router: Router | undefined;
  try {
    await createTopology(topology);
    const echoPort = options.echoPort ?? 8080;
    const nodes = await Promise.all(
      topology.nodes.map(async (node): Promise<LabNode> => ({
        ...node,
        echo: await startEchoServer(group, { netns: node.netns, node: node.name, port: echoPort }),
      })),
    );
    if (options.apiServer === true) {
      // Loaded only when wanted: the API server's module pulls in the Kubernetes client.
      const { startApiServer } = await import("./apiserver.ts");
      api = await startApiServer({
        netns: topology.apiNetns,
        bindAddress: API_ADDRESS,
        port: 6443,
        etcdListen: `${API_ADDRESS}:2379`,
        log,
      });
    }
    if (topology.router !== undefined)
      router = await startRouter(group, {
        router: topology.router,
        nodes: topology.nodes,
        paths: birdPaths(runDir, "router"),
      });
    log(
      `lab ${topology.prefix} up in ${Math.round((monotonicNs() - startedNs) / 1e6)} ms, ${nodes.length} nodes`,
    );
    return makeLab({ topology, nodes, group, api, router, runDir, echoPort, forget, log });
  } catch (error) {
    await api?.stop();
    group.killAll();
    destroyTopology(topology);
    rmSync(runDir, { recursive: true, force: true });
    forget();
    throw error;
  }
}

function makeLab(parts: {
  topology: Topology;
  nodes: readonly LabNode[];
  group: ProcessGroup;
  api: ApiServer | undefined;
  router: Router | undefined;
  runDir: string;
  echoPort: number;
  forget: () => void;
  log: (line: string) => void;
}): Lab {
  const { topology, nodes, group, api, router, runDir, echoPort, forget, log } = parts;
  let downing: Promise<void> | undefined;
  const usable = () => {
    if (downing !== undefined) throw new Error(`lab ${topology.prefix} is down`);
  };
  const setPeer = async (netns: string, peer: string, state: "up" | "down") => {
    usable();
    await ip("-n", netns, "link", "set", peer, state);
  };
  const tearDown = async () => {
    const startedNs = monotonicNs();
    await api?.stop();
    await group.stopAll();
    await emptyNamespaces(topology);
    destroyTopology(topology);
    rmSync(runDir, { recursive: true, force: true });
    forget();
    const left = namespacesWithPrefix(topology.prefix);
    const running = group.pids().filter(processAlive);
    if (left.length > 0 || running.length > 0)
      throw new Error(
        `lab ${topology.prefix} left behind namespaces [${left.join(" ")}] and PIDs [${running.join(" ")}]`,
      );
    log(`lab ${topology.prefix} down in ${Math.round((monotonicNs() - startedNs) / 1e6)} ms`);
  };
  return {
    prefix: topology.prefix,
    nodes,
    client: topology.client,
    lanNetns: topology.lanNetns,
    apiNetns: topology.apiNetns,
    api,
    router,
    farClient:
      topology.farClient === undefined
        ? undefined
        : farClientOf(topology.farClient, {
            probe: (netns, probeOptions) => {
              usable();
              return startProbe(group, netns, { ...probeOptions, defaultPort: echoPort });
            },
            flows: (netns, flowsOptions) => {
              usable();
              return sendFlows(group, netns, { ...flowsOptions, defaultPort: echoPort });
            },
          }),
    exec: (netns, argv, execOptions) => run(inNamespace(netns, argv), execOptions),
    spawn: (netns, argv, spawnOptions) => {
      usable();
      return group.spawn(netns, argv, spawnOptions);
    },
    signal: (target, signal) => {
      group.signal(target, signal);
    },
    // Faults are injected on the bridge side, outside the node: the node's own interface stays
    // administratively up and loses carrier, as when a cable or a switch port fails.
    cutApi: (node) => setPeer(topology.apiNetns, node.mgmtPeer, "down"),
    healApi: async (node) => {
      await setPeer(topology.apiNetns, node.mgmtPeer, "up");
      // ARP for the API server that failed during the cut would still fail in-flight connections
      // for a second or more after the link is back (EHOSTUNREACH); starting afresh makes the path
      // usable as soon as healApi returns.
      await ip("-n", node.netns, "neigh", "flush", "dev", node.mgmtIf);
    },
    lanDown: (node) => setPeer(topology.lanNetns, node.lanPeer, "down"),
    lanUp: (node) => setPeer(topology.lanNetns, node.lanPeer, "up"),
    recreateLan: async (node) => {
      usable();
      await replugLan(topology, node);
    },
    restartApiServer: async () => {
      usable();
      if (api === undefined) throw new Error("this lab has no API server (up({ apiServer: true }))");
      await api.restart();
    },
    addLanHost: (hostOptions) => {
      usable();
      return createLanHost(topology, hostOptions);
    },
    probe: (probeOptions) => {
      usable();
      return startProbe(group, topology.client.netns, { ...probeOptions, defaultPort: echoPort });
    },
    observeWire: (wireOptions) => {
      usable();
      const ips = "ip" in wireOptions ? [wireOptions.ip] : wireOptions.ips;
      return startWireObserver(group, {
        netns: topology.client.netns,
        ifname: topology.client.ifname,
        ips: new Set(ips.map(canonicalIp)),
      });
    },
    sampleAddresses: (samplerOptions) => {
      usable();
      return startAddressSampler(group, { nodes, ...samplerOptions });
    },
    sampleAddressSet: (samplerOptions) => {
      usable();
      return startAddressSetSampler(group, { nodes, ...samplerOptions });
    },
    askNeighbours: (askerOptions) => {
      usable();
      return startNeighbourAsker(group, {
        netns: topology.client.netns,
        ifname: topology.client.ifname,
        ...askerOptions,
      });
    },
    sampleNextHops: (samplerOptions) => {
      usable();
      if (router === undefined) throw new Error("this lab has no router (up({ router: true }))");
      return startNextHopSampler(group, { netns: router.netns, ...samplerOptions });
    },
    addressesOn: async (node) =>
      addressesIn((await run(inNamespace(node.netns, ["ip", "-json", "address", "show"]))).stdout),
    birdPaths: (node) => birdPaths(runDir, node.name),
    startNodeBird: (node, birdOptions) => {
      usable();
      return startBird(group, {
        ...birdPaths(runDir, node.name),
        netns: node.netns,
        name: node.name,
        configText: birdOptions?.configText ?? bootstrapBirdConfig(node.ipv4),
      });
    },
    pids: () => group.pids(),
    down: () => (downing ??= tearDown()),
  };
}

function farClientOf(
  addresses: FarClientAddresses,
  start: {
    probe: (netns: string, options: ProbeOptions) => Promise<Probe>;
    flows: (netns: string, options: FlowsOptions) => Promise<FlowAnswer[]>;
  },
): FarClient {
  return {
    ...addresses,
    exec: (argv, options) => run(inNamespace(addresses.netns, argv), options),
    probe: (options) => start.probe(addresses.netns, options),
    flows: (options) => start.flows(addresses.netns, options),
  };
}
