// What vipd writes on a Service: status.loadBalancer.ingress and the vipd.io/Announced condition
// through the /status subresource, and the vipd.io/holder annotation, each a patch of only those
// fields — never a full update, which would race every other writer of the Service. The status is
// a strategic merge patch: the API server merges status.conditions by type (the list's merge key),
// so another controller's conditions stay as they are, where a JSON merge patch would replace the
// whole list (test/integration/service-writes.test.ts shows both); the ingress list is atomic and
// replaced. Parts the Service already shows are not sent, so a steady state costs no request.
import { PatchStrategy, type CoreV1Api } from "@kubernetes/client-node";
import { ANNOTATION_HOLDER, CONDITION_ANNOUNCED } from "./names.ts";
import type { RequestLimiter } from "./request-limiter.ts";
import { requestOptions } from "./request-options.ts";
import type { ServiceRef } from "./service-ref.ts";

/** vipd.io/Announced as a metav1.Condition, but for its lastTransitionTime, which the writer keeps. */
export interface AnnouncedCondition {
  readonly status: "True" | "False";
  readonly reason: string;
  readonly message: string;
  /** metadata.generation of the Service it was decided on. */
  readonly observedGeneration: number | undefined;
}

/** Everything vipd shows on one Service. */
export interface Publication {
  /**
   * status.loadBalancer.ingress, ipMode VIP; empty removes it, and null leaves it as it is (it may
   * be another load balancer's).
   */
  readonly ips: readonly string[] | null;
  /** The vipd.io/holder annotation; null removes it. */
  readonly holder: string | null;
  /** The vipd.io/Announced condition; null removes it. */
  readonly condition: AnnouncedCondition | null;
}

/** What is left once vipd has taken back all it wrote. */
export const NOTHING_PUBLISHED: Publication = { ips: [], holder: null, condition: null };

export interface WriteOptions {
  /** The Service as last seen: the parts of it that already show the publication are not sent. */
  readonly current?: ServiceStatusShape;
  /** Compare-and-swap: write only while the Service still has this resourceVersion (409 otherwise). */
  readonly resourceVersion?: string;
}

export interface ServiceStatusWriter {
  write(service: ServiceRef, publication: Publication, options?: WriteOptions): Promise<void>;
}

export interface ConditionShape {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
  readonly observedGeneration?: number;
}

export interface ServiceStatusShape {
  readonly metadata?: {
    readonly annotations?: Readonly<Record<string, string>>;
    readonly generation?: number;
  };
  readonly status?: {
    readonly loadBalancer?: {
      readonly ingress?: readonly { readonly ip?: string; readonly ipMode?: string }[];
    };
    readonly conditions?: readonly ConditionShape[];
  };
}

export function announcedCondition(service: ServiceStatusShape): ConditionShape | undefined {
  return service.status?.conditions?.find((condition) => condition.type === CONDITION_ANNOUNCED);
}

function statusPartShows(service: ServiceStatusShape, publication: Publication): boolean {
  const ingress = service.status?.loadBalancer?.ingress ?? [];
  const shown = announcedCondition(service);
  const wanted = publication.condition;
  const conditionShown =
    wanted === null
      ? shown === undefined
      : shown !== undefined &&
        shown.status === wanted.status &&
        shown.reason === wanted.reason &&
        shown.message === wanted.message &&
        shown.observedGeneration === wanted.observedGeneration;
  const { ips } = publication;
  return (
    conditionShown &&
    (ips === null ||
      (ingress.length === ips.length &&
        ingress.every((entry, index) => entry.ip === ips[index] && entry.ipMode === "VIP")))
  );
}

function annotationShows(service: ServiceStatusShape, publication: Publication): boolean {
  return (service.metadata?.annotations?.[ANNOTATION_HOLDER] ?? null) === publication.holder;
}

/** True when the Service already shows exactly what would be written, so no request is needed. */
export function statusShows(service: ServiceStatusShape, publication: Publication): boolean {
  return statusPartShows(service, publication) && annotationShows(service, publication);
}

// metav1.Time has second precision.
function kubeTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/**
 * The status patch. The condition entry is merged by type into the one already there: a condition
 * whose status stays keeps its lastTransitionTime (left out of the patch), one that changes or is
 * new gets the time of this write; `$patch: delete` removes vipd's entry and no other.
 */
export function statusPatch(
  publication: Publication,
  current: ServiceStatusShape | undefined,
  now: number,
): object {
  const { ips } = publication;
  const ingress = ips === null || ips.length === 0 ? null : ips.map((ip) => ({ ip, ipMode: "VIP" }));
  const wanted = publication.condition;
  const shown = current === undefined ? undefined : announcedCondition(current);
  const condition =
    wanted === null
      ? { type: CONDITION_ANNOUNCED, $patch: "delete" }
      : {
          type: CONDITION_ANNOUNCED,
          status: wanted.status,
          reason: wanted.reason,
          message: wanted.message,
          ...(wanted.observedGeneration === undefined
            ? {}
            : { observedGeneration: wanted.observedGeneration }),
          ...(shown?.status === wanted.status ? {} : { lastTransitionTime: kubeTime(now) }),
        };
  return { status: { ...(ips === null ? {} : { loadBalancer: { ingress } }), conditions: [condition] } };
}

export class KubeServiceStatusWriter implements ServiceStatusWriter {
  readonly #api: CoreV1Api;
  readonly #timeoutMs: number;
  readonly #limiter: RequestLimiter | undefined;
  readonly #wallClock: () => number;

  constructor(options: {
    readonly api: CoreV1Api;
    readonly timeoutMs: number;
    readonly limiter?: RequestLimiter;
    /** Milliseconds since the epoch, for the condition's lastTransitionTime. */
    readonly wallClock: () => number;
  }) {
    this.#api = options.api;
    this.#timeoutMs = options.timeoutMs;
    this.#limiter = options.limiter;
    this.#wallClock = options.wallClock;
  }

  async write(service: ServiceRef, publication: Publication, options: WriteOptions = {}): Promise<void> {
    const { current } = options;
    let resourceVersion = options.resourceVersion;
    const precondition = (): object =>
      resourceVersion === undefined ? {} : { metadata: { resourceVersion } };
    if (current === undefined || !statusPartShows(current, publication)) {
      const written = await this.#api.patchNamespacedServiceStatus(
        {
          ...service,
          body: { ...precondition(), ...statusPatch(publication, current, this.#wallClock()) },
        },
        this.#options(PatchStrategy.StrategicMergePatch),
      );
      if (resourceVersion !== undefined) resourceVersion = written.metadata?.resourceVersion;
    }
    if (current === undefined || !annotationShows(current, publication)) {
      const { metadata } = precondition() as { metadata?: object };
      await this.#api.patchNamespacedService(
        {
          ...service,
          body: { metadata: { ...metadata, annotations: { [ANNOTATION_HOLDER]: publication.holder } } },
        },
        this.#options(PatchStrategy.MergePatch),
      );
    }
  }

  #options(contentType: PatchStrategy) {
    return requestOptions({ timeoutMs: this.#timeoutMs, contentType, limiter: this.#limiter });
  }
}
