// Summaries of measured values. Percentiles use the nearest-rank method: every figure reported is
// a value that was actually measured, never an interpolation between two of them, so with few
// repetitions p99 is simply the maximum, which is the honest reading of a small sample.

export interface Summary {
  readonly count: number;
  readonly min: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** The smallest value with at least `percent` % of the values at or below it. */
export function percentile(sorted: readonly number[], percent: number): number {
  if (sorted.length === 0) throw new Error("no values");
  const rank = Math.max(1, Math.ceil((percent / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? Number.NaN;
}

/** undefined when there is nothing to summarise. */
export function summarize(values: readonly number[]): Summary | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}
