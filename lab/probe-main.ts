// Runs inside the client namespace: sends a request every interval and prints one JSON line per
// request: which node answered, or null on timeout, timed on the shared monotonic clock. Ending its
// input stops it: it sends no more, reports the requests still in flight, and exits.
import { createSocket } from "node:dgram";
import { connect, isIPv6 } from "node:net";
import { parseArgs } from "node:util";
import { monotonicNs } from "./clock.ts";

const { values } = parseArgs({
  options: {
    target: { type: "string" },
    port: { type: "string" },
    protocol: { type: "string" },
    interval: { type: "string" },
    timeout: { type: "string" },
  },
});
const target = values.target ?? "";
const port = Number(values.port ?? "8080");
const intervalNs = Number(values.interval ?? "10") * 1e6;
const timeoutMs = Number(values.timeout ?? "200");

let inFlight = 0;
let stopping = false;

function report(seq: number, sentNs: number, node: string | null): void {
  const rttUs = node === null ? null : Math.round((monotonicNs() - sentNs) / 1000);
  process.stdout.write(`${JSON.stringify({ seq, sentNs, node, rttUs })}\n`);
  inFlight -= 1;
  if (stopping && inFlight === 0) process.exit(0);
}

// Anything but an echo server's answer (a cut-off stream, stray traffic) counts as no answer.
function parseReply(reply: string): { node: string | null; seq: unknown } {
  try {
    const { node, seq } = JSON.parse(reply) as { node?: unknown; seq?: unknown };
    return { node: typeof node === "string" ? node : null, seq };
  } catch {
    return { node: null, seq: null };
  }
}

function udpSender(): (seq: number) => void {
  const socket = createSocket(isIPv6(target) ? "udp6" : "udp4");
  const pending = new Map<number, { sentNs: number; timer: NodeJS.Timeout }>();
  // Matched by sequence number, not by source address: the answer to a VIP may leave from the
  // node's own address.
  socket.on("message", (message) => {
    const { node, seq } = parseReply(message.toString());
    const request = typeof seq === "number" ? pending.get(seq) : undefined;
    if (request === undefined || typeof seq !== "number" || node === null) return;
    clearTimeout(request.timer);
    pending.delete(seq);
    report(seq, request.sentNs, node);
  });
  socket.on("error", (error) => process.stderr.write(`probe: ${error.message}\n`));
  return (seq) => {
    const sentNs = monotonicNs();
    const timer = setTimeout(() => {
      pending.delete(seq);
      report(seq, sentNs, null);
    }, timeoutMs);
    pending.set(seq, { sentNs, timer });
    socket.send(JSON.stringify({ seq }), port, target);
  };
}

function tcpSend(seq: number): void {
  const sentNs = monotonicNs();
  let done = false;
  const finish = (node: string | null) => {
    if (done) return;
    done = true;
    socket.destroy();
    report(seq, sentNs, node);
  };
  const socket = connect({ host: target, port }, () => socket.write(JSON.stringify({ seq })));
  socket.setTimeout(timeoutMs, () => {
    finish(null);
  });
  let answer = "";
  socket.on("data", (data) => (answer += data.toString()));
  socket.on("end", () => {
    finish(parseReply(answer).node);
  });
  socket.on("error", () => {
    finish(null);
  });
}

const send = values.protocol === "tcp" ? tcpSend : udpSender();
const startedNs = monotonicNs();
let seq = 0;
let timer: NodeJS.Timeout | undefined;
// On the start time's grid, so the rate does not drift with load; slots missed while the machine
// was busy are skipped rather than sent in a burst.
const tick = () => {
  inFlight += 1;
  send(seq);
  seq += 1;
  const nowNs = monotonicNs();
  const nextNs = startedNs + Math.ceil((nowNs - startedNs + 1) / intervalNs) * intervalNs;
  timer = setTimeout(tick, (nextNs - nowNs) / 1e6);
};
process.stdin.on("end", () => {
  stopping = true;
  clearTimeout(timer);
  if (inFlight === 0) process.exit(0);
});
process.stdin.resume();
process.stdout.write("probe started\n");
tick();
