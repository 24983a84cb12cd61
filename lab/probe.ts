// The client's view of a Service address: a probe-main.ts process in the client namespace, and the
// samples it reports, one per request.
import type { LabProcess, ProcessGroup } from "./process.ts";

const PROBE_MAIN = new URL("probe-main.ts", import.meta.url).pathname;
const READY_TIMEOUT_MS = 10_000;

export interface ProbeSample {
  readonly seq: number;
  /** CLOCK_MONOTONIC ns at which the request left. */
  readonly sentNs: number;
  /** The node that answered, or null when no answer came within the probe's timeout. */
  readonly node: string | null;
  readonly rttUs: number | null;
}

export interface ProbeOptions {
  readonly target: string;
  /** The lab's echo port unless given. */
  readonly port?: number;
  /** UDP unless given. */
  readonly protocol?: "udp" | "tcp";
  /** Between the starts of two requests; 10 unless given. */
  readonly intervalMs?: number;
  /** How long a request waits for its answer before it counts as lost; 200 unless given. */
  readonly timeoutMs?: number;
}

export interface Probe {
  readonly process: LabProcess;
  /** Samples so far, in the order their outcome became known. */
  samples(): readonly ProbeSample[];
  /** The first sample reported after this call that satisfies predicate. */
  waitFor(predicate: (sample: ProbeSample) => boolean, timeoutMs: number): Promise<ProbeSample>;
  /** Stops sending, waits for the answers or timeouts of requests in flight; samples by seq. */
  stop(): Promise<ProbeSample[]>;
}

export async function startProbe(
  group: ProcessGroup,
  netns: string,
  options: ProbeOptions & { defaultPort: number },
): Promise<Probe> {
  const samples: ProbeSample[] = [];
  const waiters = new Set<(sample: ProbeSample) => void>();
  const child = group.spawn(
    netns,
    [
      process.execPath,
      PROBE_MAIN,
      `--target=${options.target}`,
      `--port=${options.port ?? options.defaultPort}`,
      `--protocol=${options.protocol ?? "udp"}`,
      `--interval=${options.intervalMs ?? 10}`,
      `--timeout=${options.timeoutMs ?? 200}`,
    ],
    { name: `probe ${options.protocol ?? "udp"} ${options.target}` },
  );
  child.onLine((line) => {
    if (!line.startsWith("{")) return;
    const sample = JSON.parse(line) as ProbeSample;
    samples.push(sample);
    for (const waiter of waiters) waiter(sample);
  });
  await child.waitForLine(/^probe started$/, READY_TIMEOUT_MS);
  let stopped = false;
  return {
    process: child,
    samples: () => samples,
    waitFor: (predicate, timeoutMs) =>
      new Promise((resolve, reject) => {
        const settle = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
        };
        const waiter = (sample: ProbeSample) => {
          if (!predicate(sample)) return;
          settle();
          resolve(sample);
        };
        const timer = setTimeout(() => {
          settle();
          const last = JSON.stringify(samples.at(-1));
          reject(new Error(`${child.name}: no matching sample in ${timeoutMs}ms (last: ${last})`));
        }, timeoutMs);
        waiters.add(waiter);
        void child.exited.then(() => {
          settle();
          reject(new Error(`${child.name} exited while waited on:\n${child.output()}`));
        });
      }),
    stop: async () => {
      if (!stopped) {
        stopped = true;
        child.endInput();
        const exit = await child.exited;
        if (exit.code !== 0)
          throw new Error(`${child.name} failed (${exit.code ?? exit.signal ?? ""}):\n${child.output()}`);
      }
      return [...samples].sort((a, b) => a.seq - b.seq);
    },
  };
}
