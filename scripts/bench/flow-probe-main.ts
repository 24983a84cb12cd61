// Runs in the far client's namespace: many UDP flows to one address, each from a socket of its own
// (its own source port, so the router's ECMP hash, which takes ports in, places each flow on its
// own), all sending one request per tick. Prints one JSON line per request: the flow, the tick,
// which node answered (null on timeout), timed on the lab's monotonic clock. Ending its input stops
// it, as lab/probe-main.ts.
import { createSocket, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { parseArgs } from "node:util";
import { monotonicNs } from "../../lab/clock.ts";

const { values } = parseArgs({
  options: {
    target: { type: "string" },
    port: { type: "string" },
    flows: { type: "string" },
    interval: { type: "string" },
    timeout: { type: "string" },
  },
});
const target = values.target ?? "";
const port = Number(values.port ?? "8080");
const flowCount = Number(values.flows ?? "32");
const intervalNs = Number(values.interval ?? "20") * 1e6;
const timeoutMs = Number(values.timeout ?? "200");

let inFlight = 0;
let stopping = false;

function report(flow: number, tick: number, sentNs: number, node: string | null): void {
  const rttUs = node === null ? null : Math.round((monotonicNs() - sentNs) / 1000);
  process.stdout.write(`${JSON.stringify({ flow, tick, sentNs, node, rttUs })}\n`);
  inFlight -= 1;
  if (stopping && inFlight === 0) process.exit(0);
}

function nodeOf(reply: string): { node: string | null; seq: unknown } {
  try {
    const { node, seq } = JSON.parse(reply) as { node?: unknown; seq?: unknown };
    return { node: typeof node === "string" ? node : null, seq };
  } catch {
    return { node: null, seq: null };
  }
}

interface Flow {
  readonly socket: Socket;
  readonly pending: Map<number, { sentNs: number; timer: NodeJS.Timeout }>;
}

function openFlow(flow: number): Promise<Flow> {
  const socket = createSocket(isIPv6(target) ? "udp6" : "udp4");
  const pending = new Map<number, { sentNs: number; timer: NodeJS.Timeout }>();
  // Matched by tick, not by source address: the answer may leave from the node's own address.
  socket.on("message", (message) => {
    const { node, seq } = nodeOf(message.toString());
    const request = typeof seq === "number" ? pending.get(seq) : undefined;
    if (request === undefined || typeof seq !== "number" || node === null) return;
    clearTimeout(request.timer);
    pending.delete(seq);
    report(flow, seq, request.sentNs, node);
  });
  socket.on("error", (error) => process.stderr.write(`flow probe ${flow}: ${error.message}\n`));
  return new Promise((resolve) => {
    socket.bind(0, () => {
      resolve({ socket, pending });
    });
  });
}

const flows = await Promise.all(Array.from({ length: flowCount }, (_, flow) => openFlow(flow)));

function send(tick: number): void {
  flows.forEach(({ socket, pending }, flow) => {
    inFlight += 1;
    const sentNs = monotonicNs();
    const timer = setTimeout(() => {
      pending.delete(tick);
      report(flow, tick, sentNs, null);
    }, timeoutMs);
    pending.set(tick, { sentNs, timer });
    socket.send(JSON.stringify({ seq: tick }), port, target);
  });
}

const startedNs = monotonicNs();
let tick = 0;
let timer: NodeJS.Timeout | undefined;
// On the start time's grid, as the lab's probe: missed slots are skipped, not sent in a burst.
const next = () => {
  send(tick);
  tick += 1;
  const nowNs = monotonicNs();
  const nextNs = startedNs + Math.ceil((nowNs - startedNs + 1) / intervalNs) * intervalNs;
  timer = setTimeout(next, (nextNs - nowNs) / 1e6);
};
process.stdin.on("end", () => {
  stopping = true;
  clearTimeout(timer);
  if (inFlight === 0) process.exit(0);
});
process.stdin.resume();
process.stdout.write(`flow probe started: ${flows.length} flows\n`);
next();
