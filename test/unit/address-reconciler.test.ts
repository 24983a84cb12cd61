import test from "ava";
import type { V1Service } from "@kubernetes/client-node";
import { FreshLeases } from "../../src/agent/fresh-leases.ts";
import { ServicePublisher } from "../../src/agent/service-publisher.ts";
import { ServicesTarget } from "../../src/agent/services-target.ts";
import { addressWork, serviceWork } from "../../src/agent/work-keys.ts";
import type { OwnHeartbeat } from "../../src/election/decide.ts";
import { HeartbeatTracker } from "../../src/election/heartbeat-tracker.ts";
import { Ownership } from "../../src/election/ownership.ts";
import { rankCandidates } from "../../src/election/ranking.ts";
import type { LogFields } from "../../src/log/logger.ts";
import type { AnnouncementMode } from "../../src/routing/announcement-mode.ts";
import { AgentMetrics } from "../../src/metrics/metrics.ts";
import {
  FakeClusterView,
  FakeDataPlane,
  FakeEventRecorder,
  FakeStatusWriter,
  silentLogger,
} from "./fakes/agent-world.ts";
import { addressLoop, readOnlyClock } from "./fakes/address-loop.ts";
import { FakeLeaseApi } from "./fakes/lease-api.ts";

const KEY = "default/web";
const SERVICE = { namespace: "default", name: "web" };
const ADDRESS = "192.0.2.10";
const WORK = addressWork(ADDRESS);
const LEASE = "vipd-ip-192.0.2.10";
const THING = { kind: "address", vip: { address: ADDRESS, family: 4 } } as const;
const [SELF = "", OTHER = ""] = rankCandidates(["node-a", "node-b"], KEY);
const timings = { leaseDuration: 5000, renewDeadline: 3000, retryPeriod: 1000, claimStep: 250 };
/** What OTHER's heartbeat publishes. */
const OTHER_MAC = "02:00:00:00:00:12";
/** A machine on the LAN that is no vipd agent. */
const HOST_MAC = "02:00:00:00:00:fe";

function lbService(annotations: Record<string, string> = {}): V1Service {
  return {
    metadata: { namespace: "default", name: "web", uid: "uid-1", annotations },
    spec: { type: "LoadBalancer", loadBalancerIP: ADDRESS },
  };
}

function world(
  options: { self?: string; fresh?: boolean; cordonHandsOver?: boolean; mode?: AnnouncementMode } = {},
) {
  const self = options.self ?? SELF;
  const clock = { now: 100_000 };
  const leases = new FakeLeaseApi();
  const view = new FakeClusterView(leases);
  view.services.set(KEY, lbService());
  for (const name of [SELF, OTHER]) view.nodes.set(name, { metadata: { name } });
  view.live = [self === SELF ? OTHER : SELF];
  view.agents = { published: new Set([OTHER_MAC]), withoutMacs: [] };
  const dataPlane = new FakeDataPlane();
  const status = new FakeStatusWriter(view);
  const events = new FakeEventRecorder();
  const tracker = new HeartbeatTracker();
  const requeues: [string, number][] = [];
  const touched: string[] = [];
  const metrics = new AgentMetrics({ node: "node-a", version: "0.0.0" });
  const silenceWaits: [string, string][] = [];
  const fresh = new FreshLeases((name) => view.lease(name));
  /** The fields of every warning logged. */
  const warnings: LogFields[] = [];
  const log = {
    ...silentLogger,
    warn: (_message: string, fields?: LogFields) => warnings.push(fields ?? {}),
  };
  const heartbeat: { state: OwnHeartbeat } = {
    state: { lastRenewalStartedAt: clock.now - 100, apiUnreachable: false, renewalInFlightSince: null },
  };
  const intentOf = (service: V1Service) => view.intentOf(service);
  const requeue = (key: string, delay: number) => requeues.push([key, delay]);
  const target = new ServicesTarget({ node: self, view, intentOf, modeOf: () => options.mode ?? "l2" });
  const addresses = addressLoop({
    node: self,
    timings,
    cordonHandsOver: options.cordonHandsOver ?? true,
    now: () => clock.now,
    view,
    target,
    heartbeat: () => heartbeat.state,
    tracker,
    leases,
    ownership: new Ownership({ leases, node: self, leaseDuration: timings.leaseDuration }),
    fresh,
    events,
    dataPlane,
    metrics,
    log,
    requeue,
    wakeWhenSilent: (node, key) => silenceWaits.push([node, key]),
    serviceTouched: (service) => touched.push(serviceWork(service)),
  });
  const publisher = new ServicePublisher({
    node: self,
    leaseDuration: timings.leaseDuration,
    renewDeadline: timings.renewDeadline,
    clock: readOnlyClock(() => clock.now),
    view,
    intentOf,
    fresh,
    heartbeat: () => heartbeat.state,
    dataPlane,
    target,
    status,
    events,
    log,
    requeue,
    wakeWhenSilent: (node, key) => silenceWaits.push([node, key]),
  });
  // One pass as the work queue makes it: the address, then the Service it told about.
  const run = async () => {
    await addresses.reconcile(ADDRESS);
    await publisher.reconcile(SERVICE);
  };
  if (options.fresh !== true) {
    // The agent has been reconciling for a lease duration, long enough to have seen the other
    // agents' heartbeats: who records a refusal is decided at once from here on. (Its first run
    // notes the time before it awaits anything.)
    clock.now -= timings.leaseDuration;
    void publisher.reconcile({ namespace: "default", name: "nothing" });
    void addresses.reconcile("192.0.2.254");
    clock.now += timings.leaseDuration;
  }
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
    touched,
    silenceWaits,
    warnings,
    metrics,
    heartbeat,
    addresses,
    publisher,
    run,
    other,
    reasons,
  };
}

/** This agent's heartbeat renewal last started at startedAt (and none is in flight). */
function renewedAt(w: { heartbeat: { state: OwnHeartbeat } }, startedAt: number, apiUnreachable = false) {
  w.heartbeat.state = { lastRenewalStartedAt: startedAt, apiUnreachable, renewalInFlightSince: null };
}

async function heldBySelf() {
  const w = world();
  await w.run();
  await w.run();
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
  t.deepEqual(await vipsHeld(w.metrics), { confirmed: 0, degraded: 0, "all-active": 0 });
  await w.run();
  await w.run();
  t.deepEqual(await vipsHeld(w.metrics), { confirmed: 1, degraded: 0, "all-active": 0 });
  await w.run();
  t.deepEqual(
    await vipsHeld(w.metrics),
    { confirmed: 1, degraded: 0, "all-active": 0 },
    "a steady run counts nothing twice",
  );
  w.view.services.delete(KEY);
  await w.run();
  t.deepEqual(await vipsHeld(w.metrics), { confirmed: 0, degraded: 0, "all-active": 0 });
});

test("the first-ranked node claims a free Service, then announces and publishes status", async (t) => {
  const w = world();
  await w.run();
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF);
  t.deepEqual(w.requeues, [[WORK, 0]], "a claim is followed by a run that announces");
  t.deepEqual(w.dataPlane.log, ["fence first-claim"], "a first claim is fenced too");
  await w.run();
  t.deepEqual(
    w.dataPlane.log,
    ["fence first-claim", `announce ${WORK}`],
    "the claim's fence covers the install",
  );
  t.deepEqual(w.status.writes, [`192.0.2.10@${SELF}`]);
  t.deepEqual(w.reasons(), ["VIPAnnounced"]);
  t.deepEqual(w.events.about, [{ namespace: "default", name: "web", uid: "uid-1" }], "found by its uid");
});

test("a run with nothing changed changes nothing", async (t) => {
  const w = await heldBySelf();
  const before = {
    writes: w.status.writes.length,
    events: w.events.events.length,
    plane: w.dataPlane.log.length,
  };
  await w.run();
  await w.run();
  t.deepEqual(w.leases.calls, []);
  t.deepEqual(
    { writes: w.status.writes.length, events: w.events.events.length, plane: w.dataPlane.log.length },
    before,
  );
});

test("the second-ranked node waits one claim step and writes nothing", async (t) => {
  const w = world({ self: OTHER });
  await w.run();
  t.deepEqual(w.leases.calls, []);
  t.deepEqual(w.requeues, [[WORK, timings.claimStep]]);
});

/** The second-ranked node's view after it has seen the first-ranked node claim the Service. */
async function heldByFirstRanked() {
  const w = world({ self: OTHER });
  const first = new Ownership({ leases: w.leases, node: SELF, leaseDuration: timings.leaseDuration });
  await first.claim(THING, null);
  w.tracker.observe(SELF, "7", w.clock.now);
  await w.run();
  return { ...w, first };
}

test("a node seen handing a Service over is left out of the ranking, so the next-ranked claims at once", async (t) => {
  const w = await heldByFirstRanked();
  const held = w.leases.leases.get(LEASE);
  if (held === undefined) return t.fail("no Lease");
  await w.first.clearHolder(held);
  w.requeues.length = 0;
  await w.run();
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, OTHER);
  t.deepEqual(w.requeues, [[WORK, 0]]);
});

test("a Lease deleted from under its holder is no handover: the ranking keeps the holder", async (t) => {
  const w = await heldByFirstRanked();
  w.leases.leases.delete(LEASE);
  w.requeues.length = 0;
  await w.run();
  t.false(w.leases.leases.has(LEASE));
  t.deepEqual(w.requeues, [[WORK, timings.claimStep]]);
});

test("a Service held by a live node is left alone until its heartbeat has been silent for D", async (t) => {
  const w = world();
  await w.other.claim(THING, null);
  w.tracker.observe(OTHER, "7", w.clock.now);
  w.leases.calls.length = 0;
  await w.run();
  t.deepEqual(w.leases.calls, []);
  t.deepEqual(w.requeues, [], "no timer of its own: each renewal would move it on");
  t.deepEqual(w.silenceWaits, [[OTHER, WORK]]);
});

test("a holder whose heartbeat was never seen is watched from the first run and taken over after D", async (t) => {
  const w = world();
  await w.other.claim(THING, null);
  w.leases.calls.length = 0;
  await w.run();
  t.deepEqual(w.silenceWaits, [[OTHER, WORK]]);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, OTHER);
  w.clock.now += timings.leaseDuration;
  w.heartbeat.state = { ...w.heartbeat.state, lastRenewalStartedAt: w.clock.now - 100 };
  await w.run();
  t.deepEqual(w.leases.calls, [`get vipd-node-${OTHER}`, `replace ${LEASE}`]);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF);
});

async function deadHolder() {
  const w = world();
  await w.other.claim(THING, null);
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
  await w.run();
  t.deepEqual(w.leases.calls, [`get vipd-node-${OTHER}`, `replace ${LEASE}`]);
  t.deepEqual(w.dataPlane.log, ["fence takeover"]);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF);
});

test("a takeover is abandoned when the holder still answers on the wire", async (t) => {
  const w = await deadHolder();
  w.dataPlane.fenceAnswer = { outcome: "answered", answeredBy: [{ ip: ADDRESS, mac: OTHER_MAC }] };
  await w.run();
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, OTHER);
  t.deepEqual(w.requeues, [[WORK, timings.retryPeriod]]);
  t.deepEqual(w.reasons(), [], "another agent's kernel is the election's business: no VIPConflict");
});

test("a takeover is abandoned when the fresh read shows the heartbeat moved", async (t) => {
  const w = await deadHolder();
  w.leases.touch(`vipd-node-${OTHER}`);
  await w.run();
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, OTHER);
  t.deepEqual(w.dataPlane.log, [], "no fence, no claim");
  t.is(w.tracker.silentFor(OTHER, w.clock.now), 0);
});

test("losing a claim race (409) changes nothing and runs again", async (t) => {
  const w = world();
  w.leases.failNext(FakeLeaseApi.status(409));
  await w.run();
  t.deepEqual(w.dataPlane.log, ["fence first-claim"], "nothing put on the wire but the probe");
  t.deepEqual(w.requeues, [[WORK, 0]]);
});

test("the holder withdraws at once when the Lease names another node, and writes nothing", async (t) => {
  const w = await heldBySelf();
  const current = w.leases.leases.get(LEASE) ?? null;
  await w.other.claim(THING, current);
  w.leases.calls.length = 0;
  await w.run();
  t.deepEqual(w.dataPlane.log.at(-1), `withdraw ${WORK}`);
  t.deepEqual(w.leases.calls, []);
});

test("carrier loss hands over: withdraw first, then clear the holder", async (t) => {
  const w = await heldBySelf();
  w.dataPlane.carrier = false;
  await w.run();
  t.is(w.dataPlane.log.at(-1), `withdraw ${WORK}`);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, undefined);
  t.true(w.reasons().includes("VIPWithdrawn"));
  const { values } = await w.metrics.withdrawals.get();
  t.deepEqual(
    values.map((each) => [each.labels.reason, each.value]),
    [["carrier-lost", 1]],
    "vipd_withdrawals_total names the reason",
  );
});

test("a holder whose renewals fail while the API answers withdraws but keeps the Lease", async (t) => {
  const w = await heldBySelf();
  w.heartbeat.state = {
    lastRenewalStartedAt: w.clock.now - timings.renewDeadline,
    apiUnreachable: false,
    renewalInFlightSince: null,
  };
  await w.run();
  t.is(w.dataPlane.log.at(-1), `withdraw ${WORK}`);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF);
});

test("degraded hold keeps announcing without touching the API", async (t) => {
  const w = await heldBySelf();
  w.heartbeat.state = {
    lastRenewalStartedAt: w.clock.now - 60_000,
    apiUnreachable: true,
    renewalInFlightSince: null,
  };
  await w.run();
  t.true(w.dataPlane.held.has(WORK));
  t.deepEqual(w.leases.calls, []);
  await w.addresses.foreignClaimSeen(ADDRESS, { ip: ADDRESS, mac: OTHER_MAC });
  await w.run();
  t.false(w.dataPlane.held.has(WORK), "another agent's claim in degraded hold makes it yield");
  t.false(w.reasons().includes("VIPConflict"), "an agent is no conflict to report");
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF, "the Lease cannot be written");
});

test("a deleted Service: the holder withdraws and deletes its Lease", async (t) => {
  const w = await heldBySelf();
  w.view.services.delete(KEY);
  await w.run();
  t.is(w.dataPlane.log.at(-1), `withdraw ${WORK}`);
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
  await w.run();
  t.false(w.leases.leases.has(LEASE));
  t.is(w.status.writes.at(-1), "clear");
});

test("an invalid VIP raises one InvalidVIP Event, not one per run", async (t) => {
  const w = world();
  w.view.services.set(KEY, lbService({ "vipd.io/loadBalancerIPs": "198.51.100.11" }));
  await w.run();
  await w.run();
  t.deepEqual(w.reasons(), ["InvalidVIP"]);
  t.is(w.events.events[0]?.message, "vipd.io/loadBalancerIPs: 198.51.100.11 is a node address");
  t.deepEqual(w.leases.calls, [], "nothing is claimed for an invalid Service");
});

test("a refusal read from the Service alone is recorded by the first-ranked agent only, logged by all", async (t) => {
  const service = lbService({ "vipd.io/loadBalancerIPs": "198.51.100.11" });
  const first = world({ self: SELF });
  const second = world({ self: OTHER });
  for (const w of [first, second]) {
    w.view.services.set(KEY, service);
    await w.run();
    await w.run();
  }
  t.deepEqual(first.reasons(), ["InvalidVIP"], `${SELF} ranks first for ${KEY}`);
  t.deepEqual(second.reasons(), [], "the second-ranked agent leaves the Event to the first");
  t.true(
    second.silenceWaits.some(([node, key]) => node === SELF && key === serviceWork(SERVICE)),
    "and looks again once the first falls silent",
  );
  await second.run();
  t.deepEqual(second.reasons(), [], "not while the first is live");
  second.view.live = [];
  await second.run();
  t.deepEqual(
    second.reasons(),
    ["InvalidVIP"],
    "the first fell silent, maybe before it recorded: the next does",
  );
  for (const w of [first, second]) {
    t.deepEqual(
      w.warnings.map((fields) => [fields.service, fields.reason]),
      [[KEY, "InvalidVIP"]],
      `${w.self} logs it, once`,
    );
  }
});

test("an agent that just started waits a lease duration before it decides who records a refusal", async (t) => {
  const w = world({ fresh: true });
  w.view.live = [];
  w.view.services.set(KEY, lbService({ "vipd.io/loadBalancerIPs": "198.51.100.11" }));
  await w.run();
  t.deepEqual(w.reasons(), [], "alone so far, but the others' heartbeats may not be in yet");
  t.deepEqual(w.requeues, [[serviceWork(SERVICE), timings.leaseDuration]]);
  w.clock.now += timings.leaseDuration;
  w.view.live = [OTHER];
  await w.run();
  t.deepEqual(w.reasons(), ["InvalidVIP"]);
});

test("a refusal that depends on the node's interfaces is logged by every node, recorded by the first candidate", async (t) => {
  const problem = "interface lo cannot carry ARP or NDP (loopback)";
  const [first, second] = [world({ self: SELF }), world({ self: OTHER })];
  for (const w of [first, second]) {
    w.dataPlane.interfaceProblem = problem;
    await w.run();
    await w.run();
    t.deepEqual(
      w.warnings.map((fields) => fields.problems),
      [`${w.self}: ${problem}`],
      `${w.self} logs its own, once`,
    );
  }
  t.deepEqual(
    first.events.events.map((event) => event.message),
    [`${SELF}: ${problem}`],
  );
  t.deepEqual(second.events.events, [], `${SELF} ranks first for ${KEY}`);
  t.true(second.silenceWaits.some(([node, key]) => node === SELF && key === WORK));
  second.view.live = [];
  await second.run();
  t.deepEqual(
    second.events.events.map((event) => event.message),
    [`${OTHER}: ${problem}`],
    "the first fell silent",
  );
});

test("a VIP an older Service uses: one VIPConflict Event naming both, nothing claimed", async (t) => {
  const w = world();
  w.view.conflicts.set(KEY, { address: "192.0.2.10", heldBy: "default/older" });
  await w.run();
  await w.run();
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
  await w.run();
  t.is(w.dataPlane.log.at(-1), `withdraw ${WORK}`);
  t.false(w.leases.leases.has(LEASE));
  t.deepEqual(w.reasons().slice(-2), ["VIPWithdrawn", "VIPConflict"]);
});

test("an interface this node cannot use: one InvalidVIP Event naming the node, nothing claimed", async (t) => {
  const w = world();
  w.dataPlane.interfaceProblem = "interface eth7 does not exist";
  await w.run();
  await w.run();
  t.deepEqual(w.reasons(), ["InvalidVIP"]);
  t.is(w.events.events[0]?.message, `${SELF}: interface eth7 does not exist`);
  t.deepEqual(w.leases.calls, []);
});

test("the Lease of a deleted Service whose holder died is removed by a live candidate after D", async (t) => {
  const w = world();
  await w.other.claim(THING, null);
  w.view.services.delete(KEY);
  w.leases.calls.length = 0;
  w.tracker.observe(OTHER, "1", w.clock.now);
  w.view.live = [];
  await w.run();
  t.true(w.leases.leases.has(LEASE), "a holder silent for less than D may still clean up itself");
  t.deepEqual(w.silenceWaits.at(-1), [OTHER, WORK]);
  w.clock.now += timings.leaseDuration;
  w.heartbeat.state = {
    lastRenewalStartedAt: w.clock.now - 100,
    apiUnreachable: false,
    renewalInFlightSince: null,
  };
  await w.run();
  t.false(w.leases.leases.has(LEASE));
  t.deepEqual(w.dataPlane.log, [], "nothing on the wire changes");
});

test("a VIP that vanished from the interface is put back only after a fresh read of the Lease", async (t) => {
  const w = await heldBySelf();
  w.dataPlane.vanished.add(WORK);
  await w.run();
  t.deepEqual(w.leases.calls, [`get ${LEASE}`]);
  t.deepEqual(w.dataPlane.log.slice(-1), [`announce ${WORK}`], "re-installed and announced again");
});

test("a vanished VIP whose Lease moved meanwhile is not put back", async (t) => {
  const w = await heldBySelf();
  const mine = w.leases.leases.get(LEASE);
  await w.other.claim(THING, mine ?? null);
  w.view.lease = () => mine;
  w.dataPlane.vanished.add(WORK);
  await w.run();
  t.true(w.dataPlane.vanished.has(WORK), "nothing re-installed");
  await w.run();
  t.is(w.dataPlane.log.at(-1), `withdraw ${WORK}`, "the next run sees the new holder and withdraws");
});

test("a stale cache after a claim does not make the new holder withdraw", async (t) => {
  const w = world();
  w.view.lease = () => undefined;
  await w.run();
  await w.run();
  t.true(w.dataPlane.held.has(WORK));
});

test("a cached Lease naming this node is confirmed with a fresh read before announcing", async (t) => {
  const w = world();
  const mine = await new Ownership({ leases: w.leases, node: SELF, leaseDuration: 5000 }).claim(THING, null);
  await w.other.claim(THING, mine);
  w.view.lease = () => mine;
  await w.run();
  t.false(w.dataPlane.held.has(WORK));
  t.deepEqual(w.leases.calls.at(-1), `get ${LEASE}`);
});

test("nobody holding for D: the first-ranked live agent clears the status", async (t) => {
  const w = world();
  w.dataPlane.carrier = false;
  const service = w.view.services.get(KEY);
  if (service !== undefined) {
    service.status = { loadBalancer: { ingress: [{ ip: "192.0.2.10", ipMode: "VIP" }] } };
  }
  await w.run();
  t.deepEqual(w.status.writes, []);
  t.deepEqual(w.requeues, [[serviceWork(SERVICE), timings.leaseDuration]]);
  w.clock.now += timings.leaseDuration;
  await w.run();
  t.deepEqual(w.status.writes, ["clear"]);
  t.deepEqual(w.reasons(), ["NoEligibleNode"]);
});

test("an address held for one Service that turns out to serve an older one tells both Services", async (t) => {
  const w = await heldBySelf();
  w.touched.length = 0;
  const older = {
    ...lbService(),
    metadata: { namespace: "default", name: "older", uid: "uid-0", annotations: {} },
  };
  w.view.services.set("default/older", older);
  w.view.conflicts.set(KEY, { address: ADDRESS, heldBy: "default/older" });
  await w.addresses.reconcile(ADDRESS);
  t.true(w.dataPlane.held.has(WORK), "the address stays where it is: only who it serves changed");
  t.deepEqual(w.touched, [serviceWork(SERVICE), serviceWork({ namespace: "default", name: "older" })]);
});

function cordon(w: ReturnType<typeof world>, node: string): void {
  w.view.nodes.set(node, { metadata: { name: node }, spec: { unschedulable: true } });
}

test("a cordoned holder hands over to a live uncordoned node: withdraw first, then clear the holder", async (t) => {
  const w = await heldBySelf();
  cordon(w, SELF);
  await w.run();
  t.is(w.dataPlane.log.at(-1), `withdraw ${WORK}`);
  t.deepEqual(w.leases.calls, [`replace ${LEASE}`]);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, undefined);
  const { values } = await w.metrics.elections.get();
  t.true(values.some((each) => each.labels.outcome === "handed_over" && each.value === 1));
});

test("a cordoned holder whose only candidate is cordoned too keeps serving", async (t) => {
  const w = await heldBySelf();
  cordon(w, SELF);
  cordon(w, OTHER);
  await w.run();
  t.true(w.dataPlane.held.has(WORK));
  t.deepEqual(w.leases.calls, []);
});

test("a cordoned node claims only after the uncordoned one's step, and then keeps what it claimed", async (t) => {
  const w = world();
  cordon(w, SELF);
  await w.run();
  t.deepEqual(w.leases.calls, [], "first-ranked by hash, but cordoned: it waits for the uncordoned node");
  t.deepEqual(w.requeues, [[WORK, timings.claimStep]]);
  w.clock.now += timings.claimStep;
  await w.run();
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF, "nobody uncordoned claimed in time");
  await w.run();
  await w.run();
  t.true(w.dataPlane.held.has(WORK), "handing it back would only make the VIP flap");
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF);
});

test("a node that claimed while cordoned hands over after an uncordon and a new cordon", async (t) => {
  const w = world();
  cordon(w, SELF);
  await w.run();
  w.clock.now += timings.claimStep;
  await w.run();
  await w.run();
  t.true(w.dataPlane.held.has(WORK));
  w.view.nodes.set(SELF, { metadata: { name: SELF } });
  await w.run();
  t.true(w.dataPlane.held.has(WORK), "uncordoning moves nothing");
  cordon(w, SELF);
  await w.run();
  t.false(w.dataPlane.held.has(WORK), "the second drain hands over");
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, undefined);
});

test("with --cordon-hands-over=false a cordon changes nothing", async (t) => {
  const w = world({ cordonHandsOver: false });
  cordon(w, SELF);
  await w.run();
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF, "the first-ranked claims at once");
  await w.run();
  await w.run();
  t.true(w.dataPlane.held.has(WORK));
});

// Issue 13: an address another machine on the LAN uses is neither taken nor kept.

async function fenceCount(metrics: AgentMetrics, result: string): Promise<number> {
  const { values } = await metrics.fences.get();
  return values.find((each) => each.labels.result === result)?.value ?? 0;
}

test("a first claim a foreign host answers for: no claim, one VIPConflict naming MAC and address, retry after the quarantine", async (t) => {
  const w = world();
  w.dataPlane.fenceAnswer = { outcome: "answered", answeredBy: [{ ip: ADDRESS, mac: HOST_MAC }] };
  await w.run();
  t.false(w.leases.leases.has(LEASE), "not claimed");
  t.deepEqual(w.reasons(), ["VIPConflict"]);
  t.regex(w.events.events[0]?.message ?? "", /^192\.0\.2\.10 is in use by MAC 02:00:00:00:00:fe,/);
  t.is(w.events.events[0]?.type, "Warning");
  t.deepEqual(w.requeues, [[WORK, 2000]], "the first wait");
  w.requeues.length = 0;
  await w.run();
  t.deepEqual(w.dataPlane.log, ["fence first-claim"], "no probe while the quarantine runs");
  t.deepEqual(w.requeues, [[WORK, 2000]]);
  w.clock.now += 2000;
  renewedAt(w, w.clock.now - 100);
  w.requeues.length = 0;
  await w.run();
  t.deepEqual(w.dataPlane.log, ["fence first-claim", "fence first-claim"], "probed again once it ended");
  t.deepEqual(w.requeues, [[WORK, 4000]], "the host still answers: the wait doubles");
  t.deepEqual(w.reasons(), ["VIPConflict"], "reported once, not on every retry");
  t.deepEqual(w.status.writes, [], "no status");
  t.is(await fenceCount(w.metrics, "foreign-host"), 2);
  w.clock.now += 4000;
  renewedAt(w, w.clock.now - 100);
  w.dataPlane.fenceAnswer = { outcome: "quiet" };
  await w.run();
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF, "the host let the address go: claimed");
  await w.run();
  t.deepEqual(w.dataPlane.log.slice(2), ["fence first-claim", `announce ${WORK}`]);
});

test("a first claim another agent's kernel answers for: no claim, no Event, probed again after P", async (t) => {
  const w = world();
  w.dataPlane.fenceAnswer = { outcome: "answered", answeredBy: [{ ip: ADDRESS, mac: OTHER_MAC }] };
  await w.run();
  t.false(w.leases.leases.has(LEASE));
  t.deepEqual(w.reasons(), []);
  t.deepEqual(w.requeues, [[WORK, timings.retryPeriod]]);
  t.is(await fenceCount(w.metrics, "agent"), 1);
});

test("a fence whose interface went away claims nothing and fails the run, counted as interface-gone", async (t) => {
  const w = world();
  w.dataPlane.fenceAnswer = { outcome: "failed", failure: "interface-gone", interfaceName: "eth0" };
  await t.throwsAsync(w.run(), undefined, "the work queue retries it with its backoff");
  t.false(w.leases.leases.has(LEASE), "no claim without a probe");
  t.deepEqual(w.reasons(), []);
  t.is(await fenceCount(w.metrics, "interface-gone"), 1);
  t.is(await fenceCount(w.metrics, "quiet"), 0);
});

test("while a live agent publishes no MACs (a 0.1.0 one), an unknown MAC is taken for it: wait, no quarantine", async (t) => {
  const w = world();
  w.view.agents = { published: new Set(), withoutMacs: [OTHER] };
  w.dataPlane.fenceAnswer = { outcome: "answered", answeredBy: [{ ip: ADDRESS, mac: HOST_MAC }] };
  await w.run();
  t.deepEqual(w.reasons(), []);
  t.deepEqual(w.requeues, [[WORK, timings.retryPeriod]]);
});

test("a Lease seen handed over is claimed without a fence: the holder withdrew first", async (t) => {
  const w = await heldByFirstRanked();
  const held = w.leases.leases.get(LEASE);
  if (held === undefined) return t.fail("no Lease");
  await w.first.clearHolder(held);
  await w.run();
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, OTHER);
  await w.run();
  t.deepEqual(w.dataPlane.log, [`announce ${WORK}`], "no probe before the claim or the install");
});

test("a holder that sees a foreign host answer for its VIP withdraws, deletes the Lease, and reports once", async (t) => {
  const w = await heldBySelf();
  await w.addresses.foreignClaimSeen(ADDRESS, { ip: ADDRESS, mac: HOST_MAC });
  await w.addresses.foreignClaimSeen(ADDRESS, { ip: ADDRESS, mac: HOST_MAC });
  await w.run();
  t.false(w.dataPlane.held.has(WORK), "withdrawn although confirmed");
  t.false(w.leases.leases.has(LEASE), "deleted: the next claim, anyone's, is a first claim and probed");
  t.deepEqual(w.reasons(), ["VIPAnnounced", "VIPConflict", "VIPWithdrawn"]);
  const { values } = await w.metrics.conflictsSeen.get();
  t.deepEqual(
    values.map((each) => [each.labels.claimant, each.value]),
    [
      ["agent", 0],
      ["foreign-host", 2],
    ],
  );
  w.requeues.length = 0;
  await w.addresses.reconcile(ADDRESS);
  t.false(w.leases.leases.has(LEASE), "not claimed back while quarantined");
  t.deepEqual(w.requeues, [[WORK, 2000]]);
});

test("a degraded holder withdraws on a foreign host too, keeps the Lease it cannot write, and deletes it once confirmed", async (t) => {
  const w = await heldBySelf();
  renewedAt(w, w.clock.now - 60_000, true);
  await w.addresses.foreignClaimSeen(ADDRESS, { ip: ADDRESS, mac: HOST_MAC });
  await w.addresses.reconcile(ADDRESS);
  t.false(w.dataPlane.held.has(WORK));
  t.deepEqual(w.leases.calls, []);
  w.clock.now += 1000;
  renewedAt(w, w.clock.now - 10);
  await w.addresses.reconcile(ADDRESS);
  t.false(w.leases.leases.has(LEASE));
  t.false(w.dataPlane.held.has(WORK));
});

test("putting the VIPs back on a Lease that names this node (not after its own claim) is probed first", async (t) => {
  const w = await heldBySelf();
  renewedAt(w, w.clock.now - timings.renewDeadline);
  await w.run();
  t.false(w.dataPlane.held.has(WORK), "lapsed: withdrawn, Lease kept");
  renewedAt(w, w.clock.now);
  w.dataPlane.fenceAnswer = { outcome: "answered", answeredBy: [{ ip: ADDRESS, mac: HOST_MAC }] };
  w.dataPlane.log.length = 0;
  await w.run();
  t.deepEqual(w.dataPlane.log, ["fence first-claim"], "a host took the address meanwhile: not put back");
  await w.run();
  t.false(w.leases.leases.has(LEASE), "and the Lease goes, as for a holder that sees one");
  t.true(w.reasons().includes("VIPConflict"));
});

test("bgp: another program's route to the VIP in vipd's table: one VIPConflict Event naming it, nothing claimed", async (t) => {
  const w = world({ mode: "bgp" });
  w.dataPlane.foreign = [
    { address: ADDRESS, prefixLength: 32, interfaceName: "lo", route: { table: 198, protocol: 4 } },
  ];
  await w.run();
  await w.run();
  t.deepEqual(w.reasons(), ["VIPConflict"]);
  t.is(
    w.events.events[0]?.message,
    `${SELF}: a route to 192.0.2.10/32 in table 198 with protocol 4 was not added by vipd; this node does not serve the VIP while it is there`,
  );
  t.deepEqual(w.leases.calls, []);
  t.deepEqual(w.dataPlane.log, []);
});

test("a VIP this node has from someone else: one VIPConflict Event naming the interface, nothing claimed", async (t) => {
  const w = world();
  w.dataPlane.foreign = [{ address: ADDRESS, prefixLength: 24, interfaceName: "eth0" }];
  await w.run();
  await w.run();
  t.deepEqual(w.reasons(), ["VIPConflict"]);
  t.regex(w.events.events[0]?.message ?? "", new RegExp(`^${SELF}: 192\\.0\\.2\\.10/24 on eth0 `));
  t.deepEqual(w.leases.calls, []);
  t.deepEqual(w.dataPlane.log, []);
  w.dataPlane.foreign = [];
  await w.run();
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF, "a candidate again once it is gone");
});

test("a holder that finds a VIP's address configured by someone else withdraws and hands over", async (t) => {
  const w = await heldBySelf();
  w.dataPlane.foreign = [{ address: ADDRESS, prefixLength: 32, interfaceName: "eth0" }];
  await w.run();
  t.is(w.dataPlane.log.at(-1), `withdraw ${WORK}`);
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity ?? "", "", "the holder cleared");
  t.deepEqual(w.reasons().slice(-2), ["VIPConflict", "VIPWithdrawn"]);
});

test("bgp: the first-ranked claims without a fence and puts the address on lo with its route", async (t) => {
  const w = world({ mode: "bgp" });
  await w.run();
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF);
  t.deepEqual(w.dataPlane.log, [], "no probe: nobody answers ARP for an address on lo");
  await w.run();
  t.deepEqual(w.dataPlane.log, [`announce ${WORK} routed`]);
  t.deepEqual(w.status.writes, [`192.0.2.10@${SELF}`]);
});

test("bgp: a holder cut off from the API server withdraws at R instead of holding on", async (t) => {
  const w = world({ mode: "bgp" });
  await w.run();
  await w.run();
  renewedAt(w, w.clock.now - 60_000, true);
  w.leases.calls.length = 0;
  await w.run();
  t.is(w.dataPlane.log.at(-1), `withdraw ${WORK}`);
  t.deepEqual(w.leases.calls, [], "it cannot write the Lease, and a candidate claims it after D");
});

test("ecmp: every eligible node announces without a Lease, and only the first-ranked writes the status", async (t) => {
  const first = world({ mode: "ecmp" });
  await first.run();
  t.deepEqual(first.dataPlane.log, [`announce ${WORK} routed`]);
  t.is(first.leases.leases.get(LEASE), undefined, "nothing is elected");
  t.deepEqual(first.status.writes, [`192.0.2.10@${SELF}`]);
  t.is(
    first.events.events.find((each) => each.reason === "VIPAnnounced")?.message,
    `${ADDRESS} announced by ${SELF} on lo`,
  );
  const second = world({ mode: "ecmp", self: OTHER });
  await second.run();
  t.deepEqual(second.dataPlane.log, [`announce ${WORK} routed`], "the second-ranked announces too");
  t.deepEqual(second.status.writes, [], "the first-ranked announcer writes the status");
  t.deepEqual(
    second.silenceWaits,
    [[SELF, serviceWork(SERVICE)]],
    "and it writes it if that one falls silent",
  );
});

test("ecmp: with externalTrafficPolicy Local only a node with a ready local endpoint announces", async (t) => {
  const w = world({ mode: "ecmp" });
  w.view.services.set(KEY, { ...lbService(), spec: { ...lbService().spec, externalTrafficPolicy: "Local" } });
  w.view.slices.set(KEY, [
    {
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.0.0.1"], nodeName: OTHER, conditions: { ready: true } }],
    },
  ]);
  await w.run();
  t.deepEqual(w.dataPlane.log, [], "no local endpoint here");
  w.view.slices.set(KEY, [
    {
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.0.0.2"], nodeName: SELF, conditions: { ready: true } }],
    },
  ]);
  await w.run();
  t.deepEqual(w.dataPlane.log, [`announce ${WORK} routed`]);
  w.view.slices.set(KEY, []);
  await w.run();
  t.is(w.dataPlane.log.at(-1), `withdraw ${WORK}`, "its endpoint gone, it withdraws");
});

test("ecmp: the ownership Lease left from an elected mode is deleted by its holder", async (t) => {
  const w = await heldBySelf();
  t.is(w.leases.leases.get(LEASE)?.spec?.holderIdentity, SELF);
  const ecmp = world({ mode: "ecmp" });
  for (const lease of w.leases.leases.values()) await ecmp.leases.create(lease);
  t.truthy(ecmp.leases.leases.get(LEASE));
  await ecmp.run();
  t.is(ecmp.leases.leases.get(LEASE), undefined);
  t.deepEqual(ecmp.dataPlane.log, [`announce ${WORK} routed`]);
});
