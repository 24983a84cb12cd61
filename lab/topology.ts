// The lab's network (docs/design.md, the lab): a LAN bridge joining the nodes and a client, and a
// management bridge joining the nodes to the API server's namespace, so a node can lose the API
// server while its LAN link stays up. Every veth is created inside a lab namespace and every name
// carries the run's prefix; nothing is added to the root namespace. A lab asked for a router also gets
// a far segment behind it, reached only through the router, for routed (BGP) VIPs.
import { deleteNamespace, inNamespace, ip, run } from "./netns.ts";
import { namespacesWithPrefix } from "./run-prefix.ts";

export interface NodeAddresses {
  readonly name: string;
  readonly netns: string;
  readonly lanIf: "eth0";
  readonly mgmtIf: "mgmt0";
  readonly ipv4: string;
  readonly ipv6: string;
  readonly mgmtIpv4: string;
  readonly mac: string;
  /** The bridge-side ends of the node's links, where faults are injected from outside the node. */
  readonly lanPeer: string;
  readonly mgmtPeer: string;
}

export interface ClientAddresses {
  readonly netns: string;
  readonly ipv4: "198.51.100.2";
  readonly ipv6: "2001:db8:1::2";
  readonly ifname: "eth0";
  readonly mac: string;
}

/** A machine on the LAN that is no node: no agent, no API server, just a kernel with addresses. */
export interface LanHost {
  readonly netns: string;
  readonly ifname: "eth0";
  readonly mac: string;
}

/** The router between the LAN and the far segment, and the far client behind it. */
export interface RouterAddresses {
  readonly netns: string;
  readonly lanIf: "eth0";
  readonly farIf: "far0";
  readonly lanIpv4: typeof ROUTER_LAN_IPV4;
  readonly lanIpv6: typeof ROUTER_LAN_IPV6;
  readonly farIpv4: typeof ROUTER_FAR_IPV4;
  readonly farIpv6: typeof ROUTER_FAR_IPV6;
  readonly lanPeer: string;
}

export interface FarClientAddresses {
  readonly netns: string;
  readonly ifname: "eth0";
  readonly ipv4: typeof FAR_CLIENT_IPV4;
  readonly ipv6: typeof FAR_CLIENT_IPV6;
}

export interface Topology {
  readonly prefix: string;
  readonly lanNetns: string;
  readonly apiNetns: string;
  readonly lanBridge: string;
  readonly mgmtBridge: string;
  readonly nodes: readonly NodeAddresses[];
  readonly client: ClientAddresses;
  readonly router: RouterAddresses | undefined;
  readonly farClient: FarClientAddresses | undefined;
  readonly namespaces: readonly string[];
}

// The address plan. 192.0.2.0/24 is the API server's Service CIDR (apiserver.ts), so the management
// network and everything behind the router share 203.0.113.0/24: management in the lower half, the
// far segment and the routed VIPs in the upper one, so no node's management subnet covers them.
export const API_ADDRESS = "203.0.113.1";
const MGMT_PREFIX_LENGTH = 25;
export const ROUTER_LAN_IPV4 = "198.51.100.1";
export const ROUTER_LAN_IPV6 = "2001:db8:1::1";
export const FAR_SEGMENT_IPV4 = "203.0.113.128/26";
export const FAR_SEGMENT_IPV6 = "2001:db8:2::/64";
export const ROUTER_FAR_IPV4 = "203.0.113.129";
export const ROUTER_FAR_IPV6 = "2001:db8:2::1";
export const FAR_CLIENT_IPV4 = "203.0.113.130";
export const FAR_CLIENT_IPV6 = "2001:db8:2::2";
/** Where the BGP/ECMP tests take their VIPs from: routed to the nodes, on no link's subnet. */
export const ROUTED_VIPS_IPV4 = "203.0.113.192/26";
export const ROUTED_VIPS_IPV6 = "2001:db8:3::/64";
// Node N gets host number 10 + N, so node1 is 198.51.100.11 and its MAC ends in 0b.
const NODE_HOST_BASE = 10;
const MAX_NODES = 99;
const IFNAMSIZ = 15;

const hex = (n: number) => n.toString(16).padStart(2, "0");

export function topologyFor(prefix: string, nodeCount: number, options: { router?: boolean } = {}): Topology {
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > MAX_NODES)
    throw new Error(`a lab has 1 to ${MAX_NODES} nodes, not ${nodeCount}`);
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
  const client: ClientAddresses = {
    netns: `${prefix}-client`,
    ipv4: "198.51.100.2",
    ipv6: "2001:db8:1::2",
    ifname: "eth0",
    mac: "02:00:00:00:00:02",
  };
  const router: RouterAddresses | undefined =
    options.router === true
      ? {
          netns: `${prefix}-rtr`,
          lanIf: "eth0",
          farIf: "far0",
          lanIpv4: ROUTER_LAN_IPV4,
          lanIpv6: ROUTER_LAN_IPV6,
          farIpv4: ROUTER_FAR_IPV4,
          farIpv6: ROUTER_FAR_IPV6,
          lanPeer: `${prefix}-r`,
        }
      : undefined;
  const farClient: FarClientAddresses | undefined =
    options.router === true
      ? { netns: `${prefix}-far`, ifname: "eth0", ipv4: FAR_CLIENT_IPV4, ipv6: FAR_CLIENT_IPV6 }
      : undefined;
  const routed = router === undefined || farClient === undefined ? [] : [router.netns, farClient.netns];
  const topology: Topology = {
    prefix,
    lanNetns: `${prefix}-lan`,
    apiNetns: `${prefix}-api`,
    lanBridge: `${prefix}-br`,
    mgmtBridge: `${prefix}-brm`,
    nodes,
    client,
    router,
    farClient,
    namespaces: [
      `${prefix}-lan`,
      `${prefix}-api`,
      client.netns,
      ...nodes.map((node) => node.netns),
      ...routed,
    ],
  };
  const links = [topology.lanBridge, topology.mgmtBridge, ...nodes.flatMap((n) => [n.lanPeer, n.mgmtPeer])];
  const tooLong = links.filter((name) => name.length > IFNAMSIZ);
  if (tooLong.length > 0) throw new Error(`interface names longer than ${IFNAMSIZ}: ${tooLong.join(", ")}`);
  return topology;
}

async function createNamespace(netns: string): Promise<void> {
  await ip("netns", "add", netns);
  await ip("-n", netns, "link", "set", "lo", "up");
  // Set here, inside the namespace, never on the host. Duplicate address detection would hold every
  // IPv6 address (link-local ones too) tentative for a second after it is added or its link comes
  // up, and a tentative address neither answers nor sends neighbour discovery. "default" covers the
  // interfaces created after this.
  await run(
    inNamespace(netns, [
      "sysctl",
      "-q",
      "-w",
      "net.ipv6.conf.all.accept_dad=0",
      "net.ipv6.conf.default.accept_dad=0",
    ]),
  );
}

async function createBridge(netns: string, name: string): Promise<void> {
  // No STP and no forwarding delay: ports forward at once. No multicast snooping: NDP's
  // solicited-node multicast reaches every port, as on a plain switch.
  await ip(
    ...["-n", netns, "link", "add", name, "type", "bridge"],
    ...["stp_state", "0", "forward_delay", "0", "mcast_snooping", "0"],
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
  const { netns, ifname, bridgeNetns, peer } = options;
  // Created inside the node's namespace with its peer sent straight to the bridge's namespace: no
  // end of the veth ever exists in the root namespace.
  await ip("-n", netns, "link", "add", ifname, "type", "veth", "peer", "name", peer, "netns", bridgeNetns);
  if (options.mac !== undefined) await ip("-n", netns, "link", "set", ifname, "address", options.mac);
  for (const address of options.addresses) {
    const extra = address.includes(":") ? ["nodad"] : [];
    await ip("-n", netns, "addr", "add", address, "dev", ifname, ...extra);
  }
  await ip("-n", bridgeNetns, "link", "set", peer, "master", options.bridge, "up");
  await ip("-n", netns, "link", "set", ifname, "up");
}

function plugLan(topology: Topology, node: NodeAddresses): Promise<void> {
  return plug({
    netns: node.netns,
    ifname: node.lanIf,
    bridgeNetns: topology.lanNetns,
    bridge: topology.lanBridge,
    peer: node.lanPeer,
    mac: node.mac,
    addresses: [`${node.ipv4}/24`, `${node.ipv6}/64`],
  });
}

/**
 * Deletes the node's LAN link and creates it again, with its name, MAC and addresses, on the bridge
 * and up: what recreating a VLAN or a bond does, with a new interface index. The default route went
 * with the old link and is not put back.
 */
export async function replugLan(topology: Topology, node: NodeAddresses): Promise<void> {
  await ip("-n", node.netns, "link", "del", node.lanIf);
  await plugLan(topology, node);
}

export async function createTopology(topology: Topology): Promise<void> {
  // One at a time: `ip netns add` sets up the shared /run/netns mount on first use, and concurrent
  // first uses race for it.
  for (const netns of topology.namespaces) await createNamespace(netns);
  await createBridge(topology.lanNetns, topology.lanBridge);
  await createBridge(topology.apiNetns, topology.mgmtBridge);
  await ip(
    "-n",
    topology.apiNetns,
    "addr",
    "add",
    `${API_ADDRESS}/${MGMT_PREFIX_LENGTH}`,
    "dev",
    topology.mgmtBridge,
  );
  const { client } = topology;
  await Promise.all([
    ...topology.nodes.map(async (node) => {
      await plugLan(topology, node);
      await plug({
        netns: node.netns,
        ifname: node.mgmtIf,
        bridgeNetns: topology.apiNetns,
        bridge: topology.mgmtBridge,
        peer: node.mgmtPeer,
        addresses: [`${node.mgmtIpv4}/${MGMT_PREFIX_LENGTH}`],
      });
      // A default route (to the lab's router, which exists only in a lab asked for one) makes eth0
      // "the interface of the default route", as on a real node, for the agent's interface choice.
      await ip("-n", node.netns, "route", "add", "default", "via", ROUTER_LAN_IPV4, "dev", "eth0", "onlink");
    }),
    plug({
      netns: client.netns,
      ifname: client.ifname,
      bridgeNetns: topology.lanNetns,
      bridge: topology.lanBridge,
      peer: `${topology.prefix}-c`,
      mac: client.mac,
      addresses: [`${client.ipv4}/24`, `${client.ipv6}/64`],
    }),
  ]);
  if (topology.router !== undefined && topology.farClient !== undefined)
    await createRouted(topology, topology.router, topology.farClient);
}

const sysctl = (netns: string, ...settings: string[]) =>
  run(inNamespace(netns, ["sysctl", "-q", "-w", ...settings]));

/**
 * The router on the LAN bridge, the far client on a point-to-point link behind it, and the routes
 * that make the far segment reachable only through the router: the nodes' replies to the far client
 * go back the way its requests came.
 */
async function createRouted(
  topology: Topology,
  router: RouterAddresses,
  farClient: FarClientAddresses,
): Promise<void> {
  await plug({
    netns: router.netns,
    ifname: router.lanIf,
    bridgeNetns: topology.lanNetns,
    bridge: topology.lanBridge,
    peer: router.lanPeer,
    addresses: [`${router.lanIpv4}/24`, `${router.lanIpv6}/64`],
  });
  // No bridge on the far segment: a veth pair made in the far namespace, one end sent to the router.
  await ip(
    ...["-n", farClient.netns, "link", "add", farClient.ifname, "type", "veth"],
    ...["peer", "name", router.farIf, "netns", router.netns],
  );
  const farLength = (cidr: string) => cidr.slice(cidr.indexOf("/"));
  for (const [netns, ifname, ipv4, ipv6] of [
    [router.netns, router.farIf, router.farIpv4, router.farIpv6],
    [farClient.netns, farClient.ifname, farClient.ipv4, farClient.ipv6],
  ] as const) {
    await ip("-n", netns, "addr", "add", `${ipv4}${farLength(FAR_SEGMENT_IPV4)}`, "dev", ifname);
    await ip("-n", netns, "addr", "add", `${ipv6}${farLength(FAR_SEGMENT_IPV6)}`, "dev", ifname, "nodad");
    await ip("-n", netns, "link", "set", ifname, "up");
  }
  await ip("-n", farClient.netns, "route", "add", "default", "via", router.farIpv4);
  await ip("-n", farClient.netns, "-6", "route", "add", "default", "via", router.farIpv6);
  // The hash policy 1 takes the ports into the ECMP hash, so flows from one client spread over the
  // next hops instead of all following one.
  await sysctl(
    router.netns,
    "net.ipv4.ip_forward=1",
    "net.ipv6.conf.all.forwarding=1",
    "net.ipv4.fib_multipath_hash_policy=1",
    "net.ipv6.fib_multipath_hash_policy=1",
  );
  for (const node of topology.nodes) {
    await ip("-n", node.netns, "route", "add", FAR_SEGMENT_IPV4, "via", router.lanIpv4, "dev", node.lanIf);
    await ip(
      "-n",
      node.netns,
      "-6",
      "route",
      "add",
      FAR_SEGMENT_IPV6,
      "via",
      router.lanIpv6,
      "dev",
      node.lanIf,
    );
  }
}

/**
 * Plugs a host into the LAN bridge: a namespace of the run (so teardown removes it with the rest) with
 * eth0 on the bridge, the given MAC and addresses. The name is short letters and digits.
 */
export async function createLanHost(
  topology: Topology,
  options: { readonly name: string; readonly mac: string; readonly addresses: readonly string[] },
): Promise<LanHost> {
  const netns = `${topology.prefix}-${options.name}`;
  if (!/^[a-z0-9]+$/.test(options.name) || netns.length > IFNAMSIZ)
    throw new Error(`a LAN host needs a short name of letters and digits, not ${options.name}`);
  await createNamespace(netns);
  await plug({
    netns,
    ifname: "eth0",
    bridgeNetns: topology.lanNetns,
    bridge: topology.lanBridge,
    peer: netns,
    mac: options.mac,
    addresses: options.addresses,
  });
  return { netns, ifname: "eth0", mac: options.mac };
}

/**
 * Synchronous, so exit and signal handlers can run it. Every namespace of the run goes, the
 * topology's and any host a test plugged in, and no other.
 */
export function destroyTopology(topology: Topology): void {
  for (const netns of namespacesWithPrefix(topology.prefix)) deleteNamespace(netns);
}
