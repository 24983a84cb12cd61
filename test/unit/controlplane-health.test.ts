import test from "ava";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import type { Eligibility } from "../../src/agent/eligibility.ts";
import { ApiServerHealth, HealthThreshold, httpsHealthCheck } from "../../src/controlplane/health.ts";
import { FakeClock } from "./fakes/clock.ts";

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

test("ApiServerHealth runs the check every period and reports changes, until stopped", async (t) => {
  const clock = new FakeClock();
  const answers: (string | null)[] = [null, "down", "down", null];
  const changes: Eligibility[] = [];
  let calls = 0;
  const health = new ApiServerHealth({
    check: () => {
      calls += 1;
      return Promise.resolve(answers[calls - 1] ?? null);
    },
    periodMs: 1000,
    failureThreshold: 2,
    clock,
    onChange: (state) => changes.push(state),
  });
  await health.start();
  t.true(health.state().eligible, "start resolves after the first check");
  for (const at of [1000, 2000, 3000]) {
    await clock.tickTo(at - 1);
    t.is(calls, at / 1000, `no check before ${at} ms`);
    await clock.tickTo(at);
    t.is(calls, at / 1000 + 1, `a check at ${at} ms`);
  }
  t.deepEqual(
    changes.map((change) => change.eligible),
    [true, false, true],
  );
  health.stop();
  await clock.tickTo(3999);
  await clock.tickTo(10_000);
  t.is(calls, 4, "no check after stop");
});

test("ApiServerHealth counts a slow check's time into the period", async (t) => {
  const clock = new FakeClock();
  const startedAt: number[] = [];
  const health = new ApiServerHealth({
    check: async () => {
      startedAt.push(clock.now());
      await clock.sleep(300);
      return null;
    },
    periodMs: 1000,
    failureThreshold: 1,
    clock,
    onChange: () => undefined,
  });
  const started = health.start();
  await clock.tickTo(300);
  await started;
  await clock.tickTo(2999);
  t.deepEqual(startedAt, [0, 1000, 2000]);
  health.stop();
});

test("ApiServerHealth counts a check that throws as a failure", async (t) => {
  const health = new ApiServerHealth({
    check: () => Promise.reject(new Error("boom")),
    periodMs: 1000,
    failureThreshold: 1,
    clock: new FakeClock(),
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
  const clock = new FakeClock();
  const check = httpsHealthCheck({ url, kubeConfig: kubeConfigFor(url), clock });
  t.is(await check(1000), null);
  t.is(authorization, "Bearer secret-token");
  t.deepEqual(clock.pending(), [], "the check's deadline is cancelled once it is answered");
});

test("httpsHealthCheck: another status and a refused connection are failures", async (t) => {
  const { server, url } = await serve((_request, response) => {
    response.statusCode = 500;
    response.end("[-]etcd failed");
  });
  t.teardown(() => server.close());
  const check = (target: URL) =>
    httpsHealthCheck({ url: target, kubeConfig: kubeConfigFor(target), clock: new FakeClock() });
  t.regex((await check(url)(1000)) ?? "", /HTTP 500: \[-\]etcd failed/);
  const closed = new URL(url);
  closed.port = "1";
  t.regex((await check(closed)(1000)) ?? "", /ECONNREFUSED/);
});

test("httpsHealthCheck: no whole answer by the deadline is a failure, however much of it came", async (t) => {
  const arrived = Promise.withResolvers<undefined>();
  const { server, url } = await serve((_request, response) => {
    // Headers and part of a body, then nothing: the deadline is the check's, not the socket's.
    response.write("partial");
    arrived.resolve(undefined);
  });
  // The hanging request's connection would keep close() waiting.
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const clock = new FakeClock();
  let problem: string | null | undefined;
  const checked = httpsHealthCheck({ url, kubeConfig: kubeConfigFor(url), clock })(50).then(
    (answer) => (problem = answer),
  );
  await arrived.promise;
  await clock.tick(49);
  t.is(problem, undefined, "still waiting just before the deadline");
  await clock.tick(1);
  await checked;
  t.regex(problem ?? "", /no answer within 50ms/);
});
