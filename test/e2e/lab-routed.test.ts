// The lab's tools for routed VIPs, with the lab's own node BIRD config and no agent: flows from many
// source ports from the far client spread over a multipath route, the next-hop sampler sees each
// change of the router's route, and a node BIRD coming back from a graceful restart with -R (graceful
// restart recovery) keeps its route on the router throughout. (Started without -R, its new session
// tells the router no forwarding state was kept, and the router drops the route for a moment.)
import test from "ava";
import { eventually } from "../../lab/eventually.ts";
import {
  NODE_VIP_PROTO,
  NODE_VIP_TABLE,
  answersByNode,
  nodeBirdConfig,
  up,
  type Bird,
  type Lab,
  type LabNode,
} from "../../lab/index.ts";
import { gracefulRestartsActive, routerSessions } from "../../lab/routed.ts";

const VIP = "203.0.113.220";
const VIP6 = "2001:db8:3::220";

let lab: Lab;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab's routed tools need root (network namespaces)");
  lab = await up({ nodes: 3, router: true });
});

test.after.always(async () => {
  await lab.down();
});

/** vipd's kernel state for an address, put by hand: the address on lo, its route in table 198. */
async function announce(node: LabNode, vip: string): Promise<void> {
  const [length, family] = vip.includes(":") ? ["128", "-6"] : ["32", "-4"];
  await lab.exec(node.netns, ["ip", "addr", "add", `${vip}/${length}`, "dev", "lo"]);
  await lab.exec(node.netns, [
    ...["ip", family, "route", "add", `${vip}/${length}`, "dev", "lo"],
    ...["table", String(NODE_VIP_TABLE), "proto", String(NODE_VIP_PROTO)],
  ]);
}

test.serial("flows from many source ports spread over every next hop; the sampler sees each", async (t) => {
  const birds: Bird[] = [];
  for (const node of lab.nodes)
    birds.push(await lab.startNodeBird(node, { configText: nodeBirdConfig(node) }));
  const far = lab.farClient;
  if (far === undefined) throw new Error("the lab came up without its far client");
  const samplers = [await lab.sampleNextHops({ vip: VIP }), await lab.sampleNextHops({ vip: VIP6 })];
  t.deepEqual(
    samplers.map((sampler) => sampler.latest()),
    [[], []],
  );
  for (const node of lab.nodes) for (const vip of [VIP, VIP6]) await announce(node, vip);
  const [four, six] = samplers;
  if (four === undefined || six === undefined) throw new Error("two samplers expected");
  await eventually(
    () => Promise.resolve([four.latest(), six.latest()]),
    (latest) => latest.every((hops) => hops.length === 3),
    { what: "three next hops sampled for each address" },
  );
  t.deepEqual(four.latest(), lab.nodes.map((node) => node.ipv4).sort());
  t.deepEqual(six.latest(), lab.nodes.map((node) => node.ipv6).sort());
  t.deepEqual(
    four.changes().map((change) => change.hops.length),
    [0, 1, 2, 3],
    "one change per node announcing",
  );
  for (const vip of [VIP, VIP6]) {
    const answers = await far.flows({ target: vip, flows: 64 });
    t.is(answers.length, 64);
    t.is(new Set(answers.map((answer) => answer.sourcePort)).size, 64, "each flow from its own port");
    t.deepEqual(
      [...answersByNode(answers).keys()].sort(),
      lab.nodes.map((node) => node.name).sort(),
      `${vip}: every node answers some`,
    );
  }
  for (const sampler of samplers) t.true((await sampler.stop()).length > 3);
  for (const bird of birds) await bird.stop();
});

test.serial("a node BIRD back from a graceful restart with -R keeps its route on the router", async (t) => {
  const [node] = lab.nodes;
  const router = lab.router;
  if (node === undefined || router === undefined) throw new Error("a node and the router expected");
  const vip = "203.0.113.221";
  // Graceful restart, and no BFD: a BFD session going down ends the restart on the router.
  const config = nodeBirdConfig(node).replaceAll("  bfd on;\n", "  graceful restart on;\n");
  const bird = await lab.startNodeBird(node, { configText: config });
  t.teardown(() => bird.stop());
  await announce(node, vip);
  await eventually(
    () => router.nextHops(vip),
    (hops) => hops.length === 1,
    { what: "the node's route on the router" },
  );
  const sampler = await lab.sampleNextHops({ vip });
  const session = `${node.name}_v4`;
  await eventually(
    () => routerSessions(router),
    (states) => states.get(session) === "up Established",
    { what: "the session established" },
  );
  const before = bird.process;
  await bird.birdc(["graceful", "restart"]);
  await before.exited;
  const helping = await eventually(
    () => gracefulRestartsActive(router),
    (active) => active.includes(session),
    { what: "the router helping the node's graceful restart" },
  );
  t.true(helping.includes(session));
  await bird.restart({ recovery: true });
  await eventually(
    () => gracefulRestartsActive(router),
    (active) => active.length === 0,
    { what: "the graceful restart over" },
  );
  t.is((await routerSessions(router)).get(session), "up Established");
  await sampler.stop();
  t.deepEqual(
    sampler.changes().filter((sample) => sample.hops.length !== 1),
    [],
    "the router forwarded to the node at every sample",
  );
});
