// The Events an operator reads, against three running agents and the real API server: a Service's
// problem is one Event, recorded by one agent (the first in the Service's ranking of the live
// agents), not one per node; a message built from a 10 kB annotation is cut to about 1 kB and says
// how much was cut, in the Event and in the agents' log lines; and every Event names its Service's
// uid, so `kubectl describe service` shows VIPAnnounced and VIPWithdrawn.
import test from "ava";
import {
  loadBalancerService,
  manifestRbacKubeconfig,
  prepareCluster,
  startSettledAgents,
  type Cluster,
} from "../../lab/agents.ts";
import { up, type LabProcess } from "../../lab/index.ts";
import { rankCandidates } from "../../src/election/ranking.ts";

let cluster: Cluster;
let agents: Map<string, LabProcess>;

const LIMIT_BYTES = 1024;

interface EventObject {
  readonly involvedObject: { readonly name: string; readonly uid?: string };
  readonly reason: string;
  readonly message: string;
  readonly count: number;
  readonly reportingInstance: string;
}

/** The Event objects in the default namespace that the field selector matches. */
async function events(fieldSelector: string): Promise<EventObject[]> {
  const output = await cluster.kubectl([
    ...["get", "events", "-n", "default", "--field-selector", fieldSelector, "-o", "json"],
  ]);
  return (JSON.parse(output) as { items: EventObject[] }).items;
}

async function uidOf(service: string): Promise<string> {
  return cluster.kubectl(["get", "service", service, "-o", "jsonpath={.metadata.uid}"]);
}

/** The lines of an agent's output that log its refusal to serve the Service. */
function refusalLines(agent: LabProcess, service: string): string[] {
  return agent
    .output()
    .split("\n")
    .filter((line) => line.includes("not serving") && line.includes(`service=default/${service}`));
}

/** Until every agent has logged its refusal of the Service: each has decided whether it records it. */
async function everyAgentRefused(service: string): Promise<void> {
  await cluster.eventually(
    () => Promise.resolve([...agents.values()].filter((agent) => refusalLines(agent, service).length > 0)),
    (refused) => refused.length === agents.size,
    { what: `every agent logs that it does not serve ${service}` },
  );
  // A reporter's Event is sent right after its log line; give a loaded machine a moment for a
  // second reporter's, if there were one, to arrive.
  await new Promise((resolve) => setTimeout(resolve, 2000));
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  cluster = await prepareCluster(await up({ nodes: 3, apiServer: true }), {
    kubeconfig: manifestRbacKubeconfig,
  });
  agents = await startSettledAgents(cluster);
});

test.after.always(async () => {
  await cluster.killAgents(agents.values());
  await cluster.lab.down();
});

test.serial(
  "a bad annotation: one InvalidVIP Event across the three nodes, from the first-ranked agent",
  async (t) => {
    const name = "bad-annotation";
    await cluster.kubectl(
      ["apply", "-f", "-"],
      loadBalancerService({ name, annotations: { "vipd.io/loadBalancerIPs": "not-an-address" } }),
    );
    await everyAgentRefused(name);
    const found = await events(`involvedObject.name=${name},reason=InvalidVIP`);
    t.is(found.length, 1, JSON.stringify(found));
    const [reporter] = rankCandidates(
      cluster.lab.nodes.map((node) => node.name),
      `default/${name}`,
    );
    t.is(found[0]?.reportingInstance, reporter, "the first of the live agents in the Service's ranking");
    t.is(found[0]?.count, 1);
    t.is(found[0]?.involvedObject.uid, await uidOf(name));
    t.regex(found[0]?.message ?? "", /not-an-address/);
    t.regex(await cluster.kubectl(["describe", "service", name]), /Warning\s+InvalidVIP/);
  },
);

test.serial(
  "a 10 kB annotation: the Event and the log line are cut to about 1 kB, saying how much",
  async (t) => {
    const name = "long-annotation";
    const annotation = Array.from(
      { length: 1200 },
      (_, index) => `bad-${String(index).padStart(4, "0")}`,
    ).join(",");
    t.true(annotation.length > 10_000);
    await cluster.kubectl(
      ["apply", "-f", "-"],
      loadBalancerService({ name, annotations: { "vipd.io/loadBalancerIPs": annotation } }),
    );
    await everyAgentRefused(name);
    const found = await events(`involvedObject.name=${name},reason=InvalidVIP`);
    t.is(found.length, 1, "one Event");
    const message = found[0]?.message ?? "";
    t.true(Buffer.byteLength(message) <= LIMIT_BYTES, `${Buffer.byteLength(message)} bytes`);
    t.true(Buffer.byteLength(message) > LIMIT_BYTES / 2, "most of the room is used");
    t.regex(message, /^vipd\.io\/loadBalancerIPs: .*bad-0000.* … \(\d{1,3}(,\d{3})* more characters\)$/s);
    for (const agent of agents.values()) {
      const [line = ""] = refusalLines(agent, name);
      t.regex(line, /more characters\)/, `${agent.name}: the log line says it was cut`);
      // The line's message, Service, reason and problems, each at most 1 kB.
      t.true(Buffer.byteLength(line) < 2 * LIMIT_BYTES, `${agent.name}: ${Buffer.byteLength(line)} bytes`);
    }
  },
);

test.serial(
  "VIPAnnounced and VIPWithdrawn carry the Service's uid: kubectl describe service shows them",
  async (t) => {
    const name = "served";
    const vip = "198.51.100.240";
    await cluster.kubectl(["apply", "-f", "-"], loadBalancerService({ name, loadBalancerIP: vip }));
    const uid = await uidOf(name);
    const announced = await cluster.eventually(
      () => events(`involvedObject.uid=${uid},reason=VIPAnnounced`),
      (found) => found.length > 0,
      { what: `VIPAnnounced on ${name}'s uid` },
    );
    const holder = await cluster.leaseHolder({ name });
    t.is(announced[0]?.message, `${vip} announced by ${holder} on eth0`);
    t.regex(
      await cluster.kubectl(["describe", "service", name]),
      new RegExp(`Normal\\s+VIPAnnounced\\s+.*${vip.replaceAll(".", "\\.")} announced by ${holder}`),
    );
    // A holder that may no longer carry the Service withdraws the VIP and says so.
    const exclude = "node.kubernetes.io/exclude-from-external-load-balancers";
    await cluster.kubectl(["label", "node", holder, `${exclude}=true`]);
    t.teardown(async () => {
      await cluster.kubectl(["label", "node", holder, `${exclude}-`]);
    });
    const withdrawn = await cluster.eventually(
      () => events(`involvedObject.uid=${uid},reason=VIPWithdrawn`),
      (found) => found.some((event) => event.reportingInstance === holder),
      { what: `VIPWithdrawn from ${holder} on ${name}'s uid` },
    );
    t.is(withdrawn[0]?.message, `${holder}: ${vip}: this node is no longer eligible`);
    t.regex(
      await cluster.kubectl(["describe", "service", name]),
      new RegExp(`Normal\\s+VIPWithdrawn\\s+.*${holder}: ${vip.replaceAll(".", "\\.")}`),
    );
  },
);
