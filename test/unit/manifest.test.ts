import test from "ava";
import type { V1Container, V1DaemonSet, V1EnvVar, V1PolicyRule } from "@kubernetes/client-node";
import { load, loadAll } from "js-yaml";
import { loadRunConfig } from "../../src/config/load.ts";
import { AGENT_CAPABILITIES, daemonSet, terminationGraceSeconds } from "../../src/manifest/daemonset.ts";
import {
  agentConfigOf,
  DEFAULT_MANIFEST_OPTIONS,
  ManifestOptionsError,
  parseNodeSelector,
  parseToleration,
  type ManifestOptions,
} from "../../src/manifest/options.ts";
import {
  CLUSTER_RULES,
  KUBE_VIP_CONFIGMAP_RULES,
  LEASE_RULES,
  rbacObjects,
} from "../../src/manifest/rbac.ts";
import { renderYaml } from "../../src/manifest/render.ts";

function agentContainer(daemon: V1DaemonSet): V1Container {
  const container = daemon.spec?.template.spec?.containers[0];
  if (container === undefined) throw new Error("the DaemonSet has no container");
  return container;
}

function envOf(container: V1Container): Map<string, V1EnvVar> {
  return new Map((container.env ?? []).map((variable) => [variable.name, variable]));
}

function grants(rules: readonly V1PolicyRule[]): string[] {
  return rules
    .flatMap((rule) =>
      (rule.apiGroups ?? []).flatMap((group) =>
        (rule.resources ?? []).flatMap((resource) =>
          rule.verbs.map((verb) => `${verb} ${resource}${group === "" ? "" : `.${group}`}`),
        ),
      ),
    )
    .sort();
}

function problemsOf(options: Partial<ManifestOptions>): readonly string[] {
  try {
    agentConfigOf({ ...DEFAULT_MANIFEST_OPTIONS, ...options });
  } catch (error) {
    if (error instanceof ManifestOptionsError) return error.problems;
    throw error;
  }
  return [];
}

test("the ClusterRole grants exactly the verbs the agent's API calls use", (t) => {
  t.deepEqual(grants(CLUSTER_RULES), [
    "create events",
    "create vipallocations.vipd.io",
    "delete vipallocations.vipd.io",
    "get vipallocations.vipd.io",
    "list endpointslices.discovery.k8s.io",
    "list namespaces",
    "list nodes",
    "list servicecidrs.networking.k8s.io",
    "list services",
    "list vipallocations.vipd.io",
    "list vippools.vipd.io",
    "patch events",
    "patch services",
    "patch services/status",
    "patch vippools/status.vipd.io",
    "update vipallocations.vipd.io",
    "update vippools/status.vipd.io",
    "watch endpointslices.discovery.k8s.io",
    "watch namespaces",
    "watch nodes",
    "watch servicecidrs.networking.k8s.io",
    "watch services",
    "watch vipallocations.vipd.io",
    "watch vippools.vipd.io",
  ]);
  t.deepEqual(grants(LEASE_RULES), [
    "create leases.coordination.k8s.io",
    "delete leases.coordination.k8s.io",
    "get leases.coordination.k8s.io",
    "list leases.coordination.k8s.io",
    "update leases.coordination.k8s.io",
    "watch leases.coordination.k8s.io",
  ]);
  // ConfigMaps only by name: the one kube-vip-cloud-provider reads.
  t.deepEqual(grants(KUBE_VIP_CONFIGMAP_RULES), ["get configmaps", "list configmaps", "watch configmaps"]);
  t.deepEqual(
    KUBE_VIP_CONFIGMAP_RULES.map((rule) => rule.resourceNames),
    [["kubevip"]],
  );
  const everything = [...CLUSTER_RULES, ...LEASE_RULES, ...KUBE_VIP_CONFIGMAP_RULES];
  t.false(everything.some((rule) => [...rule.verbs, ...(rule.resources ?? [])].includes("*")));
  t.false(
    [...CLUSTER_RULES, ...LEASE_RULES].some(
      (rule) => (rule.resourceNames ?? []).length > 0 || rule.nonResourceURLs,
    ),
  );
});

for (const namespace of ["vipd-system", "lb"]) {
  test(`rbac objects for namespace ${namespace} bind the ServiceAccount there, Leases only there`, (t) => {
    const [ns, account, clusterRole, clusterBinding, role, roleBinding, kubeVipRole, kubeVipBinding] =
      rbacObjects({ namespace });
    t.is(ns.metadata?.name, namespace);
    t.is(ns.metadata?.labels?.["pod-security.kubernetes.io/enforce"], "privileged");
    t.deepEqual(account.metadata?.namespace, namespace);
    const subject = { kind: "ServiceAccount", name: "vipd", namespace };
    t.is(clusterRole.metadata?.name, `vipd:${namespace}`);
    t.is(clusterRole.metadata?.namespace, undefined);
    t.deepEqual(clusterBinding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: `vipd:${namespace}`,
    });
    t.deepEqual(clusterBinding.subjects, [subject]);
    t.is(role.metadata?.namespace, namespace);
    t.deepEqual(role.rules, [...LEASE_RULES]);
    t.is(roleBinding.metadata?.namespace, namespace);
    t.deepEqual(roleBinding.roleRef, { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "vipd" });
    t.deepEqual(roleBinding.subjects, [subject]);
    // One per installation in kube-system, so that two never overwrite each other's.
    t.like(kubeVipRole.metadata, { name: `vipd:${namespace}`, namespace: "kube-system" });
    t.deepEqual(kubeVipRole.rules, [...KUBE_VIP_CONFIGMAP_RULES]);
    t.like(kubeVipBinding.metadata, { name: `vipd:${namespace}`, namespace: "kube-system" });
    t.deepEqual(kubeVipBinding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: `vipd:${namespace}`,
    });
    t.deepEqual(kubeVipBinding.subjects, [subject]);
  });
}

test("the default DaemonSet: host network, two capabilities, read-only, probes and scrape on the metrics port", (t) => {
  const daemon = daemonSet(DEFAULT_MANIFEST_OPTIONS);
  const pod = daemon.spec?.template.spec;
  const container = agentContainer(daemon);
  t.is(daemon.metadata?.namespace, "vipd-system");
  t.true(pod?.hostNetwork);
  t.is(pod?.serviceAccountName, "vipd");
  t.deepEqual(pod?.nodeSelector, { "kubernetes.io/os": "linux" });
  t.is(pod?.tolerations, undefined);
  t.deepEqual(container.args, ["run"]);
  t.like(container.securityContext, {
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
  });
  t.deepEqual(container.ports, [{ name: "metrics", containerPort: 9559, protocol: "TCP" }]);
  // The record of vipd's addresses, where a restarted agent finds it: the node's /run (a tmpfs).
  t.deepEqual(pod?.volumes, [{ name: "state", hostPath: { path: "/run/vipd", type: "DirectoryOrCreate" } }]);
  t.deepEqual(container.volumeMounts, [{ name: "state", mountPath: "/run/vipd" }]);
  t.deepEqual(container.livenessProbe?.httpGet, { path: "/healthz", port: "metrics" });
  t.deepEqual(container.readinessProbe?.httpGet, { path: "/readyz", port: "metrics" });
  t.deepEqual(daemon.spec?.template.metadata?.annotations, {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": "9559",
    "prometheus.io/path": "/metrics",
  });
  t.truthy(container.resources?.requests?.["memory"]);
  t.truthy(container.resources?.limits?.["memory"]);
  t.deepEqual(envOf(container).get("VIPD_NODE_NAME")?.valueFrom, {
    fieldRef: { fieldPath: "spec.nodeName" },
  });
  t.false(envOf(container).has("VIPD_INTERFACE"));
  t.deepEqual(daemon.spec?.selector.matchLabels, {
    "app.kubernetes.io/name": "vipd",
    "app.kubernetes.io/component": "agent",
  });
  t.like(daemon.spec?.template.metadata?.labels, daemon.spec?.selector.matchLabels ?? {});
});

const variations: {
  name: string;
  options: Partial<ManifestOptions>;
  expected: { leaseDuration: string; port: number; grace: number; interface?: string };
}[] = [
  { name: "defaults", options: {}, expected: { leaseDuration: "5s", port: 9559, grace: 30 } },
  {
    name: "an interface and slow timings",
    options: {
      interface: "bond0",
      leaseDuration: "1m",
      renewDeadline: "40s",
      retryPeriod: "15s",
      addressLifetime: "2m",
    },
    expected: { leaseDuration: "1m", port: 9559, grace: 50, interface: "bond0" },
  },
  {
    name: "IPv6 metrics address on another port",
    options: { metricsAddr: "[::]:9660" },
    expected: { leaseDuration: "5s", port: 9660, grace: 30 },
  },
  {
    name: "milliseconds",
    options: { leaseDuration: "2500ms", renewDeadline: "1500ms", retryPeriod: "500ms" },
    expected: { leaseDuration: "2500ms", port: 9559, grace: 30 },
  },
];
for (const { name, options, expected } of variations) {
  test(`DaemonSet with ${name}: the agent loads exactly the printed variables`, (t) => {
    const manifestOptions = { ...DEFAULT_MANIFEST_OPTIONS, ...options };
    const daemon = daemonSet(manifestOptions);
    const container = agentContainer(daemon);
    // What the kubelet hands the agent: literal values, and the downward API's answers.
    const env: Record<string, string> = {};
    for (const variable of container.env ?? []) {
      const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
      env[variable.name] =
        variable.value ?? (fieldPath === "spec.nodeName" ? "worker-1" : (daemon.metadata?.namespace ?? ""));
    }
    const config = loadRunConfig({ flags: {}, env });
    t.like(config, {
      nodeName: "worker-1",
      namespace: manifestOptions.namespace,
      loadBalancerClass: manifestOptions.loadBalancerClass,
      metricsAddr: { port: expected.port },
    });
    t.is(config.interface, options.interface);
    t.is(envOf(container).get("VIPD_LEASE_DURATION")?.value, expected.leaseDuration);
    t.is(envOf(container).get("VIPD_INTERFACE")?.value, expected.interface);
    t.is(container.ports?.[0]?.containerPort, expected.port);
    t.is(daemon.spec?.template.metadata?.annotations?.["prometheus.io/port"], String(expected.port));
    t.is(daemon.spec?.template.spec?.terminationGracePeriodSeconds, expected.grace);
  });
}

test("the grace period outlasts a handover (10 s of Lease writes, R − P of heartbeat delete, P), never below Kubernetes' 30 s", (t) => {
  t.is(terminationGraceSeconds({ renewDeadline: 3000, retryPeriod: 1000 }), 30);
  t.is(terminationGraceSeconds({ renewDeadline: 20_000, retryPeriod: 5000 }), 30);
  t.is(terminationGraceSeconds({ renewDeadline: 20_001, retryPeriod: 5000 }), 31);
  t.is(terminationGraceSeconds({ renewDeadline: 30_000, retryPeriod: 5000 }), 40, "3 × P would be 15 s");
});

test("node selector and tolerations are printed as given", (t) => {
  const daemon = daemonSet({
    ...DEFAULT_MANIFEST_OPTIONS,
    nodeSelector: { "node-role.kubernetes.io/edge": "" },
    tolerations: [{ key: "dedicated", operator: "Equal", value: "edge", effect: "NoSchedule" }],
  });
  t.deepEqual(daemon.spec?.template.spec?.nodeSelector, { "node-role.kubernetes.io/edge": "" });
  t.deepEqual(daemon.spec?.template.spec?.tolerations, [
    { key: "dedicated", operator: "Equal", value: "edge", effect: "NoSchedule" },
  ]);
  t.deepEqual(AGENT_CAPABILITIES, ["NET_ADMIN", "NET_RAW"]);
});

const refused: { options: Partial<ManifestOptions>; problem: RegExp }[] = [
  { options: { leaseDuration: "3s" }, problem: /^--lease-duration .*longer than --renew-deadline/ },
  { options: { retryPeriod: "3s" }, problem: /^--renew-deadline .*× --retry-period/ },
  { options: { addressLifetime: "2s" }, problem: /^--address-lifetime .*3 × --retry-period/ },
  { options: { leaseDuration: "soon" }, problem: /^--lease-duration .*not a duration/ },
  { options: { metricsAddr: "9559" }, problem: /^--metrics-addr / },
  { options: { interface: "a-very-long-interface" }, problem: /^--interface / },
  { options: { namespace: "Not_A_Namespace" }, problem: /^--namespace / },
  { options: { image: "vipd latest" }, problem: /^--image / },
  { options: { image: "" }, problem: /^--image / },
];
for (const { options, problem } of refused) {
  test(`refused: ${JSON.stringify(options)}`, (t) => {
    const problems = problemsOf(options);
    t.true(
      problems.some((each) => problem.test(each)),
      problems.join("\n"),
    );
    t.throws(() => daemonSet({ ...DEFAULT_MANIFEST_OPTIONS, ...options }), {
      instanceOf: ManifestOptionsError,
    });
  });
}

test("every problem is reported at once", (t) => {
  t.is(problemsOf({ image: "", leaseDuration: "soon", metricsAddr: "x" }).length, 3);
});

const selectors: [string[], Record<string, string>][] = [
  [["kubernetes.io/os=linux"], { "kubernetes.io/os": "linux" }],
  [["node-role.kubernetes.io/edge="], { "node-role.kubernetes.io/edge": "" }],
  [["zone=a", "rack=r1.b_2"], { zone: "a", rack: "r1.b_2" }],
];
for (const [texts, expected] of selectors) {
  test(`--node-selector ${texts.join(" ")}`, (t) => {
    t.deepEqual(parseNodeSelector(texts), expected);
  });
}
for (const text of ["linux", "=linux", "a b=c", "k=v w", "UPPER.example.com/x=y", "k=-v"]) {
  test(`--node-selector ${JSON.stringify(text)} is refused`, (t) => {
    t.throws(() => parseNodeSelector([text]), {
      instanceOf: ManifestOptionsError,
      message: /--node-selector/,
    });
  });
}

const tolerations: [string, object][] = [
  ["dedicated=edge:NoSchedule", { key: "dedicated", operator: "Equal", value: "edge", effect: "NoSchedule" }],
  [
    "node-role.kubernetes.io/control-plane:NoSchedule",
    {
      key: "node-role.kubernetes.io/control-plane",
      operator: "Exists",
      effect: "NoSchedule",
    },
  ],
  ["gpu", { key: "gpu", operator: "Exists" }],
  ["gpu=", { key: "gpu", operator: "Equal", value: "" }],
  ["*", { operator: "Exists" }],
];
for (const [text, expected] of tolerations) {
  test(`--toleration ${text}`, (t) => {
    t.deepEqual(parseToleration(text), expected);
  });
}
for (const text of ["", ":NoSchedule", "k:Never", "k=v:NoSchedule:x", "k=a b"]) {
  test(`--toleration ${JSON.stringify(text)} is refused`, (t) => {
    t.throws(() => parseToleration(text), { instanceOf: ManifestOptionsError, message: /--toleration/ });
  });
}

test("YAML: a header, then the objects as documents that read back as the same objects", (t) => {
  const objects = [...rbacObjects({ namespace: "vipd-system" }), daemonSet(DEFAULT_MANIFEST_OPTIONS)];
  const text = renderYaml({ header: ["one", "two"], objects });
  t.true(text.startsWith("# one\n# two\napiVersion: v1\nkind: Namespace\n"));
  t.deepEqual(loadAll(text), JSON.parse(JSON.stringify(objects)));
  t.is(text.split("\n---\n").length, objects.length);
});

test("YAML: strings that YAML 1.1 would read as booleans or numbers stay strings", (t) => {
  const values = ["true", "yes", "y", "on", "9559", "0755", "1e3", "null", "~", ""];
  const text = renderYaml({ header: [], objects: [{ values }] });
  t.deepEqual(load(text), { values });
  for (const value of values) t.true(text.includes(`- "${value}"\n`), value);
});
