import test from "ava";
import { WorkQueue } from "../../src/agent/work-queue.ts";
import { FakeClock, flushEventLoop } from "./fakes/clock.ts";

function recorder(options: { concurrency?: number; work?: (key: string) => Promise<void> } = {}) {
  const clock = new FakeClock();
  const processed: string[] = [];
  const errors: string[] = [];
  const queue = new WorkQueue({
    concurrency: options.concurrency ?? 2,
    process: async (key) => {
      processed.push(key);
      await (options.work ?? (() => Promise.resolve()))(key);
    },
    onError: (key) => errors.push(key),
    backoff: { initialMs: 100, maxMs: 400 },
    clock,
  });
  return { queue, processed, errors, clock };
}

test("a key queued many times while waiting for a worker is processed once", async (t) => {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { queue, processed } = recorder({
    concurrency: 1,
    work: (key) => (key === "busy" ? gate : Promise.resolve()),
  });
  queue.add("busy");
  queue.add("a");
  queue.add("b");
  queue.add("a");
  queue.add("a");
  release();
  await queue.idle();
  t.deepEqual(processed, ["busy", "a", "b"]);
});

test("a key is never processed by two workers at once; a change during a run runs it again", async (t) => {
  let active = 0;
  let most = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const { queue, processed } = recorder({
    concurrency: 4,
    work: async () => {
      active += 1;
      most = Math.max(most, active);
      await gate;
      active -= 1;
    },
  });
  queue.add("a");
  await flushEventLoop();
  t.deepEqual(processed, ["a"], "running");
  queue.add("a");
  queue.add("a");
  release();
  await queue.idle();
  t.is(most, 1);
  t.deepEqual(processed, ["a", "a"]);
});

test("concurrency bounds the keys in flight", async (t) => {
  let active = 0;
  let most = 0;
  const { queue } = recorder({
    concurrency: 2,
    work: async () => {
      active += 1;
      most = Math.max(most, active);
      await new Promise((resolve) => setImmediate(resolve));
      active -= 1;
    },
  });
  for (const key of ["a", "b", "c", "d", "e"]) queue.add(key);
  await queue.idle();
  t.is(most, 2);
});

test("a failing key is retried with capped exponential backoff until it succeeds", async (t) => {
  let attempts = 0;
  const { queue, errors, clock } = recorder({
    work: () => {
      attempts += 1;
      return attempts < 5 ? Promise.reject(new Error("boom")) : Promise.resolve();
    },
  });
  queue.add("a");
  await clock.tick(0);
  t.is(attempts, 1);
  // Retries 100, 200, 400 and (capped) 400 ms after each failure.
  for (const [retryAt, attemptsThen] of [
    [100, 2],
    [300, 3],
    [700, 4],
    [1100, 5],
  ] as const) {
    await clock.tickTo(retryAt - 1);
    t.is(attempts, attemptsThen - 1, `not retried before ${retryAt} ms`);
    await clock.tickTo(retryAt);
    t.is(attempts, attemptsThen, `retried at ${retryAt} ms`);
  }
  await queue.idle();
  t.deepEqual(errors, ["a", "a", "a", "a"]);
  t.deepEqual(clock.pending(), [], "no retry after the success");
  await queue.drain();
});

test("addAfter keeps the earliest wake-up", async (t) => {
  const { queue, processed, clock } = recorder();
  queue.addAfter("a", 60_000);
  queue.addAfter("a", 1000);
  queue.addAfter("a", 30_000);
  await clock.tickTo(999);
  t.deepEqual(processed, []);
  await clock.tickTo(1000);
  t.deepEqual(processed, ["a"]);
  await clock.tickTo(60_000);
  await queue.idle();
  t.deepEqual(processed, ["a"], "the later wake-ups were dropped");
  await queue.drain();
});

test("addAfter of no delay queues the key at once", async (t) => {
  const { queue, processed, clock } = recorder();
  queue.addAfter("a", 0);
  t.deepEqual(clock.pending(), [], "no timer");
  await queue.idle();
  t.deepEqual(processed, ["a"]);
});

test("drain drops queued work and pending wake-ups", async (t) => {
  const { queue, processed, clock } = recorder();
  queue.add("a");
  queue.addAfter("b", 1000);
  await queue.drain();
  queue.add("c");
  queue.addAfter("d", 1000);
  t.deepEqual(clock.pending(), []);
  await clock.tickTo(999);
  t.deepEqual(processed, []);
  await clock.tickTo(1001);
  t.deepEqual(processed, []);
});

test("runs that need no I/O let the event loop turn between batches", async (t) => {
  const { queue, processed } = recorder({ concurrency: 8 });
  for (let index = 0; index < 100; index++) queue.add(`key${String(index)}`);
  const seenByATimer = await new Promise<number>((resolve) => {
    setImmediate(() => {
      resolve(processed.length);
    });
  });
  t.true(seenByATimer <= 8, `the event loop turned only after ${String(seenByATimer)} runs`);
  await queue.idle();
  t.is(processed.length, 100);
});

test("drain resolves only once the run in progress has ended, and does not run its key again", async (t) => {
  let finish = (): void => undefined;
  let runs = 0;
  const { queue } = recorder({
    work: () => {
      runs += 1;
      return new Promise<void>((resolve) => {
        finish = resolve;
      });
    },
  });
  queue.add("a");
  while (runs === 0) await new Promise((resolve) => setImmediate(resolve));
  // Changed while running: without the drain it would run once more.
  queue.add("a");
  let drained = false;
  const draining = queue.drain().then(() => {
    drained = true;
  });
  await new Promise((resolve) => setImmediate(resolve));
  t.false(drained, "the run in progress is still going");
  finish();
  await draining;
  t.is(runs, 1);
  queue.add("b");
  await new Promise((resolve) => setImmediate(resolve));
  t.is(runs, 1, "nothing is taken after the drain");
});
