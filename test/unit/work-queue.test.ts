import test from "ava";
import { WorkQueue } from "../../src/agent/work-queue.ts";

function recorder(options: { concurrency?: number; work?: (key: string) => Promise<void> } = {}) {
  const processed: string[] = [];
  const errors: string[] = [];
  const queue = new WorkQueue({
    concurrency: options.concurrency ?? 2,
    process: async (key) => {
      processed.push(key);
      await (options.work ?? (() => Promise.resolve()))(key);
    },
    onError: (key) => errors.push(key),
    backoff: { initialMs: 1, maxMs: 4 },
  });
  return { queue, processed, errors };
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
  await new Promise((resolve) => setImmediate(resolve));
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

test("a failing key is retried with backoff until it succeeds", async (t) => {
  let attempts = 0;
  const { queue, errors } = recorder({
    work: () => {
      attempts += 1;
      return attempts < 3 ? Promise.reject(new Error("boom")) : Promise.resolve();
    },
  });
  queue.add("a");
  while (attempts < 3) await new Promise((resolve) => setTimeout(resolve, 2));
  await queue.idle();
  t.deepEqual(errors, ["a", "a"]);
  t.is(attempts, 3);
  await queue.drain();
});

test("addAfter keeps the earliest wake-up", async (t) => {
  const { queue, processed } = recorder();
  queue.addAfter("a", 60_000);
  queue.addAfter("a", 1);
  queue.addAfter("a", 30_000);
  while (processed.length === 0) await new Promise((resolve) => setTimeout(resolve, 2));
  await queue.idle();
  t.deepEqual(processed, ["a"]);
  await queue.drain();
});

test("drain drops queued work and pending wake-ups", async (t) => {
  const { queue, processed } = recorder();
  queue.addAfter("a", 1);
  await queue.drain();
  queue.add("b");
  await new Promise((resolve) => setTimeout(resolve, 10));
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
