import test from "ava";
import { every } from "../../src/clock/clock.ts";
import { FakeClock, flushEventLoop } from "./fakes/clock.ts";

test("the fake's time moves only when advanced, and a timer of 0 fires on the next advance, not at once", (t) => {
  const clock = new FakeClock(1000);
  const fired: number[] = [];
  clock.after(0, () => fired.push(clock.now()));
  clock.after(-5, () => fired.push(clock.now()));
  t.is(clock.now(), 1000);
  t.deepEqual(fired, [], "never synchronously");
  clock.advance(0);
  t.deepEqual(fired, [1000, 1000]);
  t.is(clock.now(), 1000);
});

test("timers fire in deadline order, ties in the order set, each with the time at its deadline", (t) => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const at = (name: string) => () => fired.push(`${name}@${clock.now()}`);
  clock.after(30, at("c"));
  clock.after(10, at("a"));
  clock.after(20, at("b1"));
  clock.after(20, at("b2"));
  clock.advance(25);
  t.deepEqual(fired, ["a@10", "b1@20", "b2@20"]);
  t.is(clock.now(), 25);
  clock.advanceTo(30);
  t.deepEqual(fired, ["a@10", "b1@20", "b2@20", "c@30"]);
});

test("a timer does not fire just before its deadline, and does at it", (t) => {
  const clock = new FakeClock();
  let fired = 0;
  clock.after(100, () => (fired += 1));
  clock.advanceTo(99);
  t.is(fired, 0);
  clock.advanceTo(100);
  t.is(fired, 1);
  clock.advanceTo(1000);
  t.is(fired, 1, "once");
});

test("timers set by a callback during an advance fire within it when due, later ones wait", (t) => {
  const clock = new FakeClock();
  const fired: number[] = [];
  const chain = () => {
    fired.push(clock.now());
    clock.after(10, chain);
  };
  clock.after(10, chain);
  clock.advance(35);
  t.deepEqual(fired, [10, 20, 30]);
  t.deepEqual(clock.pending(), [{ at: 40, keepAlive: true }]);
});

test("a cancelled timer never fires; cancelling after it fired, or twice, does nothing", (t) => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const cancelA = clock.after(10, () => fired.push("a"));
  const cancelB = clock.after(10, () => fired.push("b"));
  // A callback cancelling a timer due at the same moment stops it too.
  clock.after(5, cancelA);
  clock.advance(10);
  t.deepEqual(fired, ["b"]);
  cancelA();
  cancelB();
  cancelB();
  t.deepEqual(clock.pending(), []);
});

test("pending lists the timers left, soonest first, and which of them keep the process alive", (t) => {
  const clock = new FakeClock();
  clock.after(50, () => undefined, { keepAlive: false });
  clock.after(20, () => undefined);
  t.deepEqual(clock.pending(), [
    { at: 20, keepAlive: true },
    { at: 50, keepAlive: false },
  ]);
});

test("time never goes back", (t) => {
  const clock = new FakeClock(100);
  t.throws(() => {
    clock.advanceTo(99);
  });
  t.throws(() => {
    clock.advance(-1);
  });
  t.is(clock.now(), 100);
});

test("a timer re-armed at its own deadline without end fails the advance instead of hanging it", (t) => {
  const clock = new FakeClock();
  const spin = () => clock.after(0, spin);
  spin();
  t.throws(
    () => {
      clock.advance(0);
    },
    { message: /keep firing/ },
  );
});

test("sleep resolves when time reaches it, not before", async (t) => {
  const clock = new FakeClock();
  let woke = false;
  const sleeping = clock.sleep(50).then(() => (woke = true));
  await clock.tick(49);
  t.false(woke);
  await clock.tick(1);
  await sleeping;
  t.true(woke);
});

test("tick lets each continuation run before time moves on; advance alone does not", async (t) => {
  const clock = new FakeClock();
  const woke: number[] = [];
  const loop = async () => {
    for (let round = 0; round < 3; round++) {
      await clock.sleep(10);
      woke.push(clock.now());
    }
  };
  void loop();
  clock.advance(30);
  await flushEventLoop();
  t.deepEqual(woke, [30], "the second sleep was set only after the advance ended");
  const ticked = new FakeClock();
  const wokeTicked: number[] = [];
  void (async () => {
    for (let round = 0; round < 3; round++) {
      await ticked.sleep(10);
      wokeTicked.push(ticked.now());
    }
  })();
  await ticked.tick(30);
  t.deepEqual(wokeTicked, [10, 20, 30]);
});

test("every calls back once a period until cancelled, also when cancelled from the callback", (t) => {
  const clock = new FakeClock();
  const calls: number[] = [];
  const cancel = every(clock, 100, () => {
    calls.push(clock.now());
    if (calls.length === 3) cancel();
  });
  clock.advance(99);
  t.deepEqual(calls, []);
  clock.advance(1);
  t.deepEqual(calls, [100]);
  clock.advance(1000);
  t.deepEqual(calls, [100, 200, 300]);
  t.deepEqual(clock.pending(), []);
});

test("every keeps going after a callback that throws", (t) => {
  const clock = new FakeClock();
  let calls = 0;
  const cancel = every(clock, 10, () => {
    calls += 1;
    if (calls === 1) throw new Error("boom");
  });
  t.throws(() => {
    clock.advance(10);
  });
  clock.advance(10);
  t.is(calls, 2);
  cancel();
  clock.advance(100);
  t.is(calls, 2);
});

test("skipTo moves time past a deadline without firing; the next advance fires the late timer", (t) => {
  const clock = new FakeClock(1000);
  const fired: number[] = [];
  clock.after(100, () => fired.push(clock.now()));
  clock.skipTo(1500);
  t.deepEqual(fired, [], "late, as on a busy event loop");
  t.is(clock.now(), 1500);
  clock.advance(0);
  t.deepEqual(fired, [1500], "it runs late, at the time it finally runs");
  t.throws(
    () => {
      clock.skipTo(1000);
    },
    undefined,
    "time never goes back",
  );
});
