// The data path's safety in the lab, against the real API server and three nodes: an address equal
// to a VIP that vipd did not add (by hand, a kube-vip leftover), with any prefix length, is never
// adopted, re-lifetimed or removed, and its node says so in a VIPConflict Event and does not claim;
// with the record of vipd's addresses forced (what kernels before 6.1 need), a restarted agent sweeps
// its own stale VIPs and nobody else's; and a holder whose eth0 flaps, or is deleted and created
// again, becomes a candidate again by itself and takes a VIP over without answering beside anyone.
import test, { type ExecutionContext } from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { rankCandidates } from "../../src/election/ranking.ts";
import { doubleAnswers, overlaps } from "../../lab/analysis.ts";
import { loadBalancerService, prepareCluster, type Cluster } from "../../lab/agents.ts";
import { eventually as eventuallyIn } from "../../lab/eventually.ts";
import { up, type Lab, type LabNode, type LabProcess } from "../../lab/index.ts";

let lab: Lab;
let cluster: Cluster;
let stateRoot: string;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
  cluster = await prepareCluster(lab);
  stateRoot = mkdtempSync(path.join(tmpdir(), "vipd-e2e-state-"));
});

test.after.always(async () => {
  await lab.down();
  rmSync(stateRoot, { recursive: true, force: true });
});

const FOREVER = 0xffffffff;

function node(index: number): LabNode {
  const found = lab.nodes[index];
  if (found === undefined) throw new Error(`the lab has no node ${index + 1}`);
  return found;
}

/** The agents' flags that force the record of vipd's addresses, in a directory of the node's own. */
function recordFlags(of: LabNode): string[] {
  return ["--address-marking=record", `--state-dir=${path.join(stateRoot, of.name)}`];
}

/** Starts agents with the given flags per node and stops them when the test ends. */
function agentsOn(
  t: ExecutionContext,
  nodes: readonly LabNode[],
  flags: (of: LabNode) => string[] = () => [],
): Map<string, LabProcess> {
  const agents = new Map(nodes.map((each) => [each.name, cluster.startAgent(each, flags(each))]));
  t.teardown(() => {
    for (const agent of agents.values()) stop(agent);
  });
  return agents;
}

function stop(agent: LabProcess): void {
  try {
    lab.signal(agent, "SIGKILL");
  } catch {
    // It has exited already.
  }
}

/** Reads until done or the timeout, and hands back the last reading: the test asserts on it. */
async function settle<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  options: { what: string; agents: Iterable<LabProcess>; timeoutMs?: number },
): Promise<T> {
  return eventuallyIn(read, done, { ...options, context: () => cluster.agentLogs(options.agents) });
}

/** The node's addresses equal to ip: prefix length and valid lifetime (0xffffffff: forever). */
async function copiesOn(of: LabNode, ip: string): Promise<{ prefixlen: number; valid_life_time: number }[]> {
  const shown = await lab.exec(of.netns, ["ip", "-j", "addr", "show", "dev", of.lanIf]);
  const links = JSON.parse(shown.stdout) as {
    addr_info: { local: string; prefixlen: number; valid_life_time: number }[];
  }[];
  return links
    .flatMap((link) => link.addr_info)
    .filter((info) => info.local === ip)
    .map(({ prefixlen, valid_life_time }) => ({ prefixlen, valid_life_time }));
}

async function conflictEvents(service: string): Promise<string[]> {
  const output = await cluster.kubectl([
    "get",
    "events",
    "--field-selector",
    `involvedObject.name=${service},reason=VIPConflict`,
    "-o",
    "jsonpath={range .items[*]}{.message}{'\\n'}{end}",
  ]);
  return output.split("\n").filter((line) => line !== "");
}

async function readyz(of: LabNode): Promise<string> {
  const result = await lab.exec(
    of.netns,
    ["curl", "-s", "-o", "/dev/null", "-m", "2", "-w", "%{http_code}", "http://127.0.0.1:9559/readyz"],
    { allowFailure: true },
  );
  return result.stdout;
}

/** Samples, while `during` runs, the node's copies of ip and the Lease's holder. */
async function watching<T>(
  options: { of: LabNode; ip: string; service: string },
  during: () => Promise<T>,
): Promise<{ result: T; copies: string[]; holders: string[] }> {
  const copies = new Set<string>();
  const holders = new Set<string>();
  const state = { sampling: true };
  const sampler = (async () => {
    while (state.sampling) {
      for (const copy of await copiesOn(options.of, options.ip))
        copies.add(`/${copy.prefixlen} ${copy.valid_life_time === FOREVER ? "forever" : "expiring"}`);
      holders.add(await cluster.leaseHolder({ name: options.service }));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  try {
    return { result: await during(), copies: [...copies], holders: [...holders] };
  } finally {
    state.sampling = false;
    await sampler;
  }
}

for (const marking of ["kernel", "record"] as const) {
  test.serial(
    `${marking}: a /32 of the VIP configured by hand on the only candidate is never adopted, refreshed or deleted`,
    async (t) => {
      const vip = marking === "kernel" ? "198.51.100.71" : "198.51.100.72";
      const service = `by-hand-${marking}`;
      const only = node(1);
      await lab.exec(only.netns, ["ip", "addr", "add", `${vip}/32`, "dev", only.lanIf]);
      t.teardown(() => lab.exec(only.netns, ["ip", "addr", "del", `${vip}/32`, "dev", only.lanIf]));
      // A short lifetime: vipd would refresh an address it held every 2 s.
      const flags = (of: LabNode) => [
        "--address-lifetime=6s",
        ...(marking === "record" ? recordFlags(of) : []),
      ];
      let agents = agentsOn(t, [only], flags);
      const watched = await watching({ of: only, ip: vip, service }, async () => {
        await cluster.kubectl(
          ["apply", "-f", "-"],
          loadBalancerService({ name: service, loadBalancerIP: vip }),
        );
        const events = await settle(
          () => conflictEvents(service),
          (lines) => lines.length > 0,
          15_000,
        );
        // Three refresh periods and a claim attempt or two.
        await new Promise((resolve) => setTimeout(resolve, 7000));
        await cluster.kubectl(["delete", "service", service]);
        await new Promise((resolve) => setTimeout(resolve, 2000));
        // A restart sweeps vipd's stale addresses; this one is not vipd's.
        for (const agent of agents.values()) stop(agent);
        agents = agentsOn(t, [only], flags);
        await eventually(
          () => readyz(only),
          (code) => code === "200",
          { what: "the restarted agent ready", agents: agents.values() },
        );
        return events;
      });
      t.deepEqual(watched.copies, ["/32 forever"], "the address was never re-lifetimed");
      t.deepEqual(watched.holders, [""], "nobody held the Lease");
      t.deepEqual(await copiesOn(only, vip), [{ prefixlen: 32, valid_life_time: FOREVER }]);
      t.is(watched.result.length, 1, "one Event, not one per run");
      t.true(watched.result[0]?.startsWith(`${only.name}: ${vip}/32 on ${only.lanIf} `), watched.result[0]);
    },
  );
}

test.serial(
  "a /24 of the VIP configured by hand on one node: it reports it, and no node claims",
  async (t) => {
    const vip = "198.51.100.70";
    const owner = node(1);
    // A Service for which the node with the address would be the first to claim.
    const nodes = lab.nodes.map((each) => each.name);
    const service =
      Array.from({ length: 100 }, (_, index) => `by-hand-subnet-${index}`).find(
        (name) => rankCandidates(nodes, `default/${name}`)[0] === owner.name,
      ) ?? "";
    await lab.exec(owner.netns, ["ip", "addr", "add", `${vip}/24`, "dev", owner.lanIf]);
    t.teardown(() => lab.exec(owner.netns, ["ip", "addr", "del", `${vip}/24`, "dev", owner.lanIf]));
    const agents = agentsOn(t, lab.nodes, () => ["--address-lifetime=6s"]);
    t.teardown(() => cluster.kubectl(["delete", "service", service, "--wait=false"]));
    // Every agent up and seeing the others' heartbeats, so that the ranking is the one computed above.
    for (const each of lab.nodes)
      await eventually(
        () => readyz(each),
        (code) => code === "200",
        { what: `${each.name} ready`, agents: agents.values() },
      );
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const watched = await watching({ of: owner, ip: vip, service }, async () => {
      await cluster.kubectl(
        ["apply", "-f", "-"],
        loadBalancerService({ name: service, loadBalancerIP: vip }),
      );
      const events = await settle(
        () => conflictEvents(service),
        (lines) => lines.some((line) => line.startsWith(`${owner.name}:`)),
        15_000,
      );
      await new Promise((resolve) => setTimeout(resolve, 7000));
      return events;
    });
    t.deepEqual(watched.copies, ["/24 forever"], "no /32 beside it, nothing re-lifetimed");
    t.false(watched.holders.includes(owner.name), `holders seen: ${watched.holders.join(", ")}`);
    t.deepEqual(
      watched.holders.filter((holder) => holder !== ""),
      [],
      "no other node claims either: its probe hears the owner's kernel answer for the address",
    );
    t.true(
      watched.result.some((line) => line.startsWith(`${owner.name}: ${vip}/24 on ${owner.lanIf} `)),
      watched.result.join("\n"),
    );
  },
);

test.serial(
  "record, forced: a restarted agent sweeps its own stale VIP, keeps the one it holds, leaves addresses configured by hand",
  async (t) => {
    const [staleVip, keptVip] = ["198.51.100.74", "198.51.100.75"];
    const [permanent, expiring] = ["198.51.100.76", "198.51.100.77"];
    const holder = node(0);
    // A long lifetime: only the sweep, not the kernel, can remove the stale VIP within the test.
    const flags = (of: LabNode) => ["--address-lifetime=120s", ...recordFlags(of)];
    const agents = agentsOn(t, [holder], flags);
    t.teardown(() => cluster.kubectl(["delete", "service", "record-kept", "--wait=false"]));
    for (const [name, vip] of [
      ["record-stale", staleVip],
      ["record-kept", keptVip],
    ] as const) {
      await cluster.kubectl(["apply", "-f", "-"], loadBalancerService({ name, loadBalancerIP: vip }));
      await eventually(
        () => copiesOn(holder, vip),
        (copies) => copies.length === 1,
        { what: `${vip} on ${holder.name}`, agents: agents.values() },
      );
    }
    await lab.exec(holder.netns, ["ip", "addr", "add", `${permanent}/32`, "dev", holder.lanIf]);
    await lab.exec(holder.netns, [
      ...["ip", "addr", "add", `${expiring}/32`, "dev", holder.lanIf],
      ...["valid_lft", "300", "preferred_lft", "300"],
    ]);
    t.teardown(async () => {
      for (const address of [permanent, expiring])
        await lab.exec(holder.netns, ["ip", "addr", "del", `${address}/32`, "dev", holder.lanIf], {
          allowFailure: true,
        });
    });

    // The agent dies without cleaning up; one of its Services goes while it is down.
    for (const agent of agents.values()) stop(agent);
    await cluster.kubectl(["delete", "service", "record-stale"]);
    const restarted = agentsOn(t, [holder], flags);
    await eventually(
      () => copiesOn(holder, staleVip),
      (copies) => copies.length === 0,
      { what: "the stale VIP swept", agents: restarted.values(), timeoutMs: 20_000 },
    );
    t.is((await copiesOn(holder, keptVip)).length, 1, "the VIP it still holds stays");
    const probe = await lab.probe({ target: keptVip, intervalMs: 50 });
    const answer = await probe.waitFor((sample) => sample.node !== null, 10_000);
    await probe.stop();
    t.is(answer.node, holder.name);
    t.deepEqual(await copiesOn(holder, permanent), [{ prefixlen: 32, valid_life_time: FOREVER }]);
    const [left] = await copiesOn(holder, expiring);
    t.true(left !== undefined && left.valid_life_time <= 300, "the address with a lifetime kept its own");
  },
);

/** What ifdown/ifup, `netplan apply` or a NetworkManager restart do to the node's eth0. */
async function flap(of: LabNode, whileDown: () => Promise<void> = () => Promise.resolve()): Promise<void> {
  await lab.exec(of.netns, ["ip", "link", "set", of.lanIf, "down"]);
  await whileDown();
  await lab.exec(of.netns, ["ip", "link", "set", of.lanIf, "up"]);
  await putBack(of);
}

// The kernel drops the IPv6 address and every route of a link that goes down, and does not put the
// default route back when it comes up; the network configuration does, addresses first and the
// route a moment later, by which time the agent has looked at the link that came back.
async function putBack(of: LabNode): Promise<void> {
  await lab.exec(of.netns, ["ip", "addr", "replace", `${of.ipv6}/64`, "dev", of.lanIf, "nodad"]);
  await new Promise((resolve) => setTimeout(resolve, 500));
  await lab.exec(of.netns, [
    ...["ip", "route", "replace", "default", "via", "198.51.100.1"],
    ...["dev", of.lanIf, "onlink"],
  ]);
}

async function ifindex(of: LabNode): Promise<number> {
  const shown = await lab.exec(of.netns, ["ip", "-o", "link", "show", of.lanIf]);
  return Number(shown.stdout.split(":")[0]);
}

interface Disturbed {
  readonly vip: string;
  readonly service: string;
  readonly agents: Map<string, LabProcess>;
  /** The node whose eth0 was disturbed, and which must take the VIP over at the end. */
  readonly node: LabNode;
}

/**
 * The disturbed node becomes a candidate again: once the VIP's holder is killed (its address left to
 * expire, its kernel answering until then) and the third node has stopped, it takes the VIP over,
 * answers for it, and never beside the old holder.
 */
async function takesOverAfterwards(t: ExecutionContext, disturbed: Disturbed): Promise<void> {
  const { vip, service, agents } = disturbed;
  const holderName = await eventually(
    () => cluster.leaseHolder({ name: service }),
    (holder) => holder !== "" && holder !== disturbed.node.name,
    { what: "the VIP moved away", agents: agents.values() },
  );
  await eventually(
    () => readyz(disturbed.node),
    (code) => code === "200",
    { what: `${disturbed.node.name} ready again`, agents: agents.values() },
  );
  const sampler = await lab.sampleAddresses({ ip: vip });
  const wire = await lab.observeWire({ ip: vip });
  const probe = await lab.probe({ target: vip, intervalMs: 20 });
  const third = lab.nodes.find((each) => each.name !== holderName && each !== disturbed.node);
  const thirdAgent = third === undefined ? undefined : agents.get(third.name);
  if (thirdAgent !== undefined) {
    lab.signal(thirdAgent, "SIGTERM");
    await thirdAgent.exited;
  }
  const holderAgent = agents.get(holderName);
  if (holderAgent !== undefined) stop(holderAgent);
  const answered = await probe
    .waitFor((sample) => sample.node === disturbed.node.name, 60_000)
    .catch((error: unknown) => {
      throw new Error(
        `${(error as Error).message}
${cluster.agentLogs(agents.values())}`,
        { cause: error },
      );
    });
  t.is(answered.node, disturbed.node.name);
  t.is(await cluster.leaseHolder({ name: service }), disturbed.node.name);
  await probe.stop();
  t.deepEqual(overlaps(await sampler.stop()), [], "its address came only after the old holder's expired");
  t.deepEqual(doubleAnswers(await wire.stop(), { ip: vip }), [], "no ARP request answered by two MACs");
}

/** Agents on every node with a short address lifetime, and the Service's first holder. */
async function served(t: ExecutionContext, options: { service: string; vip: string }) {
  const agents = agentsOn(t, lab.nodes, () => ["--address-lifetime=6s"]);
  t.teardown(() => cluster.kubectl(["delete", "service", options.service, "--wait=false"]));
  await cluster.kubectl(
    ["apply", "-f", "-"],
    loadBalancerService({ name: options.service, loadBalancerIP: options.vip }),
  );
  const probe = await lab.probe({ target: options.vip, intervalMs: 20 });
  const first = await probe.waitFor((sample) => sample.node !== null, 30_000);
  await probe.stop();
  return { agents, holder: cluster.node(first.node) };
}

test.serial(
  "ten flaps of the holder's eth0: /readyz fails while it is down, and the node is a candidate again",
  async (t) => {
    const vip = "198.51.100.78";
    const service = "flapping";
    const { agents, holder } = await served(t, { service, vip });
    const unready: string[] = [];
    await flap(holder, async () => {
      unready.push(
        await settle(
          () => readyz(holder),
          (code) => code !== "200",
          5000,
        ),
      );
    });
    for (let round = 1; round < 10; round++) {
      await flap(holder);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    await takesOverAfterwards(t, { vip, service, agents, node: holder });
    t.deepEqual(unready, ["503"], "not ready while its packet socket cannot hear the wire");
  },
);

test.serial(
  "the holder's eth0 deleted and created again with a new index: the node is a candidate again",
  async (t) => {
    const vip = "198.51.100.79";
    const service = "recreated";
    const { agents, holder } = await served(t, { service, vip });
    const before = await ifindex(holder);
    await lab.recreateLan(holder);
    await putBack(holder);
    t.not(await ifindex(holder), before, "a new interface index");
    await takesOverAfterwards(t, { vip, service, agents, node: holder });
  },
);
