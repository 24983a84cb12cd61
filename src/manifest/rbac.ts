// The least privilege the agent runs with: exactly the verbs its API calls use, found in src/kube,
// src/election and src/agent, and nothing else. Leases are granted by a Role in vipd's namespace
// only, so a compromised agent cannot touch the Leases that elect kube-controller-manager or
// kube-scheduler, nor the node heartbeats in kube-node-lease.
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1Namespace,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1ServiceAccount,
  RbacV1Subject,
} from "@kubernetes/client-node";
import { clusterScopedName, commonLabels, SERVICE_ACCOUNT_NAME } from "./identity.ts";

export const CLUSTER_RULES: readonly V1PolicyRule[] = [
  // The Service informer (list + watch across namespaces), and the merge patch that writes only the
  // vipd.io/holder annotation. RBAC cannot narrow a patch to one field; the agent never sends more.
  { apiGroups: [""], resources: ["services"], verbs: ["list", "watch", "patch"] },
  // status.loadBalancer.ingress, through the /status subresource.
  { apiGroups: [""], resources: ["services/status"], verbs: ["patch"] },
  // externalTrafficPolicy: Local needs to know which nodes have a ready endpoint.
  { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
  // Node addresses, exclusion labels and NetworkUnavailable decide eligibility.
  { apiGroups: [""], resources: ["nodes"], verbs: ["list", "watch"] },
  // The cluster's Service CIDRs (an informer): a VIP inside one is refused.
  { apiGroups: ["networking.k8s.io"], resources: ["servicecidrs"], verbs: ["list", "watch"] },
  // Events on Services (VIPAnnounced, VIPConflict, …) in the Services' own namespaces; a repeat
  // patches the count of the Event it repeats.
  { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
];

export const LEASE_RULES: readonly V1PolicyRule[] = [
  // Heartbeats and ownership Leases: a label-selected informer (list + watch), a fresh read before
  // each claim (get), compare-and-swap writes (create, update), and clean-up of the heartbeat on
  // handover and of Leases whose node or Service is gone (delete).
  {
    apiGroups: ["coordination.k8s.io"],
    resources: ["leases"],
    verbs: ["get", "list", "watch", "create", "update", "delete"],
  },
];

export interface RbacOptions {
  readonly namespace: string;
}

function subject(namespace: string): RbacV1Subject {
  return { kind: "ServiceAccount", name: SERVICE_ACCOUNT_NAME, namespace };
}

function namespaceObject(options: RbacOptions): V1Namespace {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name: options.namespace,
      labels: {
        ...commonLabels(),
        // hostNetwork and NET_ADMIN are outside the baseline Pod Security Standard: the agent's whole
        // job is to put addresses on the node's interface. Admission would refuse its pods otherwise.
        "pod-security.kubernetes.io/enforce": "privileged",
      },
    },
  };
}

export function rbacObjects(
  options: RbacOptions,
): [V1Namespace, V1ServiceAccount, V1ClusterRole, V1ClusterRoleBinding, V1Role, V1RoleBinding] {
  const { namespace } = options;
  const clusterName = clusterScopedName(namespace);
  const labels = commonLabels();
  return [
    namespaceObject(options),
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: SERVICE_ACCOUNT_NAME, namespace, labels },
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: clusterName, labels },
      rules: [...CLUSTER_RULES],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRoleBinding",
      metadata: { name: clusterName, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterName },
      subjects: [subject(namespace)],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: SERVICE_ACCOUNT_NAME, namespace, labels },
      rules: [...LEASE_RULES],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: SERVICE_ACCOUNT_NAME, namespace, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: SERVICE_ACCOUNT_NAME },
      subjects: [subject(namespace)],
    },
  ];
}
