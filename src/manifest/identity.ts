// The names and labels every object `vipd manifest` prints shares, so they find each other.
import { VERSION } from "../version.ts";

export const APP_NAME = "vipd";
export const SERVICE_ACCOUNT_NAME = "vipd";
const AGENT_COMPONENT = "agent";

export function commonLabels(): Record<string, string> {
  return {
    "app.kubernetes.io/name": APP_NAME,
    "app.kubernetes.io/version": VERSION,
    "app.kubernetes.io/managed-by": "vipd-manifest",
  };
}

/** What the DaemonSet selects on: stable across versions, because a selector cannot change. */
export function agentSelectorLabels(): Record<string, string> {
  return { "app.kubernetes.io/name": APP_NAME, "app.kubernetes.io/component": AGENT_COMPONENT };
}

/**
 * Cluster-scoped objects carry the namespace in their name: two installations (say, one per
 * loadBalancerClass) in two namespaces must not overwrite each other's ClusterRoleBinding.
 */
export function clusterScopedName(namespace: string): string {
  return `${APP_NAME}:${namespace}`;
}
