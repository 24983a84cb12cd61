// A control-plane agent (the static pod) and a services agent (the DaemonSet) on one node, as the
// DaemonSet runs on control-plane nodes too: each owns only the addresses it added (one address mark
// per mode, one record file per mode: address-ownership.ts), so restarting either one leaves the
// other's VIP on the interface, answering. With one mark for both, the restarted agent's sweep took
// the other's VIP away. Both agents run with the kernel's mark (this kernel keeps IFA_PROTO), then
// with the record of older kernels (5.14, 5.15), in one state directory as both pods mount it.
import test, { type ExecutionContext } from "ava";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadBalancerService, prepareCluster, vipdRunArgv, type Cluster } from "../../lab/agents.ts";
import { up, type Lab, type LabNode, type LabProcess } from "../../lab/index.ts";

let lab: Lab;
let cluster: Cluster;
let node: LabNode;
let stateDir: string;

type Mode = "services" | "control-plane";

const CONTROL_PLANE_NAMESPACE = "kube-system";
// The services agent serves on the lab's port; the control-plane agent beside it on the next one.
const HTTP_PORT: Record<Mode, number> = { services: 9559, "control-plane": 9560 };
const READY_TIMEOUT_MS = 60_000;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 1, apiServer: true });
  cluster = await prepareCluster(lab);
  const [first] = lab.nodes;
  if (first === undefined) throw new Error("the lab has no node");
  node = first;
  await cluster.kubectl(["label", "node", node.name, "node-role.kubernetes.io/control-plane="]);
  stateDir = await mkdtemp(path.join(tmpdir(), "vipd-shared-node-"));
});

test.after.always(async () => {
  await lab.down();
  await rm(stateDir, { recursive: true, force: true });
});

/** Starts the node's agent of a mode, with the marking under test; both share one state directory. */
function starter(
  t: ExecutionContext,
  marking: "auto" | "record",
  controlPlaneVip: string,
): (mode: Mode) => LabProcess {
  const running: LabProcess[] = [];
  t.teardown(() => cluster.killAgents(running));
  const common = [`--address-marking=${marking}`, `--state-dir=${stateDir}`];
  return (mode) => {
    const agent =
      mode === "services"
        ? cluster.startAgent(node, common)
        : lab.spawn(
            node.netns,
            vipdRunArgv({
              node,
              kubeconfig: cluster.agentKubeconfig,
              namespace: CONTROL_PLANE_NAMESPACE,
              extraArgs: [
                ...common,
                "--control-plane",
                `--vip=${controlPlaneVip}`,
                // The lab's one API server stands in for this node's own.
                `--health-url=${cluster.api.internalUrl}/livez`,
                `--metrics-addr=127.0.0.1:${HTTP_PORT["control-plane"]}`,
              ],
            }),
            { name: `vipd ${node.name} (control plane)` },
          );
    running.push(agent);
    return agent;
  };
}

async function ready(mode: Mode, agents: Iterable<LabProcess>): Promise<void> {
  await cluster.eventually(
    async () =>
      (
        await lab.exec(
          node.netns,
          [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-m",
            "2",
            "-w",
            "%{http_code}",
            `http://127.0.0.1:${HTTP_PORT[mode]}/readyz`,
          ],
          { allowFailure: true },
        )
      ).stdout,
    (code) => code === "200",
    { what: `the ${mode} agent ready\n${cluster.agentLogs(agents)}`, timeoutMs: READY_TIMEOUT_MS },
  );
}

async function answering(vip: string): Promise<void> {
  const probe = await lab.probe({ target: vip, intervalMs: 20 });
  try {
    await probe.waitFor((sample) => sample.node === node.name, READY_TIMEOUT_MS);
  } finally {
    await probe.stop();
  }
}

for (const marking of ["auto", "record"] as const) {
  test.serial(
    `--address-marking ${marking}: restarting either agent leaves the other's VIP on the interface, answering`,
    async (t) => {
      const vips: Record<Mode, string> = {
        services: marking === "auto" ? "198.51.100.230" : "198.51.100.232",
        "control-plane": marking === "auto" ? "198.51.100.231" : "198.51.100.233",
      };
      const service = `shared-${marking}`;
      await cluster.kubectl(
        ["apply", "-f", "-"],
        loadBalancerService({ name: service, loadBalancerIP: vips.services }),
      );
      t.teardown(async () => {
        await cluster.kubectl(["delete", "service", service, "--wait=false"]);
      });
      const start = starter(t, marking, vips["control-plane"]);
      const agents: Record<Mode, LabProcess> = {
        services: start("services"),
        "control-plane": start("control-plane"),
      };
      for (const mode of ["services", "control-plane"] as const) {
        await ready(mode, Object.values(agents));
        await answering(vips[mode]);
      }

      for (const restarted of ["services", "control-plane"] as const) {
        const other: Mode = restarted === "services" ? "control-plane" : "services";
        const sampler = await lab.sampleAddresses({ ip: vips[other] });
        // Killed, as a container that crashed is; its successor's restart sweep runs at once.
        await cluster.killAgents([agents[restarted]]);
        agents[restarted] = start(restarted);
        await ready(restarted, Object.values(agents));
        await answering(vips[restarted]);
        const samples = await sampler.stop();
        t.true(samples.length > 0);
        t.deepEqual(
          samples.filter((sample) => !sample.present).length,
          0,
          `the ${other} agent's ${vips[other]} stayed on the interface while the ${restarted} agent restarted\n${cluster.agentLogs(Object.values(agents))}`,
        );
        await answering(vips[other]);
        t.true((await lab.addressesOn(node)).has(vips[other]));
      }
      t.true((await lab.addressesOn(node)).has(vips.services));
      t.true((await lab.addressesOn(node)).has(vips["control-plane"]));
    },
  );
}
