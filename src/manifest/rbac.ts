// The least privilege the agent runs with: exactly the verbs its API calls use, found in src/kube,
// src/election and src/agent, and nothing else. Leases are granted by a Role in vipd's namespace
// only, so a compromised agent cannot touch the Leases that elect kube-controller-manager or
// kube-scheduler, nor the node heartbeats in kube-node-lease. kube-vip-cloud-provider's ConfigMap is
// readable by name only, through a Role in kube-system. Where RBAC is too coarse — `patch` on
// services, granted for one annotation — a ValidatingAdmissionPolicy (admission.ts), printed with
// these objects, refuses every other change that account makes to a Service.
import type {
  V1ValidatingAdmissionPolicy,
  V1ValidatingAdmissionPolicyBinding,
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1Namespace,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1ServiceAccount,
  RbacV1Subject,
} from "@kubernetes/client-node";
import { VIP_ALLOCATION_PLURAL, VIP_POOL_PLURAL, VIPD_API_GROUP } from "../addresses/api.ts";
import { serviceWritesPolicy } from "./admission.ts";
import { clusterScopedName, commonLabels, SERVICE_ACCOUNT_NAME } from "./identity.ts";

export const CLUSTER_RULES: readonly V1PolicyRule[] = [
  // The Service informer (list + watch across namespaces), and the merge patch that writes only the
  // vipd.io/holder annotation. RBAC cannot narrow a patch to one field: the admission policy of
  // admission.ts refuses any other change this account makes to a Service (spec, labels, other
  // annotations, finalizers, ownerReferences), so a stolen token cannot redirect a Service.
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
  // The pool informer. Pools are the operator's: the agent never writes their spec.
  { apiGroups: [VIPD_API_GROUP], resources: [VIP_POOL_PLURAL], verbs: ["list", "watch"] },
  // Usage and conditions (Conflicting, Ready), through the /status subresource only.
  { apiGroups: [VIPD_API_GROUP], resources: [`${VIP_POOL_PLURAL}/status`], verbs: ["update", "patch"] },
  // One allocation per address: the informer (list, watch), a fresh read before a change (get), the
  // create that claims an address atomically, the compare-and-swap update that shares or releases
  // it, and the delete once its cool-down is over.
  {
    apiGroups: [VIPD_API_GROUP],
    resources: [VIP_ALLOCATION_PLURAL],
    verbs: ["get", "list", "watch", "create", "update", "delete"],
  },
  // A pool's namespaceSelectors match the labels of the Service's namespace (an informer).
  { apiGroups: [""], resources: ["namespaces"], verbs: ["list", "watch"] },
];

/** kube-vip-cloud-provider's ConfigMap, read as a pool (src/addresses/kube-vip-configmap.ts). */
export const KUBE_VIP_CONFIGMAP = { namespace: "kube-system", name: "kubevip" } as const;

export const KUBE_VIP_CONFIGMAP_RULES: readonly V1PolicyRule[] = [
  // That one ConfigMap, and no other in kube-system (kubeadm's, or the cluster's CA bundle). RBAC
  // matches list and watch against resourceNames when the request selects the name with
  // fieldSelector=metadata.name=kubevip, which is how the agent's informer asks for it.
  {
    apiGroups: [""],
    resources: ["configmaps"],
    resourceNames: [KUBE_VIP_CONFIGMAP.name],
    verbs: ["get", "list", "watch"],
  },
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
        // warn and audit at the same level, or a cluster whose defaults are stricter would warn on
        // every rollout and fill its audit log with pods it admitted on purpose.
        "pod-security.kubernetes.io/enforce": "privileged",
        "pod-security.kubernetes.io/warn": "privileged",
        "pod-security.kubernetes.io/audit": "privileged",
      },
    },
  };
}

export function rbacObjects(
  options: RbacOptions,
): [
  V1Namespace,
  V1ServiceAccount,
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1Role,
  V1RoleBinding,
  V1Role,
  V1RoleBinding,
  V1ValidatingAdmissionPolicy,
  V1ValidatingAdmissionPolicyBinding,
] {
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
    // Named after the installation's namespace, as the cluster-scoped objects are: two
    // installations each have their own in kube-system.
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: clusterName, namespace: KUBE_VIP_CONFIGMAP.namespace, labels },
      rules: [...KUBE_VIP_CONFIGMAP_RULES],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: clusterName, namespace: KUBE_VIP_CONFIGMAP.namespace, labels },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: clusterName },
      subjects: [subject(namespace)],
    },
    ...serviceWritesPolicy(namespace),
  ];
}
