import type { CoreV1Api } from "@kubernetes/client-node";
import test from "ava";
import { KubeEventRecorder } from "../../src/kube/events.ts";
import { FakeClock, flushEventLoop } from "./fakes/clock.ts";

interface Call {
  readonly verb: "create" | "patch";
  readonly body: {
    count?: number;
    reason?: string;
    message?: string;
    involvedObject?: { uid?: string; name?: string; apiVersion?: string; kind?: string; namespace?: string };
  };
  readonly settle: (error?: Error) => void;
}

/** The two CoreV1Api calls the recorder makes, each left pending until the test settles it. */
function fakeApi() {
  const calls: Call[] = [];
  const call = (verb: Call["verb"]) => (request: { body: Call["body"] }) =>
    new Promise<void>((resolve, reject) => {
      calls.push({
        verb,
        body: request.body,
        settle: (error) => {
          if (error === undefined) resolve();
          else reject(error);
        },
      });
    });
  const api = { createNamespacedEvent: call("create"), patchNamespacedEvent: call("patch") };
  return { api: api as unknown as CoreV1Api, calls };
}

const service = { namespace: "default", name: "web", uid: "uid-of-web" };
const settled = flushEventLoop;
const sentCounts = (calls: readonly Call[]) => calls.map((call) => [call.verb, call.body.count]);

/** A recorder on the fake API, with what it logs and how many Events it dropped. */
function recorderOn(
  options: {
    maxPending?: number;
    aggregationWindowMs?: number;
    involvedKind?: "Service" | "Node" | "VIPPool";
  } = {},
) {
  const { api, calls } = fakeApi();
  const seen = { errors: [] as string[], dropped: 0 };
  const clock = new FakeClock();
  const recorder = new KubeEventRecorder({
    api,
    node: "node1",
    timeoutMs: 1000,
    clock,
    ...options,
    onError: (message) => seen.errors.push(message),
    onDropped: () => (seen.dropped += 1),
  });
  return { recorder, calls, seen, clock };
}

test("past the backlog, Events are dropped and counted, with one log line per burst", async (t) => {
  const { recorder, calls, seen } = recorderOn({ maxPending: 2 });
  for (const reason of ["A", "B", "C", "D"])
    recorder.record(service, { type: "Normal", reason, message: reason });
  await settled();
  t.deepEqual(
    calls.map((call) => call.body.reason),
    ["A", "B"],
  );
  t.is(seen.dropped, 2);
  t.deepEqual(seen.errors, ["dropping Events while 2 are still waiting, starting with C on default/web"]);

  for (const call of calls) call.settle();
  await settled();
  recorder.record(service, { type: "Normal", reason: "E", message: "E" });
  await settled();
  t.is(calls.at(-1)?.body.reason, "E");
  t.is(seen.dropped, 2);
});

test("a failed send frees its place in the backlog and is logged", async (t) => {
  const { recorder, calls, seen } = recorderOn({ maxPending: 1 });
  recorder.record(service, { type: "Warning", reason: "InvalidVIP", message: "x" });
  await settled();
  calls[0]?.settle(new Error("boom"));
  await settled();
  recorder.record(service, { type: "Warning", reason: "Other", message: "y" });
  await settled();
  t.is(calls.length, 2);
  t.true(seen.errors[0]?.startsWith("event InvalidVIP on default/web: "));
});

test("a repeat within the aggregation window bumps the count of the same Event", async (t) => {
  const { recorder, calls } = recorderOn();
  const event = { type: "Normal", reason: "VIPAnnounced", message: "192.0.2.10 on eth0" } as const;
  recorder.record(service, event);
  recorder.record(service, event);
  recorder.record(service, event);
  await settled();
  t.deepEqual(sentCounts(calls), [
    ["create", 1],
    ["patch", 2],
    ["patch", 3],
  ]);
});

test("a repeat once the aggregation window has passed is a new Event", async (t) => {
  const { recorder, calls, clock } = recorderOn({ aggregationWindowMs: 60_000 });
  const event = { type: "Warning", reason: "InvalidVIP", message: "x" } as const;
  recorder.record(service, event);
  clock.advance(60_000);
  recorder.record(service, event);
  // The window runs from the last repeat.
  clock.advance(60_001);
  recorder.record(service, event);
  await settled();
  t.deepEqual(sentCounts(calls), [
    ["create", 1],
    ["patch", 2],
    ["create", 1],
  ]);
});

test("an Event names its object's uid, and a long message is cut to about 1 kB saying how much", async (t) => {
  const { recorder, calls } = recorderOn();
  recorder.record(service, { type: "Warning", reason: "InvalidVIP", message: "x".repeat(10_000) });
  await settled();
  const body = calls[0]?.body;
  t.is(body?.involvedObject?.uid, "uid-of-web");
  t.true(Buffer.byteLength(body?.message ?? "") <= 1024);
  t.regex(body?.message ?? "", /^x+ … \(9,0\d\d more characters\)$/);
});

test("the involved object is a Service, a Node or a VIPPool, the cluster-scoped ones without a namespace", async (t) => {
  const seen: unknown[] = [];
  for (const involvedKind of ["Service", "Node", "VIPPool"] as const) {
    const { recorder, calls } = recorderOn({ involvedKind });
    recorder.record(service, { type: "Warning", reason: "R", message: "m" });
    await settled();
    seen.push(calls[0]?.body.involvedObject);
  }
  t.deepEqual(seen, [
    { apiVersion: "v1", kind: "Service", namespace: "default", name: "web", uid: "uid-of-web" },
    { apiVersion: "v1", kind: "Node", name: "web", uid: "uid-of-web" },
    { apiVersion: "vipd.io/v1alpha1", kind: "VIPPool", name: "web", uid: "uid-of-web" },
  ]);
});
