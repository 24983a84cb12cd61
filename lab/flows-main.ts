// Runs inside a client namespace: opens many UDP flows to one address at once, each from a source
// port of its own, and prints one JSON line per flow with the node that answered it (null when none
// did after a few tries), then "flows done". A router hashing on ports (fib_multipath_hash_policy 1)
// spreads such flows over the next hops of a multipath route; who answers shows where each one went.
import { createSocket, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    target: { type: "string" },
    port: { type: "string" },
    flows: { type: "string" },
    timeout: { type: "string" },
    tries: { type: "string" },
  },
});
const target = values.target ?? "";
const port = Number(values.port ?? "8080");
const flows = Number(values.flows ?? "64");
const timeoutMs = Number(values.timeout ?? "200");
const tries = Number(values.tries ?? "3");

// The echo server answers {"node", "seq"}; anything else is not an answer.
function answeringNode(message: Buffer): string | null {
  try {
    const { node } = JSON.parse(message.toString()) as { node?: unknown };
    return typeof node === "string" ? node : null;
  } catch {
    return null;
  }
}

function bound(socket: Socket): Promise<number> {
  return new Promise((resolve) => {
    // Port 0: the kernel picks a free ephemeral port, a different one for every open socket.
    socket.bind(0, () => {
      resolve(socket.address().port);
    });
  });
}

// Each try goes from the same socket, so from the same port: a retry is the same flow, hashed the
// same way, and only makes a lost datagram (a neighbour still being resolved) not count as no answer.
async function flow(seq: number): Promise<{ sourcePort: number; node: string | null }> {
  const socket = createSocket(isIPv6(target) ? "udp6" : "udp4");
  socket.on("error", (error) => process.stderr.write(`flows: ${error.message}\n`));
  const sourcePort = await bound(socket);
  try {
    for (let attempt = 0; attempt < tries; attempt++) {
      const node = await new Promise<string | null>((resolve) => {
        const timer = setTimeout(() => {
          socket.removeListener("message", onMessage);
          resolve(null);
        }, timeoutMs);
        const onMessage = (message: Buffer) => {
          const answered = answeringNode(message);
          if (answered === null) return;
          clearTimeout(timer);
          socket.removeListener("message", onMessage);
          resolve(answered);
        };
        socket.on("message", onMessage);
        socket.send(JSON.stringify({ seq }), port, target);
      });
      if (node !== null) return { sourcePort, node };
    }
    return { sourcePort, node: null };
  } finally {
    socket.close();
  }
}

const results = await Promise.all(Array.from({ length: flows }, (_, seq) => flow(seq)));
for (const result of results) process.stdout.write(`${JSON.stringify(result)}\n`);
process.stdout.write("flows done\n");
