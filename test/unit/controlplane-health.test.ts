import test from "ava";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import type { Eligibility } from "../../src/agent/eligibility.ts";
import { ApiServerHealth, HealthThreshold, httpsHealthCheck } from "../../src/controlplane/health.ts";

// Each row: the outcomes of checks in order (null = healthy answer), and eligibility after each.
const rows: { name: string; threshold: number; checks: (string | null)[]; eligible: boolean[] }[] = [
  { name: "one success makes it healthy", threshold: 3, checks: [null], eligible: [true] },
  {
    name: "unchecked and failing: not eligible from the start",
    threshold: 3,
    checks: ["refused", "refused"],
    eligible: [false, false],
  },
  {
    name: "healthy: threshold failures in a row make it unhealthy",
    threshold: 3,
    checks: [null, "refused", "refused", "refused"],
    eligible: [true, true, true, false],
  },
  {
    name: "a success in between resets the count",
    threshold: 3,
    checks: [null, "refused", "refused", null, "refused", "refused"],
    eligible: [true, true, true, true, true, true],
  },
  {
    name: "threshold 1: the first failure",
    threshold: 1,
    checks: [null, "timeout", null],
    eligible: [true, false, true],
  },
  {
    name: "unhealthy: one success brings it back",
    threshold: 2,
    checks: [null, "x", "x", "x", null],
    eligible: [true, true, false, false, true],
  },
];
for (const row of rows) {
  test(`HealthThreshold: ${row.name}`, (t) => {
    const threshold = new HealthThreshold(row.threshold);
    t.false(threshold.state.eligible, "unchecked is not eligible");
    const seen = row.checks.map((check) => {
      threshold.record(check);
      return threshold.state.eligible;
    });
    t.deepEqual(seen, row.eligible);
  });
}

test("HealthThreshold: record says when eligibility changed, and the reason names the failure", (t) => {
  const threshold = new HealthThreshold(2);
  t.true(threshold.record(null));
  t.false(threshold.record("connection refused"));
  t.true(threshold.record("connection refused"));
  const state = threshold.state;
  t.false(state.eligible);
  if (!state.eligible) t.regex(state.reason, /2 health check\(s\) in a row: connection refused/);
  t.false(threshold.record("connection refused"));
});

test("ApiServerHealth runs the check every period and reports changes", async (t) => {
  const answers: (string | null)[] = [null, "down", "down", null];
  const changes: Eligibility[] = [];
  let calls = 0;
  let reachedEnd: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (reachedEnd = resolve));
  const health = new ApiServerHealth({
    check: () => {
      calls += 1;
      if (calls === answers.length) reachedEnd();
      return Promise.resolve(answers[calls - 1] ?? null);
    },
    periodMs: 5,
    failureThreshold: 2,
    onChange: (state) => changes.push(state),
  });
  await health.start();
  t.true(health.state().eligible, "start resolves after the first check");
  await done;
  await new Promise((resolve) => setTimeout(resolve, 20));
  health.stop();
  t.deepEqual(
    changes.map((change) => change.eligible),
    [true, false, true],
  );
});

test("ApiServerHealth counts a check that throws as a failure", async (t) => {
  const health = new ApiServerHealth({
    check: () => Promise.reject(new Error("boom")),
    periodMs: 1000,
    failureThreshold: 1,
    onChange: () => undefined,
  });
  await health.start();
  health.stop();
  const state = health.state();
  t.false(state.eligible);
  if (!state.eligible) t.regex(state.reason, /boom/);
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: URL }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: new URL(`http://127.0.0.1:${port}/livez`) };
}

function kubeConfigFor(url: URL): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    // client-node refuses plain HTTP unless TLS verification is off; there is no TLS to verify here.
    clusters: [{ name: "c", server: url.origin, skipTLSVerify: true }],
    users: [{ name: "u", token: "secret-token" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kubeConfig;
}

test("httpsHealthCheck: 200 is healthy, and the kubeconfig's credentials are sent", async (t) => {
  let authorization: string | undefined;
  const { server, url } = await serve((request, response) => {
    authorization = request.headers.authorization;
    response.end("ok");
  });
  t.teardown(() => server.close());
  const check = httpsHealthCheck({ url, kubeConfig: kubeConfigFor(url) });
  t.is(await check(1000), null);
  t.is(authorization, "Bearer secret-token");
});

test("httpsHealthCheck: another status, a refused connection and a timeout are failures", async (t) => {
  const { server, url } = await serve((request, response) => {
    if (request.url === "/hang") return;
    response.statusCode = 500;
    response.end("[-]etcd failed");
  });
  // The hanging request's connection would keep close() waiting.
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const check = (target: URL) => httpsHealthCheck({ url: target, kubeConfig: kubeConfigFor(target) });
  t.regex((await check(url)(1000)) ?? "", /HTTP 500: \[-\]etcd failed/);
  t.regex((await check(new URL("/hang", url))(50)) ?? "", /no answer within 50ms/);
  const closed = new URL(url);
  closed.port = "1";
  t.regex((await check(closed)(1000)) ?? "", /ECONNREFUSED/);
});
