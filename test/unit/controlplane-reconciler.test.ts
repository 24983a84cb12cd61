// Control-plane mode through the services-mode address loop: the same election and data plane,
// with the control-plane target supplying the one VIP and the local API server's health.
import test from "ava";
import { KubeConfig } from "@kubernetes/client-node";
import type { Eligibility } from "../../src/agent/eligibility.ts";
import { FreshLeases } from "../../src/agent/fresh-leases.ts";
import { addressWork } from "../../src/agent/work-keys.ts";
import { ControlPlaneMode } from "../../src/controlplane/mode.ts";
import { ControlPlaneTarget, LABEL_CONTROL_PLANE } from "../../src/controlplane/target.ts";
import { HeartbeatTracker } from "../../src/election/heartbeat-tracker.ts";
import { Ownership } from "../../src/election/ownership.ts";
import { AgentMetrics } from "../../src/metrics/metrics.ts";
import * as fakes from "./fakes/agent-world.ts";
import { addressLoop } from "./fakes/address-loop.ts";
import { FakeClock } from "./fakes/clock.ts";
import { FakeLeaseApi } from "./fakes/lease-api.ts";

const SELF = "cp1";
const VIP = "198.51.100.100";
const WORK = addressWork(VIP);
const LEASE = "vipd-ip-198.51.100.100";
const timings = { leaseDuration: 5000, renewDeadline: 3000, retryPeriod: 1000, claimStep: 250 };

function controlPlaneWorld() {
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
    vips: [{ address: VIP, family: 4 }],
    mode: "l2",
    health: () => health.state,
    node: (name) => view.node(name),
    nodeAddresses: () => new Set(["198.51.100.11"]),
    onInvalid: () => undefined,
  });
  const addresses = addressLoop({
    ...{ node: SELF, timings, cordonHandsOver: true, now: () => now, view, leases, dataPlane, target },
    log: fakes.silentLogger,
    heartbeat: () => ({ lastRenewalStartedAt: now - 100, apiUnreachable: false, renewalInFlightSince: null }),
    tracker: new HeartbeatTracker(),
    ownership: new Ownership({ leases, node: SELF, leaseDuration: timings.leaseDuration }),
    fresh: new FreshLeases((name) => view.lease(name)),
    events,
    metrics: new AgentMetrics({ node: "node-a", version: "0.0.0" }),
    requeue: (_key, delay) => requeues.push(delay),
    wakeWhenSilent: () => undefined,
    serviceTouched: () => undefined,
  });
  const run = () => addresses.reconcile(VIP);
  return { leases, view, dataPlane, events, status, health, run };
}

test("the one VIP is claimed in its address Lease and announced; no Service is written", async (t) => {
  const w = controlPlaneWorld();
  await w.run();
  const lease = w.leases.leases.get(LEASE);
  t.is(lease?.spec?.holderIdentity, SELF);
  t.is(lease?.metadata?.annotations?.["vipd.io/address"], VIP);
  await w.run();
  t.deepEqual(w.dataPlane.log, ["fence first-claim", `announce ${WORK}`], "probed before the claim");
  t.deepEqual(w.dataPlane.holding(WORK), [{ address: VIP, family: 4 }]);
  t.deepEqual(w.status.writes, [], "there is no Service status to publish");
  t.deepEqual(
    w.events.events.map((event) => event.reason),
    ["VIPAnnounced"],
  );
});

test("the local API server turns unhealthy: withdraw, then hand the Lease over (rule 5)", async (t) => {
  const w = controlPlaneWorld();
  w.view.nodes.set(SELF, {
    metadata: { name: SELF, uid: "uid-of-cp1", labels: { [LABEL_CONTROL_PLANE]: "" } },
  });
  await w.run();
  await w.run();
  w.health.state = {
    eligible: false,
    code: "api-server-unhealthy",
    reason: "the local API server failed 3 health check(s) in a row",
  };
  await w.run();
  t.deepEqual(w.dataPlane.log, ["fence first-claim", `announce ${WORK}`, `withdraw ${WORK}`]);
  const lease = w.leases.leases.get(LEASE);
  t.truthy(lease, "the Lease stays for the next holder");
  t.is(lease?.spec?.holderIdentity, undefined, "without a holder, so candidates claim at once");
  t.deepEqual(
    w.events.events.map((event) => event.reason),
    ["VIPAnnounced", "VIPWithdrawn"],
  );
  t.deepEqual(w.events.about, [
    { namespace: "default", name: SELF, uid: "uid-of-cp1" },
    { namespace: "default", name: SELF, uid: "uid-of-cp1" },
  ]);
});

test("while unhealthy, a free VIP is not claimed", async (t) => {
  const w = controlPlaneWorld();
  w.health.state = {
    eligible: false,
    code: "api-server-unchecked",
    reason: "the local API server has not been checked yet",
  };
  await w.run();
  t.deepEqual(w.leases.calls, []);
  t.deepEqual(w.dataPlane.log, []);
});

test("a --vip that is a node address: nothing claimed or added, and an Event on the Node says why", (t) => {
  const w = controlPlaneWorld();
  const mode = new ControlPlaneMode({
    node: SELF,
    vips: [{ address: "198.51.100.11", family: 4 }],
    mode: "l2",
    health: { url: new URL("https://127.0.0.1:6443/readyz"), periodMs: 1000, failureThreshold: 3 },
    kubeConfig: new KubeConfig(),
    nodes: () => undefined,
    nodeAddresses: () => new Set(["198.51.100.11"]),
    log: fakes.silentLogger,
    recorder: w.events,
    informers: [],
    clock: new FakeClock(),
    check: () => Promise.resolve(null),
  });
  t.is(mode.target.demand("198.51.100.11"), null);
  t.is(mode.target.demand("198.51.100.11"), null);
  t.deepEqual(
    w.events.events.map((event) => event.reason),
    ["InvalidVIP"],
    "once, not on every run",
  );
  t.deepEqual(
    w.events.about,
    [{ namespace: "default", name: SELF, uid: SELF }],
    "the name while no Node is seen",
  );
});

test("a drained control-plane node hands the VIP to a live uncordoned control-plane node", async (t) => {
  const w = controlPlaneWorld();
  const controlPlane = { "node-role.kubernetes.io/control-plane": "" };
  await w.run();
  await w.run();
  w.view.nodes.set("cp2", { metadata: { name: "cp2", labels: controlPlane } });
  w.view.live = ["cp2"];
  w.view.nodes.set(SELF, { metadata: { name: SELF, labels: controlPlane }, spec: { unschedulable: true } });
  await w.run();
  t.deepEqual(w.dataPlane.log, ["fence first-claim", `announce ${WORK}`, `withdraw ${WORK}`]);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, undefined);
});
