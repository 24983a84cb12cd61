// vipd's Kubernetes layer against a real API server: compare-and-swap Leases, the heartbeat and its
// release (racing a renewal, or another writer), ownership writes, status and annotation patches,
// Event aggregation, and an informer that lives through an API server restart.
import test from "ava";
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  type V1Lease,
  type V1Service,
} from "@kubernetes/client-node";
import { systemClock } from "../../src/clock/clock.ts";
import { Heartbeat } from "../../src/election/heartbeat.ts";
import { Ownership } from "../../src/election/ownership.ts";
import { classifyApiError, describeApiError } from "../../src/kube/errors.ts";
import { KubeEventRecorder } from "../../src/kube/events.ts";
import { SharedInformer } from "../../src/kube/informer.ts";
import { KubeLeaseApi, leaseVersionOf, type LeaseApi, type LeaseVersion } from "../../src/kube/leases.ts";
import {
  KubeServiceStatusWriter,
  NOTHING_PUBLISHED,
  statusShows,
  type Publication,
} from "../../src/kube/service-status.ts";
import { startApiServer, type ApiServer } from "../../lab/apiserver.ts";

const NAMESPACE = "vipd-system";
let api: ApiServer;
let kubeConfig: KubeConfig;

async function until(condition: () => boolean, what: string): Promise<void> {
  await eventually(
    () => Promise.resolve(condition()),
    (done) => done,
    what,
  );
}

/** Reads until the predicate holds; writes that are fire-and-forget land a moment later. */
async function eventually<T>(
  read: () => Promise<T>,
  predicate: (value: T) => boolean,
  what: string,
): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await read();
    if (predicate(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("these tests need root");
  api = await startApiServer();
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(api.kubeconfigPath);
  await kubeConfig.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NAMESPACE } } });
});

test.after.always(async () => {
  await api.stop();
});

function leases(): KubeLeaseApi {
  return new KubeLeaseApi({
    api: kubeConfig.makeApiClient(CoordinationV1Api),
    namespace: NAMESPACE,
    timeoutMs: 5000,
  });
}

test.serial("heartbeat: created, then renewed with one write each time", async (t) => {
  const heartbeat = new Heartbeat({
    leases: leases(),
    node: "node1",
    timings: { leaseDuration: 5000, renewDeadline: 3000, retryPeriod: 1000 },
    clock: systemClock,
    macs: () => ["02:00:00:00:00:0b"],
    onChange: () => undefined,
  });
  t.is(await heartbeat.renewOnce(), null);
  const first = await leases().get("vipd-node-node1");
  t.is(first?.metadata?.annotations?.["vipd.io/macs"], "02:00:00:00:00:0b");
  t.is(await heartbeat.renewOnce(), null);
  const second = await leases().get("vipd-node-node1");
  t.is(second?.spec?.holderIdentity, "node1");
  t.not(second?.metadata?.resourceVersion, first?.metadata?.resourceVersion);
  t.deepEqual(await heartbeat.stop({ release: true }), { outcome: "released" });
  t.is(await leases().get("vipd-node-node1"), null, "a polite stop deletes the heartbeat");
});

/**
 * The real Lease API, with the timing of one renewal arranged: its write reaches the API server at
 * once, and its answer is held back until let go, so that stop() finds it in flight.
 */
class AnswerHeld implements LeaseApi {
  readonly #api = leases();
  #held: { written: () => void; answer: Promise<void> } | null = null;

  /** Holds the next replace's answer; resolves once its write is stored. */
  holdNextReplace(): { written: Promise<void>; letGo: () => void } {
    let written = (): void => undefined;
    let letGo = (): void => undefined;
    const stored = new Promise<void>((resolve) => {
      written = resolve;
    });
    const answer = new Promise<void>((resolve) => {
      letGo = resolve;
    });
    this.#held = { written, answer };
    return { written: stored, letGo };
  }

  get(name: string): Promise<V1Lease | null> {
    return this.#api.get(name);
  }

  create(lease: V1Lease): Promise<V1Lease> {
    return this.#api.create(lease);
  }

  async replace(lease: V1Lease): Promise<V1Lease> {
    const held = this.#held;
    this.#held = null;
    const stored = await this.#api.replace(lease);
    held?.written();
    await held?.answer;
    return stored;
  }

  delete(version: LeaseVersion): Promise<void> {
    return this.#api.delete(version);
  }
}

function heartbeat(node: string, api: LeaseApi): Heartbeat {
  return new Heartbeat({
    leases: api,
    node,
    timings: { leaseDuration: 5000, renewDeadline: 3000, retryPeriod: 1000 },
    clock: systemClock,
    macs: () => [],
    onChange: () => undefined,
  });
}

/** What stop() returned, or how it threw (the 0.1.0 heartbeat threw on a conflict). */
async function stopped(stopping: Promise<unknown>): Promise<unknown> {
  return stopping.then(
    (outcome) => outcome,
    (error: unknown) => ({ threw: describeApiError(error) }),
  );
}

test.serial(
  "heartbeat release: a stop during a renewal in flight still deletes the heartbeat Lease",
  async (t) => {
    const api = new AnswerHeld();
    const beat = heartbeat("release-inflight", api);
    t.is(await beat.renewOnce(), null, "created");
    const held = api.holdNextReplace();
    beat.start();
    await held.written;
    const stopping = beat.stop({ release: true });
    held.letGo();
    const outcome = await stopped(stopping);
    t.is(
      await leases().get("vipd-node-release-inflight"),
      null,
      "other agents need not wait a lease duration",
    );
    t.deepEqual(outcome, { outcome: "released" });
  },
);

test.serial(
  "heartbeat release: a Lease another writer changed, still naming this node, is read again and deleted",
  async (t) => {
    const beat = heartbeat("release-moved", leases());
    t.is(await beat.renewOnce(), null);
    const current = await leases().get("vipd-node-release-moved");
    if (current === null) return t.fail("no heartbeat Lease");
    const changed = await leases().replace({
      ...current,
      metadata: {
        ...current.metadata,
        annotations: { ...current.metadata?.annotations, operator: "was here" },
      },
    });
    t.not(changed.metadata?.resourceVersion, current.metadata?.resourceVersion);
    const outcome = await stopped(beat.stop({ release: true }));
    t.is(await leases().get("vipd-node-release-moved"), null);
    t.deepEqual(outcome, { outcome: "released" });
  },
);

test.serial("heartbeat release: a Lease that names another node now is left to that node", async (t) => {
  const beat = heartbeat("release-other", leases());
  t.is(await beat.renewOnce(), null);
  const current = await leases().get("vipd-node-release-other");
  if (current === null) return t.fail("no heartbeat Lease");
  await leases().replace({ ...current, spec: { ...current.spec, holderIdentity: "node-other" } });
  t.deepEqual(await stopped(beat.stop({ release: true })), {
    outcome: "held-by-other",
    holder: "node-other",
  });
  const left = await leases().get("vipd-node-release-other");
  t.is(left?.spec?.holderIdentity, "node-other");
});

test.serial(
  "ownership: of two nodes claiming one free address at once, the API server lets one win",
  async (t) => {
    const service = { kind: "address", vip: { address: "2001:db8:1::10", family: 6 } } as const;
    const a = new Ownership({ leases: leases(), node: "node-a", leaseDuration: 5000 });
    const b = new Ownership({ leases: leases(), node: "node-b", leaseDuration: 5000 });
    const created = await a.claim(service, null);
    const free = await a.clearHolder(created);
    const results = await Promise.allSettled([a.claim(service, free), b.claim(service, free)]);
    t.is(results.filter((result) => result.status === "fulfilled").length, 1);
    const loser = results.find((result) => result.status === "rejected");
    t.is(classifyApiError(loser?.reason), "conflict");
    const stored = await leases().get("vipd-ip-2001-0db8-0001-0000-0000-0000-0000-0010");
    t.true(["node-a", "node-b"].includes(stored?.spec?.holderIdentity ?? ""));
    t.is(stored?.metadata?.annotations?.["vipd.io/address"], "2001:db8:1::10");
    t.is(stored?.metadata?.labels?.["vipd.io/component"], "ownership");
    const removal = await t.throwsAsync(a.remove(leaseVersionOf(created)));
    t.is(classifyApiError(removal), "conflict", "removal from a stale read is refused");
  },
);

test.serial("status: ingress through /status and the holder annotation, then cleared", async (t) => {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await core.createNamespacedService({
    namespace: "default",
    body: {
      metadata: { name: "web" },
      spec: { type: "LoadBalancer", loadBalancerIP: "198.51.100.200", ports: [{ port: 80 }] },
    },
  });
  const writer = new KubeServiceStatusWriter({ api: core, timeoutMs: 5000, wallClock: () => Date.now() });
  const published: Publication = {
    ips: ["198.51.100.200", "2001:db8:1::200"],
    holder: "node2",
    condition: { status: "True", reason: "Announced", message: "announced by node2", observedGeneration: 1 },
  };
  await writer.write({ namespace: "default", name: "web" }, published);
  const written: V1Service = await core.readNamespacedService({ namespace: "default", name: "web" });
  t.true(statusShows(written, published));
  t.is(written.spec?.loadBalancerIP, "198.51.100.200", "the spec is untouched");
  await writer.write({ namespace: "default", name: "web" }, NOTHING_PUBLISHED);
  const cleared = await core.readNamespacedService({ namespace: "default", name: "web" });
  t.true(statusShows(cleared, NOTHING_PUBLISHED));
});

test.serial("events: a repeat within the window bumps the count of the same Event", async (t) => {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const errors: string[] = [];
  const recorder = new KubeEventRecorder({
    api: core,
    node: "node1",
    timeoutMs: 5000,
    clock: systemClock,
    onError: (message) => errors.push(message),
  });
  const event = {
    type: "Warning" as const,
    reason: "InvalidVIP",
    message: "spec.loadBalancerIP: 127.0.0.1 is a loopback address",
  };
  const invalidVipEvents = async () =>
    (await core.listNamespacedEvent({ namespace: "default", fieldSelector: "reason=InvalidVIP" })).items;
  const web = { namespace: "default", name: "web", uid: "0b5d6a4e-0000-4000-8000-000000000001" };
  recorder.record(web, event);
  await eventually(invalidVipEvents, (items) => items.length === 1, "the first event");
  recorder.record(web, event);
  const items = await eventually(invalidVipEvents, (found) => found[0]?.count === 2, "the count to reach 2");
  t.is(items.length, 1);
  t.is(items[0]?.involvedObject.name, "web");
  t.is(items[0]?.involvedObject.uid, web.uid, "kubectl describe finds Events by it");
  t.is(items[0]?.source?.component, "vipd");
  t.deepEqual(errors, []);
});

test.serial("informer: lists, watches, and keeps watching across an API server restart", async (t) => {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const seen: string[] = [];
  const informer = new SharedInformer<V1Service>({
    kind: "Service",
    kubeConfig,
    path: "/api/v1/services",
    clock: systemClock,
    list: () => core.listServiceForAllNamespaces(),
    backoff: { initialMs: 100, maxMs: 1000 },
  });
  informer.on("add", (service) => seen.push(`add ${service.metadata?.name ?? ""}`));
  informer.on("delete", (service) => seen.push(`delete ${service.metadata?.name ?? ""}`));
  t.teardown(() => informer.stop());
  await informer.start();
  t.true(informer.synced);
  t.truthy(informer.get("web", "default"));
  await api.restart();
  await core.createNamespacedService({
    namespace: "default",
    body: { metadata: { name: "after-restart" }, spec: { type: "ClusterIP", ports: [{ port: 80 }] } },
  });
  await until(() => seen.includes("add after-restart"), "the add after the restart");
  await core.deleteNamespacedService({ namespace: "default", name: "after-restart" });
  await until(() => seen.includes("delete after-restart"), "the delete");
  t.is(informer.get("after-restart", "default"), undefined);
});

test.serial(
  "informer: a list refused for want of RBAC is retried, reported once, and syncs once allowed",
  async (t) => {
    const account = "informer-reader";
    const asAccount = new KubeConfig();
    asAccount.loadFromFile(await api.serviceAccountKubeconfig({ namespace: NAMESPACE, name: account }));
    const core = asAccount.makeApiClient(CoreV1Api);
    const failures: { failure: string; repeated: boolean }[] = [];
    let recovered = 0;
    const informer = new SharedInformer<V1Service>({
      kind: "Service",
      kubeConfig: asAccount,
      path: "/api/v1/services",
      clock: systemClock,
      list: () => core.listServiceForAllNamespaces(),
      backoff: { initialMs: 50, maxMs: 200 },
      onFailure: ({ error, repeated }) => failures.push({ failure: classifyApiError(error), repeated }),
      onRecovered: () => (recovered += 1),
    });
    t.teardown(() => informer.stop());
    await informer.start();
    t.false(informer.synced);
    await until(() => failures.length >= 3, "three refused lists");
    t.deepEqual(failures.slice(0, 3), [
      { failure: "forbidden", repeated: false },
      { failure: "forbidden", repeated: true },
      { failure: "forbidden", repeated: true },
    ]);
    const rbac = {
      apiVersion: "v1",
      kind: "List",
      items: [
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRole",
          metadata: { name: account },
          rules: [{ apiGroups: [""], resources: ["services"], verbs: ["list", "watch"] }],
        },
        {
          apiVersion: "rbac.authorization.k8s.io/v1",
          kind: "ClusterRoleBinding",
          metadata: { name: account },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: account },
          subjects: [{ kind: "ServiceAccount", name: account, namespace: NAMESPACE }],
        },
      ],
    };
    const applied = await api.kubectl(["apply", "-f", "-"], { input: JSON.stringify(rbac) });
    t.is(applied.code, 0, applied.stderr);
    await informer.whenSynced();
    t.true(informer.synced);
    t.truthy(informer.get("kubernetes", "default"));
    t.is(recovered, 1);
  },
);
