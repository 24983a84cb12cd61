// One address, one holder (issue 13 §5). The unit of election is the address: two Services asking
// for one address, created in one apply so that each agent's informers may see them in another
// order, are still contended on one Lease, and no two nodes ever hold or answer for the address.
// And a rolling upgrade from vipd 0.1.0 (per-Service Leases) replaces the agents one by one without
// ever putting an address on two nodes, while every address keeps answering.
import test from "ava";
import { doubleAnswers, outages, overlaps } from "../../lab/analysis.ts";
import { AGENT_NAMESPACE, loadBalancerService, prepareCluster, type Cluster } from "../../lab/agents.ts";
import { up, type Lab } from "../../lab/index.ts";
import { legacyVipdProgram } from "../../lab/legacy-vipd.ts";

let lab: Lab;
let cluster: Cluster;

const ROUNDS = 20;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
  cluster = await prepareCluster(lab);
});

test.after.always(async () => {
  await lab.down();
});

// race-b first: the Service created first is the one that loses the tie-break (same creation
// second, so the names decide), so an agent that reads only race-b at first may claim for it before
// it learns that race-a keeps the address.
function bothAsking(round: number, vip: string): string {
  const items = ["b", "a"].map(
    (side) =>
      JSON.parse(loadBalancerService({ name: `race-${side}-${round}`, loadBalancerIP: vip })) as unknown,
  );
  return JSON.stringify({ apiVersion: "v1", kind: "List", items });
}

test.serial(
  `two Services asking for one address in one apply, ${ROUNDS} rounds: never on two nodes`,
  async (t) => {
    const agents = cluster.startAgents();
    t.teardown(() => cluster.stopAgents(agents.values()));
    for (let round = 0; round < ROUNDS; round++) {
      const vip = `198.51.100.${120 + round}`;
      const sampler = await lab.sampleAddresses({ ip: vip, intervalMs: 2 });
      const wire = await lab.observeWire({ ip: vip });
      await cluster.kubectl(["apply", "-f", "-"], bothAsking(round, vip));
      const probe = await lab.probe({ target: vip, intervalMs: 10 });
      const first = await probe.waitFor((sample) => sample.node !== null, 30_000);
      // Long enough for every agent to have seen both Services and settled who keeps the address.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await probe.stop();
      t.deepEqual(overlaps(await sampler.stop()), [], `round ${round}: the address on two nodes at once`);
      t.deepEqual(doubleAnswers(await wire.stop(), { ip: vip }), [], `round ${round}: two MACs answered`);
      t.is(
        await cluster.addressHolder(vip),
        first.node ?? "",
        `round ${round}: the Lease names the node that answers`,
      );
      // The older keeps the address (by creation second, then by name): exactly one is told so.
      const status = await cluster.eventually(
        async () => [await statusOf(`race-a-${round}`), await statusOf(`race-b-${round}`)],
        (shown) => shown.filter((each) => each === vip).length === 1 && shown.includes(""),
        { what: `round ${round}: status` },
      );
      t.is(status.filter((each) => each === vip).length, 1, `round ${round}: one Service is served`);
      await cluster.kubectl(["delete", "service", `race-a-${round}`, `race-b-${round}`]);
    }
  },
);

async function statusOf(service: string): Promise<string> {
  return (
    await cluster.kubectl(["get", "service", service, "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"])
  ).trim();
}

async function legacyLeases(): Promise<string[]> {
  const names = await cluster.kubectl(["get", "lease", "-n", AGENT_NAMESPACE, "-o", "name"]);
  return names.split("\n").filter((name) => name.includes("/vipd-svc-default.upgrade-"));
}

test.serial(
  "a rolling upgrade from 0.1.0, one node at a time: every address answers, never two nodes",
  async (t) => {
    const legacy = await legacyVipdProgram();
    const vips = ["198.51.100.150", "198.51.100.151", "198.51.100.152", "198.51.100.153", "2001:db8:1::154"];
    const agents = new Map(
      lab.nodes.map((node) => [node.name, cluster.startAgent(node, [], { program: legacy })]),
    );
    t.teardown(() => cluster.stopAgents(agents.values()));
    const services = vips.map((vip, index) =>
      loadBalancerService({
        name: `upgrade-${index}`,
        loadBalancerIP: vip,
        ...(vip.includes(":") ? { ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv6"] } : {}),
      }),
    );
    for (const service of services) await cluster.kubectl(["apply", "-f", "-"], service);
    const samplers = await Promise.all(vips.map((ip) => lab.sampleAddresses({ ip, intervalMs: 5 })));
    const wires = await Promise.all(vips.map((ip) => lab.observeWire({ ip })));
    const probes = await Promise.all(vips.map((target) => lab.probe({ target, intervalMs: 20 })));
    await Promise.all(probes.map((probe) => probe.waitFor((sample) => sample.node !== null, 30_000)));
    t.is((await legacyLeases()).length, vips.length, "0.1.0 elects per Service");

    for (const node of lab.nodes) {
      const old = agents.get(node.name);
      if (old !== undefined) await cluster.stopAgents([old]);
      agents.set(node.name, cluster.startAgent(node));
      // Let the new agent settle in before the next node goes, as a DaemonSet's rolling update does.
      await new Promise((resolve) => setTimeout(resolve, 4000));
    }
    // Once no 0.1.0 agent is left, their per-Service Leases go.
    await cluster.eventually(legacyLeases, (names) => names.length === 0, { what: "0.1.0 Leases removed" });
    for (const vip of vips) t.not(await cluster.addressHolder(vip), "", `${vip} has an address Lease`);
    const endedAt = process.hrtime.bigint();
    const samples = await Promise.all(
      probes.map(async (probe) => {
        await new Promise((resolve) => setTimeout(resolve, 500));
        return probe.stop();
      }),
    );
    for (const [index, vip] of vips.entries()) {
      t.deepEqual(overlaps((await samplers[index]?.stop()) ?? []), [], `${vip} on two nodes at once`);
      t.deepEqual(
        doubleAnswers((await wires[index]?.stop()) ?? [], { ip: vip }),
        [],
        `${vip}: two MACs answered`,
      );
      const answered = samples[index] ?? [];
      t.true(
        answered.some((sample) => sample.node !== null && BigInt(sample.sentNs) >= endedAt - 500_000_000n),
        `${vip} answers after the upgrade`,
      );
      const gaps = outages(answered).map((outage) => Math.round(outage.durationNs / 1e6));
      t.log(`${vip}: outages during the upgrade ${JSON.stringify(gaps)} ms`);
    }
  },
);
