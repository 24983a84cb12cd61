import test from "ava";
import { ApiException } from "@kubernetes/client-node";
import { classifyApiError, describeApiError, type ApiFailure } from "../../src/kube/errors.ts";

// client-node's Watch reports a watch the API server refused as a plain Error carrying statusCode.
function refusedWatch(status: number, text: string): Error {
  return Object.assign(new Error(text), { statusCode: status });
}

const table: [string, unknown, ApiFailure][] = [
  ["a 403 answer", new ApiException(403, "", { message: "forbidden" }, {}), "forbidden"],
  ["a 401 answer", new ApiException(401, "", { message: "Unauthorized" }, {}), "forbidden"],
  ["a refused watch (403)", refusedWatch(403, "Forbidden"), "forbidden"],
  ["a refused watch (401)", refusedWatch(401, "Unauthorized"), "forbidden"],
  ["a watch answered 503", refusedWatch(503, "Service Unavailable"), "unreachable"],
  ["a connection refused", new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } }), "unreachable"],
  ["a 409 answer", new ApiException(409, "", {}, {}), "conflict"],
];

for (const [what, error, failure] of table) {
  test(`classified: ${what}`, (t) => {
    t.is(classifyApiError(error), failure);
  });
}

test("a refused watch is described with its status", (t) => {
  t.is(describeApiError(refusedWatch(403, "Forbidden")), "HTTP 403: Forbidden");
  t.is(
    describeApiError(new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } })),
    "fetch failed (ECONNREFUSED)",
  );
});
