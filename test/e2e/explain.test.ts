// `vipd explain` as a person runs it when a VIP does not answer: the built program, with an admin
// kubeconfig, against three agents (running as manifests/rbac.yaml's ServiceAccount) and the real
// API server with vipd's CRDs and a pool. A served Service names its holder, address and pool; an
// address outside the pool and an annotation that holds no address say why and what to do; a
// Service with externalTrafficPolicy Local and no endpoints names each node's reason; and the same
// report through kubectl's plugin mechanism, `kubectl vipd explain`, with kubectl-vipd on PATH.
import test from "ava";
import { execFile } from "node:child_process";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { KUBECTL_PLUGIN } from "../../scripts/build.ts";
import {
  loadBalancerService,
  manifestRbacKubeconfig,
  prepareCluster,
  vipdProgram,
  type Cluster,
} from "../../lab/agents.ts";
import { up, type Lab } from "../../lab/index.ts";
import type { ExplainReport } from "../../src/explain/explain.ts";
import { NODE_FLAGS } from "../../src/cli/node-flags.ts";

let lab: Lab;
let cluster: Cluster;
let pluginDir: string;

const POOL = ["198.51.100.240-198.51.100.244"];
const OUTSIDE = "198.51.100.200";
const LOCAL_VIP = "198.51.100.243";

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  const [command = "", ...args] = argv;
  return new Promise((resolve) => {
    execFile(command, args, { env, encoding: "utf8", timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function vipdExplain(service: string, ...flags: string[]): Promise<Run> {
  return run([
    process.execPath,
    ...NODE_FLAGS,
    vipdProgram(),
    "explain",
    service,
    `--kubeconfig=${cluster.api.kubeconfigPath}`,
    ...flags,
  ]);
}

/** The text with every run of white space as one space: a long sentence is wrapped on the screen. */
function flat(text: string): string {
  return text.replace(/\s+/g, " ");
}

async function report(service: string): Promise<ExplainReport> {
  const result = await vipdExplain(service, "--output=json");
  if (result.code !== 0 && result.code !== 3)
    throw new Error(`vipd explain: ${result.code} ${result.stderr}`);
  return JSON.parse(result.stdout) as ExplainReport;
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
  cluster = await prepareCluster(lab, { kubeconfig: manifestRbacKubeconfig });
  await cluster.kubectl(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "vipd.io/v1alpha1",
      kind: "VIPPool",
      metadata: { name: "lan" },
      spec: { addresses: POOL },
    }),
  );
  cluster.startAgents();
  // kubectl finds a plugin by its file name on PATH: kubectl-vipd, as npm links package.json's bin.
  pluginDir = await mkdtemp(join(tmpdir(), "vipd-explain-plugin-"));
  await symlink(KUBECTL_PLUGIN, join(pluginDir, "kubectl-vipd"));
});

test.after.always(async () => {
  await lab.down();
  await rm(pluginDir, { recursive: true, force: true });
});

test.serial(
  "a served Service: exit 0, the holder, the address and the pool with its free count",
  async (t) => {
    await cluster.kubectl(["apply", "-f", "-"], loadBalancerService({ name: "served" }));
    const served = await cluster.eventually(
      () => report("default/served"),
      (each) => each.served && each.status.ingress.length > 0,
      { what: "explain reports default/served served" },
    );
    const [address] = served.addresses;
    const holder = await cluster.addressHolder(address?.address ?? "");
    t.is(address?.address, "198.51.100.240");
    t.is(address?.lease?.holder, holder);
    t.is(address?.pool, "lan");
    t.deepEqual(
      served.nodes.map((node) => [node.name, node.candidate]),
      lab.nodes.map((node) => [node.name, true]),
    );

    const text = await vipdExplain("default/served");
    t.is(text.code, 0, text.stderr);
    const lines = text.stdout.split("\n");
    t.is(lines[0], `default/served: served: ${holder} holds 198.51.100.240`);
    t.is(lines[1], "Addresses, from a pool allocation");
    t.regex(
      text.stdout,
      /198\.51\.100\.240 {2}VIPPool lan \(IPv4 \d of 5 free\), allocation 198\.51\.100\.240/,
    );
    t.regex(text.stdout, new RegExp(`Lease vipd-ip-198\\.51\\.100\\.240: holder ${holder}, acquired`));
    t.regex(text.stdout, new RegExp(`Status: ingress 198\\.51\\.100\\.240 · vipd\\.io/holder ${holder}`));
    t.log(text.stdout);
  },
);

test.serial("kubectl vipd explain: the plugin on PATH gives the same report", async (t) => {
  const [testcluster = ""] = cluster.api.kubectlCommand;
  const env = {
    ...process.env,
    // The plugin runs on the project's Node (`#!/usr/bin/env node`), found first on PATH.
    PATH: [pluginDir, dirname(process.execPath), process.env["PATH"] ?? ""].join(":"),
    KUBECONFIG: cluster.api.kubeconfigPath,
  };
  const listed = await run([testcluster, "kubectl", "plugin", "list"], env);
  t.true(listed.stdout.includes(join(pluginDir, "kubectl-vipd")), listed.stdout + listed.stderr);
  const result = await run([testcluster, "kubectl", "vipd", "explain", "default/served"], env);
  t.is(result.code, 0, result.stderr);
  const holder = await cluster.addressHolder("198.51.100.240");
  t.is(result.stdout.split("\n")[0], `default/served: served: ${holder} holds 198.51.100.240`);
});

test.serial("an address outside every pool: exit 3, why, and what to do", async (t) => {
  await cluster.kubectl(
    ["apply", "-f", "-"],
    loadBalancerService({ name: "outside", loadBalancerIP: OUTSIDE }),
  );
  const result = await vipdExplain("default/outside");
  t.is(result.code, 3, result.stderr);
  t.regex(result.stdout, /^default\/outside: not served: spec\.loadBalancerIP is refused\n/);
  t.true(
    flat(result.stdout).includes(
      `refused: spec.loadBalancerIP: ${OUTSIDE} is in no VIPPool, and addresses outside the pools are refused`,
    ),
    result.stdout,
  );
  t.true(flat(result.stdout).includes("use an address of a VIPPool (kubectl get vippools)"), result.stdout);
  t.log(result.stdout);
});

test.serial(
  "an annotation that holds no address: exit 3, the problem, the command that fixes it",
  async (t) => {
    await cluster.kubectl(
      ["apply", "-f", "-"],
      loadBalancerService({ name: "typo", annotations: { "vipd.io/loadBalancerIPs": "198.51.100.2x" } }),
    );
    const result = await vipdExplain("default/typo");
    t.is(result.code, 3, result.stderr);
    t.true(
      flat(result.stdout).includes(
        'refused: vipd.io/loadBalancerIPs: "198.51.100.2x" is not an IPv4 or IPv6 address',
      ),
      result.stdout,
    );
    t.true(
      flat(result.stdout).includes(
        "kubectl annotate service typo --overwrite vipd.io/loadBalancerIPs=<address>",
      ),
    );
  },
);

test.serial(
  "externalTrafficPolicy Local without endpoints: no eligible node, each node's reason",
  async (t) => {
    await cluster.kubectl(
      ["apply", "-f", "-"],
      loadBalancerService({ name: "local", loadBalancerIP: LOCAL_VIP, externalTrafficPolicy: "Local" }),
    );
    // The address lies in the pool: it is the Service's once the allocator has written its allocation.
    const judged = await cluster.eventually(
      () => report("default/local"),
      (each) => each.situation === "no-eligible-node",
      { what: "explain reports no eligible node for default/local" },
    );
    t.false(judged.served);
    const result = await vipdExplain("default/local");
    t.is(result.code, 3, result.stderr);
    t.regex(result.stdout, /^default\/local: not served: no node may carry 198\.51\.100\.243\n/);
    for (const node of lab.nodes)
      t.regex(
        result.stdout,
        new RegExp(
          `\\n  ${node.name} +not eligible: externalTrafficPolicy Local and no ready endpoint on this node`,
        ),
      );
    t.true(
      flat(result.stdout).includes("kubectl get endpointslices -l kubernetes.io/service-name=local"),
      result.stdout,
    );
    t.log(result.stdout);
  },
);

test.serial("a Service that does not exist: exit 1 and a clear message", async (t) => {
  const result = await vipdExplain("default/nope");
  t.is(result.code, 1);
  t.is(result.stderr, "vipd: no Service nope in namespace default\n");
  t.is(result.stdout, "");
});
