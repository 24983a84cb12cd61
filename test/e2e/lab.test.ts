// The lab itself: it comes up and goes away without a trace, carries real traffic and real ARP,
// observes it faithfully, and injects the faults the agent's tests rely on.
import test from "ava";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { doubleClaims, overlaps, servedBy } from "../lab/analysis.ts";
import { monotonicMs, remainingNamespaces, up, type Lab } from "../lab/index.ts";

const VIP = "198.51.100.200";
const VIP6 = "2001:db8:1::200";

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes killed by a parent that then exits are reaped by init a moment later. */
async function gone(pids: readonly number[]): Promise<number[]> {
  const deadline = Date.now() + 5000;
  while (pids.some(processAlive) && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  return pids.filter(processAlive);
}

function processState(pid: number): string {
  // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces, so read after the last ')'.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

async function linkState(lab: Lab, netns: string, ifname: string): Promise<string> {
  return (await lab.exec(netns, ["ip", "-o", "link", "show", ifname])).stdout;
}

let lab: Lab;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
});

test.after.always(async () => {
  await lab.down();
});

test.serial("nodes, client and API namespace exist with the planned addresses", async (t) => {
  t.deepEqual(
    lab.nodes.map((node) => [node.name, node.ipv4, node.mac]),
    [
      ["node1", "198.51.100.11", "02:00:00:00:00:0b"],
      ["node2", "198.51.100.12", "02:00:00:00:00:0c"],
      ["node3", "198.51.100.13", "02:00:00:00:00:0d"],
    ],
  );
  const addresses = (await lab.exec(lab.nodes[0]?.netns ?? "", ["ip", "-o", "addr", "show", "dev", "eth0"]))
    .stdout;
  t.regex(addresses, /198\.51\.100\.11\/24/);
  t.regex(addresses, /2001:db8:1::11\/64/);
});

test.serial("the client reaches an address added by hand, and the probe names the node", async (t) => {
  const [node1, node2] = lab.nodes;
  if (node1 === undefined || node2 === undefined) throw new Error("three nodes expected");
  await lab.exec(node1.netns, ["ip", "addr", "add", `${VIP}/32`, "dev", "eth0"]);
  await lab.exec(node1.netns, ["ip", "addr", "add", `${VIP6}/128`, "dev", "eth0", "nodad"]);
  const wire = await lab.observeWire({ ip: VIP });
  const sampler = await lab.sampleAddresses({ ip: VIP });
  const probe = await lab.probe({ target: VIP, intervalMs: 10 });
  const probe6 = await lab.probe({ target: VIP6, intervalMs: 10 });
  await probe.waitFor((sample) => sample.node === "node1", 5000);
  await probe6.waitFor((sample) => sample.node === "node1", 5000);

  await lab.exec(node1.netns, ["ip", "addr", "del", `${VIP}/32`, "dev", "eth0"]);
  await lab.exec(node2.netns, ["ip", "addr", "add", `${VIP}/32`, "dev", "eth0"]);
  await lab.exec(node2.netns, ["arping", "-U", "-c", "2", "-w", "3", "-I", "eth0", "-s", VIP, VIP], {
    allowFailure: true,
  });
  await probe.waitFor((sample) => sample.node === "node2", 10_000);
  const end = monotonicMs();

  const samples = await probe.stop();
  await probe6.stop();
  const frames = await wire.stop();
  const held = await sampler.stop();
  t.deepEqual(
    servedBy(samples).map((run) => run.node),
    ["node1", "node2"],
  );
  t.true(
    frames.some((frame) => frame.senderMac === node2.mac && frame.senderIp === VIP),
    "the observer saw node2 announce the address",
  );
  t.true(
    frames.some((frame) => frame.senderMac === node1.mac && frame.kind === "arp-reply"),
    "and node1 answer for it earlier",
  );
  t.deepEqual(doubleClaims(frames, VIP), []);
  t.deepEqual(
    held.filter((sample) => sample.present).map((sample) => sample.node),
    ["node1", "node2"],
  );
  t.deepEqual(overlaps(held, end), []);
  await lab.exec(node2.netns, ["ip", "addr", "del", `${VIP}/32`, "dev", "eth0"]);
  await lab.exec(node1.netns, ["ip", "addr", "del", `${VIP6}/128`, "dev", "eth0"]);
});

test.serial("LAN carrier loss and recovery as the node sees it", async (t) => {
  const [node1] = lab.nodes;
  if (node1 === undefined) throw new Error("three nodes expected");
  await lab.lanDown(node1);
  t.regex(await linkState(lab, node1.netns, "eth0"), /NO-CARRIER/);
  await lab.lanUp(node1);
  t.notRegex(await linkState(lab, node1.netns, "eth0"), /NO-CARRIER/);
});

test.serial(
  "the API server is reachable over the management network, and not once the link is cut",
  async (t) => {
    const [node1, node2] = lab.nodes;
    if (node1 === undefined || node2 === undefined || lab.api === undefined)
      throw new Error("lab incomplete");
    const curl = (netns: string) =>
      lab.exec(
        netns,
        [
          "curl",
          "-s",
          "-o",
          "/dev/null",
          "-w",
          "%{http_code}",
          "-m",
          "2",
          "--cacert",
          lab.api?.caPath ?? "",
          `${lab.api?.internalUrl ?? ""}/readyz`,
        ],
        { allowFailure: true },
      );
    t.is((await curl(node1.netns)).stdout, "200");
    await lab.cutApi(node1);
    t.not((await curl(node1.netns)).stdout, "200");
    t.is((await curl(node2.netns)).stdout, "200", "the other nodes keep their path");
    await lab.healApi(node1);
    t.is((await curl(node1.netns)).stdout, "200");
    const before = lab.api.pid;
    await lab.restartApiServer();
    t.not(lab.api.pid, before);
    t.is((await curl(node1.netns)).stdout, "200");
  },
);

test.serial("SIGSTOP and SIGCONT freeze and thaw a process", async (t) => {
  const sleeper = lab.spawn(lab.nodes[0]?.netns ?? "", ["sleep", "600"], { name: "sleeper" });
  lab.signal(sleeper, "SIGSTOP");
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(processState(sleeper.pid), "T");
  lab.signal(sleeper, "SIGCONT");
  await new Promise((resolve) => setTimeout(resolve, 50));
  t.is(processState(sleeper.pid), "S");
  lab.signal(sleeper, "SIGKILL");
  t.is((await sleeper.exited).signal, "SIGKILL");
});

test.serial("down() leaves no namespace and no process behind", async (t) => {
  const small = await up({ nodes: 2 });
  t.teardown(() => small.down());
  const pids = small.pids();
  t.true(pids.length >= 2);
  t.is(remainingNamespaces(small.prefix).length, 5, "lan, api, client and two nodes");
  await small.down();
  t.deepEqual(remainingNamespaces(small.prefix), []);
  t.deepEqual(await gone(pids), []);
});

test.serial("a test process killed by SIGTERM mid-run still tears its lab down", async (t) => {
  const script = `
    import { up } from ${JSON.stringify(new URL("../lab/index.ts", import.meta.url).pathname)};
    const lab = await up({ nodes: 2 });
    process.stdout.write(JSON.stringify({ prefix: lab.prefix, pids: lab.pids() }) + "\\n");
    setInterval(() => undefined, 1000);
  `;
  const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const started = await new Promise<{ prefix: string; pids: number[] }>((resolve, reject) => {
    child.stdout.once("data", (data: Buffer) => {
      resolve(JSON.parse(data.toString()) as { prefix: string; pids: number[] });
    });
    child.once("exit", (code) => {
      reject(new Error(`child exited early (${code})`));
    });
  });
  t.is(remainingNamespaces(started.prefix).length, 5);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
  t.deepEqual(remainingNamespaces(started.prefix), []);
  t.deepEqual(await gone(started.pids), []);
});
