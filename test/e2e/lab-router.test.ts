// The lab's router: real BIRD 2 on both sides of eBGP, the router's kernel as the oracle of where a
// routed VIP's packets go, ECMP over nodes announcing the same VIP, BFD taking a dead node's next hop
// away, and the far client reaching a node's echo server only through the router.
import test from "ava";
import { eventually } from "../../lab/eventually.ts";
import {
  FAR_CLIENT_IPV4,
  NODE_VIP_PROTO,
  NODE_VIP_TABLE,
  ROUTER_LAN_IPV4,
  namespacesWithPrefix,
  nodeBirdConfig,
  up,
  type Bird,
  type Lab,
  type LabNode,
  type Router,
} from "../../lab/index.ts";

// From the routed VIP ranges (ROUTED_VIPS_IPV4/6), on no link's subnet.
const VIP = "203.0.113.200";
const VIP6 = "2001:db8:3::200";

let lab: Lab;
let router: Router;
const birds = new Map<string, Bird>();

function nodes(): [LabNode, LabNode, LabNode] {
  const [node1, node2, node3] = lab.nodes;
  if (node1 === undefined || node2 === undefined || node3 === undefined)
    throw new Error("three nodes expected");
  return [node1, node2, node3];
}

function birdOf(node: LabNode): Bird {
  const bird = birds.get(node.name);
  if (bird === undefined) throw new Error(`${node.name} has no BIRD`);
  return bird;
}

/** The protocols of `birdc show protocols` by name, with their state (Established for a session). */
async function protocols(bird: { birdc(args: readonly string[]): Promise<{ stdout: string }> }) {
  const shown = (await bird.birdc(["show", "protocols"])).stdout;
  const states = new Map<string, string>();
  for (const line of shown.split("\n")) {
    const [name, proto, , state, , info] = line.trim().split(/\s+/);
    if (proto === "BGP" && name !== undefined) states.set(name, `${state ?? ""} ${info ?? ""}`.trim());
  }
  return states;
}

const established = (states: Map<string, string>, names: readonly string[]) =>
  names.every((name) => states.get(name) === "up Established");

/** The VIP on the node's lo, and its route in table 198 with the protocol the node's BIRD learns. */
async function announce(node: LabNode, vip: string): Promise<void> {
  const [length, family] = vip.includes(":") ? ["128", "-6"] : ["32", "-4"];
  await lab.exec(node.netns, ["ip", "addr", "add", `${vip}/${length}`, "dev", "lo"]);
  await lab.exec(node.netns, [
    ...["ip", family, "route", "add", `${vip}/${length}`, "dev", "lo"],
    ...["table", String(NODE_VIP_TABLE), "proto", String(NODE_VIP_PROTO)],
  ]);
}

async function withdraw(node: LabNode, vip: string): Promise<void> {
  const [length, family] = vip.includes(":") ? ["128", "-6"] : ["32", "-4"];
  await lab.exec(node.netns, [
    "ip",
    family,
    "route",
    "del",
    `${vip}/${length}`,
    "table",
    String(NODE_VIP_TABLE),
  ]);
  await lab.exec(node.netns, ["ip", "addr", "del", `${vip}/${length}`, "dev", "lo"]);
}

const nextHops = (vip: string, expected: readonly string[], what: string) =>
  eventually(
    () => router.nextHops(vip),
    (hops) => JSON.stringify(hops) === JSON.stringify([...expected].sort()),
    { what, context: () => [...birds.values()].map((bird) => bird.process.output()).join("\n") },
  );

const sessionsUp = (node: LabNode) =>
  eventually(
    () => protocols(router),
    (states) => established(states, [`${node.name}_v4`, `${node.name}_v6`]),
    { what: `${node.name}'s sessions with the router established` },
  );

test.before(async () => {
  if (process.getuid?.() !== 0)
    throw new Error("the lab router tests create network namespaces and must run as root");
  lab = await up({ nodes: 3, router: true });
  if (lab.router === undefined) throw new Error("the lab came up without its router");
  router = lab.router;
  for (const node of lab.nodes)
    birds.set(node.name, await lab.startNodeBird(node, { configText: nodeBirdConfig(node) }));
});

test.after.always(async () => {
  await lab.down();
});

test.serial("the router's namespace forwards and hashes ECMP on ports, for both families", async (t) => {
  const read = async (key: string) => (await lab.exec(router.netns, ["sysctl", "-n", key])).stdout.trim();
  t.is(await read("net.ipv4.ip_forward"), "1");
  t.is(await read("net.ipv6.conf.all.forwarding"), "1");
  t.is(await read("net.ipv4.fib_multipath_hash_policy"), "1");
  t.is(await read("net.ipv6.fib_multipath_hash_policy"), "1");
  const [node1] = nodes();
  const route = (await lab.exec(node1.netns, ["ip", "route", "get", FAR_CLIENT_IPV4])).stdout;
  t.regex(route, new RegExp(`via ${ROUTER_LAN_IPV4.replaceAll(".", "\\.")} dev eth0`));
  t.is(namespacesWithPrefix(lab.prefix).length, 8, "lan, api, client, three nodes, router, far client");
});

test.serial("every node's BIRD establishes IPv4 and IPv6 sessions with the router", async (t) => {
  for (const node of lab.nodes) await sessionsUp(node);
  const states = await protocols(router);
  t.deepEqual(
    [...states.keys()].sort(),
    lab.nodes.flatMap((node) => [`${node.name}_v4`, `${node.name}_v6`]).sort(),
  );
  t.true(established(states, [...states.keys()]));
  const [node1] = nodes();
  t.true(established(await protocols(birdOf(node1)), ["router_v4", "router_v6"]), "and the node agrees");
  const bfd = (await router.birdc(["show", "bfd", "sessions"])).stdout;
  for (const node of lab.nodes)
    for (const address of [node.ipv4, node.ipv6])
      t.regex(
        bfd,
        new RegExp(`^${address.replaceAll(".", "\\.")}\\s+eth0\\s+Up\\b`, "m"),
        `BFD with ${address}`,
      );
});

test.serial("a VIP announced by one node is routed to it; by two, to both (ECMP)", async (t) => {
  const [node1, node2] = nodes();
  for (const node of lab.nodes) await sessionsUp(node);
  await announce(node1, VIP);
  await announce(node1, VIP6);
  t.deepEqual(await nextHops(VIP, [node1.ipv4], "node1 the next hop"), [node1.ipv4]);
  t.deepEqual(await nextHops(VIP6, [node1.ipv6], "node1 the IPv6 next hop"), [node1.ipv6]);
  await announce(node2, VIP);
  await announce(node2, VIP6);
  t.deepEqual(
    await nextHops(VIP, [node1.ipv4, node2.ipv4], "two next hops"),
    [node1.ipv4, node2.ipv4].sort(),
  );
  t.deepEqual(
    await nextHops(VIP6, [node1.ipv6, node2.ipv6], "two IPv6 next hops"),
    [node1.ipv6, node2.ipv6].sort(),
  );
  for (const vip of [VIP, VIP6]) await withdraw(node2, vip);
  await nextHops(VIP, [node1.ipv4], "node2's withdrawal");
  t.deepEqual(await router.nextHops(VIP), [node1.ipv4]);
  for (const vip of [VIP, VIP6]) await withdraw(node1, vip);
  t.deepEqual(await nextHops(VIP, [], "no route left"), []);
  t.deepEqual(await nextHops(VIP6, [], "no IPv6 route left"), []);
});

test.serial(
  "the far client reaches a node's echo server through the router, over IPv4 and IPv6",
  async (t) => {
    const [node1] = nodes();
    const far = lab.farClient;
    if (far === undefined) throw new Error("the lab came up without its far client");
    await sessionsUp(node1);
    await announce(node1, VIP);
    await announce(node1, VIP6);
    await nextHops(VIP, [node1.ipv4], "node1 the next hop");
    await nextHops(VIP6, [node1.ipv6], "node1 the IPv6 next hop");
    const probe = await far.probe({ target: VIP });
    const probe6 = await far.probe({ target: VIP6, protocol: "tcp" });
    t.is((await probe.waitFor((sample) => sample.node !== null, 10_000)).node, "node1");
    t.is((await probe6.waitFor((sample) => sample.node !== null, 10_000)).node, "node1");
    await probe.stop();
    await probe6.stop();
    // Only through the router: the far client is on no link of any node.
    const route = (await far.exec(["ip", "route", "get", VIP])).stdout;
    t.regex(route, /via 203\.0\.113\.129 dev eth0/);
    for (const vip of [VIP, VIP6]) await withdraw(node1, vip);
  },
);

test.serial("BFD: a node's LAN link down or its BIRD killed takes its next hop away", async (t) => {
  const [node1, node2, node3] = nodes();
  for (const node of lab.nodes) await sessionsUp(node);
  for (const node of lab.nodes) await announce(node, VIP);
  const all = lab.nodes.map((node) => node.ipv4);
  await nextHops(VIP, all, "three next hops");

  // No TCP close reaches the router: BFD is what notices.
  await lab.lanDown(node1);
  t.deepEqual(
    await nextHops(VIP, [node2.ipv4, node3.ipv4], "node1's next hop gone"),
    [node2.ipv4, node3.ipv4].sort(),
  );
  await lab.lanUp(node1);
  await nextHops(VIP, all, "node1 back");

  const bird2 = birdOf(node2);
  lab.signal(bird2.process, "SIGKILL");
  await bird2.process.exited;
  t.deepEqual(
    await nextHops(VIP, [node1.ipv4, node3.ipv4], "node2's next hop gone"),
    [node1.ipv4, node3.ipv4].sort(),
  );
  await bird2.restart();
  t.deepEqual(await nextHops(VIP, all, "node2 back after its BIRD restarted"), [...all].sort());
  for (const node of lab.nodes) await withdraw(node, VIP);
});

test.serial("the router's BIRD stops and restarts; the sessions come back", async (t) => {
  const [node1] = nodes();
  await router.stop();
  t.not((await router.birdc(["show", "status"])).code, 0, "no daemon on the socket");
  await router.start();
  await sessionsUp(node1);
  await router.restart();
  await sessionsUp(node1);
  t.pass();
});

test.serial("a node BIRD without a config runs the bootstrap one; down() leaves nothing", async (t) => {
  const small = await up({ nodes: 1, router: true });
  const [node] = small.nodes;
  if (node === undefined || small.router === undefined) throw new Error("a node and a router expected");
  const bird = await small.startNodeBird(node);
  t.deepEqual(small.birdPaths(node), { configPath: bird.configPath, socketPath: bird.socketPath });
  t.regex((await bird.birdc(["show", "status"])).stdout, new RegExp(`Router ID is ${node.ipv4}`));
  const pids = small.pids();
  t.is(namespacesWithPrefix(small.prefix).length, 6);
  await small.down();
  t.deepEqual(namespacesWithPrefix(small.prefix), []);
  t.deepEqual(
    pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    }),
    [],
  );
});
