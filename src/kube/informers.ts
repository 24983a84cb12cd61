// The agent's shared informers — one per resource kind, never a watch per Service.
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  NetworkingV1Api,
  type KubeConfig,
  type V1EndpointSlice,
  type KubernetesListObject,
  type KubernetesObject,
  type V1ConfigMap,
  type V1Lease,
  type V1Namespace,
  type V1Node,
  type V1Service,
  type V1ServiceCIDR,
} from "@kubernetes/client-node";
import {
  VIP_ALLOCATION_PLURAL,
  VIP_POOL_PLURAL,
  VIPD_API_GROUP,
  VIPD_API_VERSION,
  VIPD_GROUP_VERSION,
  type VipAllocation,
  type VipPool,
} from "../addresses/api.ts";
import { KUBE_VIP_CONFIGMAP_NAME, KUBE_VIP_CONFIGMAP_NAMESPACE } from "../addresses/kube-vip-configmap.ts";
import type { Clock } from "../clock/clock.ts";
import { LEASE_LABEL_COMPONENT } from "../election/lease-names.ts";
import { classifyApiError } from "./errors.ts";
import {
  SharedInformer,
  type InformerFailing,
  type InformerFailure,
  type InformerOptions,
} from "./informer.ts";
import { requestOptions } from "./request-options.ts";

export interface AgentInformers {
  readonly services: SharedInformer<V1Service>;
  readonly endpointSlices: SharedInformer<V1EndpointSlice>;
  readonly nodes: SharedInformer<V1Node>;
  /** vipd's own Leases (heartbeats and ownership) in its namespace, selected by label. */
  readonly leases: SharedInformer<V1Lease>;
  /**
   * The cluster's Service CIDRs (networking.k8s.io/v1, GA in Kubernetes 1.33). Started only where
   * the API server serves them (servesServiceCidrs): an older one would answer every list with 404.
   */
  readonly serviceCidrs: SharedInformer<V1ServiceCIDR>;
  /**
   * vipd's own API (src/addresses/api.ts), and the Namespaces whose labels pools select on. Started
   * only where the API server serves vipd.io (servesVipdApi): its CRDs may not be installed.
   */
  readonly vipPools: SharedInformer<VipPool>;
  readonly vipAllocations: SharedInformer<VipAllocation>;
  readonly namespaces: SharedInformer<V1Namespace>;
  /** kube-vip-cloud-provider's kube-system/kubevip, read as pools (kube-vip-configmap.ts). */
  readonly kubeVipConfig: SharedInformer<V1ConfigMap>;
}

export interface InformerFactoryOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly listTimeoutMs: number;
  readonly clock: Clock;
  readonly onFailure: (failure: InformerFailure) => void;
  readonly onWatchFailed: NonNullable<InformerOptions<KubernetesObject>["onWatchFailed"]>;
  readonly onRecovered: (kind: string) => void;
  readonly onError: (message: string) => void;
}

export function createAgentInformers(options: InformerFactoryOptions): AgentInformers {
  const { kubeConfig, namespace, clock } = options;
  const reports = {
    onFailure: options.onFailure,
    onWatchFailed: options.onWatchFailed,
    onRecovered: options.onRecovered,
    onError: options.onError,
  };
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
  const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
  const networking = kubeConfig.makeApiClient(NetworkingV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const deadline = () => requestOptions({ timeoutMs: options.listTimeoutMs });
  // The generated client types custom objects as plain objects; the API server returns a list.
  const listVipd =
    <T extends KubernetesObject>(plural: string) =>
    (): Promise<KubernetesListObject<T>> =>
      custom.listClusterCustomObject(
        { group: VIPD_API_GROUP, version: VIPD_API_VERSION, plural },
        deadline(),
      ) as Promise<KubernetesListObject<T>>;
  const labelSelector = LEASE_LABEL_COMPONENT;
  const kubeVipFieldSelector = `metadata.name=${KUBE_VIP_CONFIGMAP_NAME}`;
  return {
    services: new SharedInformer({
      kind: "Service",
      kubeConfig,
      clock,
      path: "/api/v1/services",
      list: () => core.listServiceForAllNamespaces({}, deadline()),
      ...reports,
    }),
    endpointSlices: new SharedInformer({
      kind: "EndpointSlice",
      kubeConfig,
      clock,
      path: "/apis/discovery.k8s.io/v1/endpointslices",
      list: () => discovery.listEndpointSliceForAllNamespaces({}, deadline()),
      ...reports,
    }),
    nodes: new SharedInformer({
      kind: "Node",
      kubeConfig,
      clock,
      path: "/api/v1/nodes",
      list: () => core.listNode({}, deadline()),
      ...reports,
    }),
    leases: new SharedInformer({
      kind: "Lease",
      kubeConfig,
      clock,
      path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
      list: () => coordination.listNamespacedLease({ namespace, labelSelector }, deadline()),
      labelSelector,
      ...reports,
    }),
    serviceCidrs: new SharedInformer({
      kind: "ServiceCIDR",
      kubeConfig,
      clock,
      path: "/apis/networking.k8s.io/v1/servicecidrs",
      list: () => networking.listServiceCIDR({}, deadline()),
      ...reports,
    }),
    vipPools: new SharedInformer({
      kind: "VIPPool",
      kubeConfig,
      clock,
      path: `/apis/${VIPD_GROUP_VERSION}/${VIP_POOL_PLURAL}`,
      list: listVipd<VipPool>(VIP_POOL_PLURAL),
      ...reports,
    }),
    vipAllocations: new SharedInformer({
      kind: "VIPAllocation",
      kubeConfig,
      clock,
      path: `/apis/${VIPD_GROUP_VERSION}/${VIP_ALLOCATION_PLURAL}`,
      list: listVipd<VipAllocation>(VIP_ALLOCATION_PLURAL),
      ...reports,
    }),
    kubeVipConfig: new SharedInformer({
      kind: "ConfigMap",
      kubeConfig,
      clock,
      path: `/api/v1/namespaces/${KUBE_VIP_CONFIGMAP_NAMESPACE}/configmaps`,
      // vipd may read this one ConfigMap of kube-system and no other (rbac.ts).
      fieldSelector: kubeVipFieldSelector,
      list: () =>
        core.listNamespacedConfigMap(
          { namespace: KUBE_VIP_CONFIGMAP_NAMESPACE, fieldSelector: kubeVipFieldSelector },
          deadline(),
        ),
      ...reports,
    }),
    namespaces: new SharedInformer({
      kind: "Namespace",
      kubeConfig,
      clock,
      path: "/api/v1/namespaces",
      list: () => core.listNamespace({}, deadline()),
      ...reports,
    }),
  };
}

/**
 * Whether the API server serves networking.k8s.io/v1 ServiceCIDRs, from its discovery document.
 * A failure other than "not served" (the API server unreachable) is thrown, for the caller to retry.
 */
export async function servesServiceCidrs(kubeConfig: KubeConfig, timeoutMs: number): Promise<boolean> {
  try {
    const resources = await kubeConfig
      .makeApiClient(NetworkingV1Api)
      .getAPIResources(requestOptions({ timeoutMs }));
    return resources.resources.some((resource) => resource.name === "servicecidrs");
  } catch (error) {
    if (classifyApiError(error) === "not-found") return false;
    throw error;
  }
}

/**
 * Whether the API server serves vipd.io/v1alpha1 with both of vipd's kinds: its CRDs are installed.
 * A failure other than "not served" is thrown, for the caller to retry.
 */
export async function servesVipdApi(kubeConfig: KubeConfig, timeoutMs: number): Promise<boolean> {
  try {
    const resources = await kubeConfig
      .makeApiClient(CustomObjectsApi)
      .getAPIResources({ group: VIPD_API_GROUP, version: VIPD_API_VERSION }, requestOptions({ timeoutMs }));
    const names = new Set(resources.resources.map((resource) => resource.name));
    return names.has(VIP_POOL_PLURAL) && names.has(VIP_ALLOCATION_PLURAL);
  } catch (error) {
    if (classifyApiError(error) === "not-found") return false;
    throw error;
  }
}

export interface InformerLifecycle {
  readonly kind: string;
  readonly resource: string;
  readonly synced: boolean;
  readonly failing: InformerFailing | null;
  start(): Promise<void>;
  whenSynced(): Promise<void>;
  stop(): Promise<void>;
}

/** The informers of vipd's own API and what pools read, started only where vipd.io is served. */
export function vipdApiInformers(informers: AgentInformers): readonly InformerLifecycle[] {
  return [informers.vipPools, informers.vipAllocations, informers.namespaces, informers.kubeVipConfig];
}

/** Every informer services mode runs; the optional ones only where the API server serves them. */
export function allInformers(
  informers: AgentInformers,
  options: { readonly serviceCidrs: boolean; readonly vipdApi: boolean },
): readonly InformerLifecycle[] {
  return [
    informers.services,
    informers.endpointSlices,
    informers.nodes,
    informers.leases,
    ...(options.serviceCidrs ? [informers.serviceCidrs] : []),
    ...(options.vipdApi ? vipdApiInformers(informers) : []),
  ];
}
