// A Service's identity, and the "namespace/name" key the informer caches and the work queue use.
export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
}

export function serviceKey(service: ServiceRef): string {
  return `${service.namespace}/${service.name}`;
}

export function parseServiceKey(key: string): ServiceRef {
  const slash = key.indexOf("/");
  return { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}
