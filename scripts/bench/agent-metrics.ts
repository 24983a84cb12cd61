// Readings from an agent's own /metrics: the event-loop lag gauges prom-client's default metrics
// publish. prom-client resets its lag histogram on every scrape, so a scrape at the start of a
// window and one at its end give the lag over that window.

/** The value of an unlabelled sample, or null when the metric is absent. */
export function gaugeValue(metricsText: string, name: string): number | null {
  const line = metricsText.split("\n").find((each) => each.startsWith(`${name} `));
  if (line === undefined) return null;
  const value = Number(
    line
      .slice(name.length + 1)
      .trim()
      .split(" ")[0],
  );
  return Number.isFinite(value) ? value : null;
}

export interface EventLoopLag {
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
}

export function eventLoopLag(metricsText: string): EventLoopLag {
  const ms = (seconds: number | null) => (seconds === null ? null : seconds * 1000);
  return {
    p99Ms: ms(gaugeValue(metricsText, "nodejs_eventloop_lag_p99_seconds")),
    maxMs: ms(gaugeValue(metricsText, "nodejs_eventloop_lag_max_seconds")),
  };
}
