// vipd agents in the lab against the real API server: one node wins a Service, puts its VIP on the
// wire and publishes status; on SIGTERM it hands over and another node serves — and at no moment
// do two nodes hold or claim the VIP.
import test from "ava";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { doubleAnswers, overlaps } from "../lab/analysis.ts";
import { up, type Lab, type LabProcess } from "../lab/index.ts";

const VIP = "198.51.100.200";
const VIPD = new URL("../../cmd/vipd.ts", import.meta.url).pathname;

let lab: Lab;
let kubeconfig: string;

async function kubectl(...args: string[]): Promise<string> {
  const result = await lab.api?.kubectl(args);
  if (result === undefined || result.code !== 0)
    throw new Error(`kubectl ${args.join(" ")}: ${result?.stderr ?? "no API server"}`);
  return result.stdout;
}

function leaseHolder(): Promise<string> {
  return kubectl(
    "get",
    "lease",
    "-n",
    "vipd-system",
    "vipd-svc-default.web",
    "-o",
    "jsonpath={.spec.holderIdentity}",
  );
}

function startAgent(node: Lab["nodes"][number]): LabProcess {
  return lab.spawn(
    node.netns,
    [
      process.execPath,
      VIPD,
      "run",
      `--node-name=${node.name}`,
      `--kubeconfig=${kubeconfig}`,
      "--metrics-addr=127.0.0.1:9559",
      "--log-format=text",
    ],
    { name: `vipd ${node.name}` },
  );
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
  const api = lab.api;
  if (api === undefined) throw new Error("the lab came up without its API server");
  kubeconfig = await api.adminKubeconfig({
    server: api.internalUrl,
    path: join(api.workDir, "agents.kubeconfig"),
  });
  const objects = join(api.workDir, "objects.yaml");
  await writeFile(
    objects,
    [
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: vipd-system}",
      ...lab.nodes.map((node) => `apiVersion: v1\nkind: Node\nmetadata: {name: ${node.name}}`),
      `apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec: {type: LoadBalancer, loadBalancerIP: ${VIP}, ports: [{port: 8080, protocol: UDP}]}`,
    ].join("\n---\n"),
  );
  await kubectl("apply", "-f", objects);
});

test.after.always(async () => {
  await lab.down();
});

test.serial(
  "one node wins the Service, serves its VIP and publishes it; SIGTERM hands it over",
  async (t) => {
    const sampler = await lab.sampleAddresses({ ip: VIP });
    const wire = await lab.observeWire({ ip: VIP });
    const agents = new Map(lab.nodes.map((node) => [node.name, startAgent(node)]));
    t.teardown(() => {
      for (const agent of agents.values()) {
        // An agent stopped by the test has exited already; only the others are left to end.
        try {
          lab.signal(agent, "SIGKILL");
        } catch {
          continue;
        }
      }
    });
    const probe = await lab.probe({ target: VIP, intervalMs: 10 });
    const first = await probe.waitFor((sample) => sample.node !== null, 30_000);
    const holder = first.node ?? "";

    const lease = await leaseHolder();
    t.is(lease, holder, "the node that answers is the one the ownership Lease names");
    await t.notThrowsAsync(async () => {
      for (let attempt = 0; attempt < 100; attempt++) {
        const status = await kubectl(
          "get",
          "svc",
          "web",
          "-o",
          "jsonpath={.status.loadBalancer.ingress[0].ip} {.status.loadBalancer.ingress[0].ipMode} {.metadata.annotations.vipd\\.io/holder}",
        );
        if (status === `${VIP} VIP ${holder}`) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error("status.loadBalancer.ingress and vipd.io/holder never showed the holder");
    });

    const leaving = agents.get(holder);
    if (leaving === undefined) throw new Error(`no agent for ${holder}`);
    lab.signal(leaving, "SIGTERM");
    t.is((await leaving.exited).code, 0, "a polite stop exits cleanly");
    const second = await probe.waitFor((sample) => sample.node !== null && sample.node !== holder, 30_000);
    t.not(second.node, holder);
    const newHolder = await leaseHolder();
    t.is(newHolder, second.node ?? "");

    await probe.stop();
    const frames = await wire.stop();
    const held = await sampler.stop();
    t.deepEqual(overlaps(held), [], "no two nodes held the VIP at the same moment");
    t.deepEqual(doubleAnswers(frames, { ip: VIP }), [], "no ARP request was answered by two MACs");
    t.true(
      frames.some((frame) => frame.kind === "arp-request" && frame.senderIp === VIP),
      "the new holder announced with gratuitous ARP",
    );
  },
);
