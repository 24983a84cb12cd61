// Runs inside a node's namespace, standing in for kube-proxy and the pods behind a Service: it
// answers every UDP datagram and TCP connection on the service port with the node's name and the
// request's sequence number. It binds the wildcard address, so a VIP added to the node later is
// answered the moment it is added.
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

const udpBound = (["udp4", "udp6"] as const).map((family) => {
  const socket = createSocket({ type: family, ipv6Only: family === "udp6" });
  socket.on("message", (message, remote) => {
    socket.send(reply(message.toString()), remote.port, remote.address);
  });
  return new Promise<void>((resolve) => {
    socket.bind(port, family === "udp4" ? "0.0.0.0" : "::", resolve);
  });
});

const tcp = createServer((connection) => {
  connection.once("data", (data) => {
    connection.end(reply(data.toString()));
  });
  connection.on("error", () => connection.destroy());
});
const tcpListening = new Promise<void>((resolve) => {
  tcp.listen({ port, host: "::", ipv6Only: false }, resolve);
});

await Promise.all([...udpBound, tcpListening]);
// The lab holds the other end of stdin: when it goes, even by SIGKILL, so does this server.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
process.stdout.write(`echo ${name} listening on ${port}\n`);
