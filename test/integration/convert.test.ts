// `vipd convert` against the real API server: `vipd convert kube-vip` reads kube-system/kubevip
// through the kubeconfig a user has ($KUBECONFIG, as kubectl does) and prints its pools in
// kube-vip-cloud-provider's search order; `vipd convert metallb -f` converts a MetalLB fixture; the
// API server accepts what both print.
import test from "ava";
import { spawnSync } from "node:child_process";
import path from "node:path";
import { dump, loadAll } from "js-yaml";
import type { VipPool } from "../../src/addresses/api.ts";
import { startApiServer, type ApiServer } from "../../lab/apiserver.ts";

const root = path.resolve(import.meta.dirname, "../..");

let api: ApiServer;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("these tests start the lab's API server and need root");
  api = await startApiServer();
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

function addressesByName(pools: readonly VipPool[]): Record<string, readonly string[] | undefined> {
  return Object.fromEntries(pools.map((pool) => [pool.metadata?.name ?? "", pool.spec?.addresses]));
}

const KUBE_VIP_DATA = {
  "cidr-global": "198.51.100.0/24",
  // Inside the global CIDR: the namespace's own block.
  "cidr-web": "198.51.100.0/28",
  // Hidden: kube-vip-cloud-provider looks up cidr-global before range-<namespace>.
  "range-dev": "203.0.113.100-203.0.113.110",
  "cidr-ipv6": "2001:db8:15::/120",
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
    "kubevip-ipv6": ["2001:db8:15::/120"],
    "kubevip-web": ["198.51.100.1-198.51.100.14"],
    "kubevip-global": ["198.51.100.16-198.51.100.254"],
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
});

test.serial("vipd convert kube-vip --kubeconfig, for a ConfigMap that is not there, exits 2", (t) => {
  const printed = vipd(["convert", "kube-vip", "--kubeconfig", api.kubeconfigPath, "--name", "absent"]);
  t.is(printed.code, 2);
  t.is(printed.stdout, "");
  t.regex(printed.stderr, /kube-system\/absent/);
});

test.serial("vipd convert metallb -f converts the MetalLB fixture", (t) => {
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
    production: ["198.51.100.0/26", "203.0.113.10-203.0.113.20", "2001:db8:15::/120"],
    manual: ["198.51.100.128/28"],
  });
  t.is(pools[1]?.spec?.autoAssign, false);
  t.regex(printed.stdout, /^# Note: L2Advertisement metallb-system\/l2: /m);
});
