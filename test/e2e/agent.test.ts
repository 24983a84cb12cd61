// vipd agents in the lab against the real API server. One node wins a Service, puts its VIP on the
// wire and publishes status; when the holder goes away — politely, with its node, or only its agent —
// another node serves, and at no moment do two MACs answer for the VIP.
import test, { type ExecutionContext } from "ava";
import { doubleAnswers, overlaps } from "../lab/analysis.ts";
import { loadBalancerService, prepareCluster, type Cluster } from "../lab/agents.ts";
import { up, type Lab, type LabNode, type LabProcess, type Probe, type ProbeSample } from "../lab/index.ts";

let lab: Lab;
let cluster: Cluster;

function kubectl(args: string[], input?: string): Promise<string> {
  return cluster.kubectl(args, input);
}

function leaseHolder(service: string): Promise<string> {
  return cluster.leaseHolder({ name: service });
}

interface Scenario {
  readonly agents: Map<string, LabProcess>;
  readonly probe: Probe;
  readonly first: ProbeSample;
  readonly holder: LabNode;
}

/** A Service with its own VIP, an agent per node, and a probe that has seen the first answer. */
async function serve(
  t: ExecutionContext,
  options: { service: string; vip: string; agentArgs?: string[] },
): Promise<Scenario> {
  await kubectl(
    ["apply", "-f", "-"],
    loadBalancerService({ name: options.service, loadBalancerIP: options.vip }),
  );
  const agents = cluster.startAgents(options.agentArgs);
  t.teardown(async () => {
    for (const agent of agents.values()) {
      // An agent the test stopped has exited already; only the others are left to end.
      try {
        lab.signal(agent, "SIGKILL");
      } catch {
        continue;
      }
    }
    await kubectl(["delete", "service", options.service, "--wait=false"]);
  });
  const probe = await lab.probe({ target: options.vip, intervalMs: 10 });
  const first = await probe
    .waitFor((sample) => sample.node !== null, 30_000)
    .catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${cluster.agentLogs(agents.values())}`, { cause: error });
    });
  const holder = cluster.node(first.node);
  t.is(
    await leaseHolder(options.service),
    holder.name,
    "the node that answers is the one the ownership Lease names",
  );
  return { agents, probe, first, holder };
}

function agentOf(scenario: Scenario): LabProcess {
  const agent = scenario.agents.get(scenario.holder.name);
  if (agent === undefined) throw new Error(`no agent on ${scenario.holder.name}`);
  return agent;
}

async function nextServer(scenario: Scenario): Promise<string> {
  try {
    const sample = await scenario.probe.waitFor(
      (s) => s.node !== null && s.node !== scenario.holder.name,
      60_000,
    );
    return sample.node ?? "";
  } catch (error) {
    // The agents' own account is what explains a takeover that did not happen.
    throw new Error(`${(error as Error).message}\n${cluster.agentLogs(scenario.agents.values())}`, {
      cause: error,
    });
  }
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
  cluster = await prepareCluster(lab);
});

test.after.always(async () => {
  await lab.down();
});

test.serial("status and holder are published; SIGTERM hands over with no overlap", async (t) => {
  const vip = "198.51.100.200";
  const sampler = await lab.sampleAddresses({ ip: vip });
  const wire = await lab.observeWire({ ip: vip });
  const scenario = await serve(t, { service: "web", vip });
  const status = async () =>
    kubectl([
      "get",
      "svc",
      "web",
      "-o",
      "jsonpath={.status.loadBalancer.ingress[0].ip} {.status.loadBalancer.ingress[0].ipMode} {.metadata.annotations.vipd\\.io/holder}",
    ]);
  let shown = await status();
  for (let attempt = 0; attempt < 100 && shown !== `${vip} VIP ${scenario.holder.name}`; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    shown = await status();
  }
  t.is(shown, `${vip} VIP ${scenario.holder.name}`, "status.loadBalancer.ingress and vipd.io/holder");

  const leaving = agentOf(scenario);
  lab.signal(leaving, "SIGTERM");
  t.is((await leaving.exited).code, 0, "a polite stop exits cleanly");
  const next = await nextServer(scenario);
  t.is(await leaseHolder("web"), next);

  await scenario.probe.stop();
  const frames = await wire.stop();
  t.deepEqual(overlaps(await sampler.stop()), [], "no two nodes held the VIP at the same moment");
  t.deepEqual(doubleAnswers(frames, { ip: vip }), [], "no ARP request was answered by two MACs");
  t.true(
    frames.some(
      (frame) =>
        frame.kind === "arp-request" && frame.senderIp === vip && frame.senderMac !== scenario.holder.mac,
    ),
    "the new holder announced itself with gratuitous ARP",
  );
});

test.serial("node death: the holder's agent and LAN link die; another node takes over", async (t) => {
  const vip = "198.51.100.201";
  const wire = await lab.observeWire({ ip: vip });
  const scenario = await serve(t, { service: "death", vip });
  t.teardown(() => lab.lanUp(scenario.holder));
  lab.signal(agentOf(scenario), "SIGKILL");
  await lab.lanDown(scenario.holder);
  const next = await nextServer(scenario);
  t.not(next, scenario.holder.name);
  t.is(await leaseHolder("death"), next);
  await scenario.probe.stop();
  t.deepEqual(doubleAnswers(await wire.stop(), { ip: vip }), []);
});

test.serial(
  "agent crash: the dead agent's VIP expires (dead-man switch) before anyone else takes it",
  async (t) => {
    const vip = "198.51.100.202";
    const sampler = await lab.sampleAddresses({ ip: vip });
    const wire = await lab.observeWire({ ip: vip });
    // A short address lifetime keeps the test short; the fence must still wait for it to run out.
    const scenario = await serve(t, { service: "crash", vip, agentArgs: ["--address-lifetime=6s"] });
    lab.signal(agentOf(scenario), "SIGKILL");
    const next = await nextServer(scenario);
    t.not(next, scenario.holder.name);
    await scenario.probe.stop();
    t.deepEqual(
      overlaps(await sampler.stop()),
      [],
      "the new holder added the VIP only after the old one's expired",
    );
    t.deepEqual(doubleAnswers(await wire.stop(), { ip: vip }), []);
  },
);

test.serial(
  "API partition of the holder: it keeps serving in degraded hold, the fence stops any takeover",
  async (t) => {
    const vip = "198.51.100.203";
    const wire = await lab.observeWire({ ip: vip });
    const scenario = await serve(t, { service: "partition", vip });
    const cutAt = scenario.first.sentNs;
    await lab.cutApi(scenario.holder);
    t.teardown(() => lab.healApi(scenario.holder));
    // Long enough for the holder's heartbeat to be declared dead (D = 5 s) and for candidates to fence
    // several times; the scenario's length, not a timing assertion. How long the client waited at
    // most is a benchmark figure: on two busy cores the probe itself can stall for a moment.
    await new Promise((resolve) => setTimeout(resolve, 9000));
    await lab.healApi(scenario.holder);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const samples = await scenario.probe.stop();
    const answeredAfterCut = samples.filter((sample) => sample.sentNs > cutAt && sample.node !== null);
    t.true(answeredAfterCut.length > 0);
    t.true(
      answeredAfterCut.every((sample) => sample.node === scenario.holder.name),
      "only the partitioned holder answered",
    );
    t.is(await leaseHolder("partition"), scenario.holder.name, "nobody took the Lease");
    t.deepEqual(doubleAnswers(await wire.stop(), { ip: vip }), []);
  },
);
