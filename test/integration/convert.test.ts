// `vipd convert` against the real API server: `vipd convert kube-vip` reads kube-system/kubevip
// through the kubeconfig a user has ($KUBECONFIG, as kubectl does) and prints its pools in
// kube-vip-cloud-provider's search order; `vipd convert metallb -f` converts a MetalLB fixture; the
// API server, with vipd's CRDs (manifests/crds.yaml), admits what both print and stores it as printed.
import test, { type ExecutionContext } from "ava";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { dump, loadAll } from "js-yaml";
import type { VipPool } from "../../src/addresses/api.ts";
import { installCrds } from "../../lab/agents.ts";
import { startApiServer, type ApiServer } from "../../lab/apiserver.ts";

const root = path.resolve(import.meta.dirname, "../..");

let api: ApiServer;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("these tests start the lab's API server and need root");
  api = await startApiServer();
  await installCrds(async (args, input) => {
    const result = await api.kubectl(args, input === undefined ? {} : { input });
    if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  });
});

test.after.always(async () => {
  await (api as ApiServer | undefined)?.stop();
});

function vipd(args: readonly string[], env: Readonly<Record<string, string>> = {}) {
  const result = spawnSync(process.execPath, [path.join(root, "cmd/vipd.ts"), ...args], {
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "", ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function poolsOf(yaml: string): VipPool[] {
  return loadAll(yaml) as VipPool[];
}

/**
 * Applies the printed pools and reads them back: the server's spec must hold what was printed, with
 * the schema's defaults (autoAssign, avoidBuggyIPs, disabled) filled in where the printed pool is silent.
 */
async function applied(t: ExecutionContext, yaml: string, pools: readonly VipPool[]): Promise<void> {
  const apply = await api.kubectl(["apply", "-f", "-"], { input: yaml });
  t.is(apply.code, 0, apply.stderr);
  for (const pool of pools) {
    const name = pool.metadata?.name ?? "";
    const got = await api.kubectl(["get", "vippools.vipd.io", name, "-o", "json"]);
    t.is(got.code, 0, got.stderr);
    const stored = (JSON.parse(got.stdout) as VipPool).spec;
    t.deepEqual(stored, { autoAssign: true, avoidBuggyIPs: false, disabled: false, ...pool.spec }, name);
  }
}

function addressesByName(pools: readonly VipPool[]): Record<string, readonly string[] | undefined> {
  return Object.fromEntries(pools.map((pool) => [pool.metadata?.name ?? "", pool.spec?.addresses]));
}

// Addresses apart from the MetalLB fixture's, so that the two sets of pools do not overlap.
const KUBE_VIP_DATA = {
  "cidr-global": "203.0.113.0/24",
  // Inside the global CIDR: the namespace's own block.
  "cidr-web": "203.0.113.0/28",
  // Hidden: kube-vip-cloud-provider looks up cidr-global before range-<namespace>.
  "range-dev": "198.51.100.200-198.51.100.210",
  "cidr-ipv6": "2001:db8:16::/120",
  "allow-share-web": "true",
  "skip-end-ips-in-cidr": "true",
};

test.serial("vipd convert kube-vip reads kube-system/kubevip through $KUBECONFIG", async (t) => {
  const configMap = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "kubevip", namespace: "kube-system" },
    data: KUBE_VIP_DATA,
  };
  const created = await api.kubectl(["apply", "-f", "-"], { input: dump(configMap) });
  t.is(created.code, 0, created.stderr);

  const printed = vipd(["convert", "kube-vip"], { KUBECONFIG: api.kubeconfigPath });
  t.is(printed.code, 0, printed.stderr);
  const pools = poolsOf(printed.stdout);
  t.deepEqual(addressesByName(pools), {
    "kubevip-ipv6": ["2001:db8:16::/120"],
    "kubevip-web": ["203.0.113.1-203.0.113.14"],
    "kubevip-global": ["203.0.113.16-203.0.113.254"],
  });
  t.deepEqual(
    pools.map((pool) => pool.spec?.serviceAllocation?.priority),
    [1, 1, 2],
  );
  t.deepEqual(pools.at(-1)?.spec?.serviceAllocation?.namespaceSelectors, [
    {
      matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["ipv6", "web"] }],
    },
  ]);
  t.regex(printed.stdout, /^# Note: kubevip-web: allow-share-web is on/m);
  t.regex(printed.stderr, /^vipd: range-dev: /m, "the hidden key is reported");
  await applied(t, printed.stdout, pools);
});

test.serial("vipd convert kube-vip --kubeconfig, for a ConfigMap that is not there, exits 2", (t) => {
  const printed = vipd(["convert", "kube-vip", "--kubeconfig", api.kubeconfigPath, "--name", "absent"]);
  t.is(printed.code, 2);
  t.is(printed.stdout, "");
  t.regex(printed.stderr, /kube-system\/absent/);
});

test.serial("vipd convert metallb -f converts the MetalLB fixture", async (t) => {
  const printed = vipd([
    "convert",
    "metallb",
    "-f",
    path.join(import.meta.dirname, "fixtures/metallb-pools.yaml"),
  ]);
  t.is(printed.code, 0, printed.stderr);
  t.is(printed.stderr, "");
  const pools = poolsOf(printed.stdout);
  t.deepEqual(addressesByName(pools), {
    production: ["198.51.100.0/26", "198.51.100.100-198.51.100.110", "2001:db8:15::/120"],
    manual: ["198.51.100.128/28"],
  });
  t.is(pools[1]?.spec?.autoAssign, false);
  t.regex(printed.stdout, /^# Note: L2Advertisement metallb-system\/l2: /m);
  await applied(t, printed.stdout, pools);
});
