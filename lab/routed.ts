// What the bgp and ecmp e2e tests share: agents told to announce through their node's BIRD, the
// router's sessions as the nodes' peer sees them, what vipd put into a node's kernel for an address,
// and the routes and addresses of others that vipd must never touch.
import { writeFileSync } from "node:fs";
import { prepareCluster, type Cluster } from "./agents.ts";
import {
  NODE_ASN,
  NODE_VIP_PROTO,
  NODE_VIP_TABLE,
  ROUTER_ASN,
  ROUTER_LAN_IPV4,
  ROUTER_LAN_IPV6,
  nodeBirdConfig,
  routerBirdConfig,
  up,
  type Bird,
  type FarClient,
  type Lab,
  type LabNode,
  type LabProcess,
  type Router,
} from "./index.ts";

/**
 * kube-vip's bgp_peers syntax for the lab's router, one peer per family: <address>:<AS>, then the
 * given fields (password:multihop:port:mpbgp:bfd) if any.
 */
export function routerPeers(fields?: string): string {
  const tail = fields === undefined ? "" : `:${fields}`;
  return [`${ROUTER_LAN_IPV4}:${ROUTER_ASN}${tail}`, `[${ROUTER_LAN_IPV6}]:${ROUTER_ASN}${tail}`].join(",");
}

export interface RoutedLab {
  readonly lab: Lab;
  readonly cluster: Cluster;
  readonly router: Router;
  readonly far: FarClient;
  /** Each node's BIRD by node name, started with the bootstrap config for its agent to configure. */
  readonly birds: ReadonlyMap<string, Bird>;
}

/**
 * Three nodes, the API server, the router and the far client, a BIRD on every node, and the foreign
 * routes and addresses (addForeign) in place before any agent runs. Throws without root.
 */
export async function upRoutedLab(): Promise<RoutedLab> {
  if (process.getuid?.() !== 0)
    throw new Error("the routed e2e tests create network namespaces and run BIRD, and must run as root");
  const lab = await up({ nodes: 3, apiServer: true, router: true });
  try {
    if (lab.router === undefined || lab.farClient === undefined)
      throw new Error("the lab came up without its router");
    const cluster = await prepareCluster(lab);
    const birds = new Map<string, Bird>();
    for (const node of lab.nodes) birds.set(node.name, await lab.startNodeBird(node));
    await addForeign(lab);
    return { lab, cluster, router: lab.router, far: lab.farClient, birds };
  } catch (error) {
    await lab.down();
    throw error;
  }
}

/** The node's address of the VIP's family: what the router names as the next hop. */
export const nodeAddress = (node: LabNode, vip: string): string =>
  vip.includes(":") ? node.ipv6 : node.ipv4;

/** Waits until the router's next hops for the VIP are exactly the given nodes' addresses. */
export function nextHopsAre(
  routed: RoutedLab,
  vip: string,
  expected: readonly LabNode[],
  what: string,
): Promise<string[]> {
  const want = JSON.stringify(expected.map((node) => nodeAddress(node, vip)).sort());
  return routed.cluster.eventually(
    () => routed.router.nextHops(vip),
    (hops) => JSON.stringify(hops) === want,
    { what, timeoutMs: 60_000 },
  );
}

export interface RoutedAgentOptions {
  /** The agent's --announce-mode: l2 for a test whose routed addresses come from a pool's spec.mode. */
  readonly mode: "l2" | "bgp" | "ecmp";
  /**
   * bird (unless told): the agent writes its node's BIRD config and applies it through the socket;
   * external: another daemon (the lab's nodeBirdConfig, see useLabBirdConfig) exports what the agent
   * writes into table 198, and the agent gets no BGP settings at all.
   */
  readonly speaker?: "bird" | "external";
  /** BFD with the router (100 ms, as the router's side); on unless told. */
  readonly bfd?: boolean;
  readonly gracefulRestart?: boolean;
  /** The peers flag; the router's two addresses unless given; null: no --bgp-peers flag. */
  readonly peers?: string | null;
  /** null: no --bgp-local-asn flag (the node's annotations name it). */
  readonly localAsn?: number | null;
  readonly extraArgs?: readonly string[];
}

/** `vipd run`'s routing flags for a node whose BIRD the agent writes and reconfigures itself. */
export function routedAgentArgs(bird: Bird, options: RoutedAgentOptions): string[] {
  if (options.speaker === "external")
    return [`--announce-mode=${options.mode}`, "--bgp-speaker=external", ...(options.extraArgs ?? [])];
  const peers = options.peers === undefined ? routerPeers() : options.peers;
  const localAsn = options.localAsn === undefined ? NODE_ASN : options.localAsn;
  return [
    `--announce-mode=${options.mode}`,
    "--bgp-speaker=bird",
    `--bird-socket=${bird.socketPath}`,
    `--bird-config=${bird.configPath}`,
    ...(localAsn === null ? [] : [`--bgp-local-asn=${localAsn}`]),
    ...(peers === null ? [] : [`--bgp-peers=${peers}`]),
    `--bgp-bfd=${String(options.bfd ?? true)}`,
    "--bgp-bfd-interval=100ms",
    `--bgp-graceful-restart=${String(options.gracefulRestart ?? false)}`,
    ...(options.extraArgs ?? []),
  ];
}

/**
 * Every node's BIRD runs the lab's own config (nodeBirdConfig: table 198 learned, BFD with the
 * router), as a routing daemon vipd does not drive would, until an agent with the bird speaker
 * writes its own again.
 */
export async function useLabBirdConfig(routed: RoutedLab): Promise<void> {
  for (const node of routed.lab.nodes) {
    const bird = routed.birds.get(node.name);
    if (bird === undefined) throw new Error(`${node.name} has no BIRD`);
    await reconfigure(bird, nodeBirdConfig(node), `${node.name}'s BIRD`);
  }
}

/** Writes a BIRD's config file and has it reconfigure; throws if it refuses the config. */
async function reconfigure(
  bird: Pick<Bird, "configPath" | "birdc">,
  text: string,
  who: string,
): Promise<void> {
  writeFileSync(bird.configPath, text);
  const reply = await bird.birdc(["configure"]);
  // A change that restarts sessions (a password) is applied in the background: "in progress".
  if (!/Reconfigured|Reconfiguration in progress/.test(reply.stdout))
    throw new Error(`${who} refused its config: ${reply.stdout}${reply.stderr}`);
}

/** One routed agent per node (or per node given), each on its own node's BIRD. */
export function startRoutedAgents(
  cluster: Cluster,
  birds: ReadonlyMap<string, Bird>,
  options: RoutedAgentOptions & { readonly nodes?: readonly LabNode[] },
): Map<string, LabProcess> {
  return new Map(
    (options.nodes ?? cluster.lab.nodes).map((node) => {
      const bird = birds.get(node.name);
      if (bird === undefined) throw new Error(`${node.name} has no BIRD`);
      return [node.name, cluster.startAgent(node, routedAgentArgs(bird, options))];
    }),
  );
}

/**
 * What work resolves to, unless one of the agents exits first: then its exit and output, at once,
 * rather than a wait for an answer that a dead agent will never give.
 */
export async function whileRunning<T>(agents: ReadonlyMap<string, LabProcess>, work: Promise<T>): Promise<T> {
  const state = { done: false };
  const exits = [...agents.values()].map(async (agent) => {
    const exit = await agent.exited;
    if (!state.done)
      throw new Error(
        `${agent.name} exited (${String(exit.code ?? exit.signal)}):\n${agent.output().slice(-3000)}`,
      );
    return undefined as never;
  });
  // Only the first to settle is heard; another agent exiting in the same moment is no further error.
  for (const exit of exits) exit.catch(() => undefined);
  try {
    return await Promise.race([work, ...exits]);
  } finally {
    state.done = true;
  }
}

/** The router's BGP sessions by name (node1_v4, …) with their state, "up Established" when up. */
export async function routerSessions(router: Router): Promise<Map<string, string>> {
  const shown = (await router.birdc(["show", "protocols"])).stdout;
  const states = new Map<string, string>();
  for (const line of shown.split("\n")) {
    const [name, proto, , state, , info] = line.trim().split(/\s+/);
    if (proto === "BGP" && name !== undefined) states.set(name, `${state ?? ""} ${info ?? ""}`.trim());
  }
  return states;
}

/**
 * The router's sessions in the middle of a peer's graceful restart: their routes kept as stale until
 * the peer is back and has sent them again (BIRD's "Neighbor graceful restart active").
 */
export async function gracefulRestartsActive(router: Router): Promise<string[]> {
  const shown = (await router.birdc(["show", "protocols", "all"])).stdout;
  const active: string[] = [];
  let current: string | undefined;
  for (const line of shown.split("\n")) {
    // A protocol's block starts at column 0 with its name; its details are indented.
    if (/^\S/.test(line)) current = line.split(/\s+/)[0];
    else if (current !== undefined && /Neighbor graceful restart active/.test(line)) active.push(current);
  }
  return active;
}

/** Whether both of each node's sessions (IPv4 and IPv6) with the router are established. */
export function established(states: ReadonlyMap<string, string>, nodes: readonly LabNode[]): boolean {
  return nodes.every((node) =>
    [`${node.name}_v4`, `${node.name}_v6`].every((name) => states.get(name) === "up Established"),
  );
}

/**
 * Rewrites the router's config with a TCP-MD5 password on every node session and reconfigures it;
 * the returned function puts the lab's own config back.
 */
export async function requireRouterPassword(
  lab: Lab,
  router: Router,
  password: string,
): Promise<() => Promise<void>> {
  const plain = routerBirdConfig(lab.nodes);
  const template = "template bgp lab_nodes {\n";
  await reconfigure(router, plain.replace(template, `${template}  password "${password}";\n`), "the router");
  return () => reconfigure(router, plain, "the router");
}

const hostLength = (ip: string) => (ip.includes(":") ? 128 : 32);
const family = (ip: string) => (ip.includes(":") ? "-6" : "-4");

interface RouteJson {
  readonly dst?: string;
  readonly dev?: string;
  readonly protocol?: string | number;
}

/** The routes to exactly ip/32 (/128) in vipd's table on the node: "dev lo proto 248" for vipd's. */
export async function tableRoutes(lab: Lab, node: LabNode, ip: string): Promise<string[]> {
  const shown = await lab.exec(node.netns, [
    ...["ip", "-j", family(ip), "route", "show", "table", String(NODE_VIP_TABLE)],
    `${ip}/${hostLength(ip)}`,
  ]);
  const text = shown.stdout.trim();
  const routes = JSON.parse(text === "" ? "[]" : text) as RouteJson[];
  return routes.map((route) => `dev ${route.dev ?? "?"} proto ${String(route.protocol ?? "?")}`);
}

/** Whether the address is on the node's lo. */
export async function onLoopback(lab: Lab, node: LabNode, ip: string): Promise<boolean> {
  const shown = await lab.exec(node.netns, ["ip", "-j", family(ip), "addr", "show", "dev", "lo"]);
  const links = JSON.parse(shown.stdout) as { addr_info?: { local?: string }[] }[];
  return links.some((link) => (link.addr_info ?? []).some((info) => info.local === ip));
}

/**
 * What the tests put on every node before any agent runs, for vipd to leave alone: a static route in
 * vipd's own table to an address of the routed range, and an address on lo, of each family.
 */
const FOREIGN = {
  routes: ["203.0.113.250", "2001:db8:3::250"],
  addresses: ["203.0.113.251", "2001:db8:3::251"],
} as const;

async function addForeign(lab: Lab): Promise<void> {
  for (const node of lab.nodes) {
    for (const ip of FOREIGN.routes)
      await lab.exec(node.netns, [
        ...["ip", family(ip), "route", "add", `${ip}/${hostLength(ip)}`, "dev", "lo"],
        ...["table", String(NODE_VIP_TABLE), "proto", "static"],
      ]);
    for (const ip of FOREIGN.addresses)
      await lab.exec(node.netns, [
        ...["ip", "addr", "add", `${ip}/${hostLength(ip)}`, "dev", "lo"],
        ...(ip.includes(":") ? ["nodad"] : []),
      ]);
  }
}

/**
 * Per node, the foreign routes and lo addresses still there, beside what addForeign put (equal when
 * untouched), and those of them the router has a route for (none: BIRD never announced them).
 */
export async function foreignState(routed: RoutedLab): Promise<{
  left: Record<string, string[]>;
  expected: Record<string, string[]>;
  announced: string[];
}> {
  const { lab, router } = routed;
  const left: Record<string, string[]> = {};
  const expected: Record<string, string[]> = {};
  for (const node of lab.nodes) {
    const routes = await Promise.all(
      FOREIGN.routes.map(async (ip) => (await tableRoutes(lab, node, ip)).map((route) => `${ip} ${route}`)),
    );
    const addresses = await Promise.all(
      FOREIGN.addresses.map(async (ip) => ((await onLoopback(lab, node, ip)) ? [`${ip} on lo`] : [])),
    );
    left[node.name] = [...routes.flat(), ...addresses.flat()];
    expected[node.name] = [
      ...FOREIGN.routes.map((ip) => `${ip} dev lo proto static`),
      ...FOREIGN.addresses.map((ip) => `${ip} on lo`),
    ];
  }
  const announced: string[] = [];
  for (const ip of [...FOREIGN.routes, ...FOREIGN.addresses])
    if ((await router.nextHops(ip)).length > 0) announced.push(ip);
  return { left, expected, announced };
}

/**
 * A node the lab "killed" (agent SIGKILLed, links down) comes back as a rebooted one would: the
 * kernel has forgotten vipd's routes (protocol 248) in its table and the addresses on lo (else its
 * BIRD would announce yesterday's routes the moment its links return), its links are up, and its
 * BIRD starts afresh (the one that lost its sessions would wait out BIRD's error wait time, a minute
 * or more, before trying again). Its agent is the caller's to start.
 */
export async function rebootNode(routed: RoutedLab, node: LabNode, ips: readonly string[]): Promise<void> {
  const { lab } = routed;
  for (const ip of ips) {
    await lab.exec(
      node.netns,
      [
        ...["ip", family(ip), "route", "del", `${ip}/${hostLength(ip)}`],
        ...["table", String(NODE_VIP_TABLE), "proto", String(NODE_VIP_PROTO)],
      ],
      { allowFailure: true },
    );
    await lab.exec(node.netns, ["ip", "addr", "del", `${ip}/${hostLength(ip)}`, "dev", "lo"], {
      allowFailure: true,
    });
  }
  await lab.lanUp(node);
  await lab.healApi(node);
  const bird = routed.birds.get(node.name);
  if (bird === undefined) throw new Error(`${node.name} has no BIRD`);
  await bird.restart();
}
