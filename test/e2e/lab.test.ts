// The lab itself: it comes up and goes away without a trace (also when its process is killed), it
// carries real traffic and real ARP/NDP, its observers report what happened on the right clock, and
// its faults do what the agent's tests rely on.
import test from "ava";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { claimRuns, doubleAnswers, holdings, outages, overlaps, servedBy } from "../../lab/analysis.ts";
import {
  monotonicNs,
  namespacesWithPrefix,
  sweepStale,
  up,
  type Lab,
  type LabNode,
} from "../../lab/index.ts";

const VIP = "198.51.100.200";
const VIP6 = "2001:db8:1::200";
const LAB_MODULE = new URL("../../lab/index.ts", import.meta.url).pathname;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = monotonicNs() + timeoutMs * 1e6;
  while (!condition()) {
    if (monotonicNs() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The state letter of /proc/<pid>/stat; comm may hold spaces and parentheses, so after the last ')'. */
function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

/** A Node process that brings up a lab of two nodes, reports it, then waits to be killed or throws. */
function labInChild(then: "wait" | "throw" = "wait"): Promise<{
  child: ReturnType<typeof spawn>;
  prefix: string;
  pids: number[];
  exited: Promise<{ code: number | null; signal: string | null }>;
  stderr: () => string;
}> {
  const script = `
    import { up } from ${JSON.stringify(LAB_MODULE)};
    const lab = await up({ nodes: 2 });
    process.stdout.write(JSON.stringify({ prefix: lab.prefix, pids: lab.pids() }) + "\\n");
    setInterval(() => undefined, 1000);
    if (${JSON.stringify(then)} === "throw") setTimeout(() => { throw new Error("a bug in a test"); }, 100);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (data: Buffer) => (stderr += data.toString()));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      resolve({ code, signal });
    });
  });
  return new Promise((resolve, reject) => {
    child.stdout.once("data", (data: Buffer) => {
      resolve({
        child,
        exited,
        stderr: () => stderr,
        ...(JSON.parse(data.toString()) as { prefix: string; pids: number[] }),
      });
    });
    void exited.then(({ code, signal }) => {
      reject(new Error(`the lab's process ended before reporting (${code ?? signal ?? ""}):\n${stderr}`));
    });
  });
}

function nodes(lab: Lab): [LabNode, LabNode, LabNode] {
  const [node1, node2, node3] = lab.nodes;
  if (node1 === undefined || node2 === undefined || node3 === undefined)
    throw new Error("three nodes expected");
  return [node1, node2, node3];
}

let lab: Lab;

test.before(async () => {
  if (process.getuid?.() !== 0)
    throw new Error("the lab tests create network namespaces and must run as root");
  lab = await up({ nodes: 3, apiServer: true });
});

test.after.always(async () => {
  await lab.down();
});

test.serial("nodes have the planned names, addresses and MACs, and their links are up", async (t) => {
  t.deepEqual(
    lab.nodes.map((node) => [node.name, node.ipv4, node.ipv6, node.mgmtIpv4, node.mac]),
    [
      ["node1", "198.51.100.11", "2001:db8:1::11", "203.0.113.11", "02:00:00:00:00:0b"],
      ["node2", "198.51.100.12", "2001:db8:1::12", "203.0.113.12", "02:00:00:00:00:0c"],
      ["node3", "198.51.100.13", "2001:db8:1::13", "203.0.113.13", "02:00:00:00:00:0d"],
    ],
  );
  const [node1] = nodes(lab);
  const eth0 = (await lab.exec(node1.netns, ["ip", "-o", "addr", "show", "dev", "eth0"])).stdout;
  t.regex(eth0, /inet 198\.51\.100\.11\/24/);
  t.regex(eth0, /inet6 2001:db8:1::11\/64/);
  t.notRegex(eth0, /tentative/);
  const links = (await lab.exec(node1.netns, ["ip", "-o", "link", "show"])).stdout;
  t.regex(links, /eth0@\S+: <[^>]*LOWER_UP[^>]*>.*link\/ether 02:00:00:00:00:0b/);
  t.regex(links, /mgmt0@\S+: <[^>]*LOWER_UP/);
  t.is(namespacesWithPrefix(lab.prefix).length, 6);
});

test.serial("an address moved by hand: the probe, the wire and the address sampler all see it", async (t) => {
  const [node1, node2] = nodes(lab);
  const wire = await lab.observeWire({ ip: VIP });
  const sampler = await lab.sampleAddresses({ ip: VIP });
  await lab.exec(node1.netns, ["ip", "addr", "add", `${VIP}/32`, "dev", "eth0"]);
  await lab.exec(node1.netns, ["ip", "addr", "add", `${VIP6}/128`, "dev", "eth0", "nodad"]);
  const probe = await lab.probe({ target: VIP });
  const probe6 = await lab.probe({ target: VIP6, protocol: "tcp" });
  await probe.waitFor((sample) => sample.node === "node1", 5000);
  await probe6.waitFor((sample) => sample.node === "node1", 5000);

  await lab.exec(node1.netns, ["ip", "addr", "del", `${VIP}/32`, "dev", "eth0"]);
  await lab.exec(node2.netns, ["ip", "addr", "add", `${VIP}/32`, "dev", "eth0"]);
  const movedNs = monotonicNs();
  // Unsolicited: the client learns node2's MAC only because node2 announces it.
  await lab.exec(node2.netns, ["arping", "-U", "-c", "1", "-I", "eth0", "-s", VIP, VIP]);
  await probe.waitFor((sample) => sample.node === "node2", 10_000);

  const samples = await probe.stop();
  const samples6 = await probe6.stop();
  const frames = await wire.stop();
  const held = await sampler.stop();

  t.deepEqual(
    servedBy(samples).map((run) => run.node),
    ["node1", "node2"],
  );
  t.true(
    outages(samples, { fromNs: movedNs }).every((outage) => outage.after === "node2"),
    "any gap ends with node2",
  );
  t.deepEqual(
    servedBy(samples6).map((run) => run.node),
    ["node1"],
  );

  t.deepEqual(
    claimRuns(frames, VIP).map((run) => run.mac),
    [node1.mac, node2.mac],
  );
  t.true(
    frames.some(
      (frame) => frame.kind === "arp-request" && frame.senderMac === node2.mac && frame.senderIp === VIP,
    ),
    "node2's gratuitous ARP is on the wire",
  );
  t.deepEqual(doubleAnswers(frames, { ip: VIP }), []);

  // The wire and the probe agree on the clock: the client asks for the VIP's MAC while the first
  // request waits, and node1 answers before the first reply reaches the client. The margin covers
  // only the clock offset's measurement, not the machine's speed.
  const [first] = samples;
  const asked = frames.find((frame) => frame.kind === "arp-request" && frame.senderMac === lab.client.mac);
  const answered = frames.find((frame) => frame.kind === "arp-reply" && frame.senderMac === node1.mac);
  if (first?.rttUs == null || asked === undefined || answered === undefined)
    throw new Error(`no first exchange: ${JSON.stringify({ first, frames })}`);
  const marginNs = 1e6;
  t.true(asked.timeNs > first.sentNs - marginNs, "the ARP request follows the first probe request");
  t.true(asked.timeNs <= answered.timeNs);
  t.true(answered.timeNs < first.sentNs + first.rttUs * 1000 + marginNs, "the reply precedes the probe's");

  t.deepEqual(
    holdings(held).map((holding) => holding.node),
    ["node1", "node2"],
  );
  t.deepEqual(overlaps(held), []);

  await lab.exec(node2.netns, ["ip", "addr", "del", `${VIP}/32`, "dev", "eth0"]);
  await lab.exec(node1.netns, ["ip", "addr", "del", `${VIP6}/128`, "dev", "eth0"]);
});

test.serial("two nodes holding one address: the analysis reports it", async (t) => {
  const [node1, node2] = nodes(lab);
  const wire = await lab.observeWire({ ip: VIP });
  const sampler = await lab.sampleAddresses({ ip: VIP, intervalMs: 2 });
  await lab.exec(node1.netns, ["ip", "addr", "add", `${VIP}/32`, "dev", "eth0"]);
  await lab.exec(node2.netns, ["ip", "addr", "add", `${VIP}/32`, "dev", "eth0"]);
  await until("both nodes were sampled holding it", () => overlaps(sampler.samples()).length > 0);
  // The client has no entry for the VIP any more, so it asks, and both kernels answer.
  await lab.exec(lab.client.netns, ["ip", "neigh", "flush", "to", VIP]);
  const probe = await lab.probe({ target: VIP });
  await probe.waitFor((sample) => sample.node !== null, 5000);
  await probe.stop();
  await until("two answers are on the wire", () => doubleAnswers(wire.frames(), { ip: VIP }).length > 0);
  const frames = await wire.stop();
  const held = await sampler.stop();
  t.deepEqual(
    doubleAnswers(frames, { ip: VIP }).map((double) => double.macs),
    [[node1.mac, node2.mac]],
  );
  t.deepEqual(
    overlaps(held).map((overlap) => overlap.nodes),
    [["node1", "node2"]],
  );
  for (const node of [node1, node2])
    await lab.exec(node.netns, ["ip", "addr", "del", `${VIP}/32`, "dev", "eth0"]);
  await lab.exec(lab.client.netns, ["ip", "neigh", "flush", "to", VIP]);
});

test.serial("lanDown takes the carrier from the node's eth0, lanUp gives it back", async (t) => {
  const [node1] = nodes(lab);
  const eth0 = async () => (await lab.exec(node1.netns, ["ip", "-o", "link", "show", "eth0"])).stdout;
  const probe = await lab.probe({ target: node1.ipv4 });
  await probe.waitFor((sample) => sample.node === "node1", 5000);
  await lab.lanDown(node1);
  t.regex(await eth0(), /NO-CARRIER/);
  t.regex(await eth0(), /<[^>]*\bUP\b/, "still administratively up");
  await probe.waitFor((sample) => sample.node === null, 5000);
  await lab.lanUp(node1);
  t.notRegex(await eth0(), /NO-CARRIER/);
  await probe.waitFor((sample) => sample.node === "node1", 10_000);
  const samples = await probe.stop();
  t.deepEqual(
    outages(samples).map((outage) => [outage.before, outage.after]),
    [["node1", "node1"]],
  );
});

test.serial("the API server answers over the management network, and not across a cut", async (t) => {
  const [node1, node2] = nodes(lab);
  const api = lab.api;
  if (api === undefined) throw new Error("the lab came up without its API server");
  const readyz = async (node: LabNode) => {
    const argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2", "--cacert", api.caPath];
    return (await lab.exec(node.netns, [...argv, `${api.internalUrl}/readyz`], { allowFailure: true }))
      .stdout;
  };
  t.is(api.internalUrl, "https://203.0.113.1:6443");
  t.is(await readyz(node1), "200");
  await lab.cutApi(node1);
  t.is(await readyz(node1), "000", "no HTTP answer at all");
  t.is(await readyz(node2), "200", "the other nodes keep their path");
  await lab.healApi(node1);
  t.is(await readyz(node1), "200");

  const before = api.pid;
  await lab.restartApiServer();
  t.not(api.pid, before);
  t.false(alive(before));
  t.is(await readyz(node1), "200");
});

test.serial("SIGSTOP freezes a process, SIGCONT thaws it, SIGKILL ends it", async (t) => {
  const [node1] = nodes(lab);
  const sleeper = lab.spawn(node1.netns, ["sleep", "600"], { name: "sleeper" });
  lab.signal(sleeper, "SIGSTOP");
  await until("stopped", () => processState(sleeper.pid) === "T");
  t.is(processState(sleeper.pid), "T");
  lab.signal(sleeper, "SIGCONT");
  await until("running again", () => processState(sleeper.pid) !== "T");
  // D (uninterruptible wait, e.g. paging in under load) is as alive as S or R; only T, Z or X would be wrong.
  t.regex(processState(sleeper.pid), /^[SRD]$/);
  lab.signal(sleeper, "SIGKILL");
  t.deepEqual(await sleeper.exited, { code: null, signal: "SIGKILL" });
  t.throws(
    () => {
      lab.signal(sleeper, "SIGCONT");
    },
    { message: /not running/ },
  );
});

test.serial("down() leaves no namespace and no process behind, and may be called again", async (t) => {
  const small = await up({ nodes: 2 });
  const stopped = small.spawn(small.nodes[0]?.netns ?? "", ["sleep", "600"]);
  small.signal(stopped, "SIGSTOP");
  const pids = small.pids();
  t.is(pids.length, 3);
  t.is(namespacesWithPrefix(small.prefix).length, 5);
  await small.down();
  await small.down();
  t.deepEqual(namespacesWithPrefix(small.prefix), []);
  t.deepEqual(pids.filter(alive), []);
  t.deepEqual(small.pids(), []);
  t.throws(() => small.spawn(small.client.netns, ["true"]), { message: /is down/ });
});

test.serial("a host plugged into the LAN answers there, and goes with the lab", async (t) => {
  const small = await up({ nodes: 1 });
  const host = await small.addLanHost({
    name: "host",
    mac: "02:00:00:00:00:fe",
    addresses: ["198.51.100.3/24"],
  });
  t.is(namespacesWithPrefix(small.prefix).length, 5);
  const asked = await small.exec(small.client.netns, [
    "arping",
    "-c",
    "1",
    "-w",
    "2",
    "-I",
    "eth0",
    "198.51.100.3",
  ]);
  t.true(asked.stdout.toLowerCase().includes(host.mac), "its kernel answered the client over the LAN bridge");
  await small.down();
  t.deepEqual(namespacesWithPrefix(small.prefix), []);
});

for (const [signal, code] of [
  ["SIGTERM", 143],
  ["SIGINT", 130],
] as const) {
  test.serial(`a process ended by ${signal} mid-run tears its lab down on the way out`, async (t) => {
    const run = await labInChild();
    t.is(namespacesWithPrefix(run.prefix).length, 5);
    run.child.kill(signal);
    t.deepEqual(await run.exited, { code, signal: null });
    t.deepEqual(namespacesWithPrefix(run.prefix), []);
    await until("its processes are gone", () => run.pids.every((pid) => !alive(pid)));
  });
}

test.serial("an uncaught exception tears the lab down, and the process still fails", async (t) => {
  const run = await labInChild("throw");
  t.deepEqual(await run.exited, { code: 1, signal: null });
  t.regex(run.stderr(), /a bug in a test/);
  t.deepEqual(namespacesWithPrefix(run.prefix), []);
  await until("its processes are gone", () => run.pids.every((pid) => !alive(pid)));
});

test.serial("what a SIGKILLed run leaves is swept by the next one", async (t) => {
  const run = await labInChild();
  run.child.kill("SIGKILL");
  t.deepEqual(await run.exited, { code: null, signal: "SIGKILL" });
  t.is(namespacesWithPrefix(run.prefix).length, 5, "nothing could clean up");
  const swept = sweepStale();
  t.deepEqual(swept.filter((netns) => netns.startsWith(`${run.prefix}-`)).sort(), [
    `${run.prefix}-api`,
    `${run.prefix}-client`,
    `${run.prefix}-lan`,
    `${run.prefix}-n1`,
    `${run.prefix}-n2`,
  ]);
  t.deepEqual(namespacesWithPrefix(run.prefix), []);
  t.deepEqual(namespacesWithPrefix(lab.prefix).length, 6, "a live run's namespaces are left alone");
  await until("its processes are gone", () => run.pids.every((pid) => !alive(pid)));
});
