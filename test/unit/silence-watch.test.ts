import test from "ava";
import { SilenceWatch } from "../../src/agent/silence-watch.ts";

const D = 5000;

/** A SilenceWatch on a hand-driven clock and timer queue. */
function harness() {
  const clock = { now: 0 };
  const lastChange = new Map<string, number>();
  const timers: { at: number; callback: () => void; cancelled: boolean }[] = [];
  const woken: string[][] = [];
  const watch = new SilenceWatch({
    leaseDuration: D,
    clock: () => clock.now,
    silentFor: (node, now) => now - (lastChange.get(node) ?? 0),
    wake: (keys) => woken.push([...keys].sort()),
    schedule: (callback, delayMs) => {
      const timer = { at: clock.now + delayMs, callback, cancelled: false };
      timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
  });
  const advanceTo = (at: number) => {
    for (;;) {
      const next = timers
        .filter((timer) => !timer.cancelled && timer.at <= at)
        .sort((a, b) => a.at - b.at)[0];
      if (next === undefined) break;
      next.cancelled = true;
      clock.now = next.at;
      next.callback();
    }
    clock.now = at;
  };
  const pending = () => timers.filter((timer) => !timer.cancelled).length;
  return { clock, lastChange, watch, woken, advanceTo, pending };
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
    h.advanceTo(at);
  }
  t.deepEqual(h.woken, []);
  t.is(h.pending(), 1);
});

test("a node silent for D wakes every Service waiting on it, once", (t) => {
  const h = harness();
  h.lastChange.set("node2", 0);
  h.watch.wakeWhenSilent("node2", "default/a");
  h.advanceTo(2000);
  h.watch.wakeWhenSilent("node2", "default/b");
  h.advanceTo(D - 1);
  t.deepEqual(h.woken, []);
  h.advanceTo(D);
  t.deepEqual(h.woken, [["default/a", "default/b"]]);
  h.advanceTo(3 * D);
  t.is(h.woken.length, 1);
  t.deepEqual(h.watch.watched(), new Map());
});

test("a node already silent for D wakes its Services at once", (t) => {
  const h = harness();
  h.clock.now = 2 * D;
  h.watch.wakeWhenSilent("node2", "default/web");
  h.advanceTo(2 * D);
  t.deepEqual(h.woken, [["default/web"]]);
});

test("stop cancels every timer", (t) => {
  const h = harness();
  h.watch.wakeWhenSilent("node2", "default/web");
  h.watch.stop();
  t.is(h.pending(), 0);
  h.advanceTo(10 * D);
  t.deepEqual(h.woken, []);
});
