// Run by data-path.ts inside a network namespace: the cost of one send() on a kept-open packet
// socket, of opening and closing a socket per send, of one address add, replace (a lifetime
// refresh) and delete, and of refreshing one IPv6 VIP among many, in microseconds; JSON on stdout.
import { SERVICES_ADDRESS_PROTOCOL } from "../../src/net/address-ownership.ts";
import { Netlink } from "../../src/net/netlink.ts";
import { gratuitousArpRequest } from "../../src/net/packets.ts";
import { PacketSocket } from "../../src/net/packet-socket.ts";

const input = JSON.parse(process.argv[2] ?? "{}") as {
  interfaceName: string;
  mac: string;
  rounds: number;
  ipv6Among: number[];
};
const netlink = Netlink.open();
const link = netlink.listLinks().find((candidate) => candidate.name === input.interfaceName);
if (link === undefined) throw new Error(`no interface ${input.interfaceName}`);

function microsecondsPer(rounds: number, body: (round: number) => void): number {
  const started = process.hrtime.bigint();
  for (let round = 0; round < rounds; round += 1) body(round);
  return Number(process.hrtime.bigint() - started) / 1000 / rounds;
}

const frame = gratuitousArpRequest({ mac: input.mac, ip: "198.51.100.99" });
const socket = PacketSocket.open({ ifindex: link.index });
const send = microsecondsPer(input.rounds, () => {
  socket.send(frame);
});
socket.close();
const openSendClose = microsecondsPer(Math.max(1, input.rounds / 10), () => {
  const once = PacketSocket.open({ ifindex: link.index });
  once.send(frame);
  once.close();
});

const address = (round: number): string => `198.51.100.${String(100 + (round % 100))}`;
const options = (round: number) => ({
  ifindex: link.index,
  address: address(round),
  prefixLength: 32,
  protocol: SERVICES_ADDRESS_PROTOCOL,
  validLifetime: 60,
  preferredLifetime: 60,
});
const rounds = Math.min(input.rounds, 100);
const addAddress = microsecondsPer(rounds, (round) => {
  netlink.addAddress(options(round));
});
const replaceAddress = microsecondsPer(rounds, (round) => {
  netlink.addAddress({ ...options(round), replace: true });
});
const deleteAddress = microsecondsPer(rounds, (round) => {
  netlink.deleteAddress({ ifindex: link.index, address: address(round), prefixLength: 32 });
});

// Linux re-joins every multicast group of the interface on each IPv6 address change (ipv6_find_idev
// calls ipv6_mc_up), and each VIP has a solicited-node group: a refresh costs more the more VIPs
// the interface holds.
const ipv6Vip = (index: number): string => `2001:db8:1::2:${index.toString(16)}`;
const ipv6Options = (index: number) => ({
  ifindex: link.index,
  address: ipv6Vip(index),
  prefixLength: 128,
  protocol: SERVICES_ADDRESS_PROTOCOL,
  validLifetime: 60,
  preferredLifetime: 0,
  nodad: true,
  replace: true,
});
const ipv6RefreshAmong: Record<string, number> = {};
let held = 0;
for (const among of input.ipv6Among) {
  for (; held < among; held += 1) netlink.addAddress(ipv6Options(held));
  // Whole refresh rounds, enough of them for a thousand refreshes even among few.
  const refreshes = among * Math.ceil(1000 / among);
  ipv6RefreshAmong[among] = microsecondsPer(refreshes, (refresh) => {
    netlink.addAddress(ipv6Options(refresh % among));
  });
}
for (let index = 0; index < held; index += 1)
  netlink.deleteAddress({ ifindex: link.index, address: ipv6Vip(index), prefixLength: 128 });
netlink.close();
process.stdout.write(
  JSON.stringify({ send, openSendClose, addAddress, replaceAddress, deleteAddress, ipv6RefreshAmong }),
);
