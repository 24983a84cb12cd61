// Addresses the cluster itself uses, read from its objects, that must never be VIPs: the API
// server's own (a VIP equal to one cuts its holder off from the API server for good: it cannot see
// the Service deleted, and degraded hold keeps the address fresh) and the Service CIDRs (ClusterIPs
// are kube-proxy's, and a VIP among them is shadowed by its rules). Pure readings, table-tested.
import type { V1EndpointSlice, V1Service, V1ServiceCIDR } from "@kubernetes/client-node";
import ipaddr from "ipaddr.js";
import type { ServiceRef } from "./service-ref.ts";

/** The Service in front of the API servers; its EndpointSlices list every API server's address. */
export const KUBERNETES_SERVICE: ServiceRef = { namespace: "default", name: "kubernetes" };

/** One CIDR of a ServiceCIDR object (networking.k8s.io/v1), with the object's name. */
export interface ServiceCidr {
  readonly cidr: string;
  readonly name: string;
}

function canonical(text: string): string | undefined {
  return ipaddr.isValid(text) ? ipaddr.process(text).toString() : undefined;
}

// Only an IP literal counts. A host name is not resolved: the answer the agent would get need not be
// the one its next connection gets (round-robin DNS), and the addresses behind it are the API
// servers', which every API server publishes in the default/kubernetes EndpointSlices anyway.
function kubeconfigHost(server: string | undefined): string | undefined {
  if (server === undefined || !URL.canParse(server)) return undefined;
  return canonical(new URL(server).hostname.replace(/^\[(.*)\]$/, "$1"));
}

/**
 * The API server's addresses, canonical, each with where it was learnt (for the refusal's message):
 * the kubeconfig's server, the endpoints of default/kubernetes (each API server's advertise
 * address), and that Service's ClusterIPs.
 */
export function apiServerAddresses(sources: {
  readonly kubeconfigServer: string | undefined;
  readonly kubernetesSlices: readonly V1EndpointSlice[];
  readonly kubernetesService: V1Service | undefined;
}): ReadonlyMap<string, string> {
  const found = new Map<string, string>();
  const add = (text: string | undefined, source: string): void => {
    const address = text === undefined ? undefined : canonical(text);
    if (address !== undefined && !found.has(address)) found.set(address, source);
  };
  add(kubeconfigHost(sources.kubeconfigServer), "the server of the agent's kubeconfig");
  const service = `${KUBERNETES_SERVICE.namespace}/${KUBERNETES_SERVICE.name}`;
  // Every endpoint, ready or not: an API server that is starting is still one.
  for (const slice of sources.kubernetesSlices)
    for (const endpoint of slice.endpoints ?? [])
      for (const address of endpoint.addresses) add(address, `an endpoint of ${service}`);
  for (const clusterIp of sources.kubernetesService?.spec?.clusterIPs ?? [])
    add(clusterIp, `the ClusterIP of ${service}`);
  return found;
}

/** Every CIDR of every ServiceCIDR, one being deleted included: its ClusterIPs may still be in use. */
export function serviceCidrs(objects: readonly V1ServiceCIDR[]): ServiceCidr[] {
  return objects.flatMap((object) =>
    (object.spec?.cidrs ?? [])
      .filter((cidr) => ipaddr.isValidCIDR(cidr))
      .map((cidr) => ({ cidr, name: object.metadata?.name ?? "" })),
  );
}
