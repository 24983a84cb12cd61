// The Lease operations the election needs, each with a deadline. Writes are compare-and-swap: a
// replace carries the resourceVersion it read, a delete carries it as a precondition, so a stale
// writer gets 409 Conflict instead of overwriting someone else's claim.
import type { CoordinationV1Api, V1Lease } from "@kubernetes/client-node";
import { classifyApiError } from "./errors.ts";
import type { RequestLimiter } from "./request-limiter.ts";
import { requestOptions } from "./request-options.ts";

declare const leaseVersionBrand: unique symbol;

/**
 * One version of one Lease: what a compare-and-swap delete names. Only leaseVersionOf makes one, so
 * neither part is ever empty — an empty name would address the whole collection of Leases.
 */
export interface LeaseVersion {
  readonly name: string;
  readonly resourceVersion: string;
  readonly [leaseVersionBrand]: true;
}

/** A Lease without a name or resourceVersion: one built by hand, never one the API server returned. */
export class UnversionedLeaseError extends Error {
  constructor() {
    super("a Lease without a name or resourceVersion cannot be deleted");
    this.name = "UnversionedLeaseError";
  }
}

/** The version of a Lease as read or written; throws UnversionedLeaseError when it lacks one. */
export function leaseVersionOf(lease: V1Lease): LeaseVersion {
  const name = lease.metadata?.name ?? "";
  const resourceVersion = lease.metadata?.resourceVersion ?? "";
  if (name === "" || resourceVersion === "") throw new UnversionedLeaseError();
  return { name, resourceVersion } as LeaseVersion;
}

export interface LeaseApi {
  /** The Lease, or null when it does not exist. */
  get(name: string): Promise<V1Lease | null>;
  create(lease: V1Lease): Promise<V1Lease>;
  /** Replaces the Lease if its metadata.resourceVersion is still current (409 otherwise). */
  replace(lease: V1Lease): Promise<V1Lease>;
  /** Deletes the Lease if it still has this resourceVersion; a missing Lease is not an error. */
  delete(version: LeaseVersion): Promise<void>;
}

export interface KubeLeaseApiOptions {
  readonly api: CoordinationV1Api;
  readonly namespace: string;
  readonly timeoutMs: number;
  /** The ownership Leases wait their turn; the heartbeat's client has no limiter. */
  readonly limiter?: RequestLimiter;
}

export class KubeLeaseApi implements LeaseApi {
  readonly #api: CoordinationV1Api;
  readonly #namespace: string;
  readonly #timeoutMs: number;
  readonly #limiter: RequestLimiter | undefined;

  constructor(options: KubeLeaseApiOptions) {
    this.#api = options.api;
    this.#namespace = options.namespace;
    this.#timeoutMs = options.timeoutMs;
    this.#limiter = options.limiter;
  }

  async get(name: string): Promise<V1Lease | null> {
    try {
      return await this.#api.readNamespacedLease({ name, namespace: this.#namespace }, this.#options());
    } catch (error) {
      if (classifyApiError(error) === "not-found") return null;
      throw error;
    }
  }

  create(lease: V1Lease): Promise<V1Lease> {
    return this.#api.createNamespacedLease({ namespace: this.#namespace, body: lease }, this.#options());
  }

  replace(lease: V1Lease): Promise<V1Lease> {
    const name = lease.metadata?.name ?? "";
    return this.#api.replaceNamespacedLease(
      { name, namespace: this.#namespace, body: lease },
      this.#options(),
    );
  }

  async delete({ name, resourceVersion }: LeaseVersion): Promise<void> {
    try {
      await this.#api.deleteNamespacedLease(
        { name, namespace: this.#namespace, body: { preconditions: { resourceVersion } } },
        this.#options(),
      );
    } catch (error) {
      if (classifyApiError(error) !== "not-found") throw error;
    }
  }

  #options() {
    return requestOptions({ timeoutMs: this.#timeoutMs, limiter: this.#limiter });
  }
}
