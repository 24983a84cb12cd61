// Control-plane mode talks to its own node's API server, not to the server the kubeconfig names: a
// kubeadm admin.conf names the control-plane endpoint, which is the VIP this agent is about to
// provide, and it must work before the VIP exists and while another node holds it.
import type { KubeConfig } from "@kubernetes/client-node";

/**
 * The name every kube-apiserver serving certificate carries (kubeadm's among them, which has the
 * node's addresses but not 127.0.0.1), so TLS verification still holds against a loopback address.
 */
export const API_SERVER_TLS_NAME = "kubernetes";

/**
 * Keeps the kubeconfig's credentials and CA and points its current cluster at the health URL's
 * origin, verified as API_SERVER_TLS_NAME unless the kubeconfig sets its own tls-server-name.
 */
export function useLocalApiServer(kubeConfig: KubeConfig, healthUrl: URL): void {
  const current = kubeConfig.getCurrentCluster();
  if (current === null) throw new Error("the kubeconfig has no current cluster");
  const local = {
    ...current,
    server: healthUrl.origin,
    tlsServerName: current.tlsServerName ?? API_SERVER_TLS_NAME,
  };
  kubeConfig.loadFromOptions({
    clusters: kubeConfig.clusters.map((cluster) => (cluster.name === current.name ? local : cluster)),
    users: kubeConfig.users,
    contexts: kubeConfig.contexts,
    currentContext: kubeConfig.currentContext,
  });
}
