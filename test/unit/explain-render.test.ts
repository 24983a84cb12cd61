// `vipd explain`'s screen (src/explain/render.ts): what a person reads first, and that it stays one
// screen (50 lines of 100 columns) however large the cluster and however long the messages.
import test from "ava";
import { explain } from "../../src/explain/explain.ts";
import { renderReport, SCREEN_COLUMNS } from "../../src/explain/render.ts";
import { parseServiceArgument } from "../../src/cli/explain-command.ts";
import {
  event,
  heartbeat,
  node,
  NODES,
  NOW,
  ownership,
  service,
  SETTINGS,
  snapshot,
} from "./fakes/explain-snapshot.ts";

const VIP = "198.51.100.210";
const SCREEN_LINES = 50;

test("a served Service: verdict first, then the address, its Lease, the nodes, the status", (t) => {
  const text = renderReport(
    explain(
      snapshot({
        services: [
          service({
            spec: { loadBalancerIP: VIP },
            status: { loadBalancer: { ingress: [{ ip: VIP, ipMode: "VIP" }] } },
            annotations: { "vipd.io/holder": "node-b" },
          }),
        ],
        leases: [...NODES.map((name) => heartbeat(name)), ownership(VIP, "node-b")],
        events: [
          event({
            reason: "VIPAnnounced",
            message: `${VIP} announced by node-b on eth0`,
            agoMs: 90_000,
            host: "node-b",
          }),
        ],
      }),
      SETTINGS,
      NOW,
    ),
  );
  const lines = text.split("\n");
  t.is(lines[0], `default/web: served: node-b holds ${VIP}`);
  t.is(lines[1], `Addresses, from spec.loadBalancerIP "${VIP}"`);
  t.regex(
    text,
    /Lease vipd-ip-198\.51\.100\.210: holder node-b, acquired 2m ago, heartbeat 0\.4s ago, 1 transition/,
  );
  t.regex(text, /node-b +candidate, heartbeat 0\.4s ago; HOLDER/);
  t.regex(
    text,
    /Status: ingress 198\.51\.100\.210 · vipd\.io\/holder node-b · no vipd\.io\/Announced condition/,
  );
  t.regex(text, / 90s {2}VIPAnnounced \[node-b\]: 198\.51\.100\.210 announced by node-b on eth0/);
});

test("a thousand nodes and long Events still fit one screen, and the odd nodes are shown", (t) => {
  const names = Array.from({ length: 1000 }, (_, index) => `worker-${String(index).padStart(4, "0")}`);
  const report = explain(
    snapshot({
      services: [service({ spec: { loadBalancerIP: VIP, externalTrafficPolicy: "Local" } })],
      nodes: names.map((name) => node(name)),
      leases: names.map((name) => heartbeat(name)),
      endpointSlices: [
        {
          addressType: "IPv4",
          endpoints: [{ addresses: ["10.0.0.9"], nodeName: "worker-0999", conditions: { ready: true } }],
        },
      ],
      events: Array.from({ length: 40 }, (_, index) =>
        event({ reason: "InvalidVIP", message: "x".repeat(5000), agoMs: index * 1000, type: "Warning" }),
      ),
    }),
    SETTINGS,
    NOW,
  );
  const lines = renderReport(report).trimEnd().split("\n");
  t.true(lines.length <= SCREEN_LINES, `${lines.length} lines`);
  for (const line of lines) t.true(line.length <= SCREEN_COLUMNS, line);
  t.true(lines.some((line) => line.includes("… and 988 more (1 candidates)")));
  t.true(lines.some((line) => line.startsWith("Nodes (claim order: worker-0999)")));
});

test("a Service argument: namespace/name, or a bare name in the context's namespace", (t) => {
  t.deepEqual(parseServiceArgument("shop/web", undefined), { namespace: "shop", name: "web" });
  t.deepEqual(parseServiceArgument("web", "shop"), { namespace: "shop", name: "web" });
  t.deepEqual(parseServiceArgument("web", undefined), { namespace: "default", name: "web" });
  for (const bad of ["a/b/c", "/web", "Shop/web", "shop/"])
    t.is(typeof parseServiceArgument(bad, undefined), "string", bad);
});
