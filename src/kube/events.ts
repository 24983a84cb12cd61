// Events on Services, for people running `kubectl describe service`. A repeat of the same event
// within the aggregation window bumps the count of the existing Event instead of creating another,
// as client-go's recorder does, so a flapping Service cannot flood etcd. Recording never blocks or
// fails the caller: Events are advisory. For the same reason they are the first thing given up under
// load: they wait behind the reconcile loop's requests, and past a bounded backlog (client-go's
// broadcaster keeps 1000 too) new ones are dropped rather than queued without end. A message is cut
// at about 1 kB (cut-text.ts): a Service's annotation or its list of addresses can be far longer.
import { randomBytes } from "node:crypto";
import {
  PatchStrategy,
  type ConfigurationOptions,
  type CoreV1Api,
  type V1Service,
} from "@kubernetes/client-node";
import { VIPD_GROUP_VERSION } from "../addresses/api.ts";
import type { Clock } from "../clock/clock.ts";
import { cutText } from "../log/cut-text.ts";
import { describeApiError } from "./errors.ts";
import type { RequestLimiter } from "./request-limiter.ts";
import { requestOptions } from "./request-options.ts";
import type { ServiceRef } from "./service-ref.ts";

export interface ServiceEvent {
  readonly type: "Normal" | "Warning";
  readonly reason: string;
  readonly message: string;
}

/**
 * The object an Event is about. `kubectl describe` finds an object's Events by its uid, so an Event
 * without one is seen only by those who list Events.
 */
export interface EventSubject extends ServiceRef {
  readonly uid: string;
}

/** The subject of Events about a Service read from the informer, or null if it has no uid yet. */
export function serviceSubject(ref: ServiceRef, service: V1Service): EventSubject | null {
  const uid = service.metadata?.uid;
  return uid === undefined ? null : { namespace: ref.namespace, name: ref.name, uid };
}

export interface EventRecorder {
  record(subject: EventSubject, event: ServiceEvent): void;
}

export interface KubeEventRecorderOptions {
  readonly api: CoreV1Api;
  readonly node: string;
  readonly timeoutMs: number;
  readonly onError: (message: string) => void;
  /** Times the aggregation window (timestamps written into Events are wall-clock Dates). */
  readonly clock: Clock;
  readonly aggregationWindowMs?: number;
  /**
   * What the Events are about: Services (services mode), Nodes (control-plane mode, which has no
   * Service), or VIPPools (the BGP speaker's refusals of a pool's attributes). Nodes and VIPPools are
   * cluster-scoped; their Events live in the namespace the ref names.
   */
  readonly involvedKind?: "Service" | "Node" | "VIPPool";
  readonly limiter?: RequestLimiter;
  /** Events sent or waiting to be, beyond which new ones are dropped. */
  readonly maxPending?: number;
  readonly onDropped?: () => void;
}

const DEFAULT_MAX_PENDING = 1000;
const PRUNE_EVERY_MS = 60_000;

interface Recorded {
  readonly name: string;
  count: number;
  lastAt: number;
}

function involvedKindOf(
  kind: NonNullable<KubeEventRecorderOptions["involvedKind"]>,
  namespace: string,
): { apiVersion: string; kind: string; namespace?: string } {
  if (kind === "Service") return { apiVersion: "v1", kind, namespace };
  return { apiVersion: kind === "VIPPool" ? VIPD_GROUP_VERSION : "v1", kind };
}

export class KubeEventRecorder implements EventRecorder {
  readonly #options: KubeEventRecorderOptions;
  readonly #recent = new Map<string, Recorded>();
  readonly #windowMs: number;
  readonly #maxPending: number;
  #pending = 0;
  #dropping = false;
  #prunedAt: number;

  constructor(options: KubeEventRecorderOptions) {
    this.#options = options;
    this.#prunedAt = options.clock.now();
    this.#windowMs = options.aggregationWindowMs ?? 10 * 60_000;
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
  }

  record(service: EventSubject, event: ServiceEvent): void {
    const what = `${event.reason} on ${service.namespace}/${service.name}`;
    if (this.#pending >= this.#maxPending) {
      this.#options.onDropped?.();
      if (!this.#dropping)
        this.#options.onError(
          `dropping Events while ${this.#maxPending} are still waiting, starting with ${what}`,
        );
      this.#dropping = true;
      return;
    }
    this.#dropping = false;
    this.#pending += 1;
    void this.#send(service, { ...event, message: cutText(event.message) })
      .catch((error: unknown) => {
        this.#options.onError(`event ${what}: ${describeApiError(error)}`);
      })
      .finally(() => {
        this.#pending -= 1;
      });
  }

  #requestOptions(contentType?: string): ConfigurationOptions {
    const { timeoutMs, limiter } = this.#options;
    return requestOptions({ timeoutMs, contentType, limiter, lane: "events" });
  }

  #prune(now: number): void {
    if (now - this.#prunedAt < PRUNE_EVERY_MS) return;
    this.#prunedAt = now;
    for (const [key, recorded] of this.#recent)
      if (now - recorded.lastAt > this.#windowMs) this.#recent.delete(key);
  }

  async #send(service: EventSubject, event: ServiceEvent): Promise<void> {
    const now = this.#options.clock.now();
    this.#prune(now);
    const key = `${service.namespace}/${service.name}/${event.reason}/${event.message}`;
    const found = this.#recent.get(key);
    const previous = found !== undefined && now - found.lastAt <= this.#windowMs ? found : undefined;
    if (previous !== undefined) {
      previous.count += 1;
      previous.lastAt = now;
      await this.#options.api.patchNamespacedEvent(
        {
          name: previous.name,
          namespace: service.namespace,
          body: { count: previous.count, lastTimestamp: new Date() },
        },
        this.#requestOptions(PatchStrategy.MergePatch),
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
            ...involvedKindOf(this.#options.involvedKind ?? "Service", service.namespace),
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
      this.#requestOptions(),
    );
  }
}
