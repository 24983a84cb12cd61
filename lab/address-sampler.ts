// Which nodes hold an IP (or each of many), read from each node's kernel every few milliseconds, so
// that a test can tell whether two nodes ever held one at once. One long-lived `ip -json -batch -`
// per node: a command per sample costs a line on a pipe, not a process.
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

/** Every address on the links of one `ip -json address show` answer, as the kernel prints it. */
export function addressesIn(ipJsonLine: string): Set<string> {
  const links = JSON.parse(ipJsonLine) as readonly IpAddressShow[];
  return new Set(links.flatMap((link) => (link.addr_info ?? []).flatMap((entry) => entry.local ?? [])));
}

export function holdsAddress(ipJsonLine: string, ip: string): boolean {
  return addressesIn(ipJsonLine).has(ip);
}

// Asks one `ip -json -batch -` child `command` every interval and hands each answer (a JSON line) to
// record, with the time it was taken. The router's next-hop sampler asks its kernel the same way.
export function sampleNode(options: {
  child: LabProcess;
  command: string;
  intervalNs: number;
  record: (ipJsonLine: string, timeNs: number) => void;
}): { first: Promise<void>; stop: () => void } {
  const { child, intervalNs, record } = options;
  let sentNs = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const ask = () => {
    sentNs = monotonicNs();
    child.write(`${options.command}\n`);
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
      record(line, (sentNs + receivedNs) / 2);
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

type SampledNode = { name: string; netns: string; lanIf: string };

// One `ip -batch` child per node, asked `command` every interval; stop() ends them and fails if a
// node's sampling failed.
async function sampleNodes(
  group: ProcessGroup,
  options: {
    nodes: readonly SampledNode[];
    command: (node: SampledNode) => string;
    /** `ip -brief`: the addresses without their details, a quarter of the text to print and parse. */
    brief?: boolean;
    intervalMs: number;
    record: (node: string, ipJsonLine: string, timeNs: number) => void;
  },
): Promise<() => Promise<void>> {
  const samplers = options.nodes.map((node) => {
    const argv = ["ip", "-json", ...(options.brief === true ? ["-brief"] : []), "-batch", "-"];
    const child = group.spawn(node.netns, argv, { name: `sampler ${node.name}` });
    const sampler = sampleNode({
      child,
      command: options.command(node),
      intervalNs: options.intervalMs * 1e6,
      record: (line, timeNs) => {
        options.record(node.name, line, timeNs);
      },
    });
    return { child, ...sampler };
  });
  await Promise.all(samplers.map(({ first }) => first));
  let stopping: Promise<void> | undefined;
  const stop = async () => {
    for (const sampler of samplers) sampler.stop();
    for (const { child } of samplers) {
      const exit = await child.exited;
      // A failed command ends ip's batch, and with it the sampling of that node.
      if (exit.code !== 0)
        throw new Error(`${child.name} failed (${exit.code ?? exit.signal ?? ""}):\n${child.output()}`);
    }
  };
  return () => (stopping ??= stop());
}

export async function startAddressSampler(
  group: ProcessGroup,
  options: { nodes: readonly SampledNode[]; ip: string; intervalMs?: number },
): Promise<AddressSampler> {
  const samples: AddressSample[] = [];
  const ip = canonicalIp(options.ip);
  const stop = await sampleNodes(group, {
    nodes: options.nodes,
    command: (node) => `address show dev ${node.lanIf}`,
    intervalMs: options.intervalMs ?? 5,
    record: (node, line, timeNs) => samples.push({ timeNs, node, present: holdsAddress(line, ip) }),
  });
  return {
    samples: () => samples,
    stop: async () => {
      await stop();
      return [...samples].sort((a, b) => a.timeNs - b.timeNs);
    },
  };
}

/**
 * The samples of one node and IP that begin or end a run of presence or absence, in order: all that
 * holdings() and overlaps() read, so that sampling hundreds of IPs for minutes keeps a few samples
 * per change rather than every one.
 */
export class RunEdges {
  readonly #kept: AddressSample[] = [];
  #last: AddressSample | undefined;

  add(sample: AddressSample): void {
    const last = this.#last;
    if (last?.present !== sample.present) {
      // The last sample of a run of presence is when it was last seen held.
      if (last?.present === true && this.#kept.at(-1) !== last) this.#kept.push(last);
      this.#kept.push(sample);
    }
    this.#last = sample;
  }

  samples(): AddressSample[] {
    const last = this.#last;
    return last?.present === true && this.#kept.at(-1) !== last ? [...this.#kept, last] : [...this.#kept];
  }
}

export interface AddressSetSampler {
  /** The IPs of the set that each node held at its latest sample. */
  latest(): ReadonlyMap<string, ReadonlySet<string>>;
  /** Per IP of the set, the samples of every node that holdings() and overlaps() need, by time. */
  stop(): Promise<Map<string, AddressSample[]>>;
}

/** Samples every node for each IP of a set, on any of the node's interfaces. */
export async function startAddressSetSampler(
  group: ProcessGroup,
  options: { nodes: readonly SampledNode[]; ips: readonly string[]; intervalMs?: number },
): Promise<AddressSetSampler> {
  const ips = options.ips.map(canonicalIp);
  const edges = new Map(
    ips.map((ip) => [ip, new Map(options.nodes.map((node) => [node.name, new RunEdges()]))]),
  );
  const latest = new Map<string, ReadonlySet<string>>();
  const stop = await sampleNodes(group, {
    nodes: options.nodes,
    command: () => "address show",
    brief: true,
    intervalMs: options.intervalMs ?? 5,
    record: (node, line, timeNs) => {
      const present = addressesIn(line);
      latest.set(node, new Set(ips.filter((ip) => present.has(ip))));
      for (const ip of ips)
        edges
          .get(ip)
          ?.get(node)
          ?.add({ timeNs, node, present: present.has(ip) });
    },
  });
  return {
    latest: () => latest,
    stop: async () => {
      await stop();
      return new Map(
        [...edges].map(([ip, byNode]) => [
          ip,
          [...byNode.values()].flatMap((runs) => runs.samples()).sort((a, b) => a.timeNs - b.timeNs),
        ]),
      );
    },
  };
}
