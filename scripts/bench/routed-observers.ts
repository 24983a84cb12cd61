// The observers of the routed scenarios: many flows from the far client (flow-probe-main.ts), whose
// answers say which node each flow reached, and the router's kernel route for the VIP, read every
// few milliseconds, which says where the router sends it. Both on the lab's monotonic clock.
import { monotonicNs, type Lab } from "../../lab/index.ts";
import { gatewaysOf } from "../../lab/router.ts";

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

export interface NextHopSample {
  /** Halfway between asking the router's kernel and hearing back. */
  readonly timeNs: number;
  /** The node addresses the router's route for the VIP points at, sorted; none without a route. */
  readonly hops: readonly string[];
}

export interface NextHopSampler {
  /** The latest sample. */
  latest(): NextHopSample | undefined;
  /** The samples at which the next hops changed (the first one included), by time. */
  changes(): readonly NextHopSample[];
  stop(): Promise<NextHopSample[]>;
}

/**
 * One long-lived `ip -json -batch -` in the router's namespace, asked for the VIP's route every
 * interval (the next question only once the answer is in), as lab/address-sampler.ts reads nodes:
 * a sample costs a line on a pipe, not a process.
 */
export async function startNextHopSampler(
  lab: Lab,
  options: { readonly netns: string; readonly vip: string; readonly intervalMs: number },
): Promise<NextHopSampler> {
  const family = options.vip.includes(":") ? "-6" : "-4";
  const child = lab.spawn(options.netns, ["ip", "-json", family, "-batch", "-"], {
    name: `next-hop sampler ${options.vip}`,
  });
  const samples: NextHopSample[] = [];
  let askedNs = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const ask = () => {
    askedNs = monotonicNs();
    child.write(`route show ${options.vip}\n`);
  };
  const first = new Promise<void>((resolve, reject) => {
    const failed = setTimeout(() => {
      reject(new Error(`${child.name}: no answer in ${READY_TIMEOUT_MS}ms:\n${child.output()}`));
    }, READY_TIMEOUT_MS);
    child.onLine((line) => {
      if (!line.startsWith("[")) return;
      const answeredNs = monotonicNs();
      samples.push({ timeNs: (askedNs + answeredNs) / 2, hops: gatewaysOf(line) });
      clearTimeout(failed);
      resolve();
      const intervalNs = options.intervalMs * 1e6;
      if (!stopped) timer = setTimeout(ask, Math.max(0, askedNs + intervalNs - answeredNs) / 1e6);
    });
  });
  ask();
  await first;
  return {
    latest: () => samples.at(-1),
    changes: () =>
      samples.filter(
        (sample, index) => index === 0 || sample.hops.join(" ") !== samples[index - 1]?.hops.join(" "),
      ),
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      child.endInput();
      const exit = await child.exited;
      if (exit.code !== 0)
        throw new Error(`${child.name} failed (${exit.code ?? exit.signal ?? ""}):\n${child.output()}`);
      return samples;
    },
  };
}
