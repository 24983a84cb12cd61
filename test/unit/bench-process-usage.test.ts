// Agent cost from /proc: CPU ticks, resident memory, event-loop lag from the agent's metrics.
import test from "ava";
import { eventLoopLag, gaugeValue } from "../../scripts/bench/agent-metrics.ts";
import { cpuPercent, parseCpuTicks, parseRssBytes } from "../../scripts/bench/process-usage.ts";

test("utime and stime are found after a command name holding spaces and parentheses", (t) => {
  const stat = "4242 (node (vipd) run) S 1 4242 4242 0 -1 4194560 5000 0 0 0 150 25 0 0 20 0 11 0 900 0";
  t.is(parseCpuTicks(stat), 175);
});

test("VmRSS is read in bytes", (t) => {
  t.is(parseRssBytes("Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   81920 kB\nThreads:\t11\n"), 81920 * 1024);
  t.throws(() => parseRssBytes("Name:\tkthreadd\n"));
});

test("CPU share of one core between two readings", (t) => {
  t.is(cpuPercent({ ticks: 100, atNs: 0 }, { ticks: 160, atNs: 60e9 }), 1);
});

test("event-loop lag gauges in milliseconds; absent metrics are null", (t) => {
  const text = [
    "# TYPE nodejs_eventloop_lag_p99_seconds gauge",
    "nodejs_eventloop_lag_p99_seconds 0.0125",
    "nodejs_eventloop_lag_max_seconds 0.25",
    'vipd_vips_held{mode="services"} 3',
  ].join("\n");
  t.deepEqual(eventLoopLag(text), { p99Ms: 12.5, maxMs: 250 });
  t.is(gaugeValue(text, "nodejs_eventloop_lag_p9"), null);
  t.deepEqual(eventLoopLag(""), { p99Ms: null, maxMs: null });
});
