// The work queue's keys: an address (its election and its place on the wire) or a Service (what
// it is told: refusals and status). One queue runs both, one run per key at a time; the kind is
// written into the key so that no address can be read as a Service or the other way round.
import { parseServiceKey, serviceKey, type ServiceRef } from "../kube/service-ref.ts";

export type WorkItem =
  | { readonly kind: "address"; readonly address: string }
  | { readonly kind: "service"; readonly service: ServiceRef };

const ADDRESS_PREFIX = "address ";
const SERVICE_PREFIX = "service ";

export function addressWork(address: string): string {
  return `${ADDRESS_PREFIX}${address}`;
}

export function serviceWork(service: ServiceRef): string {
  return `${SERVICE_PREFIX}${serviceKey(service)}`;
}

export function parseWork(key: string): WorkItem {
  if (key.startsWith(ADDRESS_PREFIX)) return { kind: "address", address: key.slice(ADDRESS_PREFIX.length) };
  if (key.startsWith(SERVICE_PREFIX))
    return { kind: "service", service: parseServiceKey(key.slice(SERVICE_PREFIX.length)) };
  throw new Error(`not a work key: ${JSON.stringify(key)}`);
}
