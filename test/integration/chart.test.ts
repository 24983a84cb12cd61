// The Helm chart charts/vipd with the real helm (built from its Go module, lab/go-tools.ts): it lints,
// it renders the very objects `vipd manifest` prints for the same settings (a table of them, and the
// settings both refuse), and it installs into a real API server, whose admission gives the agents'
// pods the node-critical priority and admits them in the labelled namespace, and whose authorizer
// gives the chart's ServiceAccount the agent's rights.
import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { dump, loadAll } from "js-yaml";
import { startApiServer, type ApiServer } from "../../lab/apiserver.ts";
import { CHART_PATH, helmCommand, installChart, type Helm } from "../../lab/chart.ts";

const root = path.resolve(import.meta.dirname, "../..");
const work = mkdtempSync(path.join(tmpdir(), "vipd-chart-"));

interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; labels?: Record<string, string> };
  readonly spec?: { template?: { metadata?: { labels?: Record<string, string> } } };
}

function vipd(args: readonly string[]) {
  const result = spawnSync(process.execPath, [path.join(root, "cmd/vipd.ts"), ...args], { encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function objectsOf(text: string): KubeObject[] {
  return (loadAll(text) as (KubeObject | null)[]).filter((object): object is KubeObject => object !== null);
}

// Helm's own labels, which `vipd manifest` cannot know, and managed-by, which names each printer.
const HELM_OWN_LABELS = ["app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "helm.sh/chart"];

function withoutHelmLabels(object: KubeObject): KubeObject {
  const copy = structuredClone(object);
  for (const holder of [copy.metadata, copy.spec?.template?.metadata]) {
    if (holder?.labels !== undefined) {
      holder.labels = Object.fromEntries(
        Object.entries(holder.labels).filter(([label]) => !HELM_OWN_LABELS.includes(label)),
      );
    }
  }
  return copy;
}

function byKindAndName(objects: readonly KubeObject[]): KubeObject[] {
  const key = (object: KubeObject) =>
    `${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`;
  return [...objects].sort((a, b) => key(a).localeCompare(key(b)));
}

let helm: Helm;
let valuesCount = 0;

async function helmTemplate(namespace: string, values: object) {
  valuesCount += 1;
  const file = path.join(work, `values-${valuesCount}.yaml`);
  writeFileSync(file, dump(values));
  return helm(["template", "vipd", CHART_PATH, "--namespace", namespace, "--include-crds", "--values", file]);
}

test.before(async () => {
  helm = await helmCommand({ home: path.join(work, "helm") });
});

test.after.always(() => {
  rmSync(work, { recursive: true, force: true });
});

test.serial("helm lint --strict passes", async (t) => {
  const linted = await helm(["lint", "--strict", CHART_PATH]);
  t.is(linted.code, 0, linted.stdout + linted.stderr);
  t.regex(linted.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

// The same settings, as `vipd manifest daemonset` flags and as the chart's values.
const SAME_SETTINGS: {
  readonly name: string;
  readonly namespace: string;
  readonly flags: readonly string[];
  readonly values: object;
}[] = [
  { name: "the defaults", namespace: "vipd-system", flags: [], values: {} },
  {
    name: "an image, an interface, a class and slow timings",
    namespace: "vipd-system",
    flags: [
      ...["--image", "registry.example/vipd:1.2", "--interface", "bond0", "--class-only"],
      ...["--load-balancer-class", "example.com/lan", "--lease-duration", "1m", "--renew-deadline", "40s"],
      ...["--retry-period", "15s", "--address-lifetime", "2m"],
    ],
    values: {
      image: { repository: "registry.example/vipd", tag: "1.2" },
      agent: {
        interface: "bond0",
        "class-only": true,
        "load-balancer-class": "example.com/lan",
        "lease-duration": "1m",
        "renew-deadline": "40s",
        "retry-period": "15s",
        "address-lifetime": "2m",
      },
    },
  },
  {
    name: "a grace period rounded up from milliseconds",
    namespace: "vipd-system",
    flags: ["--lease-duration", "30s", "--renew-deadline", "20001ms", "--retry-period", "5s"],
    values: { agent: { "lease-duration": "30s", "renew-deadline": "20001ms", "retry-period": "5s" } },
  },
  // Every IPv6 address on another port (scraped), the node's address (scraped, probed there), the
  // IPv6 loopback (neither).
  ...["[::]:9660", "192.0.2.7:9559", "[::1]:9559"].map((address) => ({
    name: `metrics on ${address}`,
    namespace: "vipd-system",
    flags: ["--metrics-addr", address],
    values: { agent: { "metrics-addr": address } },
  })),
  {
    name: "no control-plane nodes, no priority class, edge nodes only",
    namespace: "vipd-system",
    flags: [
      ...["--control-plane-nodes", "false", "--priority-class-name", ""],
      ...["--node-selector", "node-role.kubernetes.io/edge=", "--toleration", "dedicated=edge:NoSchedule"],
    ],
    values: {
      controlPlaneNodes: false,
      priorityClassName: "",
      // --node-selector replaces the default selector; Helm merges maps, so null removes its key.
      nodeSelector: { "kubernetes.io/os": null, "node-role.kubernetes.io/edge": "" },
      tolerations: [{ key: "dedicated", operator: "Equal", value: "edge", effect: "NoSchedule" }],
    },
  },
  {
    name: "agent settings without a flag of their own, in another namespace",
    namespace: "lb",
    flags: [
      ...["--namespace", "lb", "--set-agent", "announce-count=5", "--set-agent", "state-dir=/run/vipd-lb"],
      ...["--set-agent", "pool-addresses-only=false", "--set-agent", "kube-api-qps=2.5"],
      ...["--set-agent", "external-ip-cidrs=192.0.2.0/24,2001:db8::/64", "--set-agent", "log-format=text"],
    ],
    values: {
      // Typed as YAML types them: Helm prints them as the text the agent reads.
      agent: {
        "announce-count": 5,
        "state-dir": "/run/vipd-lb",
        "pool-addresses-only": false,
        "kube-api-qps": 2.5,
        "external-ip-cidrs": "192.0.2.0/24,2001:db8::/64",
        "log-format": "text",
      },
    },
  },
  {
    name: "BIRD beside the agent",
    namespace: "vipd-system",
    flags: ["--bgp", "--image", "registry.example/vipd:1.2", "--set-agent", "log-format=text"],
    values: {
      bgp: { enabled: true },
      image: { repository: "registry.example/vipd", tag: "1.2" },
      agent: { "log-format": "text" },
    },
  },
];

for (const { name, namespace, flags, values } of SAME_SETTINGS) {
  test.serial(`helm template and vipd manifest print the same objects: ${name}`, async (t) => {
    const printed = [
      vipd(["manifest", "crds"]),
      vipd(["manifest", "rbac", "--namespace", namespace]),
      vipd(["manifest", "daemonset", ...flags]),
    ];
    for (const each of printed) t.is(each.code, 0, each.stderr);
    // Helm keeps its release in the namespace, which must exist before: it cannot be the chart's.
    const fromManifest = printed
      .flatMap((each) => objectsOf(each.stdout))
      .filter((o) => o.kind !== "Namespace");
    const rendered = await helmTemplate(namespace, values);
    t.is(rendered.code, 0, rendered.stderr);
    const fromChart = objectsOf(rendered.stdout).map(withoutHelmLabels);
    t.deepEqual(byKindAndName(fromChart), byKindAndName(fromManifest.map(withoutHelmLabels)));
    t.true(fromChart.some((object) => object.kind === "DaemonSet"));
  });
}

test.serial(
  "monitoring: the chart's PrometheusRule and dashboard are manifests/' own, Helm printing Prometheus' and Grafana's braces as they are",
  async (t) => {
    const rendered = await helmTemplate("vipd-system", {
      monitoring: { prometheusRule: true, grafanaDashboard: true },
    });
    t.is(rendered.code, 0, rendered.stderr);
    const objects = objectsOf(rendered.stdout).map(withoutHelmLabels);
    const rule = objects.find((object) => object.kind === "PrometheusRule");
    const [shipped] = objectsOf(readFileSync(path.join(root, "manifests/prometheus-rule.yaml"), "utf8"));
    t.deepEqual(rule, shipped && withoutHelmLabels(shipped));
    const dashboard = objects.find(
      (object): object is KubeObject & { data?: Record<string, string> } => object.kind === "ConfigMap",
    );
    t.is(dashboard?.metadata.labels?.["grafana_dashboard"], "1");
    t.deepEqual(
      JSON.parse(dashboard?.data?.["vipd.json"] ?? "null"),
      JSON.parse(readFileSync(path.join(root, "manifests/grafana-dashboard.json"), "utf8")),
    );
  },
);

const BOTH_REFUSE: {
  readonly name: string;
  readonly flags: readonly string[];
  readonly values: object;
  readonly manifestSays: RegExp;
  readonly helmSays: RegExp;
}[] = [
  {
    name: "the control-plane static pod's metrics port",
    flags: ["--metrics-addr", "127.0.0.1:9560"],
    values: { agent: { "metrics-addr": "127.0.0.1:9560" } },
    manifestSays: /port 9560 is the control-plane static pod's/,
    helmSays: /port 9560 is the control-plane static pod's/,
  },
  {
    name: "a misspelt agent setting",
    flags: ["--set-agent", "announce-cuont=5"],
    values: { agent: { "announce-cuont": 5 } },
    manifestSays: /--set-agent announce-cuont: not a setting of vipd run/,
    helmSays: /announce-cuont/,
  },
  {
    name: "a setting the DaemonSet sets itself",
    flags: ["--set-agent", "node-name=worker-1"],
    values: { agent: { "node-name": "worker-1" } },
    manifestSays: /--set-agent node-name: the DaemonSet sets it itself/,
    helmSays: /node-name/,
  },
  {
    name: "a setting that ties the agent to its BIRD sidecar",
    flags: ["--bgp", "--set-agent", "bird-socket=/tmp/bird.ctl"],
    values: { bgp: { enabled: true }, agent: { "bird-socket": "/tmp/bird.ctl" } },
    manifestSays: /--set-agent bird-socket: with --bgp the DaemonSet sets it itself/,
    helmSays: /bird-socket/,
  },
];

for (const { name, flags, values, manifestSays, helmSays } of BOTH_REFUSE) {
  test.serial(`helm template and vipd manifest both refuse ${name}`, async (t) => {
    const printed = vipd(["manifest", "daemonset", ...flags]);
    t.is(printed.code, 2);
    t.regex(printed.stderr, manifestSays);
    const rendered = await helmTemplate("vipd-system", values);
    t.not(rendered.code, 0, rendered.stdout);
    t.regex(rendered.stderr, helmSays);
  });
}

let api: ApiServer | undefined;

async function kubectl(args: readonly string[], input?: string): Promise<string> {
  if (api === undefined) throw new Error("no API server");
  const result = await api.kubectl(args, input === undefined ? undefined : { input });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

async function canI(verb: string, resource: string, namespace: string): Promise<string> {
  if (api === undefined) throw new Error("no API server");
  const [name = "", subresource] = resource.split("/");
  const args = ["auth", "can-i", verb, name, "--as=system:serviceaccount:vipd-system:vipd", "-n", namespace];
  if (subresource !== undefined) args.push(`--subresource=${subresource}`);
  return (await api.kubectl(args)).stdout.trim();
}

test.serial(
  "helm install into a real API server: CRDs, RBAC and a DaemonSet whose pods are admitted as node-critical",
  async (t) => {
    if (process.getuid?.() !== 0) throw new Error("the API server's tests need root");
    api = await startApiServer();
    const clusterHelm = await helmCommand({ home: path.join(work, "helm"), api });
    const installed = await installChart({
      api,
      helm: clusterHelm,
      namespace: "vipd-system",
      // With the BIRD sidecar, so that admission sees the pod with both containers.
      set: ["agent.announce-count=5", "bgp.enabled=true"],
    });
    t.is(installed.code, 0, installed.stderr);
    // NOTES.txt: how to check the install, and no warning for a namespace labelled as it should be.
    t.regex(installed.stdout, /kubectl -n vipd-system rollout status daemonset\/vipd/);
    t.regex(installed.stdout, /kubectl get vippools/);
    t.regex(installed.stdout, /--type=LoadBalancer/);
    t.regex(installed.stdout, /127\.0\.0\.1:9559/);
    t.notRegex(installed.stdout, /WARNING/);

    t.is((await kubectl(["get", "vippools", "-o", "name"])).trim(), "", "the CRDs are served");
    t.is(await canI("patch", "services/status", "default"), "yes");
    t.is(await canI("update", "leases.coordination.k8s.io", "vipd-system"), "yes");
    t.is(await canI("get", "secrets", "vipd-system"), "no");

    // No controller-manager runs here, so the DaemonSet makes no pods: one is created from its
    // template, on a node by name, as the DaemonSet controller would, and admission decides.
    const daemonSet = JSON.parse(
      await kubectl(["get", "daemonset", "vipd", "-n", "vipd-system", "-o", "json"]),
    ) as {
      spec: { template: { metadata: object; spec: Record<string, unknown> } };
    };
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { ...daemonSet.spec.template.metadata, name: "vipd-admitted", namespace: "vipd-system" },
      spec: { ...daemonSet.spec.template.spec, nodeName: "node-a" },
    };
    await kubectl(["create", "-f", "-"], JSON.stringify(pod));
    const admitted = JSON.parse(
      await kubectl(["get", "pod", "vipd-admitted", "-n", "vipd-system", "-o", "json"]),
    ) as {
      spec: {
        priority?: number;
        priorityClassName?: string;
        containers: { name: string; env: { name: string; value?: string }[] }[];
      };
    };
    t.is(admitted.spec.priorityClassName, "system-node-critical");
    t.is(
      admitted.spec.priority,
      2000001000,
      "the Priority admission plugin resolved the class in vipd-system",
    );
    t.deepEqual(
      admitted.spec.containers[0]?.env.find((variable) => variable.name === "VIPD_ANNOUNCE_COUNT"),
      { name: "VIPD_ANNOUNCE_COUNT", value: "5" },
    );
    t.deepEqual(
      admitted.spec.containers.map((container) => container.name),
      ["vipd", "bird"],
    );
    await kubectl(["delete", "pod", "vipd-admitted", "-n", "vipd-system", "--force", "--grace-period=0"]);

    const upgraded = await clusterHelm([
      ...["upgrade", "vipd", CHART_PATH, "--namespace", "vipd-system"],
      ...["--set", "agent.log-format=text"],
    ]);
    t.is(upgraded.code, 0, upgraded.stderr);
    const env = await kubectl([
      ...["get", "daemonset", "vipd", "-n", "vipd-system", "-o"],
      "jsonpath={range .spec.template.spec.containers[0].env[*]}{.name}={.value} {end}",
    ]);
    t.regex(env, /VIPD_LOG_FORMAT=text /);
    t.notRegex(env, /VIPD_ANNOUNCE_COUNT/, "an upgrade without the value goes back to the default");

    const uninstalled = await clusterHelm(["uninstall", "vipd", "--namespace", "vipd-system"]);
    t.is(uninstalled.code, 0, uninstalled.stderr);
    t.is(
      (
        await kubectl([
          ...["get", "daemonset/vipd", "serviceaccount/vipd", "clusterrole/vipd:vipd-system"],
          ...["-n", "vipd-system", "-o", "name", "--ignore-not-found"],
        ])
      ).trim(),
      "",
    );
    // Helm never deletes what crds/ installed: the pools outlive the chart.
    t.regex(await kubectl(["get", "crd", "-o", "name"]), /vippools\.vipd\.io/);
  },
);

test.serial("NOTES.txt warns when the namespace lacks the privileged Pod Security label", async (t) => {
  if (api === undefined) return t.fail("the install test starts the API server");
  await kubectl(["create", "namespace", "unlabelled"]);
  const clusterHelm = await helmCommand({ home: path.join(work, "helm"), api });
  const dryRun = await clusterHelm([
    "install",
    "vipd",
    CHART_PATH,
    "--namespace",
    "unlabelled",
    "--dry-run=server",
  ]);
  t.is(dryRun.code, 0, dryRun.stderr);
  t.regex(dryRun.stdout, /WARNING: the namespace unlabelled is not labelled for privileged pods/);
  t.regex(dryRun.stdout, /pod-security\.kubernetes\.io\/\{enforce,warn,audit\}=privileged/);
});

test.after.always(async () => {
  await api?.stop();
});
