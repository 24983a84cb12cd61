// Runs inside the client namespace: every interval it forgets the client's neighbours on its LAN
// link and sends one UDP datagram to each target, so that its kernel asks for each afresh (an ARP
// request, a neighbour solicitation) and every node that holds one answers on the wire. A client
// that remembered its neighbours would ask again only when an entry went stale, and would then ask
// the remembered MAC alone. Ending its input stops it.
import { execFileSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { isIPv6 } from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    targets: { type: "string" },
    ifname: { type: "string" },
    interval: { type: "string" },
  },
});
const targets = (values.targets ?? "").split(",").filter((target) => target !== "");
const ifname = values.ifname ?? "eth0";
const intervalMs = Number(values.interval ?? "250");
// The discard port: the datagram is only there to make the kernel resolve its destination.
const PORT = 9;
const QUESTION = Buffer.from("who has this address?");

const sockets = { 4: createSocket("udp4"), 6: createSocket("udp6") };
// A destination nobody answers for fails its sends once its lookup fails: expected, and no answer.
for (const socket of Object.values(sockets)) socket.on("error", () => undefined);

function ask(): void {
  execFileSync("ip", ["neigh", "flush", "dev", ifname]);
  for (const target of targets) sockets[isIPv6(target) ? 6 : 4].send(QUESTION, PORT, target, () => undefined);
}

ask();
const timer = setInterval(ask, intervalMs);
process.stdin.on("end", () => {
  clearInterval(timer);
  process.exit(0);
});
process.stdin.resume();
process.stdout.write("asker started\n");
