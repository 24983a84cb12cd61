// The informer's watches are no requests of the generated clients, so it reports their failures
// itself, and each restart after a failure; a local HTTP server stands in for the API server.
import { CoreV1Api, KubeConfig, type V1Service } from "@kubernetes/client-node";
import test, { type ExecutionContext } from "ava";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { SharedInformer, type InformerFailure } from "../../src/kube/informer.ts";
import { FakeClock } from "./fakes/clock.ts";

interface Harness {
  readonly informer: SharedInformer<V1Service>;
  readonly clock: FakeClock;
  readonly watchFailures: unknown[];
  readonly failures: InformerFailure[];
  /** The lists the server answered. */
  readonly lists: () => number;
}

/** An informer of Services against a server that lists none and answers every watch with `status`. */
async function harness(t: ExecutionContext, watchStatus: number): Promise<Harness> {
  let lists = 0;
  const server = createServer((request, response) => {
    const watching = new URL(request.url ?? "/", "http://api").searchParams.get("watch") === "true";
    if (watching) {
      response.writeHead(watchStatus).end();
      return;
    }
    lists += 1;
    response
      .writeHead(200, { "content-type": "application/json" })
      .end('{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"7"},"items":[]}');
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [
      {
        name: "local",
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: "nobody" }],
    contexts: [{ name: "local", cluster: "local", user: "nobody" }],
    currentContext: "local",
  });
  const watchFailures: unknown[] = [];
  const failures: InformerFailure[] = [];
  const clock = new FakeClock();
  const informer = new SharedInformer<V1Service>({
    kind: "Service",
    kubeConfig,
    path: "/api/v1/services",
    list: () => kubeConfig.makeApiClient(CoreV1Api).listServiceForAllNamespaces(),
    clock,
    onWatchFailed: (failure) => watchFailures.push(failure),
    onFailure: (failure) => failures.push(failure),
  });
  t.teardown(async () => {
    await informer.stop();
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve();
      });
    });
  });
  return { informer, clock, watchFailures, failures, lists: () => lists };
}

test("a watch the API server refuses is reported as a failed watch, and the informer restarts", async (t) => {
  const { informer, clock, watchFailures, failures } = await harness(t, 500);
  t.is(informer.resource, "services");
  await informer.start();
  t.deepEqual(watchFailures, [{ resource: "services", failure: "unreachable" }]);
  t.like(failures, [{ kind: "Service", resource: "services", repeated: false }]);
  t.false(informer.synced);
  t.is(clock.pending().length, 1, "a restart is scheduled");
  await informer.stop();
  t.is(watchFailures.length, 1, "stopping is no failure");
});

test("410 Gone on a watch is no failure: the informer lists afresh", async (t) => {
  const { informer, watchFailures, failures, lists } = await harness(t, 410);
  await informer.start();
  // ListWatch relists on its own after the 410; wait for that second list to arrive.
  while (lists() < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  t.deepEqual(watchFailures, []);
  t.deepEqual(failures, []);
});
