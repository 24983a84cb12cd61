// An in-memory LeaseApi with the API server's compare-and-swap semantics, for unit tests of the
// election modules. Failures can be queued to simulate an unreachable or refusing API server.
import { ApiException, type V1Lease } from "@kubernetes/client-node";
import type { LeaseApi, LeaseVersion } from "../../../src/kube/leases.ts";

export class FakeLeaseApi implements LeaseApi {
  readonly leases = new Map<string, V1Lease>();
  readonly calls: string[] = [];
  readonly #failures: Error[] = [];
  #version = 100;

  failNext(...errors: Error[]): void {
    this.#failures.push(...errors);
  }

  static unreachable(): Error {
    return new TypeError("fetch failed");
  }

  static status(code: number): ApiException<unknown> {
    return new ApiException(code, "refused", { message: `status ${code}` }, {});
  }

  /** Changes a Lease behind the caller's back, as another writer would. */
  touch(name: string): void {
    const lease = this.leases.get(name);
    if (lease !== undefined) this.#store(lease);
  }

  get(name: string): Promise<V1Lease | null> {
    return this.#call(`get ${name}`, () => structuredClone(this.leases.get(name) ?? null));
  }

  create(lease: V1Lease): Promise<V1Lease> {
    const name = lease.metadata?.name ?? "";
    return this.#call(`create ${name}`, () => {
      if (this.leases.has(name)) throw FakeLeaseApi.status(409);
      return this.#store(lease);
    });
  }

  replace(lease: V1Lease): Promise<V1Lease> {
    const name = lease.metadata?.name ?? "";
    return this.#call(`replace ${name}`, () => {
      const current = this.leases.get(name);
      if (current === undefined) throw FakeLeaseApi.status(404);
      if (current.metadata?.resourceVersion !== lease.metadata?.resourceVersion)
        throw FakeLeaseApi.status(409);
      return this.#store(lease);
    });
  }

  delete({ name, resourceVersion }: LeaseVersion): Promise<void> {
    return this.#call(`delete ${name}`, () => {
      const current = this.leases.get(name);
      if (current === undefined) return;
      if (current.metadata?.resourceVersion !== resourceVersion) throw FakeLeaseApi.status(409);
      this.leases.delete(name);
    });
  }

  #store(lease: V1Lease): V1Lease {
    this.#version += 1;
    const stored = {
      ...structuredClone(lease),
      metadata: { ...lease.metadata, resourceVersion: String(this.#version) },
    };
    this.leases.set(stored.metadata.name ?? "", stored);
    return structuredClone(stored);
  }

  async #call<T>(what: string, operation: () => T): Promise<T> {
    this.calls.push(what);
    await Promise.resolve();
    const failure = this.#failures.shift();
    if (failure !== undefined) throw failure;
    return operation();
  }
}
