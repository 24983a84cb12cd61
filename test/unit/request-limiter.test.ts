import test from "ava";
import { RequestLimiter, type RequestLane } from "../../src/kube/request-limiter.ts";
import { FakeClock } from "./fakes/clock.ts";

/** A limiter on a fake clock; `granted` lists what got through, in order. */
function harness(options: { qps: number; burst: number }) {
  const clock = new FakeClock();
  const waitingSeen: number[] = [];
  const limiter = new RequestLimiter({
    ...options,
    clock,
    onWaiting: (waiting) => waitingSeen.push(waiting),
  });
  const granted: string[] = [];
  const request = (name: string, lane: RequestLane = "reconcile") => {
    void limiter.acquire(lane).then(() => granted.push(name));
  };
  // tick lets the resolved acquisitions run their continuations.
  const advanceTo = (at: number) => clock.tickTo(at);
  return { limiter, granted, request, advanceTo, waitingSeen, clock };
}

test("a burst goes at once; the rest drains at the sustained rate", async (t) => {
  const { granted, request, advanceTo, limiter } = harness({ qps: 10, burst: 3 });
  for (const name of ["a", "b", "c", "d", "e"]) request(name);
  await advanceTo(0);
  t.deepEqual(granted, ["a", "b", "c"]);
  t.is(limiter.waiting, 2);
  await advanceTo(99);
  t.deepEqual(granted, ["a", "b", "c"]);
  await advanceTo(100);
  t.deepEqual(granted, ["a", "b", "c", "d"]);
  await advanceTo(200);
  t.deepEqual(granted, ["a", "b", "c", "d", "e"]);
  t.is(limiter.waiting, 0);
});

test("the reconcile lane goes before Events that were waiting longer", async (t) => {
  const { granted, request, advanceTo } = harness({ qps: 10, burst: 1 });
  request("first");
  request("event-1", "events");
  request("event-2", "events");
  request("claim");
  await advanceTo(0);
  t.deepEqual(granted, ["first"]);
  await advanceTo(100);
  t.deepEqual(granted, ["first", "claim"]);
  await advanceTo(300);
  t.deepEqual(granted, ["first", "claim", "event-1", "event-2"]);
});

test("a request never overtakes one already waiting, even when a token has come back", async (t) => {
  const { granted, request, advanceTo } = harness({ qps: 10, burst: 1 });
  request("a");
  request("b");
  await advanceTo(0);
  await advanceTo(150);
  // b got the token of t=100; c arrives at 150 with half a token and waits.
  request("c");
  await advanceTo(150);
  t.deepEqual(granted, ["a", "b"]);
  await advanceTo(200);
  t.deepEqual(granted, ["a", "b", "c"]);
});

test("tokens build up while idle, never beyond the burst", async (t) => {
  const { granted, request, advanceTo } = harness({ qps: 10, burst: 2 });
  request("a");
  request("b");
  await advanceTo(0);
  await advanceTo(10_000);
  for (const name of ["c", "d", "e"]) request(name);
  await advanceTo(10_000);
  t.deepEqual(granted, ["a", "b", "c", "d"]);
});

test("the waiting count is reported as it changes, down to 0", async (t) => {
  const { request, advanceTo, waitingSeen } = harness({ qps: 10, burst: 1 });
  request("a");
  request("b");
  request("c");
  await advanceTo(300);
  t.deepEqual(waitingSeen, [1, 2, 1, 0]);
});

test("held-back requests do not keep the process alive", async (t) => {
  const { request, advanceTo, clock } = harness({ qps: 10, burst: 1 });
  request("a");
  request("b");
  await advanceTo(0);
  t.deepEqual(clock.pending(), [{ at: 100, keepAlive: false }]);
});
