// The last agent to stop politely takes back what it published (lifecycle.ts runs this after the
// handover of handover.ts, before the heartbeat is released). With another agent live, nothing
// happens here: that agent claims on the handover and rewrites the status, or, if it is not
// eligible, clears it once nobody has held the address for a lease duration (service-step.ts). With
// none left, nobody would: EXTERNAL-IP, vipd.io/holder and the vipd.io/Announced condition would go
// on naming an address no node answers for. So each Service whose holder annotation names this
// node has its ingress, condition and annotation removed.
//
// Why this never clears a status another node holds, nor leaves one unpublished for long, when a
// candidate starts while this agent stops (its heartbeat not yet seen here):
// - The clear is a compare-and-swap. The Service is read fresh, and written only at that
//   resourceVersion (a 409 otherwise), and only if its annotation still names this node.
// - Between that read and the write, every ownership Lease of the Service's addresses is read fresh
//   and must name nobody or this node (this node cleared its own in the handover just before).
// - A candidate publishes only after its claim of the Lease succeeded. If its claim lands before
//   the Lease read, this agent sees it and leaves the Service alone. If its status write lands
//   before this agent's write, the resourceVersion moved and the clear is refused. Otherwise its
//   status write comes after the clear, and it wins: it writes what it holds whatever it saw
//   before, and the clear itself is a Service update its informer hands to its loop, which writes
//   the status again if the clear came last. Either way the status ends naming the holder, after
//   at most one round trip of that agent's loop.
// A failed write leaves the status as it was (the behaviour before this existed): `vipd cleanup`, or
// the next agent to start, takes it back.
import type { V1Service } from "@kubernetes/client-node";
import { classifyApiError, describeApiError } from "../kube/errors.ts";
import type { LeaseApi } from "../kube/leases.ts";
import { ANNOTATION_HOLDER } from "../kube/names.ts";
import { serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import { NOTHING_PUBLISHED, type ServiceStatusWriter } from "../kube/service-status.ts";
import type { Logger } from "../log/logger.ts";

export interface LastAgentOptions {
  readonly node: string;
  /** The other nodes whose heartbeat is live. */
  readonly liveNodes: () => readonly string[];
  /** The Services the informer has. */
  readonly services: () => readonly V1Service[];
  /** The names of the ownership Leases of the Service's addresses. */
  readonly leaseNamesOf: (service: ServiceRef) => readonly string[];
  /** A fresh read of the Service, or null when it is gone. */
  readonly readService: (service: ServiceRef) => Promise<V1Service | null>;
  readonly leases: Pick<LeaseApi, "get">;
  readonly status: ServiceStatusWriter;
  readonly log: Logger;
}

/** The Services whose status this node wrote: the ones its clear may concern. */
export function publishedBy(services: readonly V1Service[], node: string): ServiceRef[] {
  return services
    .filter((service) => service.metadata?.annotations?.[ANNOTATION_HOLDER] === node)
    .map((service) => ({ namespace: service.metadata?.namespace ?? "", name: service.metadata?.name ?? "" }));
}

export class LastAgent {
  readonly #options: LastAgentOptions;

  constructor(options: LastAgentOptions) {
    this.#options = options;
  }

  async run(): Promise<void> {
    const o = this.#options;
    const published = publishedBy(o.services(), o.node);
    if (published.length === 0) return;
    const others = o.liveNodes();
    if (others.length > 0) {
      o.log.info("other agents are live: they take over the status", { agents: others.length });
      return;
    }
    await Promise.all(published.map((ref) => this.#clear(ref)));
  }

  async #clear(ref: ServiceRef): Promise<void> {
    const o = this.#options;
    const service = serviceKey(ref);
    try {
      const fresh = await o.readService(ref);
      if (fresh?.metadata?.annotations?.[ANNOTATION_HOLDER] !== o.node) return;
      for (const name of o.leaseNamesOf(ref)) {
        const holder = (await o.leases.get(name))?.spec?.holderIdentity ?? "";
        if (holder !== "" && holder !== o.node) {
          o.log.info("taken over while stopping: status left to the new holder", { service, holder });
          return;
        }
      }
      const resourceVersion = fresh.metadata.resourceVersion;
      if (resourceVersion === undefined) return;
      await o.status.write(ref, NOTHING_PUBLISHED, { current: fresh, resourceVersion });
      o.log.info("last agent stopping: status, condition and holder annotation cleared", { service });
    } catch (error) {
      if (classifyApiError(error) === "conflict") {
        o.log.info("the Service changed while stopping: status left as it is", { service });
        return;
      }
      o.log.warn("could not clear the status while stopping", { service, error: describeApiError(error) });
    }
  }
}
