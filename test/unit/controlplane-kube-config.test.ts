import test from "ava";
import { KubeConfig } from "@kubernetes/client-node";
import { API_SERVER_TLS_NAME, useLocalApiServer } from "../../src/controlplane/kube-config.ts";

// A kubeadm admin.conf in miniature: it names the control-plane endpoint, the VIP.
function adminConf(cluster: Record<string, unknown> = {}): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: "kubernetes",
          cluster: {
            server: "https://198.51.100.100:6443",
            "certificate-authority-data": "Q0E=",
            ...cluster,
          },
        },
        { name: "other", cluster: { server: "https://192.0.2.1:6443" } },
      ],
      users: [{ name: "kubernetes-admin", user: { token: "t" } }],
      contexts: [{ name: "admin", context: { cluster: "kubernetes", user: "kubernetes-admin" } }],
      "current-context": "admin",
    }),
  );
  return kubeConfig;
}

test("the agent talks to the health URL's origin with the kubeconfig's CA and credentials", (t) => {
  const kubeConfig = adminConf();
  useLocalApiServer(kubeConfig, new URL("https://127.0.0.1:6443/livez"));
  const cluster = kubeConfig.getCurrentCluster();
  t.is(cluster?.server, "https://127.0.0.1:6443");
  t.is(cluster?.tlsServerName, API_SERVER_TLS_NAME, "verified as the name every serving certificate has");
  t.is(cluster?.caData, "Q0E=");
  t.is(kubeConfig.getCurrentUser()?.token, "t");
  t.is(kubeConfig.getCluster("other")?.server, "https://192.0.2.1:6443", "other clusters are left alone");
});

test("a tls-server-name in the kubeconfig is kept", (t) => {
  const kubeConfig = adminConf({ "tls-server-name": "cp.example" });
  useLocalApiServer(kubeConfig, new URL("https://[::1]:6443/livez"));
  t.is(kubeConfig.getCurrentCluster()?.server, "https://[::1]:6443");
  t.is(kubeConfig.getCurrentCluster()?.tlsServerName, "cp.example");
});
