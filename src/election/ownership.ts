// Writes to a Service's ownership Lease (`vipd-svc-<namespace>.<name>`). Each is a compare-and-swap
// on the resourceVersion the caller last saw, so of several claimers exactly one wins and the others
// get 409 Conflict (rule 2). The Lease is written only when ownership changes, never to renew it:
// liveness comes from the holder's heartbeat.
import { V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import type { LeaseApi } from "../kube/leases.ts";
import {
  LEASE_ANNOTATION_SERVICE,
  LEASE_LABEL_COMPONENT,
  LEASE_LABEL_SERVICE_NAME,
  LEASE_LABEL_SERVICE_NAMESPACE,
  labelValue,
  OWNERSHIP_COMPONENT,
  ownershipLeaseName,
} from "./lease-names.ts";
import { serviceKey, type ServiceRef } from "../kube/service-ref.ts";

export interface OwnershipOptions {
  readonly leases: LeaseApi;
  readonly node: string;
  readonly leaseDuration: number;
}

export function ownershipLabels(service: ServiceRef): Record<string, string> {
  return {
    [LEASE_LABEL_COMPONENT]: OWNERSHIP_COMPONENT,
    [LEASE_LABEL_SERVICE_NAMESPACE]: labelValue(service.namespace),
    [LEASE_LABEL_SERVICE_NAME]: labelValue(service.name),
  };
}

export class Ownership {
  readonly #options: OwnershipOptions;

  constructor(options: OwnershipOptions) {
    this.#options = options;
  }

  /** Takes the Service: creates its Lease, or swaps the holder of the version `current` was read at. */
  claim(service: ServiceRef, current: V1Lease | null): Promise<V1Lease> {
    const now = new V1MicroTime();
    const spec = {
      holderIdentity: this.#options.node,
      leaseDurationSeconds: Math.ceil(this.#options.leaseDuration / 1000),
      acquireTime: now,
      renewTime: now,
    };
    if (current === null) {
      return this.#options.leases.create({
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: {
          name: ownershipLeaseName(service),
          labels: ownershipLabels(service),
          annotations: { [LEASE_ANNOTATION_SERVICE]: serviceKey(service) },
        },
        spec: { ...spec, leaseTransitions: 0 },
      });
    }
    const transitions = (current.spec?.leaseTransitions ?? 0) + (current.spec?.holderIdentity ? 1 : 0);
    return this.#options.leases.replace({
      ...current,
      spec: { ...current.spec, ...spec, leaseTransitions: transitions },
    });
  }

  /** Hands the Service over (rule 5): the Lease stays, without a holder, and candidates claim on the event. */
  clearHolder(current: V1Lease): Promise<V1Lease> {
    const { holderIdentity: _holder, acquireTime: _acquired, ...rest } = current.spec ?? {};
    return this.#options.leases.replace({ ...current, spec: { ...rest, renewTime: new V1MicroTime() } });
  }

  /** Removes the Lease of a Service that is no longer served. */
  remove(current: V1Lease): Promise<void> {
    return this.#options.leases.delete(current.metadata?.name ?? "", current.metadata?.resourceVersion ?? "");
  }
}
