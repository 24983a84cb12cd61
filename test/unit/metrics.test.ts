// The scrape-time metrics read the agent's state when Prometheus asks, never a copy left by
// someone else's request; the event counters of rare kinds exist at 0 from the start.
import test from "ava";
import { AgentMetrics, type AnnouncedVip, type DesiredVip } from "../../src/metrics/metrics.ts";

function valuesOf(text: string, name: string): string[] {
  return text.split("\n").filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

test("vipd_heartbeat_age_seconds is read at each scrape, with nothing else asked in between", async (t) => {
  const metrics = new AgentMetrics({ node: "node-a", version: "1.2.3" });
  let age = 0.5;
  metrics.readFrom({
    heartbeatAgeSeconds: () => age,
    informers: () => [],
    announced: () => [],
    desired: () => [],
  });
  t.deepEqual(valuesOf(await metrics.registry.metrics(), "vipd_heartbeat_age_seconds"), [
    "vipd_heartbeat_age_seconds 0.5",
  ]);
  age = 60.25;
  t.deepEqual(valuesOf(await metrics.registry.metrics(), "vipd_heartbeat_age_seconds"), [
    "vipd_heartbeat_age_seconds 60.25",
  ]);
});

test("informers, announced and desired addresses are the sources' current lists", async (t) => {
  const metrics = new AgentMetrics({ node: "node-a", version: "1.2.3" });
  let synced = false;
  let announced: AnnouncedVip[] = [
    {
      namespace: "web",
      service: "front",
      address: "198.51.100.10",
      interfaceName: "eth0",
      mode: "confirmed",
    },
  ];
  const desired: DesiredVip[] = [{ namespace: "web", service: "front", address: "198.51.100.10" }];
  metrics.readFrom({
    heartbeatAgeSeconds: () => 0,
    informers: () => [
      { resource: "services", synced: true },
      { resource: "leases.coordination.k8s.io", synced },
    ],
    announced: () => announced,
    desired: () => desired,
  });
  let text = await metrics.registry.metrics();
  t.deepEqual(valuesOf(text, "vipd_informer_synced"), [
    'vipd_informer_synced{resource="services"} 1',
    'vipd_informer_synced{resource="leases.coordination.k8s.io"} 0',
  ]);
  t.deepEqual(valuesOf(text, "vipd_vip_announced"), [
    'vipd_vip_announced{namespace="web",service="front",address="198.51.100.10",node="node-a",interface="eth0",mode="confirmed"} 1',
  ]);
  t.deepEqual(valuesOf(text, "vipd_vip_desired"), [
    'vipd_vip_desired{namespace="web",service="front",address="198.51.100.10"} 1',
  ]);

  synced = true;
  announced = [];
  text = await metrics.registry.metrics();
  t.deepEqual(valuesOf(text, "vipd_informer_synced"), [
    'vipd_informer_synced{resource="services"} 1',
    'vipd_informer_synced{resource="leases.coordination.k8s.io"} 1',
  ]);
  t.deepEqual(valuesOf(text, "vipd_vip_announced"), [], "an address given up leaves no series behind");
});

test("vipd_build_info names the version and Node.js; rare counters start at 0", async (t) => {
  const text = await new AgentMetrics({ node: "node-a", version: "1.2.3" }).registry.metrics();
  t.deepEqual(valuesOf(text, "vipd_build_info"), [
    `vipd_build_info{version="1.2.3",node_version="${process.versions.node}"} 1`,
  ]);
  t.deepEqual(valuesOf(text, "vipd_conflicts_seen_total"), [
    'vipd_conflicts_seen_total{claimant="agent"} 0',
    'vipd_conflicts_seen_total{claimant="foreign-host"} 0',
  ]);
  t.true(valuesOf(text, "vipd_fences_total").includes('vipd_fences_total{result="foreign-host"} 0'));
});
