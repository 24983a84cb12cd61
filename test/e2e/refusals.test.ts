// Addresses that must never be VIPs, against three running agents and the real API server: the API
// server's own addresses (the kubeconfig's server, the default/kubernetes endpoints), an address in
// the cluster's Service CIDR, a family the Service's spec.ipFamilies lacks, the network and
// broadcast address of the interface's subnet, an address in no subnet of the interface, and an
// interface that cannot carry ARP. Each gets an InvalidVIP Event with the reason and no address
// anywhere: no node's `ip addr` changes and no frame on the wire claims it. Each refusal is recorded
// once, by one agent: one read from the Service and the cluster alone by whichever ranks first, one
// that depends on a node's interfaces by the first of the candidates in the Service's ranking,
// naming itself. The agents run as manifests/rbac.yaml's ServiceAccount,
// so a verb the ClusterRole lacks (the ServiceCIDR informer's) fails here.
import test from "ava";
import { claims } from "../../lab/analysis.ts";
import {
  agentHttp,
  loadBalancerService,
  manifestRbacKubeconfig,
  prepareCluster,
  startSettledAgents,
  type Cluster,
} from "../../lab/agents.ts";
import { up, type Lab, type LabNode, type LabProcess } from "../../lab/index.ts";
import { API_ADDRESS } from "../../lab/topology.ts";
import { rankCandidates } from "../../src/election/ranking.ts";

let lab: Lab;
let cluster: Cluster;
let agents: Map<string, LabProcess>;

// A second API server, as the endpoint reconciler of a real control plane would publish it.
const SECOND_API_ADDRESS = "203.0.113.5";

function kubectl(args: string[], input?: string): Promise<string> {
  return cluster.kubectl(args, input);
}

/** Every node's addresses on every interface, without the lifetimes that count down. */
async function addressTables(): Promise<string[]> {
  const tables = await Promise.all(
    lab.nodes.map((node) => lab.exec(node.netns, ["ip", "-o", "addr", "show"])),
  );
  return tables.map((result) => result.stdout.replace(/valid_lft \S+ preferred_lft \S+/g, ""));
}

interface EventCopy {
  readonly text: string;
  readonly count: number;
  readonly reporter: string;
}

/** Every Event object on the Service: its reason and message, how often, and which agent wrote it. */
async function eventCopies(service: string): Promise<EventCopy[]> {
  const output = await kubectl(["get", "events", "-n", "default", "-o", "json"]);
  const { items } = JSON.parse(output) as {
    items: {
      involvedObject: { name: string };
      reason: string;
      message: string;
      count: number;
      reportingInstance: string;
    }[];
  };
  return items
    .filter((event) => event.involvedObject.name === service)
    .map((event) => ({
      text: `${event.reason}: ${event.message}`,
      count: event.count,
      reporter: event.reportingInstance,
    }));
}

async function agentReady(node: LabNode): Promise<string> {
  return (await agentHttp(lab, node, "/readyz")).code;
}

interface Refused {
  readonly name: string;
  readonly loadBalancerIP?: string;
  readonly annotations?: Record<string, string>;
  /** The one address the Service asks for, watched on the wire and on every node. */
  readonly vip: string;
  /** The node whose own address it is: its frames about it are its own business. */
  readonly owner?: string;
  /** "cluster": one Event, whoever records it; "node": one, from the first candidate, naming it. */
  readonly scope: "cluster" | "node";
  /** The Event's text; for a node's own, {node} stands for the node's name. */
  readonly event: string;
}

const REFUSED: readonly Refused[] = [
  {
    // Refused before this change too, but once by every node.
    name: "node-address",
    loadBalancerIP: "198.51.100.12",
    vip: "198.51.100.12",
    owner: "node2",
    scope: "cluster",
    event: "InvalidVIP: spec.loadBalancerIP: 198.51.100.12 is a node address",
  },
  {
    name: "api-server",
    loadBalancerIP: API_ADDRESS,
    vip: API_ADDRESS,
    scope: "cluster",
    event: `InvalidVIP: spec.loadBalancerIP: ${API_ADDRESS} is an address of the API server (the server of the agent's kubeconfig)`,
  },
  {
    name: "api-endpoint",
    loadBalancerIP: SECOND_API_ADDRESS,
    vip: SECOND_API_ADDRESS,
    scope: "cluster",
    event: `InvalidVIP: spec.loadBalancerIP: ${SECOND_API_ADDRESS} is an address of the API server (an endpoint of default/kubernetes)`,
  },
  {
    name: "service-cidr",
    loadBalancerIP: "192.0.2.77",
    vip: "192.0.2.77",
    scope: "cluster",
    event:
      "InvalidVIP: spec.loadBalancerIP: 192.0.2.77 is inside the cluster's Service CIDR 192.0.2.0/24 (ServiceCIDR kubernetes)",
  },
  {
    name: "other-family",
    annotations: { "vipd.io/loadBalancerIPs": "2001:db8:1::230" },
    vip: "2001:db8:1::230",
    scope: "cluster",
    event:
      "InvalidVIP: vipd.io/loadBalancerIPs: 2001:db8:1::230 is IPv6, but spec.ipFamilies is IPv4: kube-proxy would route nothing to it",
  },
  {
    name: "network-address",
    loadBalancerIP: "198.51.100.0",
    vip: "198.51.100.0",
    scope: "node",
    event: "InvalidVIP: {node}: 198.51.100.0 is the network address of eth0's subnet 198.51.100.0/24",
  },
  {
    name: "broadcast-address",
    loadBalancerIP: "198.51.100.255",
    vip: "198.51.100.255",
    scope: "node",
    event: "InvalidVIP: {node}: 198.51.100.255 is the broadcast address of eth0's subnet 198.51.100.0/24",
  },
  {
    name: "off-subnet",
    loadBalancerIP: "203.0.113.77",
    vip: "203.0.113.77",
    scope: "node",
    event:
      "InvalidVIP: {node}: 203.0.113.77 is in no subnet of eth0, so no neighbour would send to it there (--allow-off-subnet-vips allows it)",
  },
  {
    name: "no-arp",
    loadBalancerIP: "198.51.100.231",
    annotations: { "vipd.io/interface": "lo" },
    vip: "198.51.100.231",
    scope: "node",
    event: "InvalidVIP: {node}: interface lo cannot carry ARP or NDP (loopback)",
  },
];

/** The first of the three agents, all live candidates, in the Service's ranking. */
function firstCandidate(refused: Refused): string {
  const [first = ""] = rankCandidates(
    lab.nodes.map((node) => node.name),
    `default/${refused.name}`,
  );
  return first;
}

/** The one Event text a case must produce. */
function expectedEvents(refused: Refused): string[] {
  return [
    refused.scope === "cluster" ? refused.event : refused.event.replace("{node}", firstCandidate(refused)),
  ];
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
  cluster = await prepareCluster(lab, { kubeconfig: manifestRbacKubeconfig });
  // The lab's API server runs no endpoint reconciler; a real one publishes each API server here.
  await kubectl(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: "kubernetes",
        namespace: "default",
        labels: { "kubernetes.io/service-name": "kubernetes" },
      },
      addressType: "IPv4",
      ports: [{ name: "https", port: 6443, protocol: "TCP" }],
      endpoints: [{ addresses: [SECOND_API_ADDRESS], conditions: { ready: true } }],
    }),
  );
  agents = await startSettledAgents(cluster);
});

test.after.always(async () => {
  await lab.down();
});

test.serial(
  "addresses that must never be VIPs: one InvalidVIP Event each, and no address anywhere",
  async (t) => {
    const before = await addressTables();
    const wires = new Map(
      await Promise.all(
        REFUSED.map(async (refused) => [refused.name, await lab.observeWire({ ip: refused.vip })] as const),
      ),
    );
    for (const refused of REFUSED) await kubectl(["apply", "-f", "-"], loadBalancerService(refused));
    for (const refused of REFUSED) {
      await cluster.eventually(
        () => eventCopies(refused.name),
        (copies) => expectedEvents(refused).every((text) => copies.some((copy) => copy.text === text)),
        { what: `${refused.name}: ${expectedEvents(refused).join(" | ")}` },
      );
    }
    // Every agent has reconciled every Service by now; a second copy would have come with the
    // first. Give a loaded machine a moment.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    for (const refused of REFUSED) {
      const copies = await eventCopies(refused.name);
      t.deepEqual(
        copies.map((copy) => copy.text).sort(),
        expectedEvents(refused).sort(),
        `${refused.name}: these Events and no other`,
      );
      t.true(
        copies.every((copy) => copy.count === 1),
        `${refused.name}: each reported once: ${JSON.stringify(copies)}`,
      );
      if (refused.scope === "node") {
        t.deepEqual(
          copies.map((copy) => copy.reporter),
          [firstCandidate(refused)],
          `${refused.name}: the first candidate records its own, the others only log theirs`,
        );
      }
      t.is(await cluster.leaseHolder({ name: refused.name }), "", `${refused.name}: nobody holds it`);
      const frames = (await wires.get(refused.name)?.stop()) ?? [];
      t.deepEqual(
        claims(frames, refused.vip),
        [],
        `${refused.name}: nothing on the wire claims ${refused.vip}`,
      );
    }
    t.deepEqual(await addressTables(), before, "no address added or removed on any node");
    for (const node of lab.nodes) {
      t.is(await agentReady(node), "200", `${node.name} still reaches the API server`);
    }
  },
);

test.serial("with --allow-off-subnet-vips, an address in no subnet of the interface is served", async (t) => {
  const vip = "203.0.113.77";
  for (const agent of agents.values()) lab.signal(agent, "SIGTERM");
  await Promise.all([...agents.values()].map((agent) => agent.exited));
  agents = cluster.startAgents(["--allow-off-subnet-vips"]);
  const holder = await cluster.eventually(
    () => cluster.leaseHolder({ name: "off-subnet" }),
    (name) => name !== "",
    { what: "a holder for off-subnet" },
  );
  const holding = await cluster.eventually(
    async () => {
      const tables = await addressTables();
      return lab.nodes.filter((_, index) => tables[index]?.includes(` ${vip}/32 `)).map((node) => node.name);
    },
    (nodes) => nodes.length > 0,
    { what: `${vip} on a node` },
  );
  t.deepEqual(holding, [holder]);
  const announced = await cluster.eventually(
    () => eventCopies("off-subnet"),
    (copies) => copies.some((copy) => copy.text.startsWith("VIPAnnounced")),
    { what: "VIPAnnounced" },
  );
  t.true(
    announced.some((copy) => copy.text === `VIPAnnounced: ${vip} announced by ${holder} on eth0`),
    JSON.stringify(announced),
  );
});
