import test from "ava";
import type { V1Service } from "@kubernetes/client-node";
import type { OwnHeartbeat } from "../../src/election/decide.ts";
import { HeartbeatTracker } from "../../src/election/heartbeat-tracker.ts";
import { Ownership } from "../../src/election/ownership.ts";
import { rankCandidates } from "../../src/election/ranking.ts";
import { ServiceReconciler } from "../../src/agent/service-reconciler.ts";
import { AgentMetrics } from "../../src/metrics/metrics.ts";
import {
  FakeClusterView,
  FakeDataPlane,
  FakeEventRecorder,
  FakeStatusWriter,
  silentLogger,
} from "./fakes/agent-world.ts";
import { FakeLeaseApi } from "./fakes/lease-api.ts";

const KEY = "default/web";
const LEASE = "vipd-svc-default.web";
const [SELF = "", OTHER = ""] = rankCandidates(["node-a", "node-b"], KEY);
const timings = { leaseDuration: 5000, renewDeadline: 3000, retryPeriod: 1000, claimStep: 250 };

function lbService(annotations: Record<string, string> = {}): V1Service {
  return {
    metadata: { namespace: "default", name: "web", uid: "uid-1", annotations },
    spec: { type: "LoadBalancer", loadBalancerIP: "192.0.2.10" },
  };
}

function world(options: { self?: string } = {}) {
  const self = options.self ?? SELF;
  const clock = { now: 100_000 };
  const leases = new FakeLeaseApi();
  const view = new FakeClusterView(leases);
  view.services.set(KEY, lbService());
  for (const name of [SELF, OTHER]) view.nodes.set(name, { metadata: { name } });
  view.live = [self === SELF ? OTHER : SELF];
  const dataPlane = new FakeDataPlane();
  const status = new FakeStatusWriter(view);
  const events = new FakeEventRecorder();
  const tracker = new HeartbeatTracker();
  const requeues: [string, number][] = [];
  const metrics = new AgentMetrics();
  const silenceWaits: [string, string][] = [];
  const heartbeat: { state: OwnHeartbeat } = {
    state: { lastRenewalStartedAt: clock.now - 100, apiUnreachable: false, renewalInFlightSince: null },
  };
  const reconciler = new ServiceReconciler({
    node: self,
    timings,
    loadBalancerClass: "vipd.io/l2",
    classOnly: false,
    clock: () => clock.now,
    view,
    heartbeat: () => heartbeat.state,
    tracker,
    leases,
    ownership: new Ownership({ leases, node: self, leaseDuration: timings.leaseDuration }),
    status,
    events,
    dataPlane,
    metrics,
    log: silentLogger,
    requeue: (key, delay) => requeues.push([key, delay]),
    wakeWhenSilent: (node, key) => silenceWaits.push([node, key]),
  });
  const other = new Ownership({ leases, node: OTHER, leaseDuration: timings.leaseDuration });
  const reasons = () => events.events.map((event) => event.reason);
  return {
    self,
    clock,
    leases,
    view,
    dataPlane,
    status,
    events,
    tracker,
    requeues,
    silenceWaits,
    metrics,
    heartbeat,
    reconciler,
    other,
    reasons,
  };
}

async function heldBySelf() {
  const w = world();
  await w.reconciler.reconcile(KEY);
  await w.reconciler.reconcile(KEY);
  w.requeues.length = 0;
  w.leases.calls.length = 0;
  return w;
}

async function vipsHeld(metrics: AgentMetrics): Promise<Record<string, number>> {
  const { values } = await metrics.vipsHeld.get();
  return Object.fromEntries(values.map((each) => [String(each.labels.mode), each.value]));
}

test("vipd_vips_held counts the VIPs announced, by mode, and drops them on withdrawal", async (t) => {
  const w = world();
  t.deepEqual(await vipsHeld(w.metrics), { confirmed: 0, degraded: 0 });
  await w.reconciler.reconcile(KEY);
  await w.reconciler.reconcile(KEY);
  t.deepEqual(await vipsHeld(w.metrics), { confirmed: 1, degraded: 0 });
  await w.reconciler.reconcile(KEY);
  t.deepEqual(await vipsHeld(w.metrics), { confirmed: 1, degraded: 0 }, "a steady run counts nothing twice");
  w.view.services.delete(KEY);
  await w.reconciler.reconcile(KEY);
  t.deepEqual(await vipsHeld(w.metrics), { confirmed: 0, degraded: 0 });
});

test("the first-ranked node claims a free Service, then announces and publishes status", async (t) => {
  const w = world();
  await w.reconciler.reconcile(KEY);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF);
  t.deepEqual(w.requeues, [[KEY, 0]], "a claim is followed by a run that announces");
  t.deepEqual(w.dataPlane.log, [], "no fence for a Lease without holder");
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.dataPlane.log, ["announce default/web"]);
  t.deepEqual(w.status.writes, [`192.0.2.10@${SELF}`]);
  t.deepEqual(w.reasons(), ["VIPAnnounced"]);
});

test("a run with nothing changed changes nothing", async (t) => {
  const w = await heldBySelf();
  const before = {
    writes: w.status.writes.length,
    events: w.events.events.length,
    plane: w.dataPlane.log.length,
  };
  await w.reconciler.reconcile(KEY);
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.leases.calls, []);
  t.deepEqual(
    { writes: w.status.writes.length, events: w.events.events.length, plane: w.dataPlane.log.length },
    before,
  );
});

test("the second-ranked node waits one claim step and writes nothing", async (t) => {
  const w = world({ self: OTHER });
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.leases.calls, []);
  t.deepEqual(w.requeues, [[KEY, timings.claimStep]]);
});

/** The second-ranked node's view after it has seen the first-ranked node claim the Service. */
async function heldByFirstRanked() {
  const w = world({ self: OTHER });
  const first = new Ownership({ leases: w.leases, node: SELF, leaseDuration: timings.leaseDuration });
  await first.claim({ namespace: "default", name: "web" }, null);
  w.tracker.observe(SELF, "7", w.clock.now);
  await w.reconciler.reconcile(KEY);
  return { ...w, first };
}

test("a node seen handing a Service over is left out of the ranking, so the next-ranked claims at once", async (t) => {
  const w = await heldByFirstRanked();
  const held = w.leases.leases.get(LEASE);
  if (held === undefined) return t.fail("no Lease");
  await w.first.clearHolder(held);
  w.requeues.length = 0;
  await w.reconciler.reconcile(KEY);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, OTHER);
  t.deepEqual(w.requeues, [[KEY, 0]]);
});

test("a Lease deleted from under its holder is no handover: the ranking keeps the holder", async (t) => {
  const w = await heldByFirstRanked();
  w.leases.leases.delete(LEASE);
  w.requeues.length = 0;
  await w.reconciler.reconcile(KEY);
  t.false(w.leases.leases.has(LEASE));
  t.deepEqual(w.requeues, [[KEY, timings.claimStep]]);
});

test("a Service held by a live node is left alone until its heartbeat has been silent for D", async (t) => {
  const w = world();
  await w.other.claim({ namespace: "default", name: "web" }, null);
  w.tracker.observe(OTHER, "7", w.clock.now);
  w.leases.calls.length = 0;
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.leases.calls, []);
  t.deepEqual(w.requeues, [], "no timer of its own: each renewal would move it on");
  t.deepEqual(w.silenceWaits, [[OTHER, KEY]]);
});

test("a holder whose heartbeat was never seen is watched from the first run and taken over after D", async (t) => {
  const w = world();
  await w.other.claim({ namespace: "default", name: "web" }, null);
  w.leases.calls.length = 0;
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.silenceWaits, [[OTHER, KEY]]);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, OTHER);
  w.clock.now += timings.leaseDuration;
  w.heartbeat.state = { ...w.heartbeat.state, lastRenewalStartedAt: w.clock.now - 100 };
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.leases.calls, [`get vipd-node-${OTHER}`, `replace ${LEASE}`]);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF);
});

async function deadHolder() {
  const w = world();
  await w.other.claim({ namespace: "default", name: "web" }, null);
  const heartbeat = await w.leases.create({
    metadata: { name: `vipd-node-${OTHER}` },
    spec: { holderIdentity: OTHER },
  });
  w.tracker.observe(OTHER, heartbeat.metadata?.resourceVersion ?? "", w.clock.now - timings.leaseDuration);
  w.leases.calls.length = 0;
  return w;
}

test("a dead holder is taken over after a fresh read of its heartbeat and a quiet fence", async (t) => {
  const w = await deadHolder();
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.leases.calls, [`get vipd-node-${OTHER}`, `replace ${LEASE}`]);
  t.deepEqual(w.dataPlane.log, ["fence"]);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF);
});

test("a takeover is abandoned when the holder still answers on the wire", async (t) => {
  const w = await deadHolder();
  w.dataPlane.fenceAnswer = { quiet: false, answeredBy: "02:00:00:00:00:12" };
  await w.reconciler.reconcile(KEY);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, OTHER);
  t.deepEqual(w.requeues, [[KEY, timings.retryPeriod]]);
});

test("a takeover is abandoned when the fresh read shows the heartbeat moved", async (t) => {
  const w = await deadHolder();
  w.leases.touch(`vipd-node-${OTHER}`);
  await w.reconciler.reconcile(KEY);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, OTHER);
  t.deepEqual(w.dataPlane.log, [], "no fence, no claim");
  t.is(w.tracker.silentFor(OTHER, w.clock.now), 0);
});

test("losing a claim race (409) changes nothing and runs again", async (t) => {
  const w = world();
  w.leases.failNext(FakeLeaseApi.status(409));
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.dataPlane.log, []);
  t.deepEqual(w.requeues, [[KEY, 0]]);
});

test("the holder withdraws at once when the Lease names another node, and writes nothing", async (t) => {
  const w = await heldBySelf();
  const current = w.leases.leases.get(LEASE) ?? null;
  await w.other.claim({ namespace: "default", name: "web" }, current);
  w.leases.calls.length = 0;
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.dataPlane.log.at(-1), "withdraw default/web");
  t.deepEqual(w.leases.calls, []);
});

test("carrier loss hands over: withdraw first, then clear the holder", async (t) => {
  const w = await heldBySelf();
  w.dataPlane.carrier = false;
  await w.reconciler.reconcile(KEY);
  t.is(w.dataPlane.log.at(-1), "withdraw default/web");
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, undefined);
  t.true(w.reasons().includes("VIPWithdrawn"));
});

test("a holder whose renewals fail while the API answers withdraws but keeps the Lease", async (t) => {
  const w = await heldBySelf();
  w.heartbeat.state = {
    lastRenewalStartedAt: w.clock.now - timings.renewDeadline,
    apiUnreachable: false,
    renewalInFlightSince: null,
  };
  await w.reconciler.reconcile(KEY);
  t.is(w.dataPlane.log.at(-1), "withdraw default/web");
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF);
});

test("degraded hold keeps announcing without touching the API", async (t) => {
  const w = await heldBySelf();
  w.heartbeat.state = {
    lastRenewalStartedAt: w.clock.now - 60_000,
    apiUnreachable: true,
    renewalInFlightSince: null,
  };
  await w.reconciler.reconcile(KEY);
  t.true(w.dataPlane.held.has(KEY));
  t.deepEqual(w.leases.calls, []);
  w.reconciler.foreignClaimSeen(KEY, "02:00:00:00:00:12");
  await w.reconciler.reconcile(KEY);
  t.false(w.dataPlane.held.has(KEY), "a foreign claim in degraded hold makes it yield");
  t.true(w.reasons().includes("VIPConflict"));
});

test("a deleted Service: the holder withdraws and deletes its Lease", async (t) => {
  const w = await heldBySelf();
  w.view.services.delete(KEY);
  await w.reconciler.reconcile(KEY);
  t.is(w.dataPlane.log.at(-1), "withdraw default/web");
  t.false(w.leases.leases.has(LEASE));
});

test("an ignored Service: the holder withdraws, deletes the Lease and clears the status", async (t) => {
  const w = await heldBySelf();
  w.view.services.set(KEY, {
    ...lbService({ "vipd.io/ignore": "true" }),
    status: w.view.services.get(KEY)?.status,
  });
  const service = w.view.services.get(KEY);
  if (service?.metadata?.annotations !== undefined) service.metadata.annotations["vipd.io/holder"] = SELF;
  await w.reconciler.reconcile(KEY);
  t.false(w.leases.leases.has(LEASE));
  t.is(w.status.writes.at(-1), "clear");
});

test("an invalid VIP raises one InvalidVIP Event, not one per run", async (t) => {
  const w = world();
  w.view.services.set(KEY, lbService({ "vipd.io/loadBalancerIPs": "198.51.100.11" }));
  await w.reconciler.reconcile(KEY);
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.reasons(), ["InvalidVIP"]);
  t.is(w.events.events[0]?.message, "vipd.io/loadBalancerIPs: 198.51.100.11 is a node address");
  t.deepEqual(w.leases.calls, [], "nothing is claimed for an invalid Service");
});

test("a VIP an older Service uses: one VIPConflict Event naming both, nothing claimed", async (t) => {
  const w = world();
  w.view.conflicts.set(KEY, { address: "192.0.2.10", heldBy: "default/older" });
  await w.reconciler.reconcile(KEY);
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.reasons(), ["VIPConflict"]);
  t.is(
    w.events.events[0]?.message,
    "spec.loadBalancerIP: 192.0.2.10 is already used by the older Service default/older",
  );
  t.deepEqual(w.leases.calls, []);
  t.deepEqual(w.dataPlane.log, []);
});

test("a holder whose Service becomes the newer of two with one VIP withdraws and frees the Lease", async (t) => {
  const w = await heldBySelf();
  w.view.conflicts.set(KEY, { address: "192.0.2.10", heldBy: "default/older" });
  await w.reconciler.reconcile(KEY);
  t.is(w.dataPlane.log.at(-1), "withdraw default/web");
  t.false(w.leases.leases.has(LEASE));
  t.deepEqual(w.reasons().slice(-2), ["VIPConflict", "VIPWithdrawn"]);
});

test("a VIP this node has from someone else: one VIPConflict Event naming the interface, nothing claimed", async (t) => {
  const w = world();
  w.dataPlane.foreign = [{ address: "192.0.2.10", prefixLength: 24, interfaceName: "eth0" }];
  await w.reconciler.reconcile(KEY);
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.reasons(), ["VIPConflict"]);
  t.regex(w.events.events[0]?.message ?? "", new RegExp(`^${SELF}: 192\\.0\\.2\\.10/24 on eth0 `));
  t.deepEqual(w.leases.calls, []);
  t.deepEqual(w.dataPlane.log, []);
  w.dataPlane.foreign = [];
  await w.reconciler.reconcile(KEY);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF, "a candidate again once it is gone");
});

test("a holder that finds a VIP's address configured by someone else withdraws and hands over", async (t) => {
  const w = await heldBySelf();
  w.dataPlane.foreign = [{ address: "192.0.2.10", prefixLength: 32, interfaceName: "eth0" }];
  await w.reconciler.reconcile(KEY);
  t.is(w.dataPlane.log.at(-1), "withdraw default/web");
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity ?? "", "", "the holder cleared");
  t.deepEqual(w.reasons().slice(-2), ["VIPConflict", "VIPWithdrawn"]);
});

test("an interface this node cannot use: one InvalidVIP Event naming the node, nothing claimed", async (t) => {
  const w = world();
  w.dataPlane.interfaceProblem = "interface eth7 does not exist";
  await w.reconciler.reconcile(KEY);
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.reasons(), ["InvalidVIP"]);
  t.is(w.events.events[0]?.message, `${SELF}: interface eth7 does not exist`);
  t.deepEqual(w.leases.calls, []);
});

test("the Lease of a deleted Service whose holder died is removed by a live candidate after D", async (t) => {
  const w = world();
  await w.other.claim({ namespace: "default", name: "web" }, null);
  w.view.services.delete(KEY);
  w.leases.calls.length = 0;
  w.tracker.observe(OTHER, "1", w.clock.now);
  w.view.live = [];
  await w.reconciler.reconcile(KEY);
  t.true(w.leases.leases.has(LEASE), "a holder silent for less than D may still clean up itself");
  t.deepEqual(w.silenceWaits.at(-1), [OTHER, KEY]);
  w.clock.now += timings.leaseDuration;
  w.heartbeat.state = {
    lastRenewalStartedAt: w.clock.now - 100,
    apiUnreachable: false,
    renewalInFlightSince: null,
  };
  await w.reconciler.reconcile(KEY);
  t.false(w.leases.leases.has(LEASE));
  t.deepEqual(w.dataPlane.log, [], "nothing on the wire changes");
});

test("a VIP that vanished from the interface is put back only after a fresh read of the Lease", async (t) => {
  const w = await heldBySelf();
  w.dataPlane.vanished.add(KEY);
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.leases.calls, [`get ${LEASE}`]);
  t.deepEqual(w.dataPlane.log.slice(-1), ["announce default/web"], "re-installed and announced again");
});

test("a vanished VIP whose Lease moved meanwhile is not put back", async (t) => {
  const w = await heldBySelf();
  w.dataPlane.vanished.add(KEY);
  w.view.ownershipLease = () => undefined;
  const lease = w.leases.leases.get(LEASE);
  if (lease?.spec !== undefined) lease.spec.holderIdentity = OTHER;
  const cached = { ...lease, spec: { ...lease?.spec, holderIdentity: SELF } };
  w.view.ownershipLease = () => cached;
  await w.reconciler.reconcile(KEY);
  t.false(w.dataPlane.vanished.size === 0, "nothing re-installed");
  await w.reconciler.reconcile(KEY);
  t.is(w.dataPlane.log.at(-1), "withdraw default/web", "the next run sees the new holder and withdraws");
});

test("a stale cache after a claim does not make the new holder withdraw", async (t) => {
  const w = world();
  await w.reconciler.reconcile(KEY);
  w.view.ownershipLease = () => undefined;
  await w.reconciler.reconcile(KEY);
  t.true(w.dataPlane.held.has(KEY));
});

test("a cached Lease naming this node is confirmed with a fresh read before announcing", async (t) => {
  const w = world();
  const mine = await new Ownership({ leases: w.leases, node: SELF, leaseDuration: 5000 }).claim(
    { namespace: "default", name: "web" },
    null,
  );
  await w.other.claim({ namespace: "default", name: "web" }, mine);
  w.view.ownershipLease = () => mine;
  await w.reconciler.reconcile(KEY);
  t.false(w.dataPlane.held.has(KEY));
  t.deepEqual(w.leases.calls.at(-1), `get ${LEASE}`);
});

test("nobody holding for D: the first-ranked live agent clears the status", async (t) => {
  const w = world();
  w.dataPlane.carrier = false;
  const service = w.view.services.get(KEY);
  if (service !== undefined) {
    service.status = { loadBalancer: { ingress: [{ ip: "192.0.2.10", ipMode: "VIP" }] } };
  }
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.status.writes, []);
  t.deepEqual(w.requeues, [[KEY, timings.leaseDuration]]);
  w.clock.now += timings.leaseDuration;
  await w.reconciler.reconcile(KEY);
  t.deepEqual(w.status.writes, ["clear"]);
  t.deepEqual(w.reasons(), ["NoEligibleNode"]);
});
