// What the API server says about the bench's Services, as it changes: one watch on the namespace,
// every change of status.loadBalancer.ingress or the vipd.io/holder annotation stamped with the
// monotonic time it arrived. The watch is re-opened after errors, because one scenario stops the
// API server under it.
import { CoreV1Api, Watch, type KubeConfig, type V1Service } from "@kubernetes/client-node";
import { monotonicNs } from "../../lab/index.ts";

export interface StatusChange {
  readonly atNs: number;
  readonly ingress: readonly string[];
  readonly holder: string | undefined;
}

export interface StatusWatch {
  /** Changes seen so far for one Service, oldest first. */
  changes(service: string): readonly StatusChange[];
  /** The first change at or after fromNs satisfying done; resolves when it arrives. */
  waitFor(
    service: string,
    options: { fromNs: number; timeoutMs: number; done: (change: StatusChange) => boolean },
  ): Promise<StatusChange | undefined>;
  /** Forgets a Service's changes (its name will not be used again). */
  forget(service: string): void;
  stop(): void;
}

const RETRY_MS = 300;

function reading(service: V1Service): Omit<StatusChange, "atNs"> {
  return {
    ingress: (service.status?.loadBalancer?.ingress ?? []).map((entry) => entry.ip ?? "").sort(),
    holder: service.metadata?.annotations?.["vipd.io/holder"],
  };
}

function same(a: Omit<StatusChange, "atNs">, b: Omit<StatusChange, "atNs">): boolean {
  return a.holder === b.holder && a.ingress.join(",") === b.ingress.join(",");
}

/**
 * Keeps a watch open: start() (a list, then a watch from it) runs again RETRY_MS after the watch
 * ends or start() fails, until stop().
 */
export async function keepWatching(
  start: (ended: () => void) => Promise<AbortController>,
): Promise<{ readonly stop: () => void }> {
  let stopped = false;
  let abort: AbortController | undefined;
  const open = async (): Promise<void> => {
    if (stopped) return;
    try {
      abort = await start(() => setTimeout(() => void open(), RETRY_MS));
    } catch {
      setTimeout(() => void open(), RETRY_MS);
    }
  };
  await open();
  return {
    stop: () => {
      stopped = true;
      abort?.abort();
    },
  };
}

export async function watchServiceStatus(kubeConfig: KubeConfig, namespace: string): Promise<StatusWatch> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const timelines = new Map<string, StatusChange[]>();
  const waiters = new Set<() => void>();

  const record = (service: V1Service) => {
    const name = service.metadata?.name;
    if (name === undefined) return;
    const now = reading(service);
    const timeline = timelines.get(name) ?? [];
    const last = timeline.at(-1);
    if (last !== undefined && same(last, now)) return;
    timeline.push({ atNs: monotonicNs(), ...now });
    timelines.set(name, timeline);
    for (const waiter of waiters) waiter();
  };

  const watch = await keepWatching(async (ended) => {
    const list = await core.listNamespacedService({ namespace });
    for (const service of list.items) record(service);
    return new Watch(kubeConfig).watch(
      `/api/v1/namespaces/${namespace}/services`,
      { resourceVersion: list.metadata?.resourceVersion, allowWatchBookmarks: true },
      (phase, object: V1Service) => {
        if (phase === "ADDED" || phase === "MODIFIED") record(object);
      },
      ended,
    );
  });

  return {
    changes: (service) => timelines.get(service) ?? [],
    waitFor: (service, { fromNs, timeoutMs, done }) =>
      new Promise((resolve) => {
        const check = () => {
          const found = (timelines.get(service) ?? []).find(
            (change) => change.atNs >= fromNs && done(change),
          );
          if (found === undefined) return false;
          settle(found);
          return true;
        };
        const settle = (change: StatusChange | undefined) => {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(change);
        };
        const timer = setTimeout(() => {
          settle(undefined);
        }, timeoutMs);
        if (!check()) waiters.add(check);
      }),
    forget: (service) => timelines.delete(service),
    stop: watch.stop,
  };
}
