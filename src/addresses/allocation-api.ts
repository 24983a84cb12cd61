// The VIPAllocation operations the allocator needs, each with a deadline and behind the agent's
// request limiter. A create names the object after its address, so the API server refuses a second
// one for the same address (409 AlreadyExists); a replace carries the resourceVersion it read and
// a delete carries it as a precondition, so a stale writer gets 409 Conflict instead of overwriting.
import type { CustomObjectsApi } from "@kubernetes/client-node";
import { classifyApiError } from "../kube/errors.ts";
import type { RequestLimiter } from "../kube/request-limiter.ts";
import { requestOptions } from "../kube/request-options.ts";
import {
  allocationName,
  VIP_ALLOCATION_KIND,
  VIP_ALLOCATION_PLURAL,
  VIPD_API_GROUP,
  VIPD_API_VERSION,
  VIPD_GROUP_VERSION,
  type VipAllocation,
  type VipAllocationSpec,
} from "./api.ts";

/** "taken": the address has an allocation already; "stale": someone changed it since it was read. */
export type AllocationWrite = "done" | "taken" | "stale";

export interface AllocationApi {
  create(spec: VipAllocationSpec): Promise<AllocationWrite>;
  /** Replaces the spec of the allocation with this name if it still has this resourceVersion. */
  replace(name: string, resourceVersion: string, spec: VipAllocationSpec): Promise<AllocationWrite>;
  /** Deletes it if it still has this resourceVersion; one already gone is not an error. */
  delete(name: string, resourceVersion: string): Promise<AllocationWrite>;
}

export interface KubeAllocationApiOptions {
  readonly api: CustomObjectsApi;
  readonly timeoutMs: number;
  readonly limiter: RequestLimiter;
  /** Labels every allocation carries (vipd's common labels), so an uninstall finds them. */
  readonly labels: Readonly<Record<string, string>>;
}

const COORDINATES = { group: VIPD_API_GROUP, version: VIPD_API_VERSION, plural: VIP_ALLOCATION_PLURAL };

function conflictIs(error: unknown, outcome: AllocationWrite): AllocationWrite {
  if (classifyApiError(error) === "conflict") return outcome;
  throw error;
}

export class KubeAllocationApi implements AllocationApi {
  readonly #options: KubeAllocationApiOptions;

  constructor(options: KubeAllocationApiOptions) {
    this.#options = options;
  }

  async create(spec: VipAllocationSpec): Promise<AllocationWrite> {
    const body: VipAllocation = {
      apiVersion: VIPD_GROUP_VERSION,
      kind: VIP_ALLOCATION_KIND,
      metadata: { name: allocationName(spec.address), labels: { ...this.#options.labels } },
      spec,
    };
    try {
      await this.#options.api.createClusterCustomObject({ ...COORDINATES, body }, this.#request());
      return "done";
    } catch (error) {
      return conflictIs(error, "taken");
    }
  }

  async replace(name: string, resourceVersion: string, spec: VipAllocationSpec): Promise<AllocationWrite> {
    const body: VipAllocation = {
      apiVersion: VIPD_GROUP_VERSION,
      kind: VIP_ALLOCATION_KIND,
      metadata: { name, resourceVersion, labels: { ...this.#options.labels } },
      spec,
    };
    try {
      await this.#options.api.replaceClusterCustomObject({ ...COORDINATES, name, body }, this.#request());
      return "done";
    } catch (error) {
      if (classifyApiError(error) === "not-found") return "stale";
      return conflictIs(error, "stale");
    }
  }

  async delete(name: string, resourceVersion: string): Promise<AllocationWrite> {
    try {
      await this.#options.api.deleteClusterCustomObject(
        { ...COORDINATES, name, body: { preconditions: { resourceVersion } } },
        this.#request(),
      );
      return "done";
    } catch (error) {
      if (classifyApiError(error) === "not-found") return "done";
      return conflictIs(error, "stale");
    }
  }

  #request() {
    return requestOptions({ timeoutMs: this.#options.timeoutMs, limiter: this.#options.limiter });
  }
}
