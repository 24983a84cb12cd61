// Runs inside the lab's client namespace: asks for thousands of VIPs at once at Layer 2 and says
// when each first answers. One raw AF_PACKET socket sends an ARP request or neighbour solicitation
// to every VIP that has not answered yet, round after round, and counts a VIP as answering when a
// node's kernel replies to this client: an ARP reply addressed to it, or a solicited neighbour
// advertisement. A VIP answers this way exactly when it is on an up interface, which is when the
// echo servers (bound to the wildcard address) serve it. Going around the kernel's neighbour table
// is the point: thousands of unresolved entries would overflow it (gc_thresh3, shared by every
// namespace on the machine). The frames are built by vipd's packet module, which is unit-tested
// against known-good bytes; the answers come from the nodes' kernels, not from vipd.
import { readFileSync } from "node:fs";
import { isIPv6 } from "node:net";
import { parseArgs } from "node:util";
import { canonicalIp } from "../../lab/ip-address.ts";
import { monotonicNs } from "../../lab/clock.ts";
import { PacketSocket } from "../../src/net/packet-socket.ts";
import {
  BROADCAST_MAC,
  buildArp,
  neighbourSolicitation,
  parseArp,
  parseNeighbourMessage,
} from "../../src/net/packets.ts";

const { values } = parseArgs({
  options: {
    ifindex: { type: "string" },
    mac: { type: "string" },
    ipv4: { type: "string" },
    ipv6: { type: "string" },
    targets: { type: "string" },
    "frames-per-second": { type: "string" },
  },
});
const mac = values.mac ?? "";
const ipv4 = values.ipv4 ?? "";
const ipv6 = canonicalIp(values.ipv6 ?? "");
const framesPerSecond = Number(values["frames-per-second"] ?? "10000");
const targets = readFileSync(values.targets ?? "", "utf8")
  .split("\n")
  .filter((line) => line !== "")
  .map(canonicalIp);
const unanswered = new Set(targets);

const socket = PacketSocket.open({ ifindex: Number(values.ifindex) });
const answered = (ip: string, by: string) => {
  if (!unanswered.delete(ip)) return;
  process.stdout.write(`${JSON.stringify({ ip, atNs: monotonicNs(), mac: by })}\n`);
  if (unanswered.size === 0) process.stdout.write("all answered\n");
};
socket.receive({
  onFrame: (frame) => {
    const arp = parseArp(frame);
    if (arp !== undefined) {
      if (arp.operation === "reply" && arp.targetIp === ipv4) answered(arp.senderIp, arp.senderMac);
      return;
    }
    const neighbour = parseNeighbourMessage(frame);
    if (neighbour?.type === "advertisement" && neighbour.solicited && neighbour.destinationIp === ipv6)
      answered(canonicalIp(neighbour.target), neighbour.sourceMac);
  },
  onError: (error) => process.stderr.write(`sweep: ${error.message}\n`),
});

function question(target: string): Buffer {
  if (isIPv6(target)) return neighbourSolicitation({ mac, sourceIp: ipv6, target });
  return buildArp({
    destinationMac: BROADCAST_MAC,
    sourceMac: mac,
    operation: "request",
    senderMac: mac,
    senderIp: ipv4,
    targetMac: "00:00:00:00:00:00",
    targetIp: target,
  });
}

// Paced in slices every few milliseconds, so that a round over thousands of VIPs neither floods
// the bridge nor starves the receiving side of this process.
const SLICE_MS = 5;
const perSlice = Math.max(1, Math.round((framesPerSecond * SLICE_MS) / 1000));
let round: string[] = [];
const tick = () => {
  if (round.length === 0) round = [...unanswered];
  for (const target of round.splice(0, perSlice)) if (unanswered.has(target)) socket.send(question(target));
};
const timer = setInterval(tick, SLICE_MS);
process.stdin.on("end", () => {
  clearInterval(timer);
  socket.close();
  process.exit(0);
});
process.stdin.resume();
process.stdout.write("sweep started\n");
