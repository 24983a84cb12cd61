// Durations on the command line and in VIPD_* variables are written the way Kubernetes users already
// write them in manifests (Go's time.ParseDuration units), so "1500ms", "5s" and "1m30s" all work.
const UNIT_MILLISECONDS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const TERM = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy;

export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (trimmed === "") throw new Error("is empty; expected a duration such as 5s or 1500ms");
  let milliseconds = 0;
  TERM.lastIndex = 0;
  let consumed = 0;
  for (let match = TERM.exec(trimmed); match !== null; match = TERM.exec(trimmed)) {
    const [whole, amount = "", unit = ""] = match;
    milliseconds += Number(amount) * (UNIT_MILLISECONDS[unit] ?? Number.NaN);
    consumed += whole.length;
  }
  if (consumed !== trimmed.length || !Number.isFinite(milliseconds)) {
    throw new Error(`"${text}" is not a duration; use a number with a unit (ms, s, m, h), e.g. 5s or 1500ms`);
  }
  return Math.round(milliseconds);
}

export function formatDuration(milliseconds: number): string {
  if (milliseconds % 1000 !== 0) return `${milliseconds}ms`;
  const seconds = milliseconds / 1000;
  if (seconds % 60 !== 0 || seconds < 60) return `${seconds}s`;
  return `${seconds / 60}m`;
}
