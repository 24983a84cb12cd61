// The snapshot `vipd explain` reads, with the user's own kubeconfig: one list or get per kind, all
// at once. Only the Service itself must be readable; anything else the user may not read (RBAC),
// or the API server does not serve (no ServiceCIDRs before Kubernetes 1.33, no vipd.io without the
// CRDs), is left empty and named in the snapshot's `unread`, so the report says what it lacks
// instead of failing.
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  NetworkingV1Api,
  type KubeConfig,
  type KubernetesListObject,
} from "@kubernetes/client-node";
import type { VipAllocation, VipPool } from "../addresses/api.ts";
import {
  VIP_ALLOCATION_PLURAL,
  VIP_POOL_PLURAL,
  VIPD_API_GROUP,
  VIPD_API_VERSION,
} from "../addresses/api.ts";
import { KUBE_VIP_CONFIGMAP_NAME, KUBE_VIP_CONFIGMAP_NAMESPACE } from "../addresses/kube-vip-configmap.ts";
import { SERVICE_NAME_LABEL } from "../agent/informer-view.ts";
import { KUBERNETES_SERVICE } from "../kube/cluster-addresses.ts";
import { classifyApiError, describeApiError } from "../kube/errors.ts";
import { servesServiceCidrs, servesVipdApi } from "../kube/informers.ts";
import { REQUEST_TIMEOUT_MS, requestOptions } from "../kube/request-options.ts";
import type { ServiceRef } from "../kube/service-ref.ts";
import { LEASES_UNREAD } from "./explain.ts";
import type { ExplainGatherer, Gathered } from "./snapshot.ts";

type Settled<T> = { [K in keyof T]: Awaited<T[K]> };

/** Every value of the record, awaited at once. */
async function allOf<T extends Record<string, unknown>>(values: T): Promise<Settled<T>> {
  const entries = await Promise.all(Object.entries(values).map(async ([key, value]) => [key, await value]));
  return Object.fromEntries(entries) as Settled<T>;
}

export class KubeExplainGatherer implements ExplainGatherer {
  readonly #kubeConfig: KubeConfig;
  readonly #vipdNamespace: string;

  constructor(options: { readonly kubeConfig: KubeConfig; readonly vipdNamespace: string }) {
    this.#kubeConfig = options.kubeConfig;
    this.#vipdNamespace = options.vipdNamespace;
  }

  async gather(ref: ServiceRef): Promise<Gathered> {
    const kubeConfig = this.#kubeConfig;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
    const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
    const networking = kubeConfig.makeApiClient(NetworkingV1Api);
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const deadline = () => requestOptions({ timeoutMs: REQUEST_TIMEOUT_MS });
    let service;
    try {
      service = await core.readNamespacedService(ref, deadline());
    } catch (error) {
      if (classifyApiError(error) === "not-found") return { found: false };
      throw error;
    }
    const unread: string[] = [];
    // What could not be read is named once and read as nothing; an absent object is no error.
    const read = async <T>(what: string, request: () => Promise<T>, otherwise: T): Promise<T> => {
      try {
        return await request();
      } catch (error) {
        if (classifyApiError(error) !== "not-found") unread.push(`${what}: ${describeApiError(error)}`);
        return otherwise;
      }
    };
    const listVipd = async <T>(plural: string): Promise<T[]> => {
      const list = (await custom.listClusterCustomObject(
        { group: VIPD_API_GROUP, version: VIPD_API_VERSION, plural },
        deadline(),
      )) as KubernetesListObject<T & { kind?: string }>;
      return list.items;
    };
    const [vipdApiServed, cidrsServed] = await Promise.all([
      read("vipd.io API discovery", () => servesVipdApi(kubeConfig, REQUEST_TIMEOUT_MS), false),
      read("networking.k8s.io discovery", () => servesServiceCidrs(kubeConfig, REQUEST_TIMEOUT_MS), false),
    ]);
    const parts = await allOf({
      services: read("Services", async () => (await core.listServiceForAllNamespaces({}, deadline())).items, [
        service,
      ]),
      nodes: read("Nodes", async () => (await core.listNode({}, deadline())).items, []),
      endpointSlices: read(
        "EndpointSlices",
        async () =>
          (
            await discovery.listNamespacedEndpointSlice(
              { namespace: ref.namespace, labelSelector: `${SERVICE_NAME_LABEL}=${ref.name}` },
              deadline(),
            )
          ).items,
        [],
      ),
      kubernetesSlices: read(
        "EndpointSlices of default/kubernetes",
        async () =>
          (
            await discovery.listNamespacedEndpointSlice(
              {
                namespace: KUBERNETES_SERVICE.namespace,
                labelSelector: `${SERVICE_NAME_LABEL}=${KUBERNETES_SERVICE.name}`,
              },
              deadline(),
            )
          ).items,
        [],
      ),
      leases: read(
        `${LEASES_UNREAD}${this.#vipdNamespace}`,
        async () =>
          (await coordination.listNamespacedLease({ namespace: this.#vipdNamespace }, deadline())).items,
        [],
      ),
      vipPools: vipdApiServed ? read("VIPPools", () => listVipd<VipPool>(VIP_POOL_PLURAL), []) : [],
      allocations: vipdApiServed
        ? read("VIPAllocations", () => listVipd<VipAllocation>(VIP_ALLOCATION_PLURAL), [])
        : [],
      // The agents read it only where vipd.io is served (informers.ts).
      kubeVipConfig: vipdApiServed
        ? read(
            `ConfigMap ${KUBE_VIP_CONFIGMAP_NAMESPACE}/${KUBE_VIP_CONFIGMAP_NAME}`,
            () =>
              core.readNamespacedConfigMap(
                { namespace: KUBE_VIP_CONFIGMAP_NAMESPACE, name: KUBE_VIP_CONFIGMAP_NAME },
                deadline(),
              ),
            undefined,
          )
        : undefined,
      namespace: read(
        `Namespace ${ref.namespace}`,
        () => core.readNamespace({ name: ref.namespace }, deadline()),
        undefined,
      ),
      serviceCidrs: cidrsServed
        ? read("ServiceCIDRs", async () => (await networking.listServiceCIDR({}, deadline())).items, [])
        : [],
      events: read(
        "Events",
        async () =>
          (
            await core.listNamespacedEvent(
              {
                namespace: ref.namespace,
                fieldSelector: `involvedObject.kind=Service,involvedObject.name=${ref.name}`,
              },
              deadline(),
            )
          ).items,
        [],
      ),
    });
    return { found: true, snapshot: { service, vipdApiServed, ...parts, unread } };
  }
}
