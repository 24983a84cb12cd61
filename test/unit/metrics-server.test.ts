import test from "ava";
import type { AddressInfo } from "node:net";
import { AgentMetrics } from "../../src/metrics/metrics.ts";
import { startHttpEndpoint } from "../../src/metrics/server.ts";

test("serves /metrics, and /healthz and /readyz from the checks it is given", async (t) => {
  const metrics = new AgentMetrics({ node: "node-a", version: "0.0.0" });
  metrics.elections.inc({ outcome: "won" });
  let heartbeatProblem: string | null = "heartbeat last renewed 4.2s ago (renew deadline 3s)";
  const server = await startHttpEndpoint({
    listen: { host: "127.0.0.1", port: 0 },
    registry: metrics.registry,
    liveness: [{ name: "loops", problem: () => null }],
    readiness: [
      { name: "informers", problem: () => null },
      { name: "heartbeat", problem: () => heartbeatProblem },
    ],
  });
  t.teardown(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const metricsText = await (await fetch(`${base}/metrics`)).text();
  t.regex(metricsText, /vipd_elections_total\{outcome="won"\} 1/);
  t.regex(metricsText, /process_resident_memory_bytes/);

  const healthz = await fetch(`${base}/healthz`);
  t.is(healthz.status, 200);

  const notReady = await fetch(`${base}/readyz`);
  t.is(notReady.status, 503);
  t.regex(await notReady.text(), /\[-\] heartbeat: heartbeat last renewed 4\.2s ago/);

  heartbeatProblem = null;
  const ready = await fetch(`${base}/readyz`);
  t.is(ready.status, 200);
  t.regex(await ready.text(), /\[\+\] heartbeat ok\nok\n$/);

  t.is((await fetch(`${base}/nothing`)).status, 404);
});
