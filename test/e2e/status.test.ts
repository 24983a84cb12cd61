// What an operator reads on a Service, and what is left when vipd goes (issue 18), with two real
// agents running as the ServiceAccount of manifests/rbac.yaml, under its admission policy: the
// vipd.io/Announced condition in `kubectl get svc -o yaml` names the node; a polite stop with another
// agent left hands over and keeps the Service published; the last polite stop takes back EXTERNAL-IP,
// the holder annotation and the condition; `vipd cleanup` refuses while an agent runs and, once none
// does, removes what a killed agent left (status, annotation, condition, Leases).
import test from "ava";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { V1Service } from "@kubernetes/client-node";
import {
  AGENT_NAMESPACE,
  loadBalancerService,
  manifestRbacKubeconfig,
  prepareCluster,
  vipdProgram,
  type Cluster,
} from "../../lab/agents.ts";
import { up, type Lab, type LabProcess } from "../../lab/index.ts";

let lab: Lab;
let cluster: Cluster;
const VIP = "198.51.100.61";

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 2, apiServer: true });
  cluster = await prepareCluster(lab, { kubeconfig: manifestRbacKubeconfig });
});

test.after.always(async () => {
  await lab.down();
});

async function web(): Promise<V1Service> {
  return JSON.parse(await cluster.kubectl(["get", "service", "web", "-o", "json"])) as V1Service;
}

interface Shown {
  readonly ingress: string;
  readonly holder: string;
  /** "status reason: message" of vipd.io/Announced, or "". */
  readonly condition: string;
}

async function shown(): Promise<Shown> {
  const service = await web();
  const condition = service.status?.conditions?.find((each) => each.type === "vipd.io/Announced");
  return {
    ingress: (service.status?.loadBalancer?.ingress ?? []).map((each) => each.ip).join(","),
    holder: service.metadata?.annotations?.["vipd.io/holder"] ?? "",
    condition: condition === undefined ? "" : `${condition.status} ${condition.reason}: ${condition.message}`,
  };
}

async function vipdLeases(): Promise<string[]> {
  const names = await cluster.kubectl([
    ...["get", "lease", "-n", AGENT_NAMESPACE, "-l", "vipd.io/component"],
    ...["-o", "jsonpath={.items[*].metadata.name}"],
  ]);
  return names.split(" ").filter((name) => name !== "");
}

async function cleanup(...args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [
      vipdProgram(),
      "cleanup",
      `--kubeconfig=${cluster.api.kubeconfigPath}`,
      `--namespace=${AGENT_NAMESPACE}`,
      ...args,
    ]);
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? -1, output: (failed.stdout ?? "") + (failed.stderr ?? "") };
  }
}

const NOTHING: Shown = { ingress: "", holder: "", condition: "" };

test.serial("condition, handover, the last polite stop, and vipd cleanup", async (t) => {
  const agents = cluster.startAgents();
  await cluster.kubectl(["apply", "-f", "-"], loadBalancerService({ name: "web", loadBalancerIP: VIP }));
  const first = await cluster.eventually(shown, (seen) => seen.ingress === VIP && seen.condition !== "", {
    what: "web published with its condition",
  });
  const holder = first.holder;
  t.true(agents.has(holder), `the holder annotation names an agent: ${holder}`);
  t.regex(
    first.condition,
    new RegExp(`^True Announced: ${VIP.replaceAll(".", "\\.")} announced by node ${holder} on eth0`),
  );
  const yaml = await cluster.kubectl(["get", "svc", "web", "-o", "yaml"]);
  t.true(yaml.includes("type: vipd.io/Announced"), yaml);
  t.true(yaml.includes(`announced by node ${holder}`), yaml);

  // A polite stop with another agent left: it takes over and the Service stays published.
  const other = [...agents.keys()].find((name) => name !== holder) ?? "";
  await cluster.stopAgents([agents.get(holder) as LabProcess]);
  const moved = await cluster.eventually(
    shown,
    (seen) => seen.holder === other && seen.condition.includes(`node ${other}`),
    {
      what: `web published by ${other}`,
    },
  );
  t.is(moved.ingress, VIP);

  // The last agent is running: cleanup refuses and changes nothing.
  const refused = await cleanup();
  t.not(refused.code, 0, refused.output);
  t.regex(refused.output, /agents are running/);
  t.is((await shown()).holder, other);

  // The last polite stop takes back all it published.
  await cluster.stopAgents([agents.get(other) as LabProcess]);
  t.deepEqual(await shown(), NOTHING);

  // A killed agent leaves it all behind; cleanup, once it has seen no heartbeat renewed, removes it.
  const survivor = cluster.startAgent(cluster.node(holder));
  await cluster.eventually(shown, (seen) => seen.holder === holder && seen.condition.startsWith("True"), {
    what: "web published again",
  });
  await cluster.killAgents([survivor]);
  const left = await shown();
  t.is(left.ingress, VIP);
  t.true((await vipdLeases()).length > 0);

  const dry = await cleanup("--dry-run");
  t.is(dry.code, 0, dry.output);
  t.regex(
    dry.output,
    new RegExp(
      `Service default/web: would remove EXTERNAL-IP ${VIP.replaceAll(".", "\\.")}, condition vipd\\.io/Announced, annotation vipd\\.io/holder=${holder}`,
    ),
  );
  t.regex(dry.output, /nothing changed/);
  t.deepEqual(await shown(), left, "a dry run changes nothing");

  const done = await cleanup();
  t.is(done.code, 0, done.output);
  t.regex(done.output, /cleaned up 1 Service\(s\)/);
  t.deepEqual(await shown(), NOTHING);
  t.deepEqual(await vipdLeases(), []);
});
