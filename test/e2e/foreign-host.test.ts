// Issue 13, item 1: an address another machine on the LAN uses is neither taken nor kept. Three
// agents and the real API server share the LAN with a host that is no node (a namespace of its own on
// the LAN bridge, MAC 02:00:00:00:00:fe). A Service asking for an address that host has is never put
// on a node and gets a VIPConflict naming the host's MAC, until the host lets the address go; a holder
// whose address the host starts to use gives it up and stays off it; and a failover between agents,
// whose kernels answer for a VIP too until it moves, is never taken for a foreign host.
import test, { type ExecutionContext } from "ava";
import { overlaps } from "../../lab/analysis.ts";
import { loadBalancerService, prepareCluster, type Cluster } from "../../lab/agents.ts";
import { eventually as eventuallyIn } from "../../lab/eventually.ts";
import {
  monotonicNs,
  up,
  type AddressSample,
  type Lab,
  type LabNode,
  type LabProcess,
  type LanHost,
} from "../../lab/index.ts";

let lab: Lab;
let cluster: Cluster;
let agents: Map<string, LabProcess>;
let host: LanHost;

const HOST_MAC = "02:00:00:00:00:fe";
// Long enough that a SIGKILLed holder's address outlives the lease duration (5 s), so the takeover's
// fence meets the dead agent's kernel still answering; short enough to keep the scenario short.
const AGENT_ARGS = ["--address-lifetime=9s"];
// The longest quarantine is a minute; the rest is a probe round, a claim and an announcement.
const SERVED_AGAIN_WITHIN_MS = 90_000;

function kubectl(args: string[], input?: string): Promise<string> {
  return cluster.kubectl(args, input);
}

function hold(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function logs(): string {
  return cluster.agentLogs(agents.values(), 4000);
}

function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  options: { what: string; timeoutMs?: number },
): Promise<T> {
  return eventuallyIn(read, done, { ...options, intervalMs: 200, context: logs });
}

/** The messages of the Service's Events with this reason. */
async function events(service: string, reason: string): Promise<string[]> {
  const output = await kubectl([
    "get",
    "events",
    "--field-selector",
    `involvedObject.name=${service},reason=${reason}`,
    "-o",
    "jsonpath={range .items[*]}{.message}{'\\n'}{end}",
  ]);
  return output.split("\n").filter((line) => line !== "");
}

function ingress(service: string): Promise<string> {
  return kubectl(["get", "svc", service, "-o", "jsonpath={.status.loadBalancer.ingress}"]);
}

async function nodesHolding(ip: string): Promise<string[]> {
  const held = await Promise.all(
    lab.nodes.map(async (node) => {
      const shown = await lab.exec(node.netns, ["ip", "-o", "addr", "show", "dev", node.lanIf]);
      return shown.stdout.includes(` ${ip}/`) ? [node.name] : [];
    }),
  );
  return held.flat();
}

/** The node that first answers the client for the VIP, within timeoutMs. */
async function firstAnswer(vip: string, timeoutMs: number): Promise<string> {
  const probe = await lab.probe({ target: vip, intervalMs: 20 });
  try {
    const sample = await probe.waitFor((each) => each.node !== null, timeoutMs);
    return sample.node ?? "";
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${logs()}`, { cause: error });
  } finally {
    await probe.stop();
  }
}

/** The host starts using the address: its kernel answers ARP (IPv4) or neighbour discovery for it. */
async function hostTakes(t: ExecutionContext, address: string): Promise<void> {
  const prefix = address.includes(":") ? 128 : 32;
  const argv = ["ip", "addr", "add", `${address}/${prefix}`, "dev", host.ifname];
  await lab.exec(host.netns, address.includes(":") ? [...argv, "nodad"] : argv);
  t.teardown(() => hostReleases(address));
}

async function hostReleases(address: string): Promise<void> {
  const prefix = address.includes(":") ? 128 : 32;
  await lab.exec(host.netns, ["ip", "addr", "del", `${address}/${prefix}`, "dev", host.ifname], {
    allowFailure: true,
  });
}

async function createService(t: ExecutionContext, name: string, vip: string): Promise<void> {
  const spec = vip.includes(":")
    ? loadBalancerService({ name, annotations: { "vipd.io/loadBalancerIPs": vip }, ipFamilies: ["IPv6"] })
    : loadBalancerService({ name, loadBalancerIP: vip });
  await kubectl(["apply", "-f", "-"], spec);
  t.teardown(() => kubectl(["delete", "service", name, "--wait=false"]));
}

/** A counter of an agent's /metrics, summed over the series whose labels include `labels`. */
async function counter(node: LabNode, name: string, labels: string): Promise<number> {
  const result = await lab.exec(node.netns, ["curl", "-s", "-m", "2", "http://127.0.0.1:9559/metrics"], {
    allowFailure: true,
  });
  return result.stdout
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

/** Fences and holders of the nodes but `except` that met a foreign host, so far. */
async function foreignHostCounts(except: LabNode): Promise<number> {
  const counts = await Promise.all(
    lab.nodes
      .filter((node) => node !== except)
      .map(async (node) => {
        const fences = await counter(node, "vipd_fences_total", 'result="foreign-host"');
        const seen = await counter(node, "vipd_conflicts_seen_total", 'claimant="foreign-host"');
        return fences + seen;
      }),
  );
  return counts.reduce((sum, each) => sum + each, 0);
}

function heldAfter(samples: readonly AddressSample[], afterNs: number): AddressSample[] {
  return samples.filter((sample) => sample.timeNs > afterNs && sample.present);
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
  cluster = await prepareCluster(lab);
  host = await lab.addLanHost({
    name: "host",
    mac: HOST_MAC,
    addresses: ["198.51.100.3/24", "2001:db8:1::3/64"],
  });
  agents = cluster.startAgents(AGENT_ARGS);
  await Promise.all([...agents.values()].map((agent) => agent.waitForLine(/vipd started/, 30_000)));
});

test.after.always(async () => {
  await lab.down();
});

async function firstClaimOfAnAddressInUse(t: ExecutionContext, service: string, vip: string) {
  await hostTakes(t, vip);
  const sampler = await lab.sampleAddresses({ ip: vip });
  await createService(t, service, vip);
  const conflicts = await eventually(
    () => events(service, "VIPConflict"),
    (messages) => messages.length > 0,
    { what: "a VIPConflict Event" },
  );
  t.true(
    conflicts.every((message) => message.includes(HOST_MAC) && message.includes(vip)),
    conflicts.join("\n"),
  );
  // Long enough for every agent's quarantine to run out and its retry to meet the host again.
  await hold(8000);
  const samples = await sampler.stop();
  t.true(samples.length > 0);
  t.deepEqual(heldAfter(samples, 0), [], "no node ever put the address on");
  t.is(await ingress(service), "", "no status");
  t.is(await cluster.leaseHolder({ name: service }), "", "nobody holds the Service");
  t.is(
    (await events(service, "VIPConflict")).length,
    1,
    "told once, by the first candidate, not by every agent that probes, nor per retry",
  );

  await hostReleases(vip);
  const released = Date.now();
  const served = await firstAnswer(vip, SERVED_AGAIN_WITHIN_MS);
  t.log(`served ${Date.now() - released} ms after the host let the address go`);
  t.is(await cluster.leaseHolder({ name: service }), served);
  t.deepEqual(await nodesHolding(vip), [served]);
}

test.serial("an IPv4 address a host on the LAN uses is not claimed until the host lets it go", async (t) => {
  await firstClaimOfAnAddressInUse(t, "squatted", "198.51.100.240");
});

test.serial("the same for IPv6: the host answers the neighbour solicitation probe", async (t) => {
  await firstClaimOfAnAddressInUse(t, "squatted6", "2001:db8:1::240");
});

test.serial(
  "a holder whose address a host starts to use withdraws, stays off it, and serves again once it is free",
  async (t) => {
    const vip = "198.51.100.241";
    await createService(t, "taken", vip);
    const holder = await firstAnswer(vip, 30_000);
    const sampler = await lab.sampleAddresses({ ip: vip });
    await hostTakes(t, vip);
    // The holder hears the host's kernel answer the probe that ends each announcement round.
    await eventually(
      () => nodesHolding(vip),
      (held) => held.length === 0,
      { what: `${holder} withdrawing ${vip}` },
    );
    const withdrawnNs = monotonicNs();
    const conflicts = await eventually(
      () => events("taken", "VIPConflict"),
      (messages) => messages.length > 0,
      { what: "a VIPConflict Event" },
    );
    t.true(conflicts.some((message) => message.includes(HOST_MAC) && message.includes(holder)));
    t.is(
      await eventually(
        () => ingress("taken"),
        (shown) => shown === "",
        { what: "status cleared" },
      ),
      "",
    );
    // Retries at 2, 6 and 14 s after the first answer all meet the host again.
    await hold(10_000);
    const samples = await sampler.stop();
    t.deepEqual(heldAfter(samples, withdrawnNs), [], "no node took the address back while the host had it");
    t.is(await cluster.leaseHolder({ name: "taken" }), "");

    await hostReleases(vip);
    const served = await firstAnswer(vip, SERVED_AGAIN_WITHIN_MS);
    t.deepEqual(await nodesHolding(vip), [served]);
  },
);

async function failover(
  t: ExecutionContext,
  options: { service: string; vip: string; kill: "SIGTERM" | "SIGKILL" },
) {
  await createService(t, options.service, options.vip);
  const holder = cluster.node(await firstAnswer(options.vip, 30_000));
  const sampler = await lab.sampleAddresses({ ip: options.vip });
  const agent = agents.get(holder.name);
  if (agent === undefined) throw new Error(`no agent on ${holder.name}`);
  const before = await foreignHostCounts(holder);
  const fencesBefore = { agent: await fences("agent"), quiet: await fences("quiet") };
  lab.signal(agent, options.kill);
  await agent.exited;
  t.teardown(() => {
    agents.set(holder.name, cluster.startAgent(holder, AGENT_ARGS));
  });
  const [next = ""] = await eventually(
    () => nodesHolding(options.vip),
    (held) => held.length === 1 && held[0] !== holder.name,
    { what: "another node taking over", timeoutMs: 60_000 },
  );
  t.deepEqual(overlaps(await sampler.stop()), [], "no two nodes held the VIP at once");
  t.is(
    await eventually(
      () => cluster.leaseHolder({ name: options.service }),
      (named) => named === next,
      { what: "the Lease naming the new holder" },
    ),
    next,
  );
  t.deepEqual(await events(options.service, "VIPConflict"), [], "no agent was taken for a foreign host");
  t.is(await foreignHostCounts(holder), before, "no fence or holder saw a foreign host: no quarantine");
  return { holder, fencesBefore };
}

/** Each node's vipd_fences_total{result}, in lab.nodes order. */
function fences(result: "quiet" | "agent"): Promise<number[]> {
  return Promise.all(lab.nodes.map((node) => counter(node, "vipd_fences_total", `result="${result}"`)));
}

test.serial(
  "a polite handover (SIGTERM) between agents is no foreign host, and is claimed unfenced",
  async (t) => {
    const { holder, fencesBefore } = await failover(t, {
      service: "polite",
      vip: "198.51.100.242",
      kill: "SIGTERM",
    });
    const quiet = await fences("quiet");
    const survivors = lab.nodes.flatMap((node, index) => (node === holder ? [] : [index]));
    t.deepEqual(
      survivors.map((index) => quiet[index]),
      survivors.map((index) => fencesBefore.quiet[index]),
      "the holder withdrew before it handed over: no probe delays the next one",
    );
  },
);

test.serial(
  "a SIGKILLed holder's kernel answers the takeover's fence as an agent: wait, no quarantine",
  async (t) => {
    const { fencesBefore } = await failover(t, {
      service: "crashed",
      vip: "198.51.100.243",
      kill: "SIGKILL",
    });
    const after = await fences("agent");
    t.true(
      after.some((count, index) => count > (fencesBefore.agent[index] ?? 0)),
      "the dead holder's address still answered, and was known for an agent's",
    );
  },
);

test.serial("node death (SIGKILL, LAN link down) between agents is no foreign host", async (t) => {
  const vip = "198.51.100.244";
  await createService(t, "death", vip);
  const holder = cluster.node(await firstAnswer(vip, 30_000));
  const agent = agents.get(holder.name);
  if (agent === undefined) throw new Error(`no agent on ${holder.name}`);
  const before = await foreignHostCounts(holder);
  lab.signal(agent, "SIGKILL");
  await lab.lanDown(holder);
  t.teardown(async () => {
    await lab.lanUp(holder);
    agents.set(holder.name, cluster.startAgent(holder, AGENT_ARGS));
  });
  const next = await firstAnswer(vip, 60_000);
  t.not(next, holder.name);
  t.is(await cluster.leaseHolder({ name: "death" }), next);
  t.deepEqual(await events("death", "VIPConflict"), []);
  t.is(await foreignHostCounts(holder), before);
});
