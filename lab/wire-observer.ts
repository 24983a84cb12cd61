// Watches the LAN from the client's port: every ARP and NDP frame about one IP (or any of a set),
// with the MAC that sent it. It runs tcpdump rather than anything of vipd's own packet code: an oracle that shares no
// code with what it checks, so a bug in vipd's frames cannot hide itself.
import { wallMinusMonotonicNs } from "./clock.ts";
import type { LabProcess, ProcessGroup } from "./process.ts";

const READY_TIMEOUT_MS = 10_000;

export interface WireFrame {
  /** CLOCK_MONOTONIC ns (the kernel's capture stamp, moved from the wall clock). */
  readonly timeNs: number;
  readonly kind: "arp-request" | "arp-reply" | "ns" | "na";
  /** Ethernet source. */
  readonly senderMac: string;
  /** ARP sender IP, or IPv6 source; for a reply, the IP that is claimed. */
  readonly senderIp: string | null;
  /** The IP the frame resolves or announces: asked for, answered for, solicited or advertised. */
  readonly targetIp: string;
}

export interface WireObserver {
  readonly process: LabProcess;
  frames(): readonly WireFrame[];
  stop(): Promise<WireFrame[]>;
}

const HEADER = /^(\d+)\.(\d{9}) ([0-9a-f:]{17}) > /;
const ARP_REQUEST = /Request who-has (\S+)(?: \([^)]*\))? tell (\S+?),/;
const ARP_REPLY = /Reply (\S+) is-at /;
const IPV6_SOURCE = /length \d+: (\S+) > \S+: ICMP6, /;
const SOLICITATION = /neighbor solicitation, who has (\S+?),/;
const ADVERTISEMENT = /neighbor advertisement, tgt is (\S+?),/;

/**
 * One line of `tcpdump -n -e -tt --time-stamp-precision=nano` output; undefined for anything that is
 * not ARP or NDP. wallMinusMonotonic moves the stamp onto the monotonic clock.
 */
export function parseTcpdumpLine(line: string, wallMinusMonotonic: bigint): WireFrame | undefined {
  const header = HEADER.exec(line);
  if (header === null) return undefined;
  const [, seconds = "", nanoseconds = "", senderMac = ""] = header;
  const timeNs = Number(BigInt(seconds) * 1_000_000_000n + BigInt(nanoseconds) - wallMinusMonotonic);
  const request = ARP_REQUEST.exec(line);
  if (request !== null)
    return {
      timeNs,
      kind: "arp-request",
      senderMac,
      senderIp: request[2] ?? null,
      targetIp: request[1] ?? "",
    };
  const reply = ARP_REPLY.exec(line);
  if (reply !== null) {
    const claimed = reply[1] ?? "";
    return { timeNs, kind: "arp-reply", senderMac, senderIp: claimed, targetIp: claimed };
  }
  const source = IPV6_SOURCE.exec(line)?.[1] ?? null;
  const solicited = SOLICITATION.exec(line)?.[1];
  if (solicited !== undefined)
    return { timeNs, kind: "ns", senderMac, senderIp: source, targetIp: solicited };
  const advertised = ADVERTISEMENT.exec(line)?.[1];
  if (advertised !== undefined)
    return { timeNs, kind: "na", senderMac, senderIp: source, targetIp: advertised };
  return undefined;
}

export async function startWireObserver(
  group: ProcessGroup,
  options: { netns: string; ifname: string; ips: ReadonlySet<string> },
): Promise<WireObserver> {
  const frames: WireFrame[] = [];
  const offset = wallMinusMonotonicNs();
  const child = group.spawn(
    options.netns,
    [
      "tcpdump",
      ...["-i", options.ifname, "-n", "-e", "-l", "-tt", "--time-stamp-precision=nano"],
      // Each frame as it arrives, not in batches at libpcap's buffer timeout: tests read frames
      // right after the event that caused them.
      "--immediate-mode",
      // NDP has no extension headers, so the ICMPv6 type is the first byte after the IPv6 header.
      "arp or (icmp6 and (ip6[40] == 135 or ip6[40] == 136))",
    ],
    { name: `tcpdump ${options.netns} ${[...options.ips].slice(0, 3).join(" ")}` },
  );
  child.onLine((line) => {
    const frame = parseTcpdumpLine(line, offset);
    if (frame === undefined) return;
    if (options.ips.has(frame.targetIp) || (frame.senderIp !== null && options.ips.has(frame.senderIp)))
      frames.push(frame);
  });
  await child.waitForLine(/listening on/, READY_TIMEOUT_MS);
  let stopped = false;
  return {
    process: child,
    frames: () => frames,
    stop: async () => {
      if (!stopped) {
        stopped = true;
        // SIGINT: tcpdump prints what it has captured and its counters, then exits with 0.
        process.kill(child.pid, "SIGINT");
        const exit = await child.exited;
        if (exit.code !== 0)
          throw new Error(`${child.name} failed (${exit.code ?? exit.signal ?? ""}):\n${child.output()}`);
      }
      return [...frames].sort((a, b) => a.timeNs - b.timeNs);
    },
  };
}
