// The parent side of the lab's observers: each runs as a process inside a lab namespace and streams
// JSON lines (or tcpdump's text) that are parsed into samples here.
import { monotonicMs } from "./clock.ts";
import type { LabProcess, ProcessGroup } from "./processes.ts";

const HERE = new URL(".", import.meta.url).pathname;

export interface ProbeSample {
  readonly seq: number;
  /** Monotonic ms at which the request left. */
  readonly sentMs: number;
  /** Which node answered, or null on timeout. */
  readonly node: string | null;
  readonly rttMs: number | null;
}

export interface Probe {
  samples(): readonly ProbeSample[];
  waitFor(predicate: (sample: ProbeSample) => boolean, timeoutMs: number): Promise<ProbeSample>;
  stop(): Promise<readonly ProbeSample[]>;
}

export interface ProbeOptions {
  readonly target: string;
  readonly port?: number;
  readonly protocol?: "udp" | "tcp";
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
}

function jsonLines(child: LabProcess, accept: (value: unknown) => void): void {
  child.onLine((line) => {
    if (line.startsWith("{")) accept(JSON.parse(line));
  });
}

async function stopObserver(child: LabProcess): Promise<void> {
  process.kill(child.pid, "SIGTERM");
  await child.exited;
}

export async function startProbe(group: ProcessGroup, netns: string, options: ProbeOptions): Promise<Probe> {
  const samples: ProbeSample[] = [];
  const waiters: { predicate: (sample: ProbeSample) => boolean; resolve: (sample: ProbeSample) => void }[] =
    [];
  const child = group.spawn(
    netns,
    [
      process.execPath,
      `${HERE}probe-main.ts`,
      `--target=${options.target}`,
      `--port=${options.port ?? 8080}`,
      `--protocol=${options.protocol ?? "udp"}`,
      `--interval=${options.intervalMs ?? 10}`,
      `--timeout=${options.timeoutMs ?? 200}`,
    ],
    { name: `probe ${options.target}` },
  );
  jsonLines(child, (value) => {
    const sample = value as ProbeSample;
    samples.push(sample);
    for (const waiter of waiters.filter((entry) => entry.predicate(sample))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(sample);
    }
  });
  await child.waitForLine(/^probe started/, 10_000);
  return {
    samples: () => samples,
    waitFor: (predicate, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(
              `probe of ${options.target}: no matching reply within ${timeoutMs}ms (last: ${JSON.stringify(samples.at(-1))})`,
            ),
          );
        }, timeoutMs);
        waiters.push({
          predicate,
          resolve: (sample) => {
            clearTimeout(timer);
            resolve(sample);
          },
        });
      }),
    stop: async () => {
      await stopObserver(child);
      return samples.sort((a, b) => a.seq - b.seq);
    },
  };
}

export interface WireFrame {
  /** Monotonic ms (tcpdump's wall-clock stamp shifted by the offset measured at start). */
  readonly timeMs: number;
  readonly kind: "arp-request" | "arp-reply" | "ns" | "na";
  readonly senderMac: string;
  readonly senderIp: string | null;
  readonly targetIp: string;
}

export interface WireObserver {
  frames(): readonly WireFrame[];
  stop(): Promise<readonly WireFrame[]>;
}

const ARP_REQUEST = /Request who-has (\S+)(?: \([^)]*\))? tell (\S+),/;
const ARP_REPLY = /Reply (\S+) is-at/;
const NEIGHBOUR_SOLICITATION = /neighbor solicitation, who has (\S+?),/;
const NEIGHBOUR_ADVERTISEMENT = /neighbor advertisement, tgt is (\S+?),/;
const HEADER = /^(\d+\.\d+) ([0-9a-f:]{17}) > /;
const IPV6_SOURCE = /length \d+: (\S+) > \S+: ICMP6/;

export function parseTcpdumpLine(line: string, wallToMonotonicMs: number): WireFrame | undefined {
  const header = HEADER.exec(line);
  if (header === null) return undefined;
  // Seconds and fraction apart: as one double, epoch seconds in ms would lose the sub-µs digits.
  const [seconds = "0", fraction = "0"] = (header[1] ?? "").split(".");
  const timeMs = Number(seconds) * 1000 - wallToMonotonicMs + Number(`0.${fraction}`) * 1000;
  const senderMac = header[2] ?? "";
  const request = ARP_REQUEST.exec(line);
  if (request !== null)
    return {
      timeMs,
      kind: "arp-request",
      senderMac,
      senderIp: request[2] ?? null,
      targetIp: request[1] ?? "",
    };
  const reply = ARP_REPLY.exec(line);
  if (reply !== null)
    return { timeMs, kind: "arp-reply", senderMac, senderIp: reply[1] ?? null, targetIp: reply[1] ?? "" };
  const source = IPV6_SOURCE.exec(line)?.[1] ?? null;
  const solicitation = NEIGHBOUR_SOLICITATION.exec(line);
  if (solicitation !== null)
    return { timeMs, kind: "ns", senderMac, senderIp: source, targetIp: solicitation[1] ?? "" };
  const advertisement = NEIGHBOUR_ADVERTISEMENT.exec(line);
  if (advertisement !== null)
    return { timeMs, kind: "na", senderMac, senderIp: source, targetIp: advertisement[1] ?? "" };
  return undefined;
}

/**
 * tcpdump, not vipd's own packet code, watches the wire: an oracle that shares no code with what it
 * checks, so a bug in vipd's frames cannot hide itself.
 */
export async function startWireObserver(
  group: ProcessGroup,
  netns: string,
  options: { ip: string; ifname: string },
): Promise<WireObserver> {
  const frames: WireFrame[] = [];
  const offset = Date.now() - monotonicMs();
  const child = group.spawn(
    netns,
    [
      "tcpdump",
      "-i",
      options.ifname,
      "-n",
      "-e",
      "-l",
      "-tt",
      "--time-stamp-precision=nano",
      "arp or (icmp6 and (ip6[40] == 135 or ip6[40] == 136))",
    ],
    { name: `tcpdump ${options.ip}` },
  );
  child.onLine((line) => {
    const frame = parseTcpdumpLine(line, offset);
    if (frame !== undefined && (frame.targetIp === options.ip || frame.senderIp === options.ip))
      frames.push(frame);
  });
  await child.waitForLine(/listening on/, 10_000);
  return {
    frames: () => frames,
    stop: async () => {
      await stopObserver(child);
      return frames;
    },
  };
}

export interface AddressSample {
  readonly node: string;
  readonly timeMs: number;
  readonly present: boolean;
}

export interface AddressSampler {
  samples(): readonly AddressSample[];
  stop(): Promise<readonly AddressSample[]>;
}

export async function startAddressSampler(
  group: ProcessGroup,
  nodes: readonly { name: string; netns: string }[],
  options: { ip: string; intervalMs?: number },
): Promise<AddressSampler> {
  const samples: AddressSample[] = [];
  const children = nodes.map((node) => {
    const child = group.spawn(
      node.netns,
      [
        process.execPath,
        `${HERE}address-sampler-main.ts`,
        `--ip=${options.ip}`,
        `--interval=${options.intervalMs ?? 5}`,
      ],
      { name: `sampler ${node.name}` },
    );
    jsonLines(child, (value) => {
      const sample = value as { timeMs: number; present: boolean };
      samples.push({ node: node.name, timeMs: sample.timeMs, present: sample.present });
    });
    return child;
  });
  await Promise.all(children.map((child) => child.waitForLine(/^sampler started/, 10_000)));
  return {
    samples: () => samples,
    stop: async () => {
      await Promise.all(children.map((child) => stopObserver(child)));
      return samples.sort((a, b) => a.timeMs - b.timeMs);
    },
  };
}
