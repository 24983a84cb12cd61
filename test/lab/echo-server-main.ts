// Runs inside a node's namespace, standing in for kube-proxy and the pods behind a Service: it
// answers every UDP datagram and TCP connection on the service port with the node's name, on any
// address the node holds (it binds the wildcard), so a VIP answers as soon as it is added.
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { name: { type: "string" }, port: { type: "string" } } });
const name = values.name ?? "unknown";
const port = Number(values.port ?? "8080");

function reply(request: string): string {
  let seq: unknown = null;
  try {
    seq = (JSON.parse(request) as { seq?: unknown }).seq ?? null;
  } catch {
    seq = null;
  }
  return JSON.stringify({ node: name, seq });
}

for (const family of ["udp4", "udp6"] as const) {
  const socket = createSocket({ type: family, ipv6Only: family === "udp6" });
  socket.on("message", (message, remote) => {
    socket.send(reply(message.toString()), remote.port, remote.address);
  });
  socket.bind(port, family === "udp4" ? "0.0.0.0" : "::");
}

const tcp = createServer((connection) => {
  connection.once("data", (data) => {
    connection.end(reply(data.toString()));
  });
  connection.on("error", () => connection.destroy());
});
tcp.listen({ port, host: "::", ipv6Only: false }, () => {
  process.stdout.write(`echo ${name} listening on ${port}\n`);
});
