// `npm run demo` (as root): the real thing in the lab. Three nodes, a real kube-apiserver, a vipd
// agent per node; a Service gets a VIP the way `kubectl expose --load-balancer-ip` gives it one; the
// client shows who answers; then the holder is stopped politely, and then its whole node dies, and
// each time the demo prints what the client measured. `--keep` leaves everything running.
import { Command } from "commander";
import { outages } from "../lab/analysis.ts";
import { loadBalancerService, prepareCluster, type Cluster } from "../lab/agents.ts";
import { monotonicNs, up, type Lab, type LabProcess, type Probe } from "../lab/index.ts";

const VIP = "198.51.100.10";
const PROBE_TIMEOUT_MS = 200;
const SERVICE = "web";

function say(line: string): void {
  process.stdout.write(`demo: ${line}\n`);
}

function indent(text: string): string {
  return text.trimEnd().replace(/^/gm, "    ");
}

function ms(ns: number): string {
  return `${(ns / 1e6).toFixed(0)} ms`;
}

async function waitForHolderChange(probe: Probe, from: string): Promise<string> {
  const sample = await probe.waitFor((each) => each.node !== null && each.node !== from, 60_000);
  return sample.node ?? "";
}

/** What the client saw around the fault: the gap, and the time from the fault to the new holder. */
async function report(probe: Probe, faultNs: number, newHolder: string): Promise<void> {
  // Requests sent just before the new holder's first answer are counted lost only at their timeout.
  await new Promise((resolve) => setTimeout(resolve, PROBE_TIMEOUT_MS + 100));
  const samples = probe.samples();
  const gap = outages(samples).find((outage) => outage.firstReplyNs > faultNs);
  const firstNew = samples.find((sample) => sample.sentNs >= faultNs && sample.node === newHolder);
  const toNew = firstNew === undefined ? "?" : ms(firstNew.sentNs - faultNs);
  say(
    gap === undefined
      ? `  ${newHolder} answers now; the client lost no request (first answer from it ${toNew} after the fault)`
      : `  ${newHolder} answers now; the client went ${ms(gap.durationNs)} without an answer ` +
          `(${gap.lost} requests lost; first answer from ${newHolder} ${toNew} after the fault)`,
  );
}

async function demo(lab: Lab, cluster: Cluster, keep: boolean): Promise<void> {
  say(
    `lab ${lab.prefix}: ${lab.nodes.map((node) => `${node.name} ${node.ipv4}`).join(", ")}; client ${lab.client.ipv4}`,
  );
  const agents = cluster.startAgents();
  for (const [name, agent] of agents) {
    await agent.waitForLine(/vipd started/, 30_000);
    say(`vipd running on ${name} (pid ${agent.pid})`);
  }
  say(`kubectl apply: Service ${SERVICE}, type LoadBalancer, loadBalancerIP ${VIP}`);
  await cluster.kubectl(["apply", "-f", "-"], loadBalancerService({ name: SERVICE, loadBalancerIP: VIP }));
  const probe = await lab.probe({ target: VIP, intervalMs: 5, timeoutMs: PROBE_TIMEOUT_MS });
  const first = await probe.waitFor((sample) => sample.node !== null, 30_000);
  let holder = first.node ?? "";
  let shown = "";
  for (let attempt = 0; attempt < 50 && !shown.includes(VIP); attempt++) {
    shown = await cluster.kubectl(["get", "svc", SERVICE]);
    if (!shown.includes(VIP)) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  say("kubectl get svc");
  process.stdout.write(`${indent(shown)}\n`);
  say(`client ${lab.client.ipv4} → ${VIP}:8080/udp is answered by ${holder}`);

  say(`SIGTERM to vipd on ${holder} (a rolling update or a drain): it hands over`);
  const politeAt = monotonicNs();
  const leaving = agents.get(holder) as LabProcess;
  lab.signal(leaving, "SIGTERM");
  const afterPolite = await waitForHolderChange(probe, holder);
  await report(probe, politeAt, afterPolite);
  say(`  the ownership Lease names ${await cluster.leaseHolder({ name: SERVICE })}`);
  await leaving.exited;
  const restarted = cluster.startAgent(cluster.node(holder));
  agents.set(holder, restarted);
  await restarted.waitForLine(/heartbeat state changed.*apiUnreachable=false/, 30_000);
  say(`vipd restarted on ${holder}; it does not take the Service back (non-revertive)`);
  holder = afterPolite;

  const dying = cluster.node(holder);
  say(`${holder} dies: its agent is killed and its LAN and management links go down`);
  const deathAt = monotonicNs();
  lab.signal(agents.get(holder) as LabProcess, "SIGKILL");
  await Promise.all([lab.lanDown(dying), lab.cutApi(dying)]);
  const afterDeath = await waitForHolderChange(probe, holder);
  await report(probe, deathAt, afterDeath);
  say(`  the ownership Lease names ${await cluster.leaseHolder({ name: SERVICE })}`);
  await probe.stop();
  say("kubectl get svc");
  process.stdout.write(`${indent(await cluster.kubectl(["get", "svc", SERVICE, "-o", "wide"]))}\n`);

  if (keep) {
    const kubectl = cluster.api.kubectlCommand.join(" ");
    say(`--keep: the lab stays up until Ctrl-C. Try:`);
    process.stdout.write(
      `    ${kubectl} get svc,leases -A\n` +
        `    ${kubectl} get events\n` +
        `    ip netns exec ${lab.client.netns} ping -c1 ${VIP}\n`,
    );
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
  }
}

const options = new Command()
  .name("npm run demo --")
  .description("vipd in the lab: election, status, polite handover and node death, measured")
  .option("--keep", "leave the lab running until Ctrl-C and print how to use kubectl against it", false)
  .exitOverride((error) => {
    process.exit(error.exitCode);
  })
  .parse(process.argv)
  .opts<{ keep: boolean }>();

// The lab passes on the API server's own log too; the demo shows only what the lab itself says.
const SERVER_LOG = /^(kube-apiserver|etcd|uds-proxy): /;
const lab = await up({
  nodes: 3,
  apiServer: true,
  log: (line) => {
    if (!SERVER_LOG.test(line)) say(line);
  },
});
try {
  await demo(lab, await prepareCluster(lab), options.keep);
} finally {
  await lab.down();
  say("lab torn down");
}
