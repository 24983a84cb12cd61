// Control-plane mode in the lab (issue 4, section 2): three control-plane nodes, each with its own
// kube-apiserver against one shared etcd, and a `vipd run --control-plane` agent each, holding the
// API server's VIP on port 6443. kubectl through the VIP works; when the holder's API server dies
// (its agent lives on), and when the holder node dies, the VIP moves to a node whose API server is
// healthy; at no moment do two nodes answer for it. The gaps are logged, not asserted: timings are
// the benchmarks' business.
import test, { type ExecutionContext } from "ava";
import { doubleAnswers, overlaps } from "../../lab/analysis.ts";
import { isDeepStrictEqual } from "node:util";
import { agentHttp, agentMetric } from "../../lab/agents.ts";
import { startControlPlane, type ControlPlane } from "../../lab/control-plane.ts";
import { eventually } from "../../lab/eventually.ts";
import { monotonicNs, up, type Lab, type LabNode, type LabProcess } from "../../lab/index.ts";

const VIP = "198.51.100.100";
// Generous: a takeover needs the holder's heartbeat to go silent for the lease duration (5 s), and
// three API servers and three agents share two cores here.
const MOVE_TIMEOUT_MS = 90_000;

let lab: Lab;
let controlPlane: ControlPlane;
const agents = new Map<string, LabProcess>();
/** The node whose kube-apiserver the second test killed. */
let apiserverKilledOn: string | undefined;

function node(name: string): LabNode {
  const found = lab.nodes.find((each) => each.name === name);
  if (found === undefined) throw new Error(`no lab node named ${name}`);
  return found;
}

function agentLogs(characters = 5000): string {
  return [...agents.values()]
    .map((agent) => `--- ${agent.name}\n${agent.output().slice(-characters)}`)
    .join("\n");
}

/** The node that holds the VIP, by its kernel: the one address sampling says has it. */
async function vipHolder(): Promise<string | null> {
  for (const each of lab.nodes) {
    const shown = await lab.exec(each.netns, ["ip", "-o", "addr", "show", "dev", "eth0"]);
    if (shown.stdout.includes(` ${VIP}/32`)) return each.name;
  }
  return null;
}

/**
 * kubectl through the VIP until one request succeeds, from `sinceNs`; returns when the first
 * successful request was sent and answered, in seconds after `sinceNs`.
 */
async function firstAnswerThroughVip(sinceNs: number): Promise<{ sentS: number; answeredS: number }> {
  const deadline = performance.now() + MOVE_TIMEOUT_MS;
  let last = "";
  while (performance.now() < deadline) {
    const sentNs = monotonicNs();
    const result = await controlPlane.kubectlViaVip(["get", "--raw", "/livez", "--request-timeout=2s"]);
    if (result.code === 0 && result.stdout.trim() === "ok") {
      return { sentS: (sentNs - sinceNs) / 1e9, answeredS: (monotonicNs() - sinceNs) / 1e9 };
    }
    last = result.stderr.trim();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no answer through ${VIP} within ${MOVE_TIMEOUT_MS / 1000}s: ${last}\n${agentLogs()}`);
}

/** Waits until the VIP sits on a node other than `from` and that node's agent holds the Lease. */
async function movedFrom(from: string, via: LabNode): Promise<string> {
  const deadline = performance.now() + MOVE_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const holder = await vipHolder().catch(() => null);
    if (holder !== null && holder !== from && (await controlPlane.leaseHolder(via)) === holder) return holder;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the VIP did not leave ${from} within ${MOVE_TIMEOUT_MS / 1000}s\n${agentLogs()}`);
}

function logGap(t: ExecutionContext, fault: string, gap: { sentS: number; answeredS: number }): void {
  t.log(
    `${fault}: first successful kubectl through the VIP sent ${gap.sentS.toFixed(2)} s and answered ${gap.answeredS.toFixed(2)} s after the fault`,
  );
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3 });
  controlPlane = await startControlPlane(lab, { vip: VIP });
});

test.after.always(async () => {
  await lab.down();
  await controlPlane.cleanUp();
});

test.serial(
  "the agents put the VIP on one node, and kubectl --server https://<VIP>:6443 works",
  async (t) => {
    for (const each of lab.nodes) agents.set(each.name, controlPlane.startAgent(each));
    const started = monotonicNs();
    const gap = await firstAnswerThroughVip(started);
    t.log(`from the agents' start to the first answer through the VIP: ${gap.answeredS.toFixed(2)} s`);
    const version = await controlPlane.kubectlViaVip(["version", "-o", "json"]);
    t.is(version.code, 0, version.stderr);
    t.true(version.stdout.includes('"serverVersion"'), "the API server behind the VIP answered");
    const holder = await vipHolder();
    if (holder === null) throw new Error(`nobody holds ${VIP}, yet it answered`);
    const holders = await Promise.all(lab.nodes.map((each) => controlPlane.leaseHolder(each)));
    t.deepEqual(holders, [holder, holder, holder], "every API server shows the node with the VIP as holder");
    // Its Event goes on its Node, found by the Node's uid as kubectl describe node finds it.
    const kubectl = async (args: readonly string[]): Promise<string> => {
      const result = await controlPlane.kubectl(node(holder), args);
      if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${result.stderr}`);
      return result.stdout;
    };
    const uid = await kubectl(["get", "node", holder, "-o", "jsonpath={.metadata.uid}"]);
    const announced = await eventually(
      () =>
        kubectl([
          ...["get", "events", "-n", "default", "-o", "jsonpath={.items[*].message}"],
          ...["--field-selector", `involvedObject.uid=${uid},reason=VIPAnnounced`],
        ]),
      (messages) => messages !== "",
      { what: `VIPAnnounced on the Node ${holder} by its uid ${uid}` },
    );
    t.regex(announced, new RegExp(`${VIP.replaceAll(".", "\\.")} announced by ${holder}`));
    t.regex(await kubectl(["describe", "node", holder]), /Normal\s+VIPAnnounced/);
    const scraped = (name: string) =>
      Promise.all(
        lab.nodes.map((each) => agentMetric(lab, each, name, { address: VIP, service: "control-plane" })),
      );
    const alone = lab.nodes.map((each) => (each.name === holder ? 1 : 0));
    await eventually(
      () => scraped("vipd_vip_announced"),
      (values) => isDeepStrictEqual(values, alone),
      { what: "vipd_vip_announced on the holder alone" },
    );
    t.deepEqual(await scraped("vipd_vip_desired"), [1, 1, 1], "every agent exports the VIP it is asked for");
  },
);

test.serial(
  "the holder's kube-apiserver dies, its agent stays: the VIP moves to a healthy node",
  async (t) => {
    const sampler = await lab.sampleAddresses({ ip: VIP });
    const wire = await lab.observeWire({ ip: VIP });
    const holder = await vipHolder();
    if (holder === null) throw new Error("nobody holds the VIP");
    const apiserver = controlPlane.apiservers.get(holder);
    const agent = agents.get(holder);
    if (apiserver === undefined || agent === undefined) throw new Error(`nothing runs on ${holder}`);
    const witness = lab.nodes.find((each) => each.name !== holder) ?? node(holder);

    const notEligible = () =>
      agentMetric(lab, node(holder), "vipd_withdrawals_total", { reason: "not-eligible" });
    const notEligibleBefore = await notEligible();
    const faultNs = monotonicNs();
    lab.signal(apiserver, "SIGKILL");
    apiserverKilledOn = holder;
    const gap = await firstAnswerThroughVip(faultNs);
    logGap(t, "kube-apiserver killed on the holder", gap);
    const next = await movedFrom(holder, witness);
    t.not(next, holder);
    t.true(controlPlane.apiservers.has(next), "the new holder runs a kube-apiserver");
    t.is((await controlPlane.kubectl(node(next), ["get", "--raw", "/livez"])).code, 0, "and it is healthy");
    t.is((await controlPlane.kubectlViaVip(["get", "nodes", "-o", "name"])).code, 0, "kubectl works again");
    const readiness = await agentHttp(lab, node(holder), "/readyz");
    t.is(readiness.code, "503", "the old holder's agent is not ready");
    t.true(
      readiness.body.split("\n").some((line) => line.startsWith("[-] local-api-server")),
      "its failing check is the local API server",
    );
    t.is(await notEligible(), notEligibleBefore + 1, "and it gave the VIP up for that reason");
    t.true(lab.pids().includes(agent.pid), "the old holder's agent is still running");
    t.deepEqual(overlaps(await sampler.stop()), [], "no two nodes held the VIP at the same moment");
    t.deepEqual(doubleAnswers(await wire.stop(), { ip: VIP }), [], "no ARP request was answered by two MACs");
  },
);

test.serial(
  "the holder node dies (agent killed, LAN and management links down): the VIP moves",
  async (t) => {
    const wire = await lab.observeWire({ ip: VIP });
    const holder = await vipHolder();
    if (holder === null) throw new Error("nobody holds the VIP");
    const dying = node(holder);
    const agent = agents.get(holder);
    if (agent === undefined) throw new Error(`no agent on ${holder}`);
    // The only node left whose API server is healthy: the one that did not lose it in the test before.
    const survivor = lab.nodes.find((each) => each.name !== holder && each.name !== apiserverKilledOn);
    if (survivor === undefined) throw new Error("no node with a healthy API server is left");
    t.teardown(async () => {
      await lab.lanUp(dying);
      await lab.healApi(dying);
    });

    const faultNs = monotonicNs();
    lab.signal(agent, "SIGKILL");
    await Promise.all([lab.lanDown(dying), lab.cutApi(dying)]);
    const gap = await firstAnswerThroughVip(faultNs);
    logGap(t, "holder node killed", gap);
    const next = await movedFrom(holder, survivor);
    t.is(next, survivor.name, "the VIP went to the node whose API server is healthy");
    t.is((await controlPlane.kubectlViaVip(["get", "nodes", "-o", "name"])).code, 0, "kubectl works again");
    t.deepEqual(doubleAnswers(await wire.stop(), { ip: VIP }), [], "no ARP request was answered by two MACs");
  },
);
