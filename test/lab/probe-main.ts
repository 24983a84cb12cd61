// Runs inside the client namespace: sends a request every interval and prints one JSON line per
// request — which node answered, or null on timeout — timed on the shared monotonic clock.
import { createSocket } from "node:dgram";
import { connect, isIPv6 } from "node:net";
import { parseArgs } from "node:util";
import { monotonicMs } from "./clock.ts";

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
const intervalMs = Number(values.interval ?? "10");
const timeoutMs = Number(values.timeout ?? "200");

interface Pending {
  readonly sentMs: number;
  readonly timer: NodeJS.Timeout;
}

function emit(seq: number, sentMs: number, node: string | null): void {
  const rttMs = node === null ? null : monotonicMs() - sentMs;
  process.stdout.write(`${JSON.stringify({ seq, sentMs, node, rttMs })}\n`);
}

function udpProbe(): (seq: number) => void {
  const socket = createSocket(isIPv6(target) ? "udp6" : "udp4");
  const pending = new Map<number, Pending>();
  // Replies are matched by sequence number, not by source address: a VIP's reply may leave from
  // the node's primary address.
  socket.on("message", (message) => {
    const { node, seq } = JSON.parse(message.toString()) as { node: string; seq: number };
    const request = pending.get(seq);
    if (request === undefined) return;
    clearTimeout(request.timer);
    pending.delete(seq);
    emit(seq, request.sentMs, node);
  });
  return (seq) => {
    const sentMs = monotonicMs();
    const timer = setTimeout(() => {
      pending.delete(seq);
      emit(seq, sentMs, null);
    }, timeoutMs);
    pending.set(seq, { sentMs, timer });
    socket.send(JSON.stringify({ seq }), port, target);
  };
}

function tcpProbe(seq: number): void {
  const sentMs = monotonicMs();
  let done = false;
  const finish = (node: string | null) => {
    if (done) return;
    done = true;
    socket.destroy();
    emit(seq, sentMs, node);
  };
  const socket = connect({ host: target, port }, () => socket.write(JSON.stringify({ seq })));
  socket.setTimeout(timeoutMs, () => {
    finish(null);
  });
  socket.on("data", (data) => {
    finish((JSON.parse(data.toString()) as { node: string }).node);
  });
  socket.on("error", () => {
    finish(null);
  });
}

const send = values.protocol === "tcp" ? tcpProbe : udpProbe();
let seq = 0;
const started = monotonicMs();
// Scheduled against the start time, not chained, so the probe rate does not drift with load.
const tick = () => {
  send(seq);
  seq += 1;
  setTimeout(tick, Math.max(0, started + seq * intervalMs - monotonicMs()));
};
process.stdout.write("probe started\n");
tick();
