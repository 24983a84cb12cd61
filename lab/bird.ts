// Real BIRD 2 daemons in lab namespaces: the router's, and the nodes' that tests (and later the agent)
// configure. Each runs in the foreground as a lab process, so teardown ends it by PID like any other,
// with its config and control socket in the run's directory where a test or an agent can reach them.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { monotonicNs } from "./clock.ts";
import { inNamespace, run, type CommandResult } from "./netns.ts";
import type { LabProcess, ProcessGroup } from "./process.ts";
import { ROUTER_LAN_IPV4, ROUTER_LAN_IPV6, type NodeAddresses } from "./topology.ts";
import { HOST_ROUTE_DEFAULTS } from "../src/routing/kernel-host-routes.ts";

const BIRD = "/usr/sbin/bird";
const BIRDC = "/usr/sbin/birdc";
const READY_TIMEOUT_MS = 10_000;

/** The documentation ASNs (RFC 5398): the router's, and the one every node shares. */
export const ROUTER_ASN = 64496;
export const NODE_ASN = 64497;
/** The kernel table and route protocol number the lab's node config learns VIPs from. */
export const NODE_VIP_TABLE = HOST_ROUTE_DEFAULTS.table;
export const NODE_VIP_PROTO = HOST_ROUTE_DEFAULTS.protocol;

// 100 ms × 3: a dead peer is noticed in about 300 ms, well inside any test's patience.
const BFD = `protocol bfd {
  interface "*" {
    min rx interval 100 ms;
    min tx interval 100 ms;
    multiplier 3;
  };
}
`;

export interface BirdPaths {
  readonly configPath: string;
  readonly socketPath: string;
}

/** Where the BIRD of a namespace called name keeps its config and socket in the run's directory. */
export function birdPaths(runDir: string, name: string): BirdPaths {
  return { configPath: join(runDir, name, "bird.conf"), socketPath: join(runDir, name, "bird.ctl") };
}

export interface Bird extends BirdPaths {
  /** The running daemon; a new one after restart(). */
  readonly process: LabProcess;
  birdc(args: readonly string[]): Promise<CommandResult>;
  /** SIGTERM, so the daemon closes its sessions as on a clean shutdown, and waits for its exit. */
  stop(): Promise<void>;
  /**
   * Stops it if it runs and starts it again with the config file as it is now; with recovery, as
   * `bird -R` (graceful restart recovery), as a daemon coming back from `birdc graceful restart` or
   * a crash starts, so its peers keep forwarding to it until its routes are sent again.
   */
  restart(options?: { readonly recovery?: boolean }): Promise<void>;
}

export async function startBird(
  group: ProcessGroup,
  options: BirdPaths & { readonly netns: string; readonly name: string; readonly configText: string },
): Promise<Bird> {
  const { netns, configPath, socketPath } = options;
  mkdirSync(join(configPath, ".."), { recursive: true });
  writeFileSync(configPath, options.configText);
  const birdc = (args: readonly string[]) =>
    run(inNamespace(netns, [BIRDC, "-s", socketPath, ...args]), { allowFailure: true });
  let current: LabProcess | undefined;
  const launch = async (recovery = false) => {
    const flags = recovery ? ["-f", "-R"] : ["-f"];
    const started = group.spawn(netns, [BIRD, ...flags, "-c", configPath, "-s", socketPath], {
      name: `bird ${options.name}`,
    });
    current = started;
    // Ready when it answers on its socket: the config is parsed and the protocols are starting.
    const deadline = monotonicNs() + READY_TIMEOUT_MS * 1e6;
    for (;;) {
      // The group forgets a process once it has exited.
      if (!group.pids().includes(started.pid))
        throw new Error(`bird ${options.name} exited at start:\n${started.output()}`);
      const status = await birdc(["show", "status"]);
      if (status.code === 0 && /Daemon is up and running/.test(status.stdout)) return;
      if (monotonicNs() > deadline)
        throw new Error(`bird ${options.name} not up in ${READY_TIMEOUT_MS}ms:\n${started.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const stop = async () => {
    const running = current;
    current = undefined;
    if (running === undefined) return;
    if (group.pids().includes(running.pid)) group.signal(running, "SIGTERM");
    await running.exited;
  };
  await launch();
  return {
    configPath,
    socketPath,
    get process() {
      if (current === undefined) throw new Error(`bird ${options.name} is stopped`);
      return current;
    },
    birdc,
    stop,
    restart: async (restartOptions) => {
      await stop();
      await launch(restartOptions?.recovery);
    },
  };
}

/** What every BIRD of the lab starts with when a test gives no config: it runs and does nothing. */
export function bootstrapBirdConfig(routerId: string): string {
  return `router id ${routerId};\nlog stderr all;\nprotocol device {}\n`;
}

/**
 * The router's config: an eBGP session per node and family, BFD on each, graceful restart only as
 * helper, and every route learned installed in the kernel, equal ones merged into one multipath
 * route. Active with short retry times, so a session comes up soon whether the node connects or
 * only listens.
 */
export function routerBirdConfig(nodes: readonly NodeAddresses[]): string {
  const sessions = nodes.flatMap((node) =>
    (
      [
        ["4", node.ipv4],
        ["6", node.ipv6],
      ] as const
    ).map(
      ([family, address]) => `protocol bgp ${node.name}_v${family} from lab_nodes {
  neighbor ${address} as ${NODE_ASN};
  ipv${family} { import all; export none; };
}
`,
    ),
  );
  return `router id ${ROUTER_LAN_IPV4};
log stderr all;
protocol device {}
${BFD}
protocol kernel kernel4 {
  merge paths on;
  ipv4 { import none; export all; };
}
protocol kernel kernel6 {
  merge paths on;
  ipv6 { import none; export all; };
}
template bgp lab_nodes {
  local as ${ROUTER_ASN};
  bfd on;
  graceful restart aware;
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 4;
}
${sessions.join("")}`;
}

/**
 * A node's side for the lab's own tests (vipd renders its own): the routes of protocol 248 in table
 * 198 are learned and announced to the router over IPv4 and IPv6 sessions, with BFD. No graceful
 * restart, so a node whose BIRD dies loses its routes on the router at once.
 */
export function nodeBirdConfig(node: NodeAddresses): string {
  const families = (["4", "6"] as const).map(
    (family) => `protocol kernel vips${family} {
  kernel table ${NODE_VIP_TABLE};
  learn;
  ipv${family} {
    import where krt_source = ${NODE_VIP_PROTO};
    export none;
  };
}
protocol bgp router_v${family} {
  local as ${NODE_ASN};
  neighbor ${family === "4" ? ROUTER_LAN_IPV4 : ROUTER_LAN_IPV6} as ${ROUTER_ASN};
  bfd on;
  connect delay time 1;
  connect retry time 1;
  error wait time 1, 4;
  ipv${family} { import none; export all; };
}
`,
  );
  return `router id ${node.ipv4};
log stderr all;
protocol device {}
${BFD}
${families.join("")}`;
}
