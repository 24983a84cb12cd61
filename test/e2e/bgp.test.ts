// bgp mode in the lab (issue 16 §3), against the real API server, a BIRD on every node that its
// agent configures through the socket, and the router's BIRD as the nodes' peer: one elected holder
// puts the address on lo and a host route into table 198, its BIRD announces it, and the far client
// behind the router reaches it. The router's kernel is the oracle: exactly one next hop, never two at
// any sample, through a polite handover and a node death (BFD on); with --bgp-speaker external a
// BIRD vipd does not drive exports what vipd writes; peers named in kube-vip's syntax (a --bgp-peers
// list with a password, per-node annotations) establish; and the static route and lo addresses the
// test put on every node before the agents ran are still there at the end.
import test, { type ExecutionContext } from "ava";
import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import { loadBalancerService, nodesHolding, type Cluster } from "../../lab/agents.ts";
import {
  NODE_ASN,
  NODE_VIP_PROTO,
  ROUTER_ASN,
  ROUTER_LAN_IPV4,
  ROUTER_LAN_IPV6,
  nodeBirdConfig,
  type Bird,
  type FarClient,
  type Lab,
  type LabNode,
  type LabProcess,
  type NextHopSample,
  type Router,
} from "../../lab/index.ts";
import {
  established,
  foreignState,
  onLoopback,
  requireRouterPassword,
  routerPeers,
  routerSessions,
  startRoutedAgents,
  tableRoutes,
  nextHopsAre,
  nodeAddress,
  rebootNode,
  upRoutedLab,
  useLabBirdConfig,
  whileRunning,
  type RoutedAgentOptions,
  type RoutedLab,
} from "../../lab/routed.ts";

let routed: RoutedLab;
let lab: Lab;
let cluster: Cluster;
let router: Router;
let far: FarClient;
let birds: ReadonlyMap<string, Bird>;

test.before(async () => {
  routed = await upRoutedLab();
  ({ lab, cluster, router, far, birds } = routed);
});

test.after.always(async () => {
  await lab.down();
});

interface Served {
  readonly agents: Map<string, LabProcess>;
  readonly holder: LabNode;
}

/**
 * A Service asking for vip, routed agents on every node, and the far client's first answer: who
 * holds it. The agents stop politely (withdrawing what they announced) and the Service is deleted
 * when the test ends.
 */
async function serve(
  t: ExecutionContext,
  options: { service: string; vip: string; agents?: Partial<RoutedAgentOptions> },
): Promise<Served> {
  await cluster.kubectl(
    ["apply", "-f", "-"],
    loadBalancerService({
      name: options.service,
      loadBalancerIP: options.vip,
      ...(options.vip.includes(":") ? { ipFamilies: ["IPv6" as const] } : {}),
    }),
  );
  const agents = startRoutedAgents(cluster, birds, { mode: "bgp", ...options.agents });
  t.teardown(async () => {
    await cluster.stopAgents(agents.values());
    await cluster.kubectl(["delete", "service", options.service, "--wait=false"]);
  });
  const holder = await whileRunning(agents, firstAnswer(options.vip, agents));
  return { agents, holder };
}

/** The node that answers the far client first, through the router. */
async function firstAnswer(vip: string, agents: Map<string, LabProcess>): Promise<LabNode> {
  const probe = await far.probe({ target: vip, intervalMs: 20 });
  try {
    const sample = await probe.waitFor((each) => each.node !== null, 60_000);
    return cluster.node(sample.node);
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${cluster.agentLogs(agents.values())}`, { cause: error });
  } finally {
    await probe.stop();
  }
}

function nextHops(vip: string, expected: readonly LabNode[], what: string): Promise<string[]> {
  return nextHopsAre(routed, vip, expected, what);
}

/** The samples at which the router sent the VIP to more than one node. */
const doubleNextHops = (samples: readonly NextHopSample[]) => samples.filter((s) => s.hops.length > 1);

function agentOf(served: Served, node: LabNode = served.holder): LabProcess {
  const agent = served.agents.get(node.name);
  if (agent === undefined) throw new Error(`no agent on ${node.name}`);
  return agent;
}

for (const vip of ["203.0.113.200", "2001:db8:3::200"]) {
  test.serial(`${vip}: the far client reaches the holder through exactly one next hop`, async (t) => {
    const sampler = await lab.sampleNextHops({ vip });
    const service = vip.includes(":") ? "bgp-six" : "bgp-four";
    const { holder } = await serve(t, { service, vip });
    t.is(await cluster.leaseHolder({ name: service }), holder.name, "the Lease names the node that answers");
    t.deepEqual(await nextHops(vip, [holder], "the holder the only next hop"), [nodeAddress(holder, vip)]);
    t.deepEqual(await nodesHolding(lab, vip), [holder.name], "the address on the holder only");
    t.true(await onLoopback(lab, holder, vip), "on lo");
    t.deepEqual(await tableRoutes(lab, holder, vip), [`dev lo proto ${NODE_VIP_PROTO}`]);
    for (const other of lab.nodes.filter((node) => node !== holder))
      t.deepEqual(await tableRoutes(lab, other, vip), [], `no route on ${other.name}`);
    const ingress = await cluster.eventually(
      () => cluster.kubectl(["get", "svc", service, "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"]),
      (shown) => shown !== "",
      { what: "status.loadBalancer.ingress" },
    );
    t.is(ingress, vip);
    t.deepEqual(doubleNextHops(await sampler.stop()), [], "never two next hops");
  });
}

test.serial(
  "polite handover (SIGTERM): the next hop and the answers move, never two next hops",
  async (t) => {
    const vip = "203.0.113.201";
    const sampler = await lab.sampleNextHops({ vip });
    const served = await serve(t, { service: "bgp-polite", vip });
    await nextHops(vip, [served.holder], "the holder the next hop");
    const probe = await far.probe({ target: vip, intervalMs: 10 });
    t.teardown(() => probe.stop());
    await probe.waitFor((sample) => sample.node === served.holder.name, 30_000);

    const leaving = agentOf(served);
    lab.signal(leaving, "SIGTERM");
    t.is((await leaving.exited).code, 0, "a polite stop exits cleanly");
    const next = cluster.node(
      (await probe.waitFor((sample) => sample.node !== null && sample.node !== served.holder.name, 60_000))
        .node,
    );
    t.deepEqual(await nextHops(vip, [next], "the new holder the next hop"), [next.ipv4]);
    t.is(await cluster.leaseHolder({ name: "bgp-polite" }), next.name);
    t.false(await onLoopback(lab, served.holder, vip), "the old holder took the address off lo");
    t.deepEqual(await tableRoutes(lab, served.holder, vip), [], "and its route out of table 198");
    await probe.stop();
    const samples = await sampler.stop();
    t.deepEqual(doubleNextHops(samples), [], "never two next hops");
    t.deepEqual(
      [...new Set(samples.flatMap((sample) => sample.hops))].sort(),
      [served.holder.ipv4, next.ipv4].sort(),
      "only the two holders were ever next hops",
    );
  },
);

test.serial("node death with BFD: the dead holder's next hop goes, the new holder answers", async (t) => {
  const vip = "203.0.113.202";
  const sampler = await lab.sampleNextHops({ vip });
  const served = await serve(t, { service: "bgp-death", vip });
  const dead = served.holder;
  await nextHops(vip, [dead], "the holder the next hop");
  const probe = await far.probe({ target: vip, intervalMs: 10 });
  t.teardown(() => probe.stop());
  await probe.waitFor((sample) => sample.node === dead.name, 30_000);

  // The node dies: its agent without a word, its links without a TCP close; BIRD is cut off with it.
  lab.signal(agentOf(served), "SIGKILL");
  await lab.lanDown(dead);
  await lab.cutApi(dead);
  t.teardown(async () => {
    await lab.lanUp(dead);
    await lab.healApi(dead);
  });
  const gone = await cluster.eventually(
    () => router.nextHops(vip),
    (hops) => !hops.includes(dead.ipv4),
    { what: "the dead node's next hop withdrawn (BFD)", timeoutMs: 60_000 },
  );
  t.false(gone.includes(dead.ipv4));
  const next = cluster.node(
    (await probe.waitFor((sample) => sample.node !== null && sample.node !== dead.name, 60_000)).node,
  );
  t.deepEqual(await nextHops(vip, [next], "the new holder the next hop"), [next.ipv4]);
  t.is(await cluster.leaseHolder({ name: "bgp-death" }), next.name);

  // It comes back as a rebooted node would, and with a new agent.
  await rebootNode(routed, dead, [vip]);
  const [restarted] = startRoutedAgents(cluster, birds, { mode: "bgp", nodes: [dead] }).values();
  if (restarted !== undefined) t.teardown(() => cluster.killAgents([restarted]));
  await cluster.eventually(
    () => routerSessions(router),
    (states) => established(states, [dead]),
    { what: `${dead.name}'s sessions back`, timeoutMs: 60_000 },
  );
  t.deepEqual(await router.nextHops(vip), [next.ipv4], "the node back does not take the address");
  await probe.stop();
  t.deepEqual(doubleNextHops(await sampler.stop()), [], "never two next hops");
});

test.serial(
  "--bgp-speaker external: a BIRD vipd does not drive exports the routes vipd writes",
  async (t) => {
    await useLabBirdConfig(routed);
    const vip = "203.0.113.205";
    const { holder, agents } = await serve(t, {
      service: "bgp-external",
      vip,
      agents: { speaker: "external" },
    });
    t.deepEqual(await nextHops(vip, [holder], "the holder the next hop"), [holder.ipv4]);
    t.deepEqual(await tableRoutes(lab, holder, vip), [`dev lo proto ${NODE_VIP_PROTO}`]);
    for (const node of lab.nodes)
      t.is(
        readFileSync(birds.get(node.name)?.configPath ?? "", "utf8"),
        nodeBirdConfig(node),
        `${node.name}'s BIRD config untouched`,
      );
    t.is(agents.size, lab.nodes.length);
  },
);

test.serial("peers in kube-vip's bgp_peers syntax, with a TCP-MD5 password, establish", async (t) => {
  const password = "kube-vip-secret";
  const restore = await requireRouterPassword(lab, router, password);
  t.teardown(restore);
  const vip = "203.0.113.203";
  // Every field kube-vip knows but MP-BGP: password, multihop, port, and BFD (on, 100 ms both ways,
  // multiplier 3: the agents' --bgp-bfd-interval and multiplier).
  const peers = routerPeers(`${password}:false:179::true;100;100;3`);
  t.is(
    peers,
    `${ROUTER_LAN_IPV4}:${ROUTER_ASN}:${password}:false:179::true;100;100;3,[${ROUTER_LAN_IPV6}]:${ROUTER_ASN}:${password}:false:179::true;100;100;3`,
  );
  const { holder } = await serve(t, { service: "bgp-kube-vip", vip, agents: { peers } });
  const states = await cluster.eventually(
    () => routerSessions(router),
    (shown) => established(shown, lab.nodes),
    { what: "every node's sessions established with the password", timeoutMs: 60_000 },
  );
  t.true(established(states, lab.nodes));
  const bfd = await cluster.eventually(
    () => router.birdc(["show", "bfd", "sessions"]),
    (shown) => lab.nodes.every((node) => bfdUp(shown.stdout, node)),
    { what: "a BFD session up with every node, both families" },
  );
  t.true(lab.nodes.every((node) => bfdUp(bfd.stdout, node)));
  t.deepEqual(await nextHops(vip, [holder], "the holder the next hop"), [holder.ipv4]);
});

/** Whether `birdc show bfd sessions` has an Up session with both of the node's addresses. */
function bfdUp(shown: string, node: LabNode): boolean {
  return [node.ipv4, node.ipv6].every((address) =>
    shown.split("\n").some((line) => line.startsWith(`${address} `) && /\sUp\s/.test(line)),
  );
}

test.serial("peers from kube-vip's per-node annotations (--bgp-peer-annotations) establish", async (t) => {
  const password = "annotated-secret";
  const restore = await requireRouterPassword(lab, router, password);
  t.teardown(restore);
  const prefix = "metal.equinix.com";
  for (const node of lab.nodes) {
    const annotations = {
      [`${prefix}/bgp-peers-0-node-asn`]: String(NODE_ASN),
      [`${prefix}/bgp-peers-0-peer-asn`]: String(ROUTER_ASN),
      [`${prefix}/bgp-peers-0-peer-ip`]: `${ROUTER_LAN_IPV4},${ROUTER_LAN_IPV6}`,
      [`${prefix}/bgp-peers-0-src-ip`]: node.ipv4,
      [`${prefix}/bgp-peers-0-bgp-pass`]: Buffer.from(password).toString("base64"),
    };
    await cluster.kubectl([
      "annotate",
      "node",
      node.name,
      "--overwrite",
      ...Object.entries(annotations).map(([key, value]) => `${key}=${value}`),
    ]);
    t.teardown(() =>
      cluster.kubectl(["annotate", "node", node.name, ...Object.keys(annotations).map((key) => `${key}-`)]),
    );
  }
  const vip = "203.0.113.204";
  const { holder } = await serve(t, {
    service: "bgp-annotated",
    vip,
    agents: { peers: null, localAsn: null, extraArgs: [`--bgp-peer-annotations=${prefix}`] },
  });
  const states = await cluster.eventually(
    () => routerSessions(router),
    (shown) => established(shown, lab.nodes),
    { what: "every node's sessions established from its annotations", timeoutMs: 60_000 },
  );
  t.true(established(states, lab.nodes));
  t.deepEqual(await nextHops(vip, [holder], "the holder the next hop"), [holder.ipv4]);
});

test.serial("the static route and lo addresses vipd did not add are untouched after it all", async (t) => {
  const { left, expected, announced } = await foreignState(routed);
  t.deepEqual(left, expected);
  t.deepEqual(announced, [], "none of them was ever announced");
});
