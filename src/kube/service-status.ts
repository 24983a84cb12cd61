// What vipd writes on a Service: status.loadBalancer.ingress through the /status subresource and the
// vipd.io/holder annotation, both as merge patches of only those fields — never a full update, which
// would race every other writer of the Service.
import { PatchStrategy, type CoreV1Api } from "@kubernetes/client-node";
import { ANNOTATION_HOLDER } from "./names.ts";
import type { RequestLimiter } from "./request-limiter.ts";
import { requestOptions } from "./request-options.ts";
import type { ServiceRef } from "./service-ref.ts";

export interface ServiceStatusWriter {
  /** Sets the ingress to exactly these addresses (ipMode VIP) and the holder annotation; null clears both. */
  write(
    service: ServiceRef,
    published: { readonly ips: readonly string[]; readonly holder: string } | null,
  ): Promise<void>;
}

export interface ServiceStatusShape {
  readonly metadata?: { readonly annotations?: Readonly<Record<string, string>> };
  readonly status?: {
    readonly loadBalancer?: {
      readonly ingress?: readonly { readonly ip?: string; readonly ipMode?: string }[];
    };
  };
}

/** True when the Service already shows exactly what would be written, so no request is needed. */
export function statusShows(
  service: ServiceStatusShape,
  published: { readonly ips: readonly string[]; readonly holder: string } | null,
): boolean {
  const ingress = service.status?.loadBalancer?.ingress ?? [];
  const holder = service.metadata?.annotations?.[ANNOTATION_HOLDER];
  if (published === null) return ingress.length === 0 && holder === undefined;
  return (
    holder === published.holder &&
    ingress.length === published.ips.length &&
    ingress.every((entry, index) => entry.ip === published.ips[index] && entry.ipMode === "VIP")
  );
}

export class KubeServiceStatusWriter implements ServiceStatusWriter {
  readonly #api: CoreV1Api;
  readonly #timeoutMs: number;
  readonly #limiter: RequestLimiter | undefined;

  constructor(options: {
    readonly api: CoreV1Api;
    readonly timeoutMs: number;
    readonly limiter?: RequestLimiter;
  }) {
    this.#api = options.api;
    this.#timeoutMs = options.timeoutMs;
    this.#limiter = options.limiter;
  }

  async write(
    service: ServiceRef,
    published: { readonly ips: readonly string[]; readonly holder: string } | null,
  ): Promise<void> {
    const options = requestOptions({
      timeoutMs: this.#timeoutMs,
      contentType: PatchStrategy.MergePatch,
      limiter: this.#limiter,
    });
    const ingress = published === null ? null : published.ips.map((ip) => ({ ip, ipMode: "VIP" }));
    await this.#api.patchNamespacedServiceStatus(
      { ...service, body: { status: { loadBalancer: { ingress } } } },
      options,
    );
    await this.#api.patchNamespacedService(
      { ...service, body: { metadata: { annotations: { [ANNOTATION_HOLDER]: published?.holder ?? null } } } },
      options,
    );
  }
}
