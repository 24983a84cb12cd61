// What vipd writes on Services, against a real API server with manifests/rbac.yaml applied: the
// admission policy that leaves vipd's ServiceAccount only its annotation (a selector, externalIPs or
// another annotation is refused; the holder annotation and the /status subresource pass; anyone
// else is not looked at), the condition merged by type next to another controller's, and the
// compare-and-swap clear the last agent to stop makes.
import test from "ava";
import { readFileSync } from "node:fs";
import { CoreV1Api, KubeConfig, PatchStrategy, type V1Service } from "@kubernetes/client-node";
import { classifyApiError, describeApiError } from "../../src/kube/errors.ts";
import { requestOptions } from "../../src/kube/request-options.ts";
import {
  KubeServiceStatusWriter,
  NOTHING_PUBLISHED,
  statusShows,
  type Publication,
} from "../../src/kube/service-status.ts";
import { startApiServer, type ApiServer } from "../../lab/apiserver.ts";

let api: ApiServer;
let admin: CoreV1Api;
let agent: CoreV1Api;
/** The same ServiceAccount name and ClusterRole, in another namespace: not the installation's. */
let stranger: CoreV1Api;

function client(path: string): CoreV1Api {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  return kubeConfig.makeApiClient(CoreV1Api);
}

const merge = requestOptions({ timeoutMs: 5000, contentType: PatchStrategy.MergePatch });

async function kubectl(args: readonly string[], input?: string): Promise<string> {
  const result = await api.kubectl(args, input === undefined ? undefined : { input });
  if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${result.stderr}`);
  return result.stdout;
}

async function createService(name: string): Promise<void> {
  await admin.createNamespacedService({
    namespace: "default",
    body: {
      metadata: { name, labels: { app: name }, annotations: { "example.com/owner": "team-a" } },
      spec: { type: "LoadBalancer", selector: { app: name }, ports: [{ port: 80 }] },
    },
  });
}

/** The patch's outcome: "allowed", or the failure class and the API server's message. */
async function patchAs(as: CoreV1Api, name: string, body: object): Promise<string> {
  try {
    await as.patchNamespacedService({ namespace: "default", name, body }, merge);
    return "allowed";
  } catch (error) {
    return `${classifyApiError(error)}: ${describeApiError(error)}`;
  }
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("these tests need root");
  api = await startApiServer();
  admin = client(api.kubeconfigPath);
  await kubectl(
    ["apply", "-f", "-"],
    readFileSync(new URL("../../manifests/rbac.yaml", import.meta.url), "utf8"),
  );
  agent = client(await api.serviceAccountKubeconfig({ namespace: "vipd-system", name: "vipd" }));
  stranger = client(await api.serviceAccountKubeconfig({ namespace: "other", name: "vipd" }));
  await kubectl([
    ...["create", "clusterrolebinding", "other-vipd", "--clusterrole=vipd:vipd-system"],
    "--serviceaccount=other:vipd",
  ]);
  // A new policy takes a moment to reach the API server's admission chain: wait until it refuses.
  await createService("probe");
  const deadline = Date.now() + 60_000;
  // Each try asks for another selector: one that went through before the policy changes nothing.
  for (let attempt = 0; ; attempt++) {
    const outcome = await patchAs(agent, "probe", { spec: { selector: { app: `try-${attempt}` } } });
    if (outcome !== "allowed") break;
    if (Date.now() > deadline) throw new Error("the admission policy never took effect");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});

test.after.always(async () => {
  await (api as ApiServer | undefined)?.stop();
});

const REFUSED: readonly (readonly [string, object, string])[] = [
  ["a selector", { spec: { selector: { app: "elsewhere" } } }, "its spec"],
  ["externalIPs", { spec: { externalIPs: ["198.51.100.66"] } }, "its spec"],
  [
    "another annotation",
    { metadata: { annotations: { "example.com/owner": "mallory" } } },
    "other annotations",
  ],
  ["a new annotation", { metadata: { annotations: { "example.com/extra": "1" } } }, "other annotations"],
  [
    "an annotation removed",
    { metadata: { annotations: { "example.com/owner": null } } },
    "other annotations",
  ],
  ["a label", { metadata: { labels: { app: "elsewhere" } } }, "its labels"],
  ["a finalizer", { metadata: { finalizers: ["example.com/hold"] } }, "its finalizers"],
  [
    "an ownerReference",
    {
      metadata: {
        ownerReferences: [
          { apiVersion: "v1", kind: "ConfigMap", name: "x", uid: "00000000-0000-0000-0000-000000000001" },
        ],
      },
    },
    "its ownerReferences",
  ],
];

for (const [what, body, named] of REFUSED) {
  test.serial(`admission: vipd's ServiceAccount may not change ${what}; another account may`, async (t) => {
    const name = `refused-${REFUSED.findIndex((each) => each[0] === what)}`;
    await createService(name);
    const before = await admin.readNamespacedService({ namespace: "default", name });
    const refused = await patchAs(agent, name, body);
    t.true(refused.startsWith("invalid: ") || refused.startsWith("forbidden: "), refused);
    t.true(refused.includes(named), refused);
    const after = await admin.readNamespacedService({ namespace: "default", name });
    t.is(after.metadata?.resourceVersion, before.metadata?.resourceVersion, "nothing was written");
    t.is(await patchAs(stranger, name, body), "allowed", "the policy binds only the installation's account");
    await admin.deleteNamespacedService({ namespace: "default", name });
  });
}

test.serial("admission: the holder annotation and the status pass for vipd's ServiceAccount", async (t) => {
  await createService("web");
  const writer = new KubeServiceStatusWriter({ api: agent, timeoutMs: 5000, wallClock: () => Date.now() });
  const published: Publication = {
    ips: ["198.51.100.10"],
    holder: "node-a",
    condition: {
      status: "True",
      reason: "Announced",
      message: "announced by node node-a",
      observedGeneration: 1,
    },
  };
  await writer.write({ namespace: "default", name: "web" }, published);
  const written = await admin.readNamespacedService({ namespace: "default", name: "web" });
  t.true(statusShows(written, published));
  t.is(written.metadata?.annotations?.["example.com/owner"], "team-a");
  await writer.write({ namespace: "default", name: "web" }, NOTHING_PUBLISHED);
  t.true(
    statusShows(await admin.readNamespacedService({ namespace: "default", name: "web" }), NOTHING_PUBLISHED),
  );
  t.is(
    await patchAs(admin, "web", { spec: { selector: { app: "other" } } }),
    "allowed",
    "admin is not looked at",
  );
  await admin.deleteNamespacedService({ namespace: "default", name: "web" });
});

const OTHER_CONDITION = {
  type: "example.com/Healthy",
  status: "True",
  reason: "Checked",
  message: "another controller's",
  lastTransitionTime: "2026-01-01T00:00:00Z",
};

function conditionTypes(service: V1Service): string[] {
  return (service.status?.conditions ?? []).map((each) => each.type).sort();
}

test.serial(
  "condition: merged by type next to another controller's, kept through changes and removal",
  async (t) => {
    await createService("shared");
    const ref = { namespace: "default", name: "shared" };
    await admin.patchNamespacedServiceStatus(
      { ...ref, body: { status: { conditions: [OTHER_CONDITION] } } },
      merge,
    );
    let now = Date.UTC(2026, 5, 1, 12, 0, 0);
    const writer = new KubeServiceStatusWriter({ api: agent, timeoutMs: 5000, wallClock: () => now });
    const announced = (message: string): Publication => ({
      ips: ["198.51.100.11"],
      holder: "node-a",
      condition: { status: "True", reason: "Announced", message, observedGeneration: 1 },
    });
    await writer.write(ref, announced("on eth0"));
    const first = await admin.readNamespacedService(ref);
    t.deepEqual(conditionTypes(first), ["example.com/Healthy", "vipd.io/Announced"]);
    const mine = first.status?.conditions?.find((each) => each.type === "vipd.io/Announced");
    t.is(mine?.lastTransitionTime.toISOString(), "2026-06-01T12:00:00.000Z");

    now += 60_000;
    await writer.write(ref, announced("on eth1"), { current: first });
    const moved = await admin.readNamespacedService(ref);
    const again = moved.status?.conditions?.find((each) => each.type === "vipd.io/Announced");
    t.is(again?.message, "on eth1");
    t.is(again?.lastTransitionTime.toISOString(), "2026-06-01T12:00:00.000Z", "the status stayed True");
    t.deepEqual(conditionTypes(moved), ["example.com/Healthy", "vipd.io/Announced"]);

    await writer.write(ref, NOTHING_PUBLISHED, { current: moved });
    t.deepEqual(conditionTypes(await admin.readNamespacedService(ref)), ["example.com/Healthy"]);

    // What a JSON merge patch would have done: the list is replaced, the other condition is gone.
    await agent.patchNamespacedServiceStatus(
      { ...ref, body: { status: { conditions: [{ ...OTHER_CONDITION, type: "vipd.io/Announced" }] } } },
      merge,
    );
    t.deepEqual(conditionTypes(await admin.readNamespacedService(ref)), ["vipd.io/Announced"]);
    await admin.deleteNamespacedService(ref);
  },
);

test.serial(
  "compare-and-swap: a clear at an old resourceVersion is refused and writes nothing",
  async (t) => {
    await createService("raced");
    const ref = { namespace: "default", name: "raced" };
    const writer = new KubeServiceStatusWriter({ api: agent, timeoutMs: 5000, wallClock: () => Date.now() });
    const byA: Publication = {
      ips: ["198.51.100.12"],
      holder: "node-a",
      condition: { status: "True", reason: "Announced", message: "by node-a", observedGeneration: 1 },
    };
    await writer.write(ref, byA);
    const seen = await admin.readNamespacedService(ref);
    // Another node publishes meanwhile.
    const byB = {
      ...byA,
      holder: "node-b",
      condition: { ...byA.condition, message: "by node-b" },
    } as Publication;
    await writer.write(ref, byB);
    const error = await t.throwsAsync(
      writer.write(ref, NOTHING_PUBLISHED, {
        current: seen,
        resourceVersion: seen.metadata?.resourceVersion ?? "",
      }),
    );
    t.is(classifyApiError(error), "conflict");
    t.true(statusShows(await admin.readNamespacedService(ref), byB));
    const fresh = await admin.readNamespacedService(ref);
    await writer.write(ref, NOTHING_PUBLISHED, {
      current: fresh,
      resourceVersion: fresh.metadata?.resourceVersion ?? "",
    });
    t.true(statusShows(await admin.readNamespacedService(ref), NOTHING_PUBLISHED));
    await admin.deleteNamespacedService(ref);
  },
);
