// The far client's side of the routed scenarios: many flows (flow-probe-main.ts), whose answers say
// which node each flow reached, on the lab's monotonic clock. Where the router sends the VIP is the
// lab's next-hop sampler (lab.sampleNextHops).
import type { Lab } from "../../lab/index.ts";

const FLOW_PROBE_MAIN = new URL("flow-probe-main.ts", import.meta.url).pathname;
const READY_TIMEOUT_MS = 10_000;

export interface FlowSample {
  readonly flow: number;
  readonly tick: number;
  /** CLOCK_MONOTONIC ns at which the request left. */
  readonly sentNs: number;
  /** The node that answered, or null when no answer came within the timeout. */
  readonly node: string | null;
  readonly rttUs: number | null;
}

export interface FlowProbe {
  /** Calls listener with every sample reported from now on, until the returned function is called. */
  follow(listener: (sample: FlowSample) => void): () => void;
  /** Stops sending, waits for the requests in flight; every sample, by tick and flow. */
  stop(): Promise<FlowSample[]>;
}

export async function startFlowProbe(
  lab: Lab,
  options: {
    readonly netns: string;
    readonly target: string;
    readonly port: number;
    readonly flows: number;
    readonly intervalMs: number;
    readonly timeoutMs: number;
  },
): Promise<FlowProbe> {
  const samples: FlowSample[] = [];
  const listeners = new Set<(sample: FlowSample) => void>();
  const child = lab.spawn(
    options.netns,
    [
      process.execPath,
      FLOW_PROBE_MAIN,
      `--target=${options.target}`,
      `--port=${options.port}`,
      `--flows=${options.flows}`,
      `--interval=${options.intervalMs}`,
      `--timeout=${options.timeoutMs}`,
    ],
    { name: `flow probe ${options.target}` },
  );
  child.onLine((line) => {
    if (!line.startsWith("{")) return;
    const sample = JSON.parse(line) as FlowSample;
    samples.push(sample);
    for (const listener of listeners) listener(sample);
  });
  await child.waitForLine(/^flow probe started/, READY_TIMEOUT_MS);
  let stopping: Promise<FlowSample[]> | undefined;
  const stop = async () => {
    child.endInput();
    const exit = await child.exited;
    if (exit.code !== 0)
      throw new Error(`${child.name} failed (${exit.code ?? exit.signal ?? ""}):\n${child.output()}`);
    return [...samples].sort((a, b) => a.tick - b.tick || a.flow - b.flow);
  };
  return {
    follow: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop: () => (stopping ??= stop()),
  };
}
