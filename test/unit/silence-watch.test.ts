import test from "ava";
import { SilenceWatch } from "../../src/agent/silence-watch.ts";
import { FakeClock } from "./fakes/clock.ts";

const D = 5000;

/** A SilenceWatch on a fake clock. */
function harness() {
  const clock = new FakeClock();
  const lastChange = new Map<string, number>();
  const woken: string[][] = [];
  const watch = new SilenceWatch({
    leaseDuration: D,
    clock,
    silentFor: (node, now) => now - (lastChange.get(node) ?? 0),
    wake: (keys) => woken.push([...keys].sort()),
  });
  const pending = () => clock.pending().length;
  return { clock, lastChange, watch, woken, pending };
}

test("one timer per node, however many Services wait on it", (t) => {
  const h = harness();
  for (let index = 0; index < 1000; index++) h.watch.wakeWhenSilent("node2", `default/svc-${index}`);
  h.watch.wakeWhenSilent("node3", "default/other");
  t.is(h.pending(), 2);
  t.deepEqual(
    h.watch.watched(),
    new Map([
      ["node2", 1000],
      ["node3", 1],
    ]),
  );
});

test("a node that keeps renewing wakes nobody; the timer follows its renewals", (t) => {
  const h = harness();
  h.watch.wakeWhenSilent("node2", "default/web");
  for (let at = 1000; at <= 30_000; at += 1000) {
    h.lastChange.set("node2", at);
    h.clock.advanceTo(at);
  }
  t.deepEqual(h.woken, []);
  t.is(h.pending(), 1);
});

test("a node silent for D wakes every Service waiting on it, once", (t) => {
  const h = harness();
  h.lastChange.set("node2", 0);
  h.watch.wakeWhenSilent("node2", "default/a");
  h.clock.advanceTo(2000);
  h.watch.wakeWhenSilent("node2", "default/b");
  h.clock.advanceTo(D - 1);
  t.deepEqual(h.woken, []);
  h.clock.advanceTo(D);
  t.deepEqual(h.woken, [["default/a", "default/b"]]);
  h.clock.advanceTo(3 * D);
  t.is(h.woken.length, 1);
  t.deepEqual(h.watch.watched(), new Map());
});

test("a node already silent for D wakes its Services at once", (t) => {
  const h = harness();
  h.clock.advanceTo(2 * D);
  h.watch.wakeWhenSilent("node2", "default/web");
  t.deepEqual(h.woken, [], "never from inside the call");
  h.clock.advanceTo(2 * D);
  t.deepEqual(h.woken, [["default/web"]]);
});

test("stop cancels every timer", (t) => {
  const h = harness();
  h.watch.wakeWhenSilent("node2", "default/web");
  h.watch.stop();
  t.is(h.pending(), 0);
  h.clock.advanceTo(10 * D);
  t.deepEqual(h.woken, []);
});
