// Rule 7's cordon rule with three agents and the real API server: `kubectl cordon` (what `kubectl
// drain` does to a node, which keeps its DaemonSet pods, vipd among them) hands the holder's VIP to an
// uncordoned node at once, never on two nodes; with no uncordoned candidate nothing moves; uncordoning
// moves nothing back; --cordon-hands-over=false ignores cordons. The lab has no kubelet, so a cordon
// is all a drain would change here.
import test, { type ExecutionContext } from "ava";
// Waits, as a scenario's length: how long the client waited at most is a benchmark figure.
import { setTimeout as hold } from "node:timers/promises";
import { doubleAnswers, outages, overlaps } from "../../lab/analysis.ts";
import {
  agentMetric,
  prepareCluster,
  serveService,
  type Cluster,
  type ServedService,
} from "../../lab/agents.ts";
import { up, type Lab, type LabNode, type ProbeSample } from "../../lab/index.ts";

let lab: Lab;
let cluster: Cluster;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
  cluster = await prepareCluster(lab);
});

test.after.always(async () => {
  await lab.down();
});

async function cordon(nodes: readonly LabNode[], verb: "cordon" | "uncordon" = "cordon"): Promise<void> {
  if (nodes.length > 0) await cluster.kubectl([verb, ...nodes.map((node) => node.name)]);
}

interface Served extends ServedService {
  readonly others: readonly LabNode[];
}

/**
 * A Service with its own VIP, an agent per node and a probe that has seen the VIP answer. Every node
 * is uncordoned again and every agent ended when the test ends.
 */
async function serve(
  t: ExecutionContext,
  options: { service: string; vip: string; agentArgs?: string[] },
): Promise<Served> {
  const served = await serveService(cluster, {
    ...options,
    teardown: (end) => {
      t.teardown(async () => {
        await cordon(lab.nodes, "uncordon");
        await end();
      });
    },
  });
  t.is(await cluster.leaseHolder({ name: options.service }), served.holder.name);
  return { ...served, others: lab.nodes.filter((node) => node !== served.holder) };
}

function answeredBy(samples: readonly ProbeSample[], afterNs: number): string[] {
  return [...new Set(samples.filter((s) => s.sentNs > afterNs && s.node !== null).map((s) => s.node ?? ""))];
}

function handedOver(node: LabNode): Promise<number> {
  return agentMetric(lab, node, "vipd_elections_total", { outcome: "handed_over" });
}

/** Nothing moves for a while (past D, so that a dead-holder takeover would have shown too). */
async function staysPut(t: ExecutionContext, served: Served, service: string, what: string): Promise<void> {
  const from = served.probe.samples().at(-1)?.sentNs ?? 0;
  await hold(6000);
  t.deepEqual(answeredBy(served.probe.samples(), from), [served.holder.name], `${what}: the holder answered`);
  t.is(await cluster.leaseHolder({ name: service }), served.holder.name, `${what}: the Lease did not move`);
}

test.serial(
  "cordoning the holder hands its VIP to an uncordoned node, never on two; uncordoning moves nothing back",
  async (t) => {
    const vip = "198.51.100.190";
    const sampler = await lab.sampleAddresses({ ip: vip });
    const wire = await lab.observeWire({ ip: vip });
    const served = await serve(t, { service: "drained", vip });
    const cordonedAt = served.probe.samples().at(-1)?.sentNs ?? 0;
    await cordon([served.holder]);
    const next = await served.probe
      .waitFor((sample) => sample.node !== null && sample.node !== served.holder.name, 30_000)
      .catch((error: unknown) => {
        throw new Error(`${(error as Error).message}\n${cluster.agentLogs(served.agents.values())}`, {
          cause: error,
        });
      });
    const newHolder = next.node ?? "";
    t.not(newHolder, served.holder.name);
    t.is(await cluster.leaseHolder({ name: "drained" }), newHolder);
    t.is(await handedOver(served.holder), 1, "the cordoned holder handed over (it did not die)");

    await cordon([served.holder], "uncordon");
    const uncordonedAt = served.probe.samples().at(-1)?.sentNs ?? 0;
    await hold(3000);
    const samples = await served.probe.stop();
    t.deepEqual(answeredBy(samples, uncordonedAt), [newHolder], "the uncordoned node took nothing back");
    t.is(await cluster.leaseHolder({ name: "drained" }), newHolder);
    for (const outage of outages(samples, { fromNs: cordonedAt }))
      t.log(`outage ${(outage.durationNs / 1e6).toFixed(0)} ms, ${outage.before} → ${outage.after ?? "-"}`);
    t.deepEqual(overlaps(await sampler.stop()), [], "no two nodes held the VIP at the same moment");
    t.deepEqual(doubleAnswers(await wire.stop(), { ip: vip }), [], "no ARP request was answered by two MACs");
  },
);

test.serial(
  "with the other nodes cordoned the holder keeps its VIP, cordoned too or uncordoned again",
  async (t) => {
    const vip = "198.51.100.191";
    const wire = await lab.observeWire({ ip: vip });
    const served = await serve(t, { service: "last-one", vip });
    await cordon(served.others);
    await staysPut(t, served, "last-one", "the others cordoned");
    await cordon([served.holder]);
    await staysPut(t, served, "last-one", "every node cordoned");
    // The holder first: a cordoned holder that sees an uncordoned node hands over, as it should.
    await cordon([served.holder], "uncordon");
    await cordon(served.others, "uncordon");
    await staysPut(t, served, "last-one", "every node uncordoned");
    await served.probe.stop();
    t.is(await handedOver(served.holder), 0);
    t.deepEqual(doubleAnswers(await wire.stop(), { ip: vip }), []);
  },
);

test.serial("a new Service is claimed by the uncordoned node, however the cordoned ones rank", async (t) => {
  const [free, ...cordoned] = lab.nodes;
  if (free === undefined) throw new Error("the lab has no nodes");
  await cordon(cordoned);
  // A claim step far longer than a claim: a cordoned node that did not yield would win the race.
  const served = await serve(t, { service: "fresh", vip: "198.51.100.192", agentArgs: ["--claim-step=2s"] });
  t.is(served.holder.name, free.name);
  await served.probe.stop();
});

test.serial("--cordon-hands-over=false: cordoning the holder moves nothing", async (t) => {
  const vip = "198.51.100.193";
  const wire = await lab.observeWire({ ip: vip });
  const served = await serve(t, { service: "ignored", vip, agentArgs: ["--cordon-hands-over=false"] });
  await cordon([served.holder]);
  await staysPut(t, served, "ignored", "the holder cordoned");
  await served.probe.stop();
  t.is(await handedOver(served.holder), 0);
  t.deepEqual(doubleAnswers(await wire.stop(), { ip: vip }), []);
});
