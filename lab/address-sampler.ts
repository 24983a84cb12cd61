// Which nodes hold an IP, read from each node's kernel every few milliseconds, so that a test can
// tell whether two nodes ever held it at once. One long-lived `ip -json -batch -` per node: a
// command per sample costs a line on a pipe, not a process.
import { monotonicNs } from "./clock.ts";
import { canonicalIp } from "./ip-address.ts";
import type { LabProcess, ProcessGroup } from "./process.ts";

const READY_TIMEOUT_MS = 10_000;

export interface AddressSample {
  /** CLOCK_MONOTONIC ns halfway between asking the kernel and hearing back (a millisecond or so). */
  readonly timeNs: number;
  readonly node: string;
  readonly present: boolean;
}

export interface AddressSampler {
  samples(): readonly AddressSample[];
  /** Every sample of every node, by time. */
  stop(): Promise<AddressSample[]>;
}

interface IpAddressShow {
  readonly addr_info?: readonly { readonly local?: string }[];
}

export function holdsAddress(ipJsonLine: string, ip: string): boolean {
  const links = JSON.parse(ipJsonLine) as readonly IpAddressShow[];
  return links.some((link) => (link.addr_info ?? []).some((entry) => entry.local === ip));
}

function sampleNode(options: {
  child: LabProcess;
  node: string;
  ifname: string;
  ip: string;
  intervalNs: number;
  record: (sample: AddressSample) => void;
}): { first: Promise<void>; stop: () => void } {
  const { child, node, ip, intervalNs, record } = options;
  let sentNs = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const ask = () => {
    sentNs = monotonicNs();
    child.write(`address show dev ${options.ifname}\n`);
  };
  const first = new Promise<void>((resolve, reject) => {
    const failed = setTimeout(() => {
      reject(new Error(`${child.name}: no answer in ${READY_TIMEOUT_MS}ms:\n${child.output()}`));
    }, READY_TIMEOUT_MS);
    // The next question goes out only once the answer is in, so answers cannot be mixed up and a
    // busy machine makes samples sparser rather than queueing them.
    child.onLine((line) => {
      if (!line.startsWith("[")) return;
      const receivedNs = monotonicNs();
      record({ timeNs: (sentNs + receivedNs) / 2, node, present: holdsAddress(line, ip) });
      clearTimeout(failed);
      resolve();
      if (!stopped) timer = setTimeout(ask, Math.max(0, sentNs + intervalNs - receivedNs) / 1e6);
    });
  });
  ask();
  return {
    first,
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      child.endInput();
    },
  };
}

export async function startAddressSampler(
  group: ProcessGroup,
  options: {
    nodes: readonly { name: string; netns: string; lanIf: string }[];
    ip: string;
    intervalMs?: number;
  },
): Promise<AddressSampler> {
  const samples: AddressSample[] = [];
  const ip = canonicalIp(options.ip);
  const intervalNs = (options.intervalMs ?? 5) * 1e6;
  const samplers = options.nodes.map((node) => {
    const child = group.spawn(node.netns, ["ip", "-json", "-batch", "-"], { name: `sampler ${node.name}` });
    const sampler = sampleNode({
      child,
      node: node.name,
      ifname: node.lanIf,
      ip,
      intervalNs,
      record: (sample) => samples.push(sample),
    });
    return { child, ...sampler };
  });
  await Promise.all(samplers.map(({ first }) => first));
  let stopped = false;
  return {
    samples: () => samples,
    stop: async () => {
      if (!stopped) {
        stopped = true;
        for (const sampler of samplers) sampler.stop();
        for (const { child } of samplers) {
          const exit = await child.exited;
          // A failed command ends ip's batch, and with it the sampling of that node.
          if (exit.code !== 0)
            throw new Error(`${child.name} failed (${exit.code ?? exit.signal ?? ""}):\n${child.output()}`);
        }
      }
      return [...samples].sort((a, b) => a.timeNs - b.timeNs);
    },
  };
}
