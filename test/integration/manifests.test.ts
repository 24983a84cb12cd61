// The checked-in manifests against the real API server: it accepts every object (server-side dry
// run, then for real), Pod Security admission accepts the DaemonSet only thanks to the Namespace's
// label, and RBAC gives the ServiceAccount exactly what the agent needs — asked of the authorizer
// itself with `kubectl auth can-i --as`, and once more with the account's own token.
import test from "ava";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { dump, loadAll } from "js-yaml";
import { startApiServer, type ApiServer } from "../../lab/apiserver.ts";

const root = path.resolve(import.meta.dirname, "../..");
const MANIFESTS = ["crds.yaml", "rbac.yaml", "daemonset.yaml", "vipd.yaml"];
const AGENT = "system:serviceaccount:vipd-system:vipd";

interface KubeObject {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
}

function manifest(name: string): string {
  return readFileSync(path.join(root, "manifests", name), "utf8");
}

function objectsOf(text: string): KubeObject[] {
  return loadAll(text) as KubeObject[];
}

function vipd(...args: string[]): string {
  const result = spawnSync(process.execPath, [path.join(root, "cmd/vipd.ts"), ...args], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`vipd ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

let api: ApiServer;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("these tests start network namespaces and need root");
  api = await startApiServer();
});

test.after.always(async () => {
  await (api as ApiServer | undefined)?.stop();
});

test.serial(
  "every manifest passes server-side dry run, then applies, and applies again unchanged",
  async (t) => {
    // A dry run creates nothing, so the objects inside the Namespace can only be checked once it exists.
    const namespace = objectsOf(manifest("rbac.yaml")).filter((object) => object.kind === "Namespace");
    t.is(namespace.length, 1);
    const namespaceYaml = dump(namespace[0]);
    const dryNamespace = await api.kubectl(["apply", "--dry-run=server", "-f", "-"], {
      input: namespaceYaml,
    });
    t.is(dryNamespace.code, 0, dryNamespace.stderr);
    t.is((await api.kubectl(["get", "namespace", "vipd-system"])).code, 1, "a dry run created nothing");
    const created = await api.kubectl(["apply", "-f", "-"], { input: namespaceYaml });
    t.is(created.code, 0, created.stderr);

    for (const name of MANIFESTS) {
      const objects = objectsOf(manifest(name));
      const dry = await api.kubectl(["apply", "--dry-run=server", "-f", "-"], { input: manifest(name) });
      t.is(dry.code, 0, `${name}: ${dry.stderr}`);
      t.is(dry.stdout.match(/\(server dry run\)$/gm)?.length, objects.length, `${name}: ${dry.stdout}`);
    }

    const applied = await api.kubectl(["apply", "-f", "-"], { input: manifest("vipd.yaml") });
    t.is(applied.code, 0, applied.stderr);
    t.notRegex(applied.stderr, /PodSecurity/, "the Namespace's label admits the DaemonSet's pods");
    for (const object of objectsOf(manifest("vipd.yaml"))) {
      const namespaceArgs = object.metadata.namespace === undefined ? [] : ["-n", object.metadata.namespace];
      const got = await api.kubectl([
        "get",
        object.kind,
        object.metadata.name,
        ...namespaceArgs,
        "-o",
        "name",
      ]);
      t.is(got.code, 0, `${object.kind} ${object.metadata.name}: ${got.stderr}`);
    }
    const again = await api.kubectl(["apply", "-f", "-"], { input: manifest("vipd.yaml") });
    t.is(again.code, 0, again.stderr);
    const lines = again.stdout.trim().split("\n");
    t.is(lines.length, objectsOf(manifest("vipd.yaml")).length);
    t.true(
      lines.every((line) => line.endsWith(" unchanged")),
      again.stdout,
    );
  },
);

test.serial("the control-plane static pod passes server-side dry run in kube-system", async (t) => {
  // A real cluster's controller-manager creates kube-system's default ServiceAccount, which the
  // ServiceAccount admission plugin looks up for every pod; this API server runs without one.
  const account = await api.kubectl(["create", "serviceaccount", "default", "-n", "kube-system"]);
  t.is(account.code, 0, account.stderr);
  const dry = await api.kubectl(["apply", "--dry-run=server", "-f", "-"], {
    input: manifest("control-plane-pod.yaml"),
  });
  t.is(dry.code, 0, dry.stderr);
  t.regex(dry.stdout, /^pod\/vipd created \(server dry run\)$/m);
});

test.serial(
  "without the privileged label, Pod Security admission would refuse the agent's pods",
  async (t) => {
    const create = await api.kubectl(["create", "namespace", "baseline-only"]);
    t.is(create.code, 0, create.stderr);
    const label = await api.kubectl([
      "label",
      "namespace",
      "baseline-only",
      "pod-security.kubernetes.io/enforce=baseline",
    ]);
    t.is(label.code, 0, label.stderr);
    const daemonSet = manifest("daemonset.yaml").replace(
      "namespace: vipd-system",
      "namespace: baseline-only",
    );
    const dry = await api.kubectl(["apply", "--dry-run=server", "-f", "-"], { input: daemonSet });
    t.is(dry.code, 0, dry.stderr);
    t.regex(dry.stderr, /would violate PodSecurity "baseline:latest"/);
    t.regex(dry.stderr, /hostNetwork=true/);
    t.regex(dry.stderr, /"NET_ADMIN", "NET_RAW"/);
  },
);

// [verb, resource (with a subresource after a slash), namespace or "*" for all namespaces]
type Access = readonly [string, string, string];

const MUST_HAVE: readonly Access[] = [
  ["list", "services", "*"],
  ["watch", "services", "*"],
  ["patch", "services", "default"],
  ["patch", "services/status", "default"],
  ["list", "endpointslices.discovery.k8s.io", "*"],
  ["watch", "endpointslices.discovery.k8s.io", "*"],
  ["list", "nodes", ""],
  ["watch", "nodes", ""],
  ["create", "events", "default"],
  ["patch", "events", "default"],
  ["list", "vippools.vipd.io", ""],
  ["watch", "vippools.vipd.io", ""],
  ["update", "vippools.vipd.io/status", ""],
  ["patch", "vippools.vipd.io/status", ""],
  ...["get", "list", "watch", "create", "update", "delete"].map((verb): Access => [
    verb,
    "vipallocations.vipd.io",
    "",
  ]),
  ["list", "namespaces", ""],
  ["watch", "namespaces", ""],
  ...["get", "list", "watch", "create", "update", "delete"].map((verb): Access => [
    verb,
    "leases.coordination.k8s.io",
    "vipd-system",
  ]),
];

const MUST_NOT_HAVE: readonly Access[] = [
  ["delete", "services", "default"],
  ["create", "services", "default"],
  ["update", "services", "default"],
  ["get", "services", "default"],
  ["update", "services/status", "default"],
  ["get", "secrets", "*"],
  ["list", "secrets", "vipd-system"],
  ["get", "configmaps", "vipd-system"],
  ["list", "configmaps", "kube-system"],
  ["update", "configmaps", "kube-system"],
  ["create", "vippools.vipd.io", ""],
  ["update", "vippools.vipd.io", ""],
  ["patch", "vippools.vipd.io", ""],
  ["delete", "vippools.vipd.io", ""],
  ["patch", "vipallocations.vipd.io", ""],
  ["create", "namespaces", ""],
  ["list", "leases.coordination.k8s.io", "*"],
  ["update", "leases.coordination.k8s.io", "kube-system"],
  ["create", "leases.coordination.k8s.io", "kube-node-lease"],
  ["delete", "leases.coordination.k8s.io", "default"],
  ["get", "leases.coordination.k8s.io", "kube-system"],
  ["patch", "nodes", ""],
  ["update", "nodes", ""],
  ["delete", "nodes", ""],
  ["patch", "nodes/status", ""],
  ["create", "endpointslices.discovery.k8s.io", "default"],
  ["update", "endpointslices.discovery.k8s.io", "default"],
  ["delete", "events", "default"],
  ["create", "pods", "vipd-system"],
  ["create", "pods/exec", "vipd-system"],
  ["patch", "daemonsets.apps", "vipd-system"],
  ["create", "serviceaccounts/token", "vipd-system"],
  ["escalate", "clusterroles.rbac.authorization.k8s.io", ""],
  ["bind", "clusterroles.rbac.authorization.k8s.io", ""],
  ["impersonate", "users", ""],
];

async function canI(as: string, [verb, resource, namespace]: Access): Promise<string> {
  const [name = "", subresource] = resource.split("/");
  const args = ["auth", "can-i", verb, name, `--as=${as}`];
  if (subresource !== undefined) args.push(`--subresource=${subresource}`);
  if (namespace === "*") args.push("--all-namespaces");
  else if (namespace !== "") args.push("-n", namespace);
  const result = await api.kubectl(args);
  const answer = result.stdout.trim();
  if (answer !== "yes" && answer !== "no") throw new Error(`kubectl ${args.join(" ")}: ${result.stderr}`);
  return answer;
}

function describe([verb, resource, namespace]: Access): string {
  return `${verb} ${resource}${namespace === "*" ? " in every namespace" : namespace === "" ? "" : ` in ${namespace}`}`;
}

test.serial("the agent's ServiceAccount can do what the agent does", async (t) => {
  for (const access of MUST_HAVE) t.is(await canI(AGENT, access), "yes", describe(access));
});

test.serial("the agent's ServiceAccount can do nothing else that matters", async (t) => {
  for (const access of MUST_NOT_HAVE) t.is(await canI(AGENT, access), "no", describe(access));
});

test.serial("the account's own token gets the same answers as can-i", async (t) => {
  const kubeconfig = await api.serviceAccountKubeconfig({ namespace: "vipd-system", name: "vipd" });
  const asAgent = (args: string[]) => api.kubectl(args, { kubeconfig });
  const leases = await asAgent(["get", "leases", "-n", "vipd-system", "-o", "name"]);
  t.is(leases.code, 0, leases.stderr);
  const services = await asAgent(["get", "services", "--all-namespaces", "-o", "name"]);
  t.is(services.code, 0, services.stderr);
  t.regex(services.stdout, /service\/kubernetes/);
  for (const forbidden of [
    ["get", "secrets", "-n", "vipd-system"],
    ["get", "leases", "-n", "kube-system"],
    ["delete", "service", "kubernetes", "-n", "default"],
  ]) {
    const result = await asAgent(forbidden);
    t.not(result.code, 0, forbidden.join(" "));
    t.regex(result.stderr, /Forbidden/, forbidden.join(" "));
  }
});

test.serial("a second installation in its own namespace leaves the first one's rights alone", async (t) => {
  const objects =
    vipd("manifest", "rbac", "--namespace", "lb") +
    "---\n" +
    vipd("manifest", "daemonset", "--namespace", "lb");
  const applied = await api.kubectl(["apply", "-f", "-"], { input: objects });
  t.is(applied.code, 0, applied.stderr);
  const other = "system:serviceaccount:lb:vipd";
  t.is(await canI(other, ["update", "leases.coordination.k8s.io", "lb"]), "yes");
  t.is(await canI(other, ["update", "leases.coordination.k8s.io", "vipd-system"]), "no");
  t.is(await canI(other, ["patch", "services/status", "default"]), "yes");
  t.is(await canI(AGENT, ["update", "leases.coordination.k8s.io", "vipd-system"]), "yes");
  t.is(await canI(AGENT, ["update", "leases.coordination.k8s.io", "lb"]), "no");
  t.is(await canI(AGENT, ["patch", "services/status", "default"]), "yes");
});
