// The lab's network (DESIGN.md section 4): a LAN bridge joining the nodes and a client, and a
// management bridge joining the nodes to the API server's namespace, so a node can lose the API
// server while its LAN link stays up. Every veth is created inside a lab namespace and every name
// carries the run's prefix; nothing is added to the root namespace.
import { execFileSync } from "node:child_process";
import { inNamespace, ip, run } from "./command.ts";

export interface NodeAddresses {
  readonly name: string;
  readonly netns: string;
  readonly lanIf: "eth0";
  readonly mgmtIf: "mgmt0";
  readonly ipv4: string;
  readonly ipv6: string;
  readonly mgmtIpv4: string;
  readonly mac: string;
  /** The bridge-side ends, for cutting links from outside the node. */
  readonly lanPeer: string;
  readonly mgmtPeer: string;
}

export interface Topology {
  readonly prefix: string;
  readonly lanNetns: string;
  readonly apiNetns: string;
  readonly nodes: readonly NodeAddresses[];
  readonly client: {
    readonly netns: string;
    readonly ipv4: string;
    readonly ipv6: string;
    readonly ifname: "eth0";
    readonly mac: string;
  };
  readonly namespaces: readonly string[];
}

export const LAN_PREFIX_LENGTH = 24;
export const API_ADDRESS = "203.0.113.1";
// Node addresses start at .11 so node N reads as 198.51.100.1N; a default route via .1 gives the
// agent "the interface of the default route" without any router existing.
const NODE_HOST_BASE = 10;
const NAMESPACE_PATTERN = /^v(\d+)_\d+-(lan|api|client|n\d+)$/;

export function topologyFor(prefix: string, nodeCount: number): Topology {
  const hex = (n: number) => n.toString(16).padStart(2, "0");
  const nodes = Array.from({ length: nodeCount }, (_, index): NodeAddresses => {
    const host = NODE_HOST_BASE + index + 1;
    return {
      name: `node${index + 1}`,
      netns: `${prefix}-n${index + 1}`,
      lanIf: "eth0",
      mgmtIf: "mgmt0",
      ipv4: `198.51.100.${host}`,
      ipv6: `2001:db8:1::${host}`,
      mgmtIpv4: `203.0.113.${host}`,
      mac: `02:00:00:00:00:${hex(host)}`,
      lanPeer: `${prefix}-n${index + 1}`,
      mgmtPeer: `${prefix}-m${index + 1}`,
    };
  });
  const client = {
    netns: `${prefix}-client`,
    ipv4: "198.51.100.2",
    ipv6: "2001:db8:1::2",
    ifname: "eth0" as const,
    mac: "02:00:00:00:00:02",
  };
  const lanNetns = `${prefix}-lan`;
  const apiNetns = `${prefix}-api`;
  return {
    prefix,
    lanNetns,
    apiNetns,
    nodes,
    client,
    namespaces: [lanNetns, apiNetns, client.netns, ...nodes.map((node) => node.netns)],
  };
}

async function sysctl(netns: string, settings: readonly string[]): Promise<void> {
  await run(inNamespace(netns, ["sysctl", "-q", "-w", ...settings]));
}

async function createNamespace(netns: string): Promise<void> {
  await ip("netns", "add", netns);
  await ip("-n", netns, "link", "set", "lo", "up");
  // Addresses must be usable the moment they are added: duplicate address detection would hold
  // IPv6 addresses (link-local ones too) tentative for a second and drop neighbour traffic meanwhile.
  await sysctl(netns, ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]);
}

async function createBridge(netns: string, name: string): Promise<void> {
  // No STP, no forwarding delay: ports forward at once. No multicast snooping: NDP's solicited-node
  // multicast reaches every port, as on a plain switch.
  await ip(
    "-n",
    netns,
    "link",
    "add",
    name,
    "type",
    "bridge",
    "stp_state",
    "0",
    "forward_delay",
    "0",
    "mcast_snooping",
    "0",
  );
  await ip("-n", netns, "link", "set", name, "up");
}

async function plug(options: {
  netns: string;
  ifname: string;
  bridgeNetns: string;
  bridge: string;
  peer: string;
  mac?: string;
  addresses: readonly string[];
}): Promise<void> {
  await ip(
    "-n",
    options.netns,
    "link",
    "add",
    options.ifname,
    "type",
    "veth",
    "peer",
    "name",
    options.peer,
    "netns",
    options.bridgeNetns,
  );
  if (options.mac !== undefined)
    await ip("-n", options.netns, "link", "set", options.ifname, "address", options.mac);
  for (const address of options.addresses) {
    const extra = address.includes(":") ? ["nodad"] : [];
    await ip("-n", options.netns, "addr", "add", address, "dev", options.ifname, ...extra);
  }
  await ip("-n", options.bridgeNetns, "link", "set", options.peer, "master", options.bridge, "up");
  await ip("-n", options.netns, "link", "set", options.ifname, "up");
}

export async function createTopology(topology: Topology): Promise<void> {
  for (const netns of topology.namespaces) await createNamespace(netns);
  const lanBridge = `${topology.prefix}-br`;
  const mgmtBridge = `${topology.prefix}-brm`;
  await createBridge(topology.lanNetns, lanBridge);
  await createBridge(topology.apiNetns, mgmtBridge);
  await ip("-n", topology.apiNetns, "addr", "add", `${API_ADDRESS}/24`, "dev", mgmtBridge);
  for (const node of topology.nodes) {
    await plug({
      netns: node.netns,
      ifname: node.lanIf,
      bridgeNetns: topology.lanNetns,
      bridge: lanBridge,
      peer: node.lanPeer,
      mac: node.mac,
      addresses: [`${node.ipv4}/${LAN_PREFIX_LENGTH}`, `${node.ipv6}/64`],
    });
    await plug({
      netns: node.netns,
      ifname: node.mgmtIf,
      bridgeNetns: topology.apiNetns,
      bridge: mgmtBridge,
      peer: node.mgmtPeer,
      addresses: [`${node.mgmtIpv4}/24`],
    });
    await ip("-n", node.netns, "route", "add", "default", "via", "198.51.100.1", "dev", node.lanIf, "onlink");
  }
  const { client } = topology;
  await plug({
    netns: client.netns,
    ifname: client.ifname,
    bridgeNetns: topology.lanNetns,
    bridge: lanBridge,
    peer: `${topology.prefix}-c`,
    mac: client.mac,
    addresses: [`${client.ipv4}/${LAN_PREFIX_LENGTH}`, `${client.ipv6}/64`],
  });
}

function existingNamespaces(): string[] {
  return execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name !== "");
}

/** Deletes the namespaces of this topology; synchronous so it can run in exit and signal handlers. */
export function destroyTopology(topology: Topology): void {
  const existing = new Set(existingNamespaces());
  for (const netns of topology.namespaces) {
    if (existing.has(netns)) execFileSync("ip", ["netns", "delete", netns], { stdio: "ignore" });
  }
}

export function remainingNamespaces(prefix: string): string[] {
  return existingNamespaces().filter((name) => name.startsWith(`${prefix}-`));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes namespaces left by earlier runs whose process is gone (a crash, a SIGKILL). */
export function sweepStale(): string[] {
  const stale = existingNamespaces().filter((name) => {
    const pid = NAMESPACE_PATTERN.exec(name)?.[1];
    return pid !== undefined && Number(pid) !== process.pid && !alive(Number(pid));
  });
  for (const netns of stale) execFileSync("ip", ["netns", "delete", netns], { stdio: "ignore" });
  return stale;
}
