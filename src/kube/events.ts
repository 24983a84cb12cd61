// Events on Services, for people running `kubectl describe service`. A repeat of the same event
// within the aggregation window bumps the count of the existing Event instead of creating another,
// as client-go's recorder does, so a flapping Service cannot flood etcd. Recording never blocks or
// fails the caller: Events are advisory.
import { randomBytes } from "node:crypto";
import { PatchStrategy, type CoreV1Api } from "@kubernetes/client-node";
import { describeApiError } from "./errors.ts";
import { requestOptions } from "./request-options.ts";
import type { ServiceRef } from "./service-ref.ts";

export interface ServiceEvent {
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly message: string;
}

export interface EventRecorder {
  record(service: ServiceRef & { readonly uid?: string }, event: ServiceEvent): void;
}

export interface KubeEventRecorderOptions {
  readonly api: CoreV1Api;
  readonly node: string;
  readonly timeoutMs: number;
  readonly onError: (message: string) => void;
  readonly aggregationWindowMs?: number;
  /**
   * What the Events are about: Services (services mode), or Nodes (control-plane mode, which has no
   * Service; a Node is cluster-scoped and its Events live in the namespace the ref names).
   */
  readonly involvedKind?: "Service" | "Node";
}

interface Recorded {
  readonly name: string;
  count: number;
  lastAt: number;
}

export class KubeEventRecorder implements EventRecorder {
  readonly #options: KubeEventRecorderOptions;
  readonly #recent = new Map<string, Recorded>();
  readonly #windowMs: number;

  constructor(options: KubeEventRecorderOptions) {
    this.#options = options;
    this.#windowMs = options.aggregationWindowMs ?? 10 * 60_000;
  }

  record(service: ServiceRef & { readonly uid?: string }, event: ServiceEvent): void {
    void this.#send(service, event).catch((error: unknown) => {
      this.#options.onError(
        `event ${event.reason} on ${service.namespace}/${service.name}: ${describeApiError(error)}`,
      );
    });
  }

  async #send(service: ServiceRef & { readonly uid?: string }, event: ServiceEvent): Promise<void> {
    const now = performance.now();
    for (const [key, recorded] of this.#recent)
      if (now - recorded.lastAt > this.#windowMs) this.#recent.delete(key);
    const key = `${service.namespace}/${service.name}/${event.reason}/${event.message}`;
    const options = requestOptions({ timeoutMs: this.#options.timeoutMs });
    const previous = this.#recent.get(key);
    if (previous !== undefined) {
      previous.count += 1;
      previous.lastAt = now;
      await this.#options.api.patchNamespacedEvent(
        {
          name: previous.name,
          namespace: service.namespace,
          body: { count: previous.count, lastTimestamp: new Date() },
        },
        requestOptions({ timeoutMs: this.#options.timeoutMs, contentType: PatchStrategy.MergePatch }),
      );
      return;
    }
    const name = `${service.name}.${randomBytes(8).toString("hex")}`;
    this.#recent.set(key, { name, count: 1, lastAt: now });
    const timestamp = new Date();
    await this.#options.api.createNamespacedEvent(
      {
        namespace: service.namespace,
        body: {
          metadata: { name, namespace: service.namespace },
          involvedObject: {
            apiVersion: "v1",
            kind: this.#options.involvedKind ?? "Service",
            ...(this.#options.involvedKind === "Node" ? {} : { namespace: service.namespace }),
            name: service.name,
            uid: service.uid,
          },
          type: event.type,
          reason: event.reason,
          message: event.message,
          source: { component: "vipd", host: this.#options.node },
          reportingComponent: "vipd.io/vipd",
          reportingInstance: this.#options.node,
          firstTimestamp: timestamp,
          lastTimestamp: timestamp,
          count: 1,
        },
      },
      options,
    );
  }
}
