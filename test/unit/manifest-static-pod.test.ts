// The static pod of control-plane mode, as kubelet on a kubeadm control-plane node will run it.
import test from "ava";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { loadRunConfig } from "../../src/config/load.ts";
import { DEFAULT_STATIC_POD_OPTIONS, staticPod } from "../../src/manifest/static-pod.ts";
import { ManifestOptionsError } from "../../src/manifest/options.ts";

function pod(options: Partial<Parameters<typeof staticPod>[0]> = {}): { pod: V1Pod; container: V1Container } {
  const printed = staticPod({ ...DEFAULT_STATIC_POD_OPTIONS, vip: "192.0.2.10", ...options });
  const [container] = printed.spec?.containers ?? [];
  if (container === undefined) throw new Error("no container");
  return { pod: printed, container };
}

function variables(container: V1Container): Record<string, string> {
  return Object.fromEntries((container.env ?? []).map((each) => [each.name, each.value ?? "(from a field)"]));
}

test("host network, two capabilities and nothing else, not privileged, system-node-critical", (t) => {
  const { pod: printed, container } = pod();
  t.is(printed.kind, "Pod");
  t.is(printed.metadata?.namespace, "kube-system");
  t.true(printed.spec?.hostNetwork);
  t.is(printed.spec?.priorityClassName, "system-node-critical");
  t.is(printed.spec?.priority, 2000001000);
  t.like(container.securityContext, {
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { add: ["NET_ADMIN", "NET_RAW"], drop: ["ALL"] },
  });
  t.deepEqual(container.livenessProbe?.httpGet, { host: "127.0.0.1", path: "/healthz", port: "metrics" });
  t.deepEqual(container.readinessProbe?.httpGet, { host: "127.0.0.1", path: "/readyz", port: "metrics" });
  t.is(variables(container)["VIPD_METRICS_ADDR"], "127.0.0.1:9560", "next to the DaemonSet's 9559");
  t.is(printed.metadata?.annotations, undefined, "no scraper reaches the loopback");
  t.deepEqual(container.ports, [{ name: "metrics", containerPort: 9560, protocol: "TCP" }]);
  t.is(
    printed.spec?.serviceAccountName,
    undefined,
    "a static pod has no ServiceAccount: it uses the kubeconfig",
  );
});

test("the admin kubeconfig comes from the host, read-only, at the path the agent reads", (t) => {
  const { pod: printed, container } = pod({ kubeconfig: "/etc/kubernetes/super-admin.conf" });
  t.deepEqual(printed.spec?.volumes, [
    { name: "state", hostPath: { path: "/run/vipd", type: "DirectoryOrCreate" } },
    { name: "kubeconfig", hostPath: { path: "/etc/kubernetes/super-admin.conf", type: "File" } },
  ]);
  t.deepEqual(container.volumeMounts, [
    { name: "state", mountPath: "/run/vipd" },
    { name: "kubeconfig", mountPath: "/etc/kubernetes/super-admin.conf", readOnly: true },
  ]);
  t.is(variables(container)["VIPD_KUBECONFIG"], "/etc/kubernetes/super-admin.conf");
});

test("its variables are a configuration the agent loads as control-plane mode", (t) => {
  const { container } = pod({
    vip: "192.0.2.10, 2001:DB8::10",
    interface: "eth1",
    healthFailureThreshold: "5",
  });
  const env = variables(container);
  t.is(env["VIPD_CONTROL_PLANE"], "true");
  t.is(env["VIPD_VIP"], "192.0.2.10,2001:db8::10");
  t.is(env["VIPD_INTERFACE"], "eth1");
  const loaded = loadRunConfig({
    flags: {},
    env: { ...env, VIPD_NODE_NAME: "cp1" },
  });
  t.true(loaded.controlPlane);
  t.is(loaded.namespace, "kube-system");
  t.is(loaded.healthFailureThreshold, 5);
  t.is(loaded.healthUrl.href, "https://127.0.0.1:6443/livez");
  t.deepEqual(
    loaded.vip?.map((vip) => vip.address),
    ["192.0.2.10", "2001:db8::10"],
  );
});

test("the DaemonSet's metrics port is refused: both agents run on a control-plane node's network", (t) => {
  t.throws(() => pod({ metricsAddr: "127.0.0.1:9559" }), {
    instanceOf: ManifestOptionsError,
    message: /port 9559 is the services-mode DaemonSet's/,
  });
  t.is(pod({ metricsAddr: "0.0.0.0:9561" }).container.ports?.[0]?.containerPort, 9561);
});

test("options the agent would refuse are refused here, named by their flag", (t) => {
  const error = t.throws(() => pod({ vip: "not-an-ip", healthPeriod: "soon" }), {
    instanceOf: ManifestOptionsError,
  });
  t.true(error.problems.some((problem) => problem.startsWith("--vip (VIPD_VIP)")));
  t.true(error.problems.some((problem) => problem.startsWith("--health-period (VIPD_HEALTH_PERIOD)")));
});
