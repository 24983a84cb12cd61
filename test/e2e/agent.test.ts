// vipd agents in the lab against the real API server. One node wins a Service, puts its VIP on the
// wire and publishes status; when the holder goes away — politely, with its node, or only its agent —
// another node serves, and at no moment do two MACs answer for the VIP.
import test, { type ExecutionContext } from "ava";
import { doubleAnswers, overlaps } from "../../lab/analysis.ts";
import {
  agentMetric,
  prepareCluster,
  serveService,
  type Cluster,
  type ServedService,
} from "../../lab/agents.ts";
import { up, type AddressSample, type Lab, type LabProcess, type ProbeSample } from "../../lab/index.ts";

let lab: Lab;
let cluster: Cluster;

function kubectl(args: string[], input?: string): Promise<string> {
  return cluster.kubectl(args, input);
}

function leaseHolder(service: string): Promise<string> {
  return cluster.leaseHolder({ name: service });
}

type Scenario = ServedService;

/** A Service with its own VIP, an agent per node, and a probe that has seen the first answer. */
async function serve(
  t: ExecutionContext,
  options: { service: string; vip: string; agentArgs?: string[] },
): Promise<Scenario> {
  const scenario = await serveService(cluster, {
    ...options,
    teardown: (end) => {
      t.teardown(end);
    },
  });
  t.is(
    await leaseHolder(options.service),
    scenario.holder.name,
    "the node that answers is the one the ownership Lease names",
  );
  return scenario;
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

/** Waits, as a scenario's length: how long the client waited at most is a benchmark figure. */
function hold(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Once the node had the address, from afterNs on, it never lost it again. (A probe's first answer is
 * stamped when the probe was sent, which may be before the address arrived.)
 */
function heldThroughout(samples: readonly AddressSample[], afterNs: number, node: string): boolean {
  const after = samples.filter((sample) => sample.node === node && sample.timeNs > afterNs);
  const since = after.findIndex((sample) => sample.present);
  return since !== -1 && after.slice(since).every((sample) => sample.present);
}

function answeredOnlyBy(samples: readonly ProbeSample[], afterNs: number, node: string): boolean {
  const answered = samples.filter((sample) => sample.sentNs > afterNs && sample.node !== null);
  return answered.length > 0 && answered.every((sample) => sample.node === node);
}

test.serial(
  "agent freeze (SIGSTOP) shorter than the address lifetime: nobody takes over, it resumes",
  async (t) => {
    const vip = "198.51.100.204";
    const sampler = await lab.sampleAddresses({ ip: vip });
    const wire = await lab.observeWire({ ip: vip });
    const scenario = await serve(t, { service: "freeze", vip });
    const agent = agentOf(scenario);
    const frozenAt = scenario.first.sentNs;
    lab.signal(agent, "SIGSTOP");
    // Past D, so the other agents see the holder's heartbeat dead and try (and fence) a takeover.
    await hold(8000);
    lab.signal(agent, "SIGCONT");
    await hold(3000);
    const samples = await scenario.probe.stop();
    t.true(answeredOnlyBy(samples, frozenAt, scenario.holder.name), "only the frozen holder answered");
    t.is(await leaseHolder("freeze"), scenario.holder.name, "nobody took the Lease");
    t.true(
      heldThroughout(await sampler.stop(), frozenAt, scenario.holder.name),
      "the resumed agent kept its VIP: it never left the interface",
    );
    t.is(await agentMetric(lab, scenario.holder, "vipd_withdrawals_total"), 0, "and withdrew nothing");
    t.deepEqual(doubleAnswers(await wire.stop(), { ip: vip }), []);
  },
);

test.serial(
  "agent freeze past the address lifetime: the VIP expires and another node takes over",
  async (t) => {
    const vip = "198.51.100.205";
    const sampler = await lab.sampleAddresses({ ip: vip });
    const wire = await lab.observeWire({ ip: vip });
    const scenario = await serve(t, { service: "frozen", vip, agentArgs: ["--address-lifetime=6s"] });
    const agent = agentOf(scenario);
    lab.signal(agent, "SIGSTOP");
    const next = await nextServer(scenario);
    t.not(next, scenario.holder.name);
    lab.signal(agent, "SIGCONT");
    await hold(3000);
    const samples = await scenario.probe.stop();
    const afterTakeover = samples.filter((sample) => sample.node !== null).at(-1);
    t.is(afterTakeover?.node, next, "the resumed agent did not take its expired VIP back");
    t.is(await leaseHolder("frozen"), next);
    t.deepEqual(overlaps(await sampler.stop()), [], "no two nodes held the VIP, also after the resume");
    t.deepEqual(doubleAnswers(await wire.stop(), { ip: vip }), [], "no stale announcement after the resume");
  },
);

test.serial(
  "agent crash and restart within the lifetime: the restarted agent re-adopts its VIP",
  async (t) => {
    const vip = "198.51.100.206";
    const sampler = await lab.sampleAddresses({ ip: vip });
    const scenario = await serve(t, { service: "restart", vip });
    const foreign = "198.51.100.251";
    await lab.exec(scenario.holder.netns, ["ip", "addr", "add", `${foreign}/32`, "dev", "eth0"]);
    t.teardown(() =>
      lab.exec(scenario.holder.netns, ["ip", "addr", "del", `${foreign}/32`, "dev", "eth0"], {
        allowFailure: true,
      }),
    );
    const crashedAt = scenario.first.sentNs;
    lab.signal(agentOf(scenario), "SIGKILL");
    await agentOf(scenario).exited;
    const restarted = cluster.startAgent(scenario.holder);
    t.teardown(() => {
      try {
        lab.signal(restarted, "SIGKILL");
      } catch {
        // it exited already
      }
    });
    await restarted.waitForLine(/vipd started/, 30_000);
    await hold(8000);
    const samples = await scenario.probe.stop();
    t.true(answeredOnlyBy(samples, crashedAt, scenario.holder.name), "the VIP never left the node");
    t.is(await leaseHolder("restart"), scenario.holder.name);
    const addresses = await lab.exec(scenario.holder.netns, ["ip", "-o", "addr", "show", "dev", "eth0"]);
    t.true(addresses.stdout.includes(` ${foreign}/32`), "the start-up sweep left a foreign address alone");
    const held = await sampler.stop();
    t.true(
      heldThroughout(held, crashedAt, scenario.holder.name),
      "its own VIP was adopted, not swept: it never left the interface",
    );
    t.deepEqual(overlaps(held), []);
  },
);

test.serial("API server stopped for 20 s: the VIP keeps answering from its holder throughout", async (t) => {
  const vip = "198.51.100.207";
  const wire = await lab.observeWire({ ip: vip });
  const scenario = await serve(t, { service: "apidown", vip });
  const api = lab.api;
  if (api === undefined) throw new Error("no API server");
  const stoppedAt = scenario.first.sentNs;
  api.kill("SIGSTOP");
  t.teardown(() => {
    api.kill("SIGCONT");
  });
  await hold(20_000);
  api.kill("SIGCONT");
  await hold(3000);
  const samples = await scenario.probe.stop();
  t.true(answeredOnlyBy(samples, stoppedAt, scenario.holder.name), "the holder kept serving (degraded hold)");
  t.is(await leaseHolder("apidown"), scenario.holder.name);
  t.deepEqual(doubleAnswers(await wire.stop(), { ip: vip }), []);
});

test.serial("LAN carrier loss on the holder: it hands over at once", async (t) => {
  const vip = "198.51.100.208";
  const sampler = await lab.sampleAddresses({ ip: vip });
  const wire = await lab.observeWire({ ip: vip });
  const scenario = await serve(t, { service: "carrier", vip });
  t.teardown(() => lab.lanUp(scenario.holder));
  await lab.lanDown(scenario.holder);
  const next = await nextServer(scenario);
  t.not(next, scenario.holder.name);
  t.is(
    await eventuallyHolder("carrier", (holder) => holder === next),
    next,
    "the new holder owns the Lease (handed over, not expired)",
  );
  t.is(
    await agentMetric(lab, scenario.holder, "vipd_withdrawals_total", { reason: "carrier-lost" }),
    1,
    "the old holder withdrew because of carrier loss",
  );
  await scenario.probe.stop();
  t.deepEqual(overlaps(await sampler.stop()), []);
  t.deepEqual(doubleAnswers(await wire.stop(), { ip: vip }), []);
});

async function eventuallyHolder(service: string, done: (holder: string) => boolean): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    const holder = await leaseHolder(service);
    if (done(holder) || attempt >= 100) return holder;
    await hold(100);
  }
}
