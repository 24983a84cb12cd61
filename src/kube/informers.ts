// The agent's four shared informers — one per resource kind, never a watch per Service.
import {
  CoordinationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type V1EndpointSlice,
  type V1Lease,
  type V1Node,
  type V1Service,
} from "@kubernetes/client-node";
import { LEASE_LABEL_COMPONENT } from "../election/lease-names.ts";
import { SharedInformer, type InformerFailure } from "./informer.ts";
import { requestOptions } from "./request-options.ts";

export interface AgentInformers {
  readonly services: SharedInformer<V1Service>;
  readonly endpointSlices: SharedInformer<V1EndpointSlice>;
  readonly nodes: SharedInformer<V1Node>;
  /** vipd's own Leases (heartbeats and ownership) in its namespace, selected by label. */
  readonly leases: SharedInformer<V1Lease>;
}

export interface InformerFactoryOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly listTimeoutMs: number;
  readonly onFailure: (failure: InformerFailure) => void;
  readonly onRecovered: (kind: string) => void;
  readonly onError: (message: string) => void;
}

export function createAgentInformers(options: InformerFactoryOptions): AgentInformers {
  const { kubeConfig, namespace } = options;
  const reports = {
    onFailure: options.onFailure,
    onRecovered: options.onRecovered,
    onError: options.onError,
  };
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
  const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
  const deadline = () => requestOptions({ timeoutMs: options.listTimeoutMs });
  const labelSelector = LEASE_LABEL_COMPONENT;
  return {
    services: new SharedInformer({
      kind: "Service",
      kubeConfig,
      path: "/api/v1/services",
      list: () => core.listServiceForAllNamespaces({}, deadline()),
      ...reports,
    }),
    endpointSlices: new SharedInformer({
      kind: "EndpointSlice",
      kubeConfig,
      path: "/apis/discovery.k8s.io/v1/endpointslices",
      list: () => discovery.listEndpointSliceForAllNamespaces({}, deadline()),
      ...reports,
    }),
    nodes: new SharedInformer({
      kind: "Node",
      kubeConfig,
      path: "/api/v1/nodes",
      list: () => core.listNode({}, deadline()),
      ...reports,
    }),
    leases: new SharedInformer({
      kind: "Lease",
      kubeConfig,
      path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
      list: () => coordination.listNamespacedLease({ namespace, labelSelector }, deadline()),
      labelSelector,
      ...reports,
    }),
  };
}

export interface InformerLifecycle {
  readonly kind: string;
  readonly synced: boolean;
  start(): Promise<void>;
  whenSynced(): Promise<void>;
  stop(): Promise<void>;
}

export function allInformers(informers: AgentInformers): readonly InformerLifecycle[] {
  return [informers.services, informers.endpointSlices, informers.nodes, informers.leases];
}
