import test from "ava";
import type { OwnHeartbeat } from "../../src/election/decide.ts";
import { Heartbeat, publishedMacs, renewalTimeout } from "../../src/election/heartbeat.ts";
import { FakeLeaseApi } from "./fakes/lease-api.ts";

const timings = { leaseDuration: 5000, renewDeadline: 3000, retryPeriod: 1000 };

function setup() {
  const leases = new FakeLeaseApi();
  const clock = { now: 1000 };
  const changes: OwnHeartbeat[] = [];
  const macs = { now: ["02:00:00:00:00:0B", "02:00:00:00:00:0a"] };
  const heartbeat = new Heartbeat({
    leases,
    node: "node1",
    timings,
    clock: () => clock.now,
    macs: () => macs.now,
    onChange: (state) => changes.push(state),
  });
  return { leases, clock, changes, heartbeat, macs };
}

test("creates the Lease when missing, then renews it with one write and no read", async (t) => {
  const { leases, heartbeat } = setup();
  t.is(await heartbeat.renewOnce(), null);
  t.is(await heartbeat.renewOnce(), null);
  t.deepEqual(leases.calls, ["get vipd-node-node1", "create vipd-node-node1", "replace vipd-node-node1"]);
  const lease = leases.leases.get("vipd-node-node1");
  t.is(lease?.spec?.holderIdentity, "node1");
  t.is(lease?.spec?.leaseDurationSeconds, 5);
  t.deepEqual(lease?.metadata?.labels, { "vipd.io/component": "heartbeat", "vipd.io/node": "node1" });
  await heartbeat.stop({ release: false });
});

test("the node's MACs ride on the heartbeat's writes: on create, and changed by the next renewal alone", async (t) => {
  const { leases, heartbeat, macs } = setup();
  await heartbeat.renewOnce();
  const created = leases.leases.get("vipd-node-node1");
  t.is(created?.metadata?.annotations?.["vipd.io/macs"], "02:00:00:00:00:0a,02:00:00:00:00:0b");
  macs.now = ["02:00:00:00:00:0c"];
  leases.calls.length = 0;
  await heartbeat.renewOnce();
  t.deepEqual(leases.calls, ["replace vipd-node-node1"], "no write of its own");
  const renewed = leases.leases.get("vipd-node-node1");
  if (renewed === undefined) return t.fail("no heartbeat Lease");
  t.deepEqual(publishedMacs(renewed), ["02:00:00:00:00:0c"]);
  macs.now = [];
  await heartbeat.renewOnce();
  const none = leases.leases.get("vipd-node-node1");
  if (none === undefined) return t.fail("no heartbeat Lease");
  t.deepEqual(publishedMacs(none), [], "no VIP-capable interface is a list, and an empty one");
  t.is(publishedMacs({ metadata: { name: "vipd-node-old" } }), null, "a 0.1.0 heartbeat publishes none");
  await heartbeat.stop({ release: false });
});

test("a renewal counts from when it started, not when it finished, and is in flight till then", async (t) => {
  const { clock, heartbeat } = setup();
  const renewal = heartbeat.renewOnce();
  t.is(heartbeat.state().renewalInFlightSince, 1000);
  clock.now = 1800;
  await renewal;
  t.is(heartbeat.state().lastRenewalStartedAt, 1000);
  t.is(heartbeat.state().renewalInFlightSince, null);
  await heartbeat.stop({ release: false });
});

test("a conflict re-reads the Lease and tries once more", async (t) => {
  const { leases, heartbeat } = setup();
  await heartbeat.renewOnce();
  leases.touch("vipd-node-node1");
  leases.calls.length = 0;
  t.is(await heartbeat.renewOnce(), null);
  t.deepEqual(leases.calls, ["replace vipd-node-node1", "get vipd-node-node1", "replace vipd-node-node1"]);
  await heartbeat.stop({ release: false });
});

test("the API server counts as unreachable only while every failure since the last success was", async (t) => {
  const { leases, clock, heartbeat } = setup();
  await heartbeat.renewOnce();
  leases.failNext(FakeLeaseApi.unreachable());
  clock.now = 2000;
  t.is(await heartbeat.renewOnce(), "unreachable");
  t.deepEqual(heartbeat.state(), {
    lastRenewalStartedAt: 1000,
    apiUnreachable: true,
    renewalInFlightSince: null,
  });
  leases.failNext(FakeLeaseApi.status(503));
  t.is(await heartbeat.renewOnce(), "unreachable");
  t.true(heartbeat.state().apiUnreachable);
  leases.failNext(FakeLeaseApi.status(403));
  t.is(await heartbeat.renewOnce(), "forbidden");
  t.false(heartbeat.state().apiUnreachable, "an API server that answers is reachable, if unhelpful");
  leases.failNext(FakeLeaseApi.unreachable());
  await heartbeat.renewOnce();
  t.false(heartbeat.state().apiUnreachable, "the refusal since the last success still counts");
  clock.now = 9000;
  t.is(await heartbeat.renewOnce(), null);
  t.deepEqual(heartbeat.state(), {
    lastRenewalStartedAt: 9000,
    apiUnreachable: false,
    renewalInFlightSince: null,
  });
  await heartbeat.stop({ release: false });
});

test("reports only changes of what the node may do", async (t) => {
  const { leases, clock, changes, heartbeat } = setup();
  await heartbeat.renewOnce();
  clock.now = 1500;
  await heartbeat.renewOnce();
  t.is(changes.length, 1, "confirmed once; a second renewal changes nothing");
  clock.now = 5000;
  leases.failNext(FakeLeaseApi.unreachable());
  await heartbeat.renewOnce();
  t.deepEqual(changes.at(-1), {
    lastRenewalStartedAt: 1500,
    apiUnreachable: true,
    renewalInFlightSince: null,
  });
  t.is(changes.length, 2);
  await heartbeat.stop({ release: false });
});

test("a renewal that ends a lapse its timer has not reported yet still reports the return", async (t) => {
  const { clock, changes, heartbeat } = setup();
  await heartbeat.renewOnce();
  t.is(changes.length, 1);
  clock.now = 1000 + timings.renewDeadline;
  await heartbeat.renewOnce();
  t.is(changes.length, 2, "reconciles that saw the lapse by the clock must be woken");
  t.deepEqual(changes.at(-1), {
    lastRenewalStartedAt: 4000,
    apiUnreachable: false,
    renewalInFlightSince: null,
  });
  clock.now = 4000 + timings.renewDeadline - 1;
  await heartbeat.renewOnce();
  t.is(changes.length, 2, "a renewal before the lapse changes nothing");
  await heartbeat.stop({ release: false });
});

test("stop with release deletes the Lease with its resourceVersion as precondition", async (t) => {
  const { leases, heartbeat } = setup();
  await heartbeat.renewOnce();
  await heartbeat.stop({ release: true });
  t.false(leases.leases.has("vipd-node-node1"));
  t.is(leases.calls.at(-1), "delete vipd-node-node1");
});

test("a renewal may take until P before R: slow ones still count, and a holder waiting on one hears of its failure in time", (t) => {
  t.is(renewalTimeout(timings), 2000);
  t.is(renewalTimeout({ leaseDuration: 2000, renewDeadline: 1200, retryPeriod: 400 }), 800);
});

test("a failure repeated with no success in between is reported as repeated", async (t) => {
  const leases = new FakeLeaseApi();
  const failures: [string, boolean][] = [];
  const heartbeat = new Heartbeat({
    leases,
    node: "node1",
    timings,
    clock: () => 1000,
    macs: () => [],
    onChange: () => undefined,
    onFailure: (failure, _error, repeated) => failures.push([failure, repeated]),
  });
  leases.failNext(FakeLeaseApi.status(403), FakeLeaseApi.status(403), FakeLeaseApi.unreachable());
  for (let attempt = 0; attempt < 3; attempt++) await heartbeat.renewOnce();
  t.is(await heartbeat.renewOnce(), null);
  leases.failNext(FakeLeaseApi.unreachable());
  await heartbeat.renewOnce();
  t.deepEqual(failures, [
    ["forbidden", false],
    ["forbidden", true],
    ["unreachable", false],
    ["unreachable", false],
  ]);
  await heartbeat.stop({ release: false });
});
