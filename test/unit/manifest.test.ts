import test, { type ExecutionContext } from "ava";
import type { V1Container, V1DaemonSet, V1EnvVar, V1PolicyRule } from "@kubernetes/client-node";
import { load, loadAll } from "js-yaml";
import { loadRunConfig } from "../../src/config/load.ts";
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  AGENT_CAPABILITIES,
  BIRD_BOOTSTRAP_CONFIG,
  BIRD_CAPABILITIES,
  BIRD_RESOURCES,
  birdContainer,
  daemonSet,
  terminationGraceSeconds,
} from "../../src/manifest/daemonset.ts";
import {
  agentConfigOf,
  DAEMONSET_AGENT_FLAGS,
  DEFAULT_MANIFEST_OPTIONS,
  ManifestOptionsError,
  parseAgentSettings,
  parseNodeSelector,
  parseToleration,
  STATIC_POD_METRICS_PORT,
  type ManifestOptions,
} from "../../src/manifest/options.ts";
import { DEFAULT_STATIC_POD_OPTIONS } from "../../src/manifest/static-pod.ts";
import { envName, RUN_OPTIONS } from "../../src/config/options.ts";
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
    for (const mode of ["enforce", "warn", "audit"]) {
      t.is(ns.metadata?.labels?.[`pod-security.kubernetes.io/${mode}`], "privileged", mode);
    }
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

test("the default DaemonSet: host network, two capabilities, read-only, node-critical, on control-plane nodes, probes on the loopback", (t) => {
  const daemon = daemonSet(DEFAULT_MANIFEST_OPTIONS);
  const pod = daemon.spec?.template.spec;
  const container = agentContainer(daemon);
  t.is(daemon.metadata?.namespace, "vipd-system");
  t.true(pod?.hostNetwork);
  t.is(pod?.serviceAccountName, "vipd");
  t.deepEqual(pod?.nodeSelector, { "kubernetes.io/os": "linux" });
  t.is(pod?.priorityClassName, "system-node-critical");
  t.deepEqual(pod?.tolerations, [
    { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
    { key: "node-role.kubernetes.io/master", operator: "Exists", effect: "NoSchedule" },
  ]);
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
  t.deepEqual(
    pod?.containers.map((each) => each.name),
    ["vipd"],
    "BIRD runs beside the agent only with --bgp",
  );
  t.deepEqual(container.livenessProbe?.httpGet, { host: "127.0.0.1", path: "/healthz", port: "metrics" });
  t.deepEqual(container.readinessProbe?.httpGet, { host: "127.0.0.1", path: "/readyz", port: "metrics" });
  t.is(envOf(container).get("VIPD_METRICS_ADDR")?.value, "127.0.0.1:9559");
  // A scraper cannot reach the node's loopback: no annotation invites one to try.
  t.is(daemon.spec?.template.metadata?.annotations, undefined);
  t.deepEqual(container.resources, {
    requests: { cpu: "50m", memory: "160Mi" },
    limits: { memory: "384Mi" },
  });
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
  agent: Record<string, string>;
  expected: {
    leaseDuration: string;
    port: number;
    grace: number;
    probeHost: string;
    scraped: boolean;
    interface?: string;
  };
}[] = [
  {
    name: "defaults",
    agent: {},
    expected: { leaseDuration: "5s", port: 9559, grace: 30, probeHost: "127.0.0.1", scraped: false },
  },
  {
    name: "an interface and slow timings",
    agent: {
      interface: "bond0",
      "lease-duration": "1m",
      "renew-deadline": "40s",
      "retry-period": "15s",
      "address-lifetime": "2m",
    },
    expected: {
      leaseDuration: "1m",
      port: 9559,
      grace: 50,
      probeHost: "127.0.0.1",
      scraped: false,
      interface: "bond0",
    },
  },
  {
    name: "metrics on every IPv6 address on another port",
    agent: { "metrics-addr": "[::]:9660" },
    expected: { leaseDuration: "5s", port: 9660, grace: 30, probeHost: "127.0.0.1", scraped: true },
  },
  {
    name: "metrics on the node's address",
    agent: { "metrics-addr": "192.0.2.7:9559" },
    expected: { leaseDuration: "5s", port: 9559, grace: 30, probeHost: "192.0.2.7", scraped: true },
  },
  {
    name: "metrics on the IPv6 loopback",
    agent: { "metrics-addr": "[::1]:9559" },
    expected: { leaseDuration: "5s", port: 9559, grace: 30, probeHost: "::1", scraped: false },
  },
  {
    name: "milliseconds",
    agent: { "lease-duration": "2500ms", "renew-deadline": "1500ms", "retry-period": "500ms" },
    expected: { leaseDuration: "2500ms", port: 9559, grace: 30, probeHost: "127.0.0.1", scraped: false },
  },
  {
    name: "settings without a flag of their own",
    agent: { "announce-count": "5", "log-format": "text", "external-ip-cidrs": "192.0.2.0/24" },
    expected: { leaseDuration: "5s", port: 9559, grace: 30, probeHost: "127.0.0.1", scraped: false },
  },
];
for (const { name, agent, expected } of variations) {
  test(`DaemonSet with ${name}: the agent loads exactly the printed variables`, (t) => {
    const manifestOptions = {
      ...DEFAULT_MANIFEST_OPTIONS,
      agent: { ...DEFAULT_MANIFEST_OPTIONS.agent, ...agent },
    };
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
    // Every setting given is the agent's, and nothing else is: what it did not get is its default.
    t.deepEqual(
      config,
      loadRunConfig({
        flags: { nodeName: "worker-1", namespace: "vipd-system" },
        env: Object.fromEntries(
          Object.entries(manifestOptions.agent).map(([flag, value]) => [envName(flag), value]),
        ),
      }),
    );
    t.like(config, {
      nodeName: "worker-1",
      namespace: manifestOptions.namespace,
      metricsAddr: { port: expected.port },
    });
    t.is(config.interface, agent["interface"]);
    t.is(envOf(container).get("VIPD_LEASE_DURATION")?.value, expected.leaseDuration);
    t.is(envOf(container).get("VIPD_INTERFACE")?.value, expected.interface);
    t.is(container.ports?.[0]?.containerPort, expected.port);
    t.is(container.livenessProbe?.httpGet?.host, expected.probeHost);
    t.is(container.readinessProbe?.httpGet?.host, expected.probeHost);
    t.is(
      daemon.spec?.template.metadata?.annotations?.["prometheus.io/port"],
      expected.scraped ? String(expected.port) : undefined,
    );
    t.is(daemon.spec?.template.spec?.terminationGracePeriodSeconds, expected.grace);
  });
}

test("the grace period outlasts a handover (10 s of Lease writes, R − P of heartbeat delete, P), never below Kubernetes' 30 s", (t) => {
  t.is(terminationGraceSeconds({ renewDeadline: 3000, retryPeriod: 1000 }), 30);
  t.is(terminationGraceSeconds({ renewDeadline: 20_000, retryPeriod: 5000 }), 30);
  t.is(terminationGraceSeconds({ renewDeadline: 20_001, retryPeriod: 5000 }), 31);
  t.is(terminationGraceSeconds({ renewDeadline: 30_000, retryPeriod: 5000 }), 40, "3 × P would be 15 s");
});

test("node selector and tolerations are printed as given, without the control-plane ones when opted out", (t) => {
  const daemon = daemonSet({
    ...DEFAULT_MANIFEST_OPTIONS,
    controlPlaneNodes: false,
    priorityClassName: "",
    nodeSelector: { "node-role.kubernetes.io/edge": "" },
    tolerations: [{ key: "dedicated", operator: "Equal", value: "edge", effect: "NoSchedule" }],
  });
  t.deepEqual(daemon.spec?.template.spec?.nodeSelector, { "node-role.kubernetes.io/edge": "" });
  t.deepEqual(daemon.spec?.template.spec?.tolerations, [
    { key: "dedicated", operator: "Equal", value: "edge", effect: "NoSchedule" },
  ]);
  t.deepEqual(AGENT_CAPABILITIES, ["NET_ADMIN", "NET_RAW"]);
  t.false("priorityClassName" in (daemon.spec?.template.spec ?? {}), "an empty class is no class");
});

test("the control-plane tolerations come first, then the ones given", (t) => {
  const daemon = daemonSet({
    ...DEFAULT_MANIFEST_OPTIONS,
    tolerations: [{ key: "gpu", operator: "Exists" }],
  });
  t.deepEqual(
    daemon.spec?.template.spec?.tolerations?.map((toleration) => toleration.key),
    ["node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master", "gpu"],
  );
});

test("the state directory the agent is told is the one mounted from the node", (t) => {
  const daemon = daemonSet({
    ...DEFAULT_MANIFEST_OPTIONS,
    agent: { ...DEFAULT_MANIFEST_OPTIONS.agent, "state-dir": "/run/vipd-lb" },
  });
  t.deepEqual(daemon.spec?.template.spec?.volumes, [
    { name: "state", hostPath: { path: "/run/vipd-lb", type: "DirectoryOrCreate" } },
  ]);
  t.deepEqual(agentContainer(daemon).volumeMounts, [{ name: "state", mountPath: "/run/vipd-lb" }]);
  t.is(envOf(agentContainer(daemon)).get("VIPD_STATE_DIR")?.value, "/run/vipd-lb");
});

test("the DaemonSet's metrics port is never the control-plane static pod's, on nodes that run both", (t) => {
  const staticPodPort = loadRunConfig({
    flags: { nodeName: "n", metricsAddr: DEFAULT_STATIC_POD_OPTIONS.metricsAddr },
    env: {},
  }).metricsAddr.port;
  t.is(staticPodPort, STATIC_POD_METRICS_PORT);
  t.not(agentConfigOf(DEFAULT_MANIFEST_OPTIONS).metricsAddr.port, staticPodPort);
  const onStaticPodPort = {
    ...DEFAULT_MANIFEST_OPTIONS,
    agent: { ...DEFAULT_MANIFEST_OPTIONS.agent, "metrics-addr": `127.0.0.1:${staticPodPort}` },
  };
  t.throws(() => daemonSet(onStaticPodPort), { instanceOf: ManifestOptionsError, message: /static pod's/ });
  // Without control-plane nodes the two never share a node.
  t.is(daemonSet({ ...onStaticPodPort, controlPlaneNodes: false }).kind, "DaemonSet");
});

test("--bgp: BIRD in a second container of the same image, sharing /run/bird with the agent, which is told to drive it there", (t) => {
  const daemon = daemonSet({ ...DEFAULT_MANIFEST_OPTIONS, image: "registry.example/vipd:1", bgp: true });
  const pod = daemon.spec?.template.spec;
  const [agent, bird] = pod?.containers ?? [];
  if (agent === undefined || bird === undefined) return t.fail("two containers");
  t.is(agent.name, "vipd");
  t.is(bird.name, "bird");
  t.is(bird.image, "registry.example/vipd:1");
  t.true(pod?.hostNetwork, "BIRD's sessions leave from the node's own addresses");
  t.deepEqual(pod?.volumes?.at(-1), { name: "bird", emptyDir: {} });
  t.deepEqual(agent.volumeMounts?.at(-1), { name: "bird", mountPath: "/run/bird" });
  t.deepEqual(bird.volumeMounts, [{ name: "bird", mountPath: "/run/bird" }]);
  const env = envOf(agent);
  t.is(env.get("VIPD_BGP_SPEAKER")?.value, "bird");
  t.is(env.get("VIPD_BIRD_CONFIG")?.value, "/run/bird/bird.conf");
  t.is(env.get("VIPD_BIRD_SOCKET")?.value, "/run/bird/bird.ctl");
  t.deepEqual(bird.command?.slice(0, 2), ["sh", "-c"]);
  t.deepEqual(bird.command?.slice(3), [
    "bird",
    "/run/bird/bird.conf",
    "/run/bird/bird.ctl",
    BIRD_BOOTSTRAP_CONFIG,
  ]);
  for (const probe of [bird.livenessProbe, bird.readinessProbe]) {
    t.deepEqual(probe?.exec?.command, ["birdc", "-s", "/run/bird/bird.ctl", "show", "status"]);
  }
  t.like(bird.securityContext, {
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { add: [...BIRD_CAPABILITIES], drop: ["ALL"] },
  });
  t.deepEqual(BIRD_CAPABILITIES, ["NET_ADMIN", "NET_BIND_SERVICE", "NET_RAW"]);
  t.deepEqual(bird.resources, BIRD_RESOURCES);
  // The agent's own container is the same as without BIRD, but the shared directory.
  t.deepEqual(agent.securityContext, agentContainer(daemonSet(DEFAULT_MANIFEST_OPTIONS)).securityContext);
});

test("--bgp: the settings that tie the agent to its sidecar are the DaemonSet's", (t) => {
  for (const flag of ["bgp-speaker", "bird-config", "bird-socket"]) {
    const problems = problemsOf({ bgp: true, agent: { ...DEFAULT_MANIFEST_OPTIONS.agent, [flag]: "x" } });
    t.true(
      problems.includes(`--set-agent ${flag}: with --bgp the DaemonSet sets it itself`),
      problems.join("\n"),
    );
  }
});

/**
 * The BIRD container's command in a scratch directory standing for /run/bird, with a stand-in for
 * bird on PATH that prints how it was started and the config it was started on.
 */
async function runBirdCommand(t: ExecutionContext, agentConfig?: string) {
  const scratch = mkdtempSync(path.join(tmpdir(), "vipd-bird-command-"));
  t.teardown(() => {
    rmSync(scratch, { recursive: true, force: true });
  });
  writeFileSync(path.join(scratch, "bird"), '#!/bin/sh\necho "bird $*"\ncat "$3"\n');
  chmodSync(path.join(scratch, "bird"), 0o755);
  const config = path.join(scratch, "bird.conf");
  const socket = path.join(scratch, "bird.ctl");
  if (agentConfig !== undefined) writeFileSync(config, agentConfig);
  const [shell = "", flag = "", script = "", name = "", , , bootstrap = ""] =
    birdContainer("vipd").command ?? [];
  const child = spawn(shell, [flag, script, name, config, socket, bootstrap], {
    env: { PATH: `${scratch}:/usr/bin:/bin` },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  // "close": after its output, all of it, has been read.
  const code = await new Promise<number | null>((resolve) => {
    child.on("close", resolve);
  });
  return { code, output, config, socket, left: readdirSync(scratch).sort() };
}

test("the BIRD container starts BIRD in the foreground on a bootstrap config when the agent has written none", async (t) => {
  const run = await runBirdCommand(t);
  t.is(run.code, 0);
  t.is(run.output, `bird -f -c ${run.config} -s ${run.socket} -R\n${BIRD_BOOTSTRAP_CONFIG}`);
  t.deepEqual(run.left, ["bird", "bird.conf"], "the bootstrap's temporary file is gone");
});

test("the BIRD container starts BIRD on the agent's config when there is one, and leaves it as it is", async (t) => {
  const run = await runBirdCommand(t, "router id 198.51.100.10;\n");
  t.is(run.code, 0);
  t.is(run.output, `bird -f -c ${run.config} -s ${run.socket} -R\nrouter id 198.51.100.10;\n`);
  t.deepEqual(run.left, ["bird", "bird.conf"]);
});

const refused: { options: Partial<ManifestOptions>; agent?: Record<string, string>; problem: RegExp }[] = [
  {
    options: {},
    agent: { "lease-duration": "3s" },
    problem: /^--lease-duration .*longer than --renew-deadline/,
  },
  { options: {}, agent: { "retry-period": "3s" }, problem: /^--renew-deadline .*× --retry-period/ },
  { options: {}, agent: { "address-lifetime": "2s" }, problem: /^--address-lifetime .*3 × --retry-period/ },
  { options: {}, agent: { "lease-duration": "soon" }, problem: /^--lease-duration .*not a duration/ },
  { options: {}, agent: { "metrics-addr": "9559" }, problem: /^--metrics-addr / },
  { options: {}, agent: { interface: "a-very-long-interface" }, problem: /^--interface / },
  { options: {}, agent: { "announce-count": "many" }, problem: /^--announce-count / },
  { options: {}, agent: { "announce-cuont": "5" }, problem: /^--set-agent announce-cuont: not a setting/ },
  {
    options: {},
    agent: { "node-name": "n" },
    problem: /^--set-agent node-name: the DaemonSet sets it itself/,
  },
  { options: {}, agent: { vip: "192.0.2.1" }, problem: /^--set-agent vip: the DaemonSet sets it itself/ },
  { options: { namespace: "Not_A_Namespace" }, problem: /^--namespace / },
  { options: { image: "vipd latest" }, problem: /^--image / },
  { options: { image: "" }, problem: /^--image / },
];
for (const { options, agent = {}, problem } of refused) {
  test(`refused: ${JSON.stringify({ ...options, ...agent })}`, (t) => {
    const all = { ...options, agent: { ...DEFAULT_MANIFEST_OPTIONS.agent, ...agent } };
    const problems = problemsOf(all);
    t.true(
      problems.some((each) => problem.test(each)),
      problems.join("\n"),
    );
    t.throws(() => daemonSet({ ...DEFAULT_MANIFEST_OPTIONS, ...all }), {
      instanceOf: ManifestOptionsError,
    });
  });
}

test("every problem is reported at once", (t) => {
  t.is(
    problemsOf({
      image: "",
      agent: { ...DEFAULT_MANIFEST_OPTIONS.agent, "lease-duration": "soon", "metrics-addr": "x", nope: "1" },
    }).length,
    4,
  );
});

test("--set-agent flag=value, with or without the dashes", (t) => {
  t.deepEqual(parseAgentSettings(["announce-count=5", "--log-format=text", "external-ip-cidrs="]), {
    "announce-count": "5",
    "log-format": "text",
    "external-ip-cidrs": "",
  });
  t.throws(() => parseAgentSettings(["announce-count"]), {
    instanceOf: ManifestOptionsError,
    message: /--set-agent/,
  });
  t.throws(() => parseAgentSettings(["=5"]), { instanceOf: ManifestOptionsError, message: /--set-agent/ });
});

test("the agent settings a DaemonSet may be given: all of vipd run's but the node, namespace and control-plane mode's", (t) => {
  t.false(DAEMONSET_AGENT_FLAGS.includes("node-name"));
  t.false(DAEMONSET_AGENT_FLAGS.includes("namespace"));
  t.false(DAEMONSET_AGENT_FLAGS.includes("vip"));
  t.false(DAEMONSET_AGENT_FLAGS.some((flag) => flag.startsWith("health-") || flag === "control-plane"));
  t.true(DAEMONSET_AGENT_FLAGS.includes("announce-count"));
  t.is(DAEMONSET_AGENT_FLAGS.length, Object.keys(RUN_OPTIONS).length - 8);
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
