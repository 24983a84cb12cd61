// API load as the API server itself counts it: `apiserver_request_total` from its /metrics, read
// twice, and the difference turned into requests per second by verb and resource. Only counters
// move between two readings, so anything the bench does not do in the window is someone's load.

export type RequestCounts = ReadonlyMap<string, number>;

export interface RequestRate {
  /** verb resource[/subresource], e.g. "PUT leases" or "PATCH services/status". */
  readonly key: string;
  readonly verb: string;
  readonly resource: string;
  readonly perSecond: number;
}

const SAMPLE = /^apiserver_request_total\{([^}]*)\}\s+(\S+)/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

/** Requests counted so far, by "verb resource[/subresource]", summed over codes and groups. */
export function parseRequestCounts(metricsText: string): RequestCounts {
  const totals = new Map<string, number>();
  for (const line of metricsText.split("\n")) {
    const sample = SAMPLE.exec(line);
    if (sample === null) continue;
    const labels = new Map([...(sample[1] ?? "").matchAll(LABEL)].map((match) => [match[1], match[2]]));
    const resource = labels.get("resource") ?? "";
    const subresource = labels.get("subresource") ?? "";
    const key = `${labels.get("verb") ?? "?"} ${subresource === "" ? resource : `${resource}/${subresource}`}`;
    totals.set(key, (totals.get(key) ?? 0) + Number(sample[2]));
  }
  return totals;
}

const WRITE_VERBS = new Set(["POST", "PUT", "PATCH", "DELETE", "DELETECOLLECTION", "APPLY"]);

export function isWrite(rate: RequestRate): boolean {
  return WRITE_VERBS.has(rate.verb);
}

/** Rates of what changed between two readings, busiest first; unchanged counters are left out. */
export function requestRates(before: RequestCounts, after: RequestCounts, seconds: number): RequestRate[] {
  const rates: RequestRate[] = [];
  for (const [key, count] of after) {
    const delta = count - (before.get(key) ?? 0);
    if (delta <= 0) continue;
    const [verb = "", resource = ""] = key.split(" ");
    rates.push({ key, verb, resource, perSecond: delta / seconds });
  }
  return rates.sort((a, b) => b.perSecond - a.perSecond || a.key.localeCompare(b.key));
}

export function totalPerSecond(rates: readonly RequestRate[], which: (rate: RequestRate) => boolean): number {
  return rates.filter(which).reduce((sum, rate) => sum + rate.perSecond, 0);
}
