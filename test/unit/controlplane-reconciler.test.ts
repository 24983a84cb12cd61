// Control-plane mode through the services-mode reconcile loop: the same election and data plane,
// with the control-plane target supplying the one VIP and the local API server's health.
import test from "ava";
import type { Eligibility } from "../../src/agent/eligibility.ts";
import { ServiceReconciler } from "../../src/agent/service-reconciler.ts";
import { CONTROL_PLANE_KEY } from "../../src/controlplane/mode.ts";
import { ControlPlaneTarget, NodeEvents } from "../../src/controlplane/target.ts";
import { HeartbeatTracker } from "../../src/election/heartbeat-tracker.ts";
import { Ownership } from "../../src/election/ownership.ts";
import { AgentMetrics } from "../../src/metrics/metrics.ts";
import * as fakes from "./fakes/agent-world.ts";
import { FakeLeaseApi } from "./fakes/lease-api.ts";

const SELF = "cp1";
const timings = { leaseDuration: 5000, renewDeadline: 3000, retryPeriod: 1000, claimStep: 250 };

function controlPlaneWorld(options: { vip?: string } = {}) {
  const now = 50_000;
  const leases = new FakeLeaseApi();
  const view = new fakes.FakeClusterView(leases);
  const dataPlane = new fakes.FakeDataPlane();
  const events = new fakes.FakeEventRecorder();
  const status = new fakes.FakeStatusWriter(view);
  const health: { state: Eligibility } = { state: { eligible: true } };
  const requeues: number[] = [];
  const target = new ControlPlaneTarget({
    self: SELF,
    vips: [{ address: options.vip ?? "198.51.100.100", family: 4 }],
    health: () => health.state,
    node: (name) => view.node(name),
    nodeAddresses: () => view.nodeAddresses(),
    onInvalid: () => undefined,
  });
  const reconciler = new ServiceReconciler({
    ...{ node: SELF, timings, loadBalancerClass: "vipd.io/l2", classOnly: false },
    ...{ clock: () => now, view, leases, dataPlane, status, target, log: fakes.silentLogger },
    heartbeat: () => ({ lastRenewalStartedAt: now - 100, apiUnreachable: false, renewalInFlightSince: null }),
    tracker: new HeartbeatTracker(),
    ownership: new Ownership({ leases, node: SELF, leaseDuration: timings.leaseDuration }),
    events: new NodeEvents({ node: SELF, recorder: events }),
    metrics: new AgentMetrics(),
    requeue: (_key, delay) => requeues.push(delay),
    wakeWhenSilent: () => undefined,
  });
  return { leases, dataPlane, events, status, health, reconciler };
}

test("the one VIP is claimed in the vipd-control-plane Lease and announced; no Service is written", async (t) => {
  const w = controlPlaneWorld();
  await w.reconciler.reconcile(CONTROL_PLANE_KEY);
  const lease = w.leases.leases.get("vipd-control-plane");
  t.is(lease?.spec?.holderIdentity, SELF);
  t.is(lease?.metadata?.annotations?.["vipd.io/service"], CONTROL_PLANE_KEY);
  await w.reconciler.reconcile(CONTROL_PLANE_KEY);
  t.deepEqual(
    w.dataPlane.log,
    ["fence first-claim", `announce ${CONTROL_PLANE_KEY}`],
    "probed before the claim",
  );
  t.deepEqual(w.dataPlane.holding(CONTROL_PLANE_KEY), [{ address: "198.51.100.100", family: 4 }]);
  t.deepEqual(w.status.writes, [], "there is no Service status to publish");
  t.deepEqual(
    w.events.events.map((event) => event.reason),
    ["VIPAnnounced"],
  );
});

test("the local API server turns unhealthy: withdraw, then hand the Lease over (rule 5)", async (t) => {
  const w = controlPlaneWorld();
  await w.reconciler.reconcile(CONTROL_PLANE_KEY);
  await w.reconciler.reconcile(CONTROL_PLANE_KEY);
  w.health.state = { eligible: false, reason: "the local API server failed 3 health check(s) in a row" };
  await w.reconciler.reconcile(CONTROL_PLANE_KEY);
  t.deepEqual(w.dataPlane.log, [
    "fence first-claim",
    `announce ${CONTROL_PLANE_KEY}`,
    `withdraw ${CONTROL_PLANE_KEY}`,
  ]);
  const lease = w.leases.leases.get("vipd-control-plane");
  t.truthy(lease, "the Lease stays for the next holder");
  t.is(lease?.spec?.holderIdentity, undefined, "without a holder, so candidates claim at once");
  t.deepEqual(
    w.events.events.map((event) => event.reason),
    ["VIPAnnounced", "VIPWithdrawn"],
  );
  t.deepEqual(w.events.about, [
    { namespace: "default", name: SELF, uid: SELF },
    { namespace: "default", name: SELF, uid: SELF },
  ]);
});

test("while unhealthy, a free VIP is not claimed", async (t) => {
  const w = controlPlaneWorld();
  w.health.state = { eligible: false, reason: "the local API server has not been checked yet" };
  await w.reconciler.reconcile(CONTROL_PLANE_KEY);
  t.deepEqual(w.leases.calls, []);
  t.deepEqual(w.dataPlane.log, []);
});

test("a --vip that is a node address: nothing claimed or added, and an Event on the Node says why", async (t) => {
  const w = controlPlaneWorld({ vip: "198.51.100.11" });
  await w.reconciler.reconcile(CONTROL_PLANE_KEY);
  await w.reconciler.reconcile(CONTROL_PLANE_KEY);
  t.deepEqual(w.leases.calls, []);
  t.deepEqual(w.dataPlane.log, []);
  t.deepEqual(
    w.events.events.map((event) => event.reason),
    ["InvalidVIP"],
    "once, not on every run",
  );
  t.deepEqual(w.events.about, [{ namespace: "default", name: SELF, uid: SELF }]);
});
