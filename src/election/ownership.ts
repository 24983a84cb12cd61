// Writes to ownership Leases: one per address (`vipd-ip-…`), and, while a 0.1.0 agent is alive, its
// per-Service Leases (`vipd-svc-<namespace>.<name>`) too. Each write is a compare-and-swap on the
// resourceVersion the caller last saw, so of several claimers exactly one wins and the others get
// 409 Conflict (rule 2). A Lease is written only when ownership changes, never to renew it: liveness
// comes from the holder's heartbeat.
import { V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import type { LeaseApi, LeaseVersion } from "../kube/leases.ts";
import { serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import {
  addressLeaseName,
  LEASE_ANNOTATION_ADDRESS,
  LEASE_ANNOTATION_SERVICE,
  LEASE_LABEL_ADDRESS_FAMILY,
  LEASE_LABEL_COMPONENT,
  LEASE_LABEL_SERVICE_NAME,
  LEASE_LABEL_SERVICE_NAMESPACE,
  labelValue,
  legacyServiceLeaseName,
  OWNERSHIP_COMPONENT,
} from "./lease-names.ts";

/** What an ownership Lease elects a holder for. */
export type OwnedThing =
  | { readonly kind: "address"; readonly vip: { readonly address: string; readonly family: 4 | 6 } }
  | { readonly kind: "legacy-service"; readonly service: ServiceRef };

export interface OwnershipOptions {
  readonly leases: LeaseApi;
  readonly node: string;
  readonly leaseDuration: number;
}

function ownershipLeaseNameOf(thing: OwnedThing): string {
  return thing.kind === "address" ? addressLeaseName(thing.vip) : legacyServiceLeaseName(thing.service);
}

function ownershipMetadata(thing: OwnedThing): {
  labels: Record<string, string>;
  annotations: Record<string, string>;
} {
  if (thing.kind === "address") {
    return {
      labels: {
        [LEASE_LABEL_COMPONENT]: OWNERSHIP_COMPONENT,
        [LEASE_LABEL_ADDRESS_FAMILY]: `ipv${thing.vip.family}`,
      },
      annotations: { [LEASE_ANNOTATION_ADDRESS]: thing.vip.address },
    };
  }
  // Exactly what 0.1.0 writes, so that its agents read a Lease a new agent created as their own kind.
  return {
    labels: {
      [LEASE_LABEL_COMPONENT]: OWNERSHIP_COMPONENT,
      [LEASE_LABEL_SERVICE_NAMESPACE]: labelValue(thing.service.namespace),
      [LEASE_LABEL_SERVICE_NAME]: labelValue(thing.service.name),
    },
    annotations: { [LEASE_ANNOTATION_SERVICE]: serviceKey(thing.service) },
  };
}

export class Ownership {
  readonly #options: OwnershipOptions;

  constructor(options: OwnershipOptions) {
    this.#options = options;
  }

  /** Takes the thing: creates its Lease, or swaps the holder of the version `current` was read at. */
  claim(thing: OwnedThing, current: V1Lease | null): Promise<V1Lease> {
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
        metadata: { name: ownershipLeaseNameOf(thing), ...ownershipMetadata(thing) },
        spec: { ...spec, leaseTransitions: 0 },
      });
    }
    const transitions = (current.spec?.leaseTransitions ?? 0) + (current.spec?.holderIdentity ? 1 : 0);
    return this.#options.leases.replace({
      ...current,
      spec: { ...current.spec, ...spec, leaseTransitions: transitions },
    });
  }

  /** Hands over (rule 5): the Lease stays, without a holder, and candidates claim on the event. */
  clearHolder(current: V1Lease): Promise<V1Lease> {
    const { holderIdentity: _holder, acquireTime: _acquired, ...rest } = current.spec ?? {};
    return this.#options.leases.replace({ ...current, spec: { ...rest, renewTime: new V1MicroTime() } });
  }

  /** Removes a Lease nobody needs any more, only at the version the decision was made on. */
  remove(version: LeaseVersion): Promise<void> {
    return this.#options.leases.delete(version);
  }
}
