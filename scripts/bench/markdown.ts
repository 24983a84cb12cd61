// The Markdown pieces every table of the report is made of: durations as the report prints them,
// tables, and a summary's spread.
import { summarize, type Summary } from "./stats.ts";

/** Milliseconds below 10 s, seconds with a decimal above. */
export const ms = (value: number): string =>
  value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${Math.round(value)} ms`;

function row(cells: readonly string[]): string {
  return `| ${cells.join(" | ")} |`;
}

export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [row(header), row(header.map(() => "---")), ...rows.map(row)].join("\n");
}

/** min, p50, p90, p99 and max; dashes when nothing was measured. */
export function spread(summary: Summary | undefined): string[] {
  if (summary === undefined) return ["–", "–", "–", "–", "–"];
  return [summary.min, summary.p50, summary.p90, summary.p99, summary.max].map(ms);
}

export function p50p99(values: readonly number[]): string {
  const summary = summarize(values);
  return summary === undefined ? "–" : `${ms(summary.p50)} / ${ms(summary.p99)}`;
}
