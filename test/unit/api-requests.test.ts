import test from "ava";
import {
  HttpMethod,
  Observable,
  RequestContext,
  ResponseContext,
  type HttpLibrary,
} from "@kubernetes/client-node";
import { describeRequest, observedHttpLibrary, type FailedRequest } from "../../src/kube/api-requests.ts";

const API = "https://203.0.113.1:6443";

for (const [method, path, operation, resource] of [
  ["GET", "/api/v1/services", "list", "services"],
  ["GET", "/api/v1/services?watch=true&resourceVersion=7", "watch", "services"],
  ["GET", "/api/v1/namespaces", "list", "namespaces"],
  ["GET", "/api/v1/namespaces/vipd-system", "get", "namespaces"],
  ["GET", "/apis/coordination.k8s.io/v1/namespaces/vipd-system/leases", "list", "leases.coordination.k8s.io"],
  [
    "GET",
    "/apis/coordination.k8s.io/v1/namespaces/vipd-system/leases/vipd-node-a",
    "get",
    "leases.coordination.k8s.io",
  ],
  [
    "PUT",
    "/apis/coordination.k8s.io/v1/namespaces/vipd-system/leases/vipd-node-a",
    "update",
    "leases.coordination.k8s.io",
  ],
  ["POST", "/api/v1/namespaces/web/events", "create", "events"],
  ["PATCH", "/api/v1/namespaces/web/services/front/status", "patch", "services"],
  ["DELETE", "/apis/vipd.io/v1alpha1/vipallocations/ip-198.51.100.10", "delete", "vipallocations.vipd.io"],
  ["GET", "/apis/vipd.io/v1alpha1/vippools?watch=true", "watch", "vippools.vipd.io"],
  ["GET", "/apis/networking.k8s.io/v1", "discovery", ""],
  ["GET", "/api/v1", "discovery", ""],
] as const) {
  test(`${method} ${path} is ${operation} ${resource || "(no resource)"}`, (t) => {
    t.deepEqual(describeRequest(method, `${API}${path}`), { operation, resource });
  });
}

function library(answer: () => Promise<ResponseContext>): HttpLibrary {
  return { send: () => new Observable(answer()) };
}

function response(status: number): ResponseContext {
  return new ResponseContext(
    status,
    {},
    {
      text: () => Promise.resolve(""),
      binary: () => Promise.resolve(Buffer.alloc(0)),
      stream: () => null,
    },
  );
}

async function sendThrough(answer: () => Promise<ResponseContext>): Promise<FailedRequest[]> {
  const failed: FailedRequest[] = [];
  const observed = observedHttpLibrary(library(answer), (each) => failed.push(each));
  const request = new RequestContext(
    `${API}/apis/coordination.k8s.io/v1/namespaces/n/leases/l`,
    HttpMethod.PUT,
  );
  await observed
    .send(request)
    .toPromise()
    .catch(() => undefined);
  return failed;
}

test("an answer of 400 or more is a failure of its class; the answer itself is passed on", async (t) => {
  t.deepEqual(await sendThrough(() => Promise.resolve(response(200))), []);
  t.deepEqual(await sendThrough(() => Promise.resolve(response(409))), [
    { operation: "update", resource: "leases.coordination.k8s.io", failure: "conflict" },
  ]);
  t.deepEqual(await sendThrough(() => Promise.resolve(response(503))), [
    { operation: "update", resource: "leases.coordination.k8s.io", failure: "unreachable" },
  ]);
  const passed = await observedHttpLibrary(
    library(() => Promise.resolve(response(404))),
    () => undefined,
  )
    .send(new RequestContext(`${API}/api/v1/nodes/a`, HttpMethod.GET))
    .toPromise();
  t.is(passed.httpStatusCode, 404);
});

test("no answer at all (refused, timed out) is unreachable, and the error is passed on", async (t) => {
  const refused = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
  t.deepEqual(await sendThrough(() => Promise.reject(refused)), [
    { operation: "update", resource: "leases.coordination.k8s.io", failure: "unreachable" },
  ]);
  const observed = observedHttpLibrary(
    library(() => Promise.reject(refused)),
    () => undefined,
  );
  await t.throwsAsync(observed.send(new RequestContext(`${API}/api/v1/nodes`, HttpMethod.GET)).toPromise(), {
    is: refused,
  });
});
