// Percentiles of the benchmark tables: nearest rank, so each figure is a measured value.
import test from "ava";
import { percentile, summarize } from "../../scripts/bench/stats.ts";

test("nearest-rank percentiles pick measured values", (t) => {
  const sorted = Array.from({ length: 100 }, (_, index) => index + 1);
  t.is(percentile(sorted, 50), 50);
  t.is(percentile(sorted, 90), 90);
  t.is(percentile(sorted, 99), 99);
  t.is(percentile(sorted, 100), 100);
  t.is(percentile([7], 1), 7);
});

test("with few values, p99 is the maximum", (t) => {
  t.deepEqual(summarize([30, 10, 20]), { count: 3, min: 10, p50: 20, p90: 30, p99: 30, max: 30 });
});

test("nothing to summarise gives undefined, not zeros", (t) => {
  t.is(summarize([]), undefined);
  t.throws(() => percentile([], 50));
});
