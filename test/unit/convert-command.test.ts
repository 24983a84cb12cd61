// `vipd convert` as a user runs it on files and stdin: VIPPool YAML on stdout (notes as comments,
// which YAML readers skip), problems on stderr, exit status 2 when nothing could be converted.
// Reading the ConfigMap from a cluster is test/integration/convert.test.ts.
import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadAll } from "js-yaml";

const root = path.resolve(import.meta.dirname, "../..");

function vipd(args: readonly string[], input?: string) {
  const result = spawnSync(process.execPath, [path.join(root, "cmd/vipd.ts"), ...args], {
    encoding: "utf8",
    env: { PATH: process.env["PATH"] ?? "" },
    ...(input === undefined ? {} : { input }),
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

// kube-vip-cloud-provider's example/configmap/0.1.yaml, unquoted booleans included.
const KUBE_VIP_EXAMPLE = `apiVersion: v1
kind: ConfigMap
metadata:
  name: kubevip
  namespace: kube-system
data:
  allow-share-global: true
  cidr-default: 192.168.0.200/29
  cidr-plunder: 192.168.0.210/29
  allow-share-plunder: false
  cidr-testing: 192.168.0.220/29
`;

function names(yaml: string): unknown[] {
  return (loadAll(yaml) as { kind: string; metadata: { name: string } }[]).map(
    (object) => `${object.kind}/${object.metadata.name}`,
  );
}

test("vipd convert kube-vip -f prints one VIPPool per namespace, and a note per pool that shares", (t) => {
  const directory = mkdtempSync(path.join(tmpdir(), "vipd-convert-"));
  try {
    const file = path.join(directory, "kubevip.yaml");
    writeFileSync(file, KUBE_VIP_EXAMPLE);
    const printed = vipd(["convert", "kube-vip", "-f", file]);
    t.is(printed.code, 0, printed.stderr);
    t.is(printed.stderr, "");
    t.deepEqual(names(printed.stdout), [
      "VIPPool/kubevip-default",
      "VIPPool/kubevip-plunder",
      "VIPPool/kubevip-testing",
    ]);
    t.is(printed.stdout.match(/^# Note: kubevip-(default|testing): allow-share-global/gm)?.length, 2);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test("vipd convert kube-vip -f - reads stdin; a ConfigMap with nothing to convert exits 2", (t) => {
  const printed = vipd(["convert", "kube-vip", "-f", "-"], KUBE_VIP_EXAMPLE.replace(/cidr-/g, "colour-"));
  t.is(printed.code, 2);
  t.is(printed.stdout, "");
  t.regex(printed.stderr, /^vipd: colour-default: /m);
});

test("vipd convert kube-vip -f with no ConfigMap in the file exits 2", (t) => {
  const printed = vipd(
    ["convert", "kube-vip", "-f", "-"],
    "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\n",
  );
  t.is(printed.code, 2);
  t.is(printed.stdout, "");
});

test("vipd convert metallb -f - prints the pools and reports the BGP objects on stderr", (t) => {
  const printed = vipd(
    ["convert", "metallb", "-f", "-"],
    `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: first-pool, namespace: metallb-system}
spec:
  addresses: [198.51.100.0/24]
---
apiVersion: metallb.io/v1beta2
kind: BGPPeer
metadata: {name: peer, namespace: metallb-system}
`,
  );
  t.is(printed.code, 0, printed.stderr);
  t.deepEqual(names(printed.stdout), ["VIPPool/first-pool"]);
  t.regex(printed.stderr, /^vipd: BGPPeer metallb-system\/peer: /m);
});

test("vipd convert metallb without -f is a usage error, exit 2", (t) => {
  const printed = vipd(["convert", "metallb"]);
  t.is(printed.code, 2);
  t.is(printed.stdout, "");
});
