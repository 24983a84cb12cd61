import test from "ava";
import { HeartbeatTracker } from "../../src/election/heartbeat-tracker.ts";

test("silence is counted from the first sighting of a resourceVersion on this agent's clock", (t) => {
  const tracker = new HeartbeatTracker();
  tracker.observe("n1", "100", 1000);
  t.is(tracker.silentFor("n1", 1000), 0);
  tracker.observe("n1", "100", 3000);
  t.is(tracker.silentFor("n1", 4000), 3000);
  tracker.observe("n1", "101", 4500);
  t.is(tracker.silentFor("n1", 5000), 500);
});

test("a node never seen has been silent for 0 ms, so a fresh agent waits a full lease duration", (t) => {
  t.is(new HeartbeatTracker().silentFor("ghost", 99_999), 0);
});

test("a missing Lease is a sighting of its own: silence counts from when it disappeared", (t) => {
  const tracker = new HeartbeatTracker();
  tracker.observe("n1", "7", 0);
  tracker.observe("n1", null, 2000);
  tracker.observe("n1", null, 3000);
  t.deepEqual(tracker.sighting("n1"), { resourceVersion: null, since: 2000 });
  t.is(tracker.silentFor("n1", 7000), 5000);
});

test("forget drops a node", (t) => {
  const tracker = new HeartbeatTracker();
  tracker.observe("n1", "1", 0);
  tracker.forget("n1");
  t.is(tracker.sighting("n1"), undefined);
});
