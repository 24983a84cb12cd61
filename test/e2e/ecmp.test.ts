// ecmp mode in the lab (issue 16 §3), against the real API server, a BIRD on every node that its
// agent configures, and the router's BIRD merging equal routes into one multipath route: every
// eligible node puts the address on lo and a host route into table 198, the router sends the VIP to
// all of them, and flows from many source ports from the far client spread over every node. A node's
// death takes its next hop away; externalTrafficPolicy Local narrows the announcers to the nodes with
// a ready local endpoint; with graceful restart a node's BIRD restarting (a graceful restart or a
// crash) leaves its route on the router meanwhile; VIPPools with spec.mode ecmp and bgp make their
// addresses routed under l2 agents, with spec.bgp's community on the routes; and what vipd did not
// add stays as it was.
import test, { type ExecutionContext } from "ava";
import { readFileSync } from "node:fs";
import { loadBalancerService, type Cluster } from "../../lab/agents.ts";
import {
  NODE_VIP_PROTO,
  answersByNode,
  type Bird,
  type FarClient,
  type Lab,
  type LabNode,
  type LabProcess,
  type Router,
} from "../../lab/index.ts";
import {
  established,
  foreignState,
  gracefulRestartsActive,
  onLoopback,
  routerSessions,
  startRoutedAgents,
  tableRoutes,
  nextHopsAre,
  nodeAddress,
  rebootNode,
  upRoutedLab,
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

function node(index: number): LabNode {
  const found = lab.nodes[index];
  if (found === undefined) throw new Error(`the lab has no node ${index + 1}`);
  return found;
}

/** The agents that should be running: a wait for the router fails at once when one of them exits. */
let running = new Map<string, LabProcess>();

/** ecmp agents on every node, stopped politely (withdrawing their routes) when the test ends. */
function ecmpAgents(t: ExecutionContext, options: Partial<RoutedAgentOptions> = {}): Map<string, LabProcess> {
  const agents = startRoutedAgents(cluster, birds, { mode: "ecmp", ...options });
  running = new Map(agents);
  t.teardown(async () => {
    running = new Map();
    await cluster.stopAgents(agents.values());
  });
  return agents;
}

async function service(
  t: ExecutionContext,
  options: { name: string; vips: readonly string[]; externalTrafficPolicy?: "Local" },
): Promise<void> {
  await cluster.kubectl(
    ["apply", "-f", "-"],
    loadBalancerService({
      name: options.name,
      annotations: { "vipd.io/loadBalancerIPs": options.vips.join(",") },
      ...(options.vips.length > 1 ? { ipFamilyPolicy: "PreferDualStack" as const } : {}),
      ...(options.externalTrafficPolicy === undefined
        ? {}
        : { externalTrafficPolicy: options.externalTrafficPolicy }),
    }),
  );
  t.teardown(() => cluster.kubectl(["delete", "service", options.name, "--wait=false"]));
}

function nextHops(vip: string, expected: readonly LabNode[], what: string): Promise<string[]> {
  return whileRunning(running, nextHopsAre(routed, vip, expected, what));
}

/** Who answered 64 flows from the far client, each from its own source port, by node. */
async function spread(vip: string): Promise<Record<string, number>> {
  const counts = answersByNode(await far.flows({ target: vip, flows: 64 }));
  return Object.fromEntries([...counts].map(([who, count]) => [who ?? "unanswered", count]));
}

const names = (of: readonly LabNode[]) => of.map((each) => each.name).sort();

test.serial("every node is a next hop; flows from many source ports spread over all of them", async (t) => {
  const vips = ["203.0.113.210", "2001:db8:3::210"];
  await service(t, { name: "ecmp-all", vips });
  const agents = ecmpAgents(t);
  for (const vip of vips) {
    t.deepEqual(
      await nextHops(vip, lab.nodes, `${vip}: every node a next hop`),
      lab.nodes.map((each) => nodeAddress(each, vip)).sort(),
    );
    for (const each of lab.nodes) {
      t.true(await onLoopback(lab, each, vip), `${vip} on ${each.name}'s lo`);
      t.deepEqual(await tableRoutes(lab, each, vip), [`dev lo proto ${NODE_VIP_PROTO}`]);
    }
    const answered = await spread(vip);
    t.deepEqual(Object.keys(answered).sort(), names(lab.nodes), `${vip}: ${JSON.stringify(answered)}`);
    t.is(await cluster.addressHolder(vip), "", `${vip}: no election, so no ownership Lease`);
  }
  const ingress = await cluster.eventually(
    () => cluster.kubectl(["get", "svc", "ecmp-all", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"]),
    (shown) => shown.split(" ").length === 2,
    { what: "both addresses in status.loadBalancer.ingress" },
  );
  t.deepEqual(ingress.split(" ").sort(), [...vips].sort());
  t.is(agents.size, 3);
});

test.serial("a node's death removes its next hop; the flows spread over the others", async (t) => {
  const vip = "203.0.113.211";
  await service(t, { name: "ecmp-death", vips: [vip] });
  const agents = ecmpAgents(t);
  await nextHops(vip, lab.nodes, "every node a next hop");
  const dead = node(0);
  const living = lab.nodes.filter((each) => each !== dead);
  const agent = agents.get(dead.name);
  if (agent === undefined) throw new Error(`no agent on ${dead.name}`);
  running.delete(dead.name);
  lab.signal(agent, "SIGKILL");
  await lab.lanDown(dead);
  await lab.cutApi(dead);
  t.teardown(async () => {
    await lab.lanUp(dead);
    await lab.healApi(dead);
  });
  t.deepEqual(
    await nextHops(vip, living, "the dead node's next hop gone (BFD)"),
    living.map((each) => each.ipv4).sort(),
  );
  const answered = await spread(vip);
  t.deepEqual(Object.keys(answered).sort(), names(living), JSON.stringify(answered));

  // Back as a rebooted node, with a new agent: a next hop again.
  await rebootNode(routed, dead, [vip]);
  const restarted = startRoutedAgents(cluster, birds, { mode: "ecmp", nodes: [dead] });
  t.teardown(() => cluster.stopAgents(restarted.values()));
  for (const [name, again] of restarted) running.set(name, again);
  t.deepEqual(
    await nextHops(vip, lab.nodes, "the node back a next hop"),
    lab.nodes.map((each) => each.ipv4).sort(),
  );
});

/** An EndpointSlice of the Service with one endpoint per node given, each ready or not. */
function endpointSlice(serviceName: string, endpoints: readonly { on: LabNode; ready: boolean }[]): string {
  return JSON.stringify({
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${serviceName}-1`,
      namespace: "default",
      labels: { "kubernetes.io/service-name": serviceName },
    },
    addressType: "IPv4",
    ports: [{ port: 8080, protocol: "UDP" }],
    endpoints: endpoints.map(({ on, ready }) => ({
      addresses: [on.ipv4],
      nodeName: on.name,
      conditions: { ready, serving: ready },
    })),
  });
}

test.serial("externalTrafficPolicy Local: only nodes with a ready local endpoint announce", async (t) => {
  const vip = "203.0.113.212";
  const [, second, third] = [node(0), node(1), node(2)];
  await cluster.kubectl(["apply", "-f", "-"], endpointSlice("ecmp-local", [{ on: second, ready: true }]));
  t.teardown(() => cluster.kubectl(["delete", "endpointslice", "ecmp-local-1", "--wait=false"]));
  await service(t, { name: "ecmp-local", vips: [vip], externalTrafficPolicy: "Local" });
  ecmpAgents(t);
  t.deepEqual(await nextHops(vip, [second], "only the node with the endpoint"), [second.ipv4]);
  t.deepEqual(Object.keys(await spread(vip)), [second.name]);

  await cluster.kubectl(
    ["apply", "-f", "-"],
    endpointSlice("ecmp-local", [
      { on: second, ready: true },
      { on: third, ready: true },
    ]),
  );
  t.deepEqual(
    await nextHops(vip, [second, third], "both nodes with an endpoint"),
    [second.ipv4, third.ipv4].sort(),
  );
  t.deepEqual(Object.keys(await spread(vip)).sort(), names([second, third]));

  await cluster.kubectl(
    ["apply", "-f", "-"],
    endpointSlice("ecmp-local", [
      { on: second, ready: false },
      { on: third, ready: true },
    ]),
  );
  t.deepEqual(await nextHops(vip, [third], "the not-ready endpoint's node withdrawn"), [third.ipv4]);
  t.deepEqual(await tableRoutes(lab, second, vip), [], "no route left on the node without a ready endpoint");
  t.false(await onLoopback(lab, second, vip), "nor the address on its lo");
});

for (const how of ["birdc graceful restart", "SIGKILL"] as const) {
  test.serial(
    `graceful restart: a node's BIRD restarting (${how}) keeps its route on the router`,
    async (t) => {
      const vip = how === "SIGKILL" ? "203.0.113.214" : "203.0.113.213";
      await service(t, { name: how === "SIGKILL" ? "ecmp-crash" : "ecmp-restart", vips: [vip] });
      // BFD off: the router's BFD is not graceful, and a BFD session going down ends the graceful
      // restart there at once (BIRD's `bfd on` rather than `bfd graceful`).
      ecmpAgents(t, { gracefulRestart: true, bfd: false });
      // Each agent must have applied its settings to its BIRD before a restart can show anything.
      await cluster.eventually(
        () =>
          Promise.resolve(
            lab.nodes.filter(
              (each) =>
                !readFileSync(birds.get(each.name)?.configPath ?? "", "utf8").includes(
                  "graceful restart on;",
                ),
            ),
          ),
        (behind) => behind.length === 0,
        { what: "every agent's BIRD config with graceful restart on" },
      );
      await nextHops(vip, lab.nodes, "every node a next hop");
      const restarting = node(0);
      const bird = birds.get(restarting.name);
      if (bird === undefined) throw new Error(`${restarting.name} has no BIRD`);
      await cluster.eventually(
        () => routerSessions(router),
        (states) => established(states, lab.nodes),
        { what: "every session established" },
      );
      const sampler = await lab.sampleNextHops({ vip });
      const before = bird.process;
      // A test that fails midway still leaves the node's BIRD running for the next one.
      t.teardown(async () => {
        if (!lab.pids().includes(bird.process.pid)) await bird.restart();
      });
      if (how === "SIGKILL") lab.signal(before, "SIGKILL");
      else await bird.birdc(["graceful", "restart"]);
      await before.exited;
      const sessions = [`${restarting.name}_v4`, `${restarting.name}_v6`];
      t.deepEqual(
        await cluster.eventually(
          () => gracefulRestartsActive(router),
          (active) => sessions.every((session) => active.includes(session)),
          { what: `the router helping ${restarting.name}'s restart, keeping its routes` },
        ),
        sessions,
      );
      t.deepEqual(await router.nextHops(vip), lab.nodes.map((each) => each.ipv4).sort(), "kept meanwhile");
      // As a BIRD sidecar coming back should start: -R, graceful restart recovery. Without it the new
      // session tells the router that no forwarding state was kept, and the router drops the routes
      // it kept until the node sends them again.
      await bird.restart({ recovery: true });
      await cluster.eventually(
        () => gracefulRestartsActive(router),
        (active) => active.length === 0,
        { what: `${restarting.name}'s restart over, its routes sent again`, timeoutMs: 60_000 },
      );
      t.true(established(await routerSessions(router), lab.nodes), "every session established");
      const samples = await sampler.stop();
      const all = lab.nodes.map((each) => each.ipv4).sort();
      t.deepEqual(
        samples.filter((sample) => sample.hops.join(" ") !== all.join(" ")),
        [],
        "every node a next hop at every sample, through the restart",
      );
      t.deepEqual(await router.nextHops(vip), all);
    },
  );
}

test.serial(
  "VIPPools with spec.mode ecmp and bgp under l2 agents; spec.bgp's community on the routes",
  async (t) => {
    const pools = [
      { name: "routed-ecmp", mode: "ecmp", addresses: ["203.0.113.224/30"], community: "64497:100" },
      { name: "routed-bgp", mode: "bgp", addresses: ["203.0.113.228/30"], community: "64497:200" },
    ];
    for (const pool of pools) {
      await cluster.kubectl(
        ["apply", "-f", "-"],
        JSON.stringify({
          apiVersion: "vipd.io/v1alpha1",
          kind: "VIPPool",
          metadata: { name: pool.name },
          spec: {
            addresses: pool.addresses,
            autoAssign: false,
            mode: pool.mode,
            bgp: { communities: [pool.community] },
          },
        }),
      );
      t.teardown(() => cluster.kubectl(["delete", "vippool", pool.name, "--wait=false"]));
      await cluster.kubectl(
        ["apply", "-f", "-"],
        loadBalancerService({ name: pool.name, annotations: { "vipd.io/pool": pool.name } }),
      );
      t.teardown(() => cluster.kubectl(["delete", "service", pool.name, "--wait=false"]));
    }
    ecmpAgents(t, { mode: "l2" });
    const addressOf = (name: string) =>
      cluster.eventually(
        () => cluster.kubectl(["get", "svc", name, "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"]),
        (shown) => shown !== "",
        { what: `${name}'s address from its pool` },
      );
    const ecmpVip = await addressOf("routed-ecmp");
    const bgpVip = await addressOf("routed-bgp");
    t.deepEqual(
      await nextHops(ecmpVip, lab.nodes, "the ecmp pool's address on every node"),
      lab.nodes.map((each) => each.ipv4).sort(),
    );
    const holder = cluster.node(
      await whileRunning(
        running,
        cluster.eventually(
          () => cluster.addressHolder(bgpVip),
          (name) => name !== "",
          { what: "the bgp pool's address elected" },
        ),
      ),
    );
    t.deepEqual(await nextHops(bgpVip, [holder], "the bgp pool's address on its holder alone"), [
      holder.ipv4,
    ]);
    for (const pool of pools) {
      const vip = pool.name === "routed-ecmp" ? ecmpVip : bgpVip;
      const [high, low] = pool.community.split(":");
      const shown = await cluster.eventually(
        () => router.birdc(["show", "route", `${vip}/32`, "all"]),
        (reply) => reply.stdout.includes(`(${high ?? ""},${low ?? ""})`),
        { what: `${pool.name}'s community on the router's route` },
      );
      t.regex(shown.stdout, new RegExp(`BGP\\.community: \\(${high ?? ""},${low ?? ""}\\)`));
    }
  },
);

test.serial("the static route and lo addresses vipd did not add are untouched after it all", async (t) => {
  const { left, expected, announced } = await foreignState(routed);
  t.deepEqual(left, expected);
  t.deepEqual(announced, [], "none of them was ever announced");
});
