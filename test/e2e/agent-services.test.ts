// What users do with Services, against three running agents: VIPs by spec.loadBalancerIP and by
// annotation, IPv4, IPv6 and dual-stack; externalTrafficPolicy Local following its endpoint; deletion
// cleaning up; fifty Services spreading over the nodes; a VIP removed by hand coming back; bad input
// refused with an Event and no address touched; /metrics and /readyz telling the truth; and a foreign
// address no scenario may touch. The agents run as the ServiceAccount of manifests/rbac.yaml, not as
// admin, so a verb the manifests forgot fails a scenario here.
import test from "ava";
import { doubleAnswers, overlaps } from "../../lab/analysis.ts";
import {
  agentHttp as agentHttpOf,
  loadBalancerService,
  manifestRbacKubeconfig,
  nodesHolding as nodesHoldingIn,
  ownershipLeaseOf,
  prepareCluster,
  serviceEvents,
  type Cluster,
} from "../../lab/agents.ts";
import { up, type Lab, type LabNode, type LabProcess } from "../../lab/index.ts";
import { rankCandidates } from "../../src/election/ranking.ts";

let lab: Lab;
let cluster: Cluster;
let agents: Map<string, LabProcess>;

// Added by hand before the agents start, with the kernel's default protocol: not vipd's to touch.
const FOREIGN = "198.51.100.250";

function kubectl(args: string[], input?: string): Promise<string> {
  return cluster.kubectl(args, input);
}

function nodesHolding(ip: string): Promise<string[]> {
  return nodesHoldingIn(lab, ip);
}

async function firstAnswer(target: string): Promise<string> {
  const probe = await lab.probe({ target, intervalMs: 10 });
  try {
    const sample = await probe.waitFor((each) => each.node !== null, 30_000);
    return sample.node ?? "";
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${cluster.agentLogs(agents.values(), 4000)}`, {
      cause: error,
    });
  } finally {
    await probe.stop();
  }
}

function eventsOf(service: string): Promise<string[]> {
  return serviceEvents(cluster, service);
}

function ingress(service: string): Promise<string> {
  return kubectl([
    "get",
    "svc",
    service,
    "-o",
    "jsonpath={range .status.loadBalancer.ingress[*]}{.ip}/{.ipMode} {end}",
  ]);
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
  cluster = await prepareCluster(lab, { kubeconfig: manifestRbacKubeconfig });
  const [first] = lab.nodes;
  if (first === undefined) throw new Error("the lab has no nodes");
  await lab.exec(first.netns, ["ip", "addr", "add", `${FOREIGN}/32`, "dev", "eth0"]);
  agents = cluster.startAgents();
});

test.after.always(async () => {
  await lab.down();
});

test.serial(
  "spec.loadBalancerIP (kubectl expose --load-balancer-ip): VIP answers, status, Event",
  async (t) => {
    const vip = "198.51.100.210";
    const wire = await lab.observeWire({ ip: vip });
    await kubectl(["apply", "-f", "-"], loadBalancerService({ name: "expose", loadBalancerIP: vip }));
    const answered = await firstAnswer(vip);
    t.is(await cluster.leaseHolder({ name: "expose" }), answered);
    t.is(
      await cluster.eventually(
        () => ingress("expose"),
        (shown) => shown !== "",
        { what: "status" },
      ),
      `${vip}/VIP `,
    );
    t.deepEqual(await nodesHolding(vip), [answered]);
    const events = await cluster.eventually(
      () => eventsOf("expose"),
      (lines) => lines.some((line) => line.startsWith("VIPAnnounced")),
      { what: "VIPAnnounced" },
    );
    t.true(events.includes(`VIPAnnounced: ${vip} announced by ${answered} on eth0`), events.join("\n"));
    t.deepEqual(doubleAnswers(await wire.stop(), { ip: vip }), []);
  },
);

test.serial("IPv6 by annotation: the VIP answers over NDP, status shows it", async (t) => {
  const vip = "2001:db8:1::210";
  await kubectl(
    ["apply", "-f", "-"],
    loadBalancerService({
      name: "six",
      ipFamilies: ["IPv6"],
      annotations: { "vipd.io/loadBalancerIPs": vip },
    }),
  );
  const answered = await firstAnswer(vip);
  t.is(await cluster.leaseHolder({ name: "six" }), answered);
  t.is(
    await cluster.eventually(
      () => ingress("six"),
      (shown) => shown !== "",
      { what: "status" },
    ),
    `${vip}/VIP `,
  );
  t.deepEqual(await nodesHolding(vip), [answered]);
});

test.serial("dual-stack by annotation: both VIPs on one node, both in status", async (t) => {
  const [v4, v6] = ["198.51.100.211", "2001:db8:1::211"];
  await kubectl(
    ["apply", "-f", "-"],
    loadBalancerService({
      name: "dual",
      ipFamilyPolicy: "PreferDualStack",
      annotations: { "vipd.io/loadBalancerIPs": `${v4},${v6}` },
    }),
  );
  const answered4 = await firstAnswer(v4);
  t.is(await firstAnswer(v6), answered4, "one node holds both families");
  t.deepEqual(await nodesHolding(v6), [answered4]);
  t.is(
    await cluster.eventually(
      () => ingress("dual"),
      (shown) => shown.split(" ").length === 3,
      { what: "status" },
    ),
    `${v4}/VIP ${v6}/VIP `,
  );
});

test.serial(
  "externalTrafficPolicy Local: the VIP goes where the ready endpoint is, and follows it",
  async (t) => {
    const vip = "198.51.100.212";
    const sampler = await lab.sampleAddresses({ ip: vip });
    const slice = (node: LabNode) =>
      JSON.stringify({
        apiVersion: "discovery.k8s.io/v1",
        kind: "EndpointSlice",
        metadata: {
          name: "local-1",
          namespace: "default",
          labels: { "kubernetes.io/service-name": "local" },
        },
        addressType: "IPv4",
        ports: [{ port: 8080, protocol: "UDP" }],
        endpoints: [
          { addresses: [node.ipv4], nodeName: node.name, conditions: { ready: true, serving: true } },
        ],
      });
    const [, second, third] = lab.nodes;
    if (second === undefined || third === undefined) throw new Error("the lab needs three nodes");
    await kubectl(["apply", "-f", "-"], slice(second));
    await kubectl(
      ["apply", "-f", "-"],
      loadBalancerService({ name: "local", loadBalancerIP: vip, externalTrafficPolicy: "Local" }),
    );
    t.is(await firstAnswer(vip), second.name, "only the node with the endpoint may hold it");
    await kubectl(["apply", "-f", "-"], slice(third));
    const holder = await cluster.eventually(
      () => cluster.leaseHolder({ name: "local" }),
      (name) => name === third.name,
      { what: "the Lease following the endpoint" },
    );
    t.is(holder, third.name);
    t.is(await firstAnswer(vip), third.name);
    t.deepEqual(overlaps(await sampler.stop()), [], "never on two nodes, also while moving");
  },
);

test.serial("deleting a Service removes its VIP from every node and its Lease", async (t) => {
  const vip = "198.51.100.213";
  await kubectl(["apply", "-f", "-"], loadBalancerService({ name: "gone", loadBalancerIP: vip }));
  await firstAnswer(vip);
  await kubectl(["delete", "service", "gone"]);
  t.deepEqual(
    await cluster.eventually(
      () => nodesHolding(vip),
      (holders) => holders.length === 0,
      { what: "VIP removal" },
    ),
    [],
  );
  t.is(
    await cluster.eventually(
      () => cluster.addressHolder(vip),
      (name) => name === "",
      { what: "Lease" },
    ),
    "",
  );
  const leases = await kubectl(["get", "lease", "-n", "vipd-system", "-o", "name"]);
  t.false(leases.includes(ownershipLeaseOf(vip)));
});

test.serial("a VIP removed by hand from its holder is put back and announced", async (t) => {
  const vip = "198.51.100.214";
  await kubectl(["apply", "-f", "-"], loadBalancerService({ name: "flushed", loadBalancerIP: vip }));
  const holder = cluster.node(await firstAnswer(vip));
  await lab.exec(holder.netns, ["ip", "addr", "del", `${vip}/32`, "dev", "eth0"]);
  t.deepEqual(
    await cluster.eventually(
      () => nodesHolding(vip),
      (holders) => holders.length === 1,
      { what: "the VIP coming back" },
    ),
    [holder.name],
  );
  t.is(await firstAnswer(vip), holder.name);
});

test.serial("fifty Services at once: all answer, spread over the three nodes", async (t) => {
  const vips = Array.from({ length: 50 }, (_, index) => `198.51.100.${140 + index}`);
  const manifests = vips.map((vip, index) =>
    loadBalancerService({ name: `many-${index}`, loadBalancerIP: vip }),
  );
  await kubectl(["apply", "-f", "-"], manifests.join("\n"));
  const holders = new Map<string, number>();
  for (const vip of vips) {
    const node = await firstAnswer(vip);
    holders.set(node, (holders.get(node) ?? 0) + 1);
  }
  t.is(
    [...holders.values()].reduce((sum, count) => sum + count, 0),
    50,
  );
  const fairShare = 50 / lab.nodes.length;
  for (const [node, count] of holders) {
    t.true(count <= 2 * fairShare, `${node} holds ${count}, more than twice its fair share`);
  }
  t.is(holders.size, 3, `every node holds some: ${JSON.stringify([...holders])}`);
});

const BAD_INPUT: {
  name: string;
  annotations: Record<string, string>;
  loadBalancerIP?: string;
  ipFamilies?: ("IPv4" | "IPv6")[];
  /** {first}: the first of the three agents in the Service's ranking, which records a node's refusal. */
  event: string;
}[] = [
  {
    name: "bad-text",
    annotations: { "vipd.io/loadBalancerIPs": "web.example" },
    event: 'InvalidVIP: vipd.io/loadBalancerIPs: "web.example" is not an IPv4 or IPv6 address',
  },
  {
    name: "bad-node-ip",
    annotations: { "vipd.io/loadBalancerIPs": "198.51.100.11" },
    event: "InvalidVIP: vipd.io/loadBalancerIPs: 198.51.100.11 is a node address",
  },
  {
    name: "bad-loopback",
    annotations: { "kube-vip.io/loadbalancerIPs": "127.0.0.1" },
    event: "InvalidVIP: kube-vip.io/loadbalancerIPs: 127.0.0.1 is a loopback address",
  },
  {
    name: "bad-multicast",
    annotations: { "metallb.io/loadBalancerIPs": "224.0.0.5" },
    event: "InvalidVIP: metallb.io/loadBalancerIPs: 224.0.0.5 is multicast",
  },
  {
    name: "bad-unspecified",
    annotations: { "vipd.io/loadBalancerIPs": "::" },
    event: "InvalidVIP: vipd.io/loadBalancerIPs: :: is the unspecified address",
  },
  {
    name: "bad-link-local",
    annotations: { "vipd.io/loadBalancerIPs": "169.254.10.10" },
    event: "InvalidVIP: vipd.io/loadBalancerIPs: 169.254.10.10 is link-local",
  },
  {
    name: "bad-ignore",
    annotations: { "vipd.io/ignore": "yes" },
    loadBalancerIP: "198.51.100.220",
    event: 'InvalidVIP: vipd.io/ignore: "yes" is neither "true" nor "false"',
  },
  {
    name: "bad-interface",
    annotations: { "vipd.io/interface": "eth9" },
    loadBalancerIP: "198.51.100.221",
    event: "InvalidVIP: {first}: interface eth9 does not exist",
  },
  {
    name: "bad-family",
    ipFamilies: ["IPv6"],
    annotations: { "vipd.io/interface": "mgmt0", "vipd.io/loadBalancerIPs": "2001:db8:1::222" },
    event: "InvalidVIP: {first}: interface mgmt0 has no IPv6 address for 2001:db8:1::222",
  },
];

test.serial("bad input: an Event naming the field, no Lease, no address anywhere", async (t) => {
  const before = await Promise.all(
    lab.nodes.map((node) => lab.exec(node.netns, ["ip", "-o", "addr", "show"])),
  );
  for (const input of BAD_INPUT) {
    await kubectl(["apply", "-f", "-"], loadBalancerService(input));
  }
  for (const input of BAD_INPUT) {
    const [first = ""] = rankCandidates(
      lab.nodes.map((node) => node.name),
      `default/${input.name}`,
    );
    const event = input.event.replace("{first}", first);
    const events = await cluster.eventually(
      () => eventsOf(input.name),
      (lines) => lines.includes(event),
      { what: `${input.name}: ${event}` },
    );
    t.true(events.includes(event), input.name);
    t.is(await cluster.leaseHolder({ name: input.name }), "", `${input.name}: nobody holds it`);
  }
  const after = await Promise.all(
    lab.nodes.map((node) => lab.exec(node.netns, ["ip", "-o", "addr", "show"])),
  );
  t.deepEqual(
    after.map((result) => result.stdout.replace(/valid_lft \S+ preferred_lft \S+/g, "")),
    before.map((result) => result.stdout.replace(/valid_lft \S+ preferred_lft \S+/g, "")),
    "no address added or removed on any node",
  );
});

test.serial("the same VIP for two Services: the older keeps it, the newer gets VIPConflict", async (t) => {
  const vip = "198.51.100.223";
  await kubectl(["apply", "-f", "-"], loadBalancerService({ name: "first-come", loadBalancerIP: vip }));
  const holder = await firstAnswer(vip);
  await new Promise((resolve) => setTimeout(resolve, 1100));
  await kubectl(["apply", "-f", "-"], loadBalancerService({ name: "second-come", loadBalancerIP: vip }));
  const events = await cluster.eventually(
    () => eventsOf("second-come"),
    (lines) => lines.some((line) => line.startsWith("VIPConflict")),
    { what: "VIPConflict" },
  );
  t.true(
    events.includes(
      `VIPConflict: spec.loadBalancerIP: ${vip} is already used by the older Service default/first-come`,
    ),
    events.join("\n"),
  );
  t.is(await cluster.addressHolder(vip), holder, "one Lease for the address, held for first-come");
  t.is(await ingress("second-come"), "", "the newer Service is not told it is served");
  t.deepEqual(await nodesHolding(vip), [holder]);
});

/** An agent's own HTTP endpoint, from inside its node: status code and body. */
function agentHttp(node: LabNode, path: string): Promise<{ code: string; body: string }> {
  return agentHttpOf(lab, node, path);
}

const FOREVER = 0xffffffff;

function heldVips(metrics: string): number {
  return metrics
    .split("\n")
    .filter((line) => line.startsWith("vipd_vips_held{"))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

test.serial(
  "/metrics counts each node's VIPs; /readyz fails without the API server and recovers",
  async (t) => {
    for (const node of lab.nodes) {
      const metrics = await agentHttp(node, "/metrics");
      t.is(metrics.code, "200");
      const shown = await lab.exec(node.netns, ["ip", "-j", "addr", "show", "dev", node.lanIf]);
      // This iproute2 does not show an address's protocol; vipd's are the ones with a finite lifetime.
      const addresses = (JSON.parse(shown.stdout) as { addr_info: { valid_life_time: number }[] }[])
        .flatMap((link) => link.addr_info)
        .filter((info) => info.valid_life_time !== FOREVER);
      t.is(heldVips(metrics.body), addresses.length, `${node.name}: vipd_vips_held against its interface`);
      t.regex(metrics.body, /^vipd_heartbeat_age_seconds /m);
      t.is((await agentHttp(node, "/healthz")).code, "200");
      t.is((await agentHttp(node, "/readyz")).code, "200");
    }
    const [node] = lab.nodes;
    if (node === undefined) throw new Error("the lab has no nodes");
    await lab.cutApi(node);
    try {
      const unready = await cluster.eventually(
        () => agentHttp(node, "/readyz"),
        (answer) => answer.code !== "200",
        { what: `${node.name} /readyz while cut off` },
      );
      t.is(unready.code, "503");
      t.regex(unready.body, /heartbeat/);
      t.is((await agentHttp(node, "/healthz")).code, "200", "alive, only not ready");
    } finally {
      await lab.healApi(node);
    }
    await cluster.eventually(
      () => agentHttp(node, "/readyz"),
      (answer) => answer.code === "200",
      { what: `${node.name} /readyz after healing` },
    );
  },
);

test.serial("the foreign address on node1 survived everything, and no agent crashed", async (t) => {
  t.true((await nodesHolding(FOREIGN)).includes("node1"));
  for (const agent of agents.values()) {
    t.is(lab.pids().includes(agent.pid), true, `${agent.name} is still running`);
  }
});
