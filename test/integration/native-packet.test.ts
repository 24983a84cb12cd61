// The AF_PACKET socket and the frames of src/net/packets.ts against real kernels: namespace A sends
// through the socket, namespace B's kernel answers or updates its neighbour tables. Needs root.
import test from "ava";
import { setTimeout as sleep } from "node:timers/promises";
import {
  arpProbe,
  duplicateAddressProbe,
  gratuitousArpReply,
  gratuitousArpRequest,
  neighbourSolicitation,
  parseArp,
  parseNeighbourMessage,
  unsolicitedNeighbourAdvertisement,
} from "../../src/net/packets.ts";
import { createPair, ip, PAIR, requireRoot, sysctl, type NamespacePair } from "./fixtures/namespace-pair.ts";
import type { ExchangeOutput } from "./fixtures/packet-exchange.ts";
import { killFixtures, runFixture } from "./fixtures/run-fixture.ts";

const STRANGER_MAC = "02:00:00:00:00:99";
// Long enough for B's kernel to answer; it does so within microseconds on a veth.
const LISTEN_MS = 500;

let pair: NamespacePair;

test.before(() => {
  requireRoot();
  pair = createPair("p");
});

test.after.always(() => {
  killFixtures();
  pair.remove();
});

function exchange(frames: readonly Buffer[]): Promise<ExchangeOutput> {
  return runFixture<ExchangeOutput>(pair.a, "packet-exchange.ts", {
    interfaceName: PAIR.interfaceA,
    send: frames.map((frame) => frame.toString("hex")),
    listenMs: LISTEN_MS,
  });
}

function incoming(output: ExchangeOutput): Buffer[] {
  return output.frames.filter((frame) => !frame.outgoing).map((frame) => Buffer.from(frame.hex, "hex"));
}

/** The packet types of the frames received whose bytes pass the check. */
function packetTypesOf(output: ExchangeOutput, matches: (frame: Buffer) => boolean): string[] {
  return output.frames
    .filter((frame) => matches(Buffer.from(frame.hex, "hex")))
    .map((frame) => frame.pktType);
}

/** B's neighbour entry for the address: its MAC (lladdr), or undefined when there is none. */
function neighbourOnB(address: string): string | undefined {
  const shown = ip("-n", pair.b, "neigh", "show", address, "dev", PAIR.interfaceB);
  return /lladdr (\S+)/.exec(shown)?.[1];
}

async function eventually<T>(read: () => T, expected: T): Promise<T> {
  const deadline = Date.now() + 3000;
  let current = read();
  while (current !== expected && Date.now() < deadline) {
    await sleep(50);
    current = read();
  }
  return current;
}

test.serial("a gratuitous ARP reply moves B's existing entry for the VIP to our MAC", async (t) => {
  // A takeover: B still has the VIP at the old holder's MAC. Updating an existing entry needs no
  // sysctl; the reply form counts as gratuitous because its target MAC equals the sender's.
  ip(
    "-n",
    pair.b,
    "neigh",
    "replace",
    "198.51.100.71",
    "lladdr",
    STRANGER_MAC,
    "dev",
    PAIR.interfaceB,
    "nud",
    "stale",
  );
  t.is(neighbourOnB("198.51.100.71"), STRANGER_MAC);
  await exchange([gratuitousArpReply({ mac: PAIR.macA, ip: "198.51.100.71" })]);
  t.is(await eventually(() => neighbourOnB("198.51.100.71"), PAIR.macA), PAIR.macA);
});

test.serial(
  "a gratuitous ARP request moves B's existing entry too, and creates one with arp_accept",
  async (t) => {
    ip(
      "-n",
      pair.b,
      "neigh",
      "replace",
      "198.51.100.72",
      "lladdr",
      STRANGER_MAC,
      "dev",
      PAIR.interfaceB,
      "nud",
      "stale",
    );
    await exchange([gratuitousArpRequest({ mac: PAIR.macA, ip: "198.51.100.72" })]);
    t.is(await eventually(() => neighbourOnB("198.51.100.72"), PAIR.macA), PAIR.macA);

    // Linux does not create neighbour entries from unsolicited ARP unless arp_accept is on (so that
    // strangers cannot fill the table); with it, B learns a VIP it has never talked to.
    await exchange([gratuitousArpRequest({ mac: PAIR.macA, ip: "198.51.100.73" })]);
    t.is(neighbourOnB("198.51.100.73"), undefined, "no entry without arp_accept");
    sysctl(pair.b, `net.ipv4.conf.${PAIR.interfaceB}.arp_accept=1`);
    await exchange([gratuitousArpRequest({ mac: PAIR.macA, ip: "198.51.100.73" })]);
    t.is(await eventually(() => neighbourOnB("198.51.100.73"), PAIR.macA), PAIR.macA);
  },
);

test.serial("an RFC 5227 probe for B's address gets B's reply", async (t) => {
  const output = await exchange([arpProbe({ mac: PAIR.macA, ip: PAIR.ipv4B })]);
  const replies = incoming(output)
    .map(parseArp)
    .filter((arp) => arp?.operation === "reply");
  t.deepEqual(replies, [
    {
      destinationMac: PAIR.macA,
      sourceMac: PAIR.macB,
      operation: "reply",
      senderMac: PAIR.macB,
      senderIp: PAIR.ipv4B,
      targetMac: PAIR.macA,
      targetIp: "0.0.0.0",
    },
  ]);
  t.deepEqual(
    packetTypesOf(output, (frame) => parseArp(frame)?.operation === "reply"),
    ["host"],
  );
  t.true(output.frames.every((frame) => frame.ifindex === output.ifindex));
});

test.serial("an NS for B's IPv6 address gets a solicited NA with B's MAC", async (t) => {
  const output = await exchange([
    neighbourSolicitation({ mac: PAIR.macA, sourceIp: PAIR.ipv6A, target: PAIR.ipv6B }),
  ]);
  const answers = incoming(output)
    .map(parseNeighbourMessage)
    .filter((message) => message?.type === "advertisement");
  t.deepEqual(answers, [
    {
      type: "advertisement",
      destinationMac: PAIR.macA,
      sourceMac: PAIR.macB,
      sourceIp: PAIR.ipv6B,
      destinationIp: PAIR.ipv6A,
      target: PAIR.ipv6B,
      router: false,
      solicited: true,
      override: true,
      targetLinkAddress: PAIR.macB,
    },
  ]);
});

test.serial("a duplicate-address probe for B's IPv6 address gets B's NA to all nodes", async (t) => {
  const output = await exchange([duplicateAddressProbe({ mac: PAIR.macA, ip: PAIR.ipv6B })]);
  const answers = incoming(output)
    .map(parseNeighbourMessage)
    .filter((message) => message?.type === "advertisement");
  t.deepEqual(answers, [
    {
      type: "advertisement",
      destinationMac: "33:33:00:00:00:01",
      sourceMac: PAIR.macB,
      sourceIp: PAIR.ipv6B,
      destinationIp: "ff02::1",
      target: PAIR.ipv6B,
      router: false,
      solicited: false,
      override: true,
      targetLinkAddress: PAIR.macB,
    },
  ]);
  t.deepEqual(
    packetTypesOf(output, (frame) => parseNeighbourMessage(frame)?.type === "advertisement"),
    ["multicast"],
  );
});

test.serial("an unsolicited NA with override moves B's neighbour entry for the VIP to our MAC", async (t) => {
  ip(
    "-n",
    pair.b,
    "neigh",
    "replace",
    "2001:db8:1::70",
    "lladdr",
    STRANGER_MAC,
    "dev",
    PAIR.interfaceB,
    "nud",
    "stale",
  );
  t.is(neighbourOnB("2001:db8:1::70"), STRANGER_MAC);
  await exchange([unsolicitedNeighbourAdvertisement({ mac: PAIR.macA, ip: "2001:db8:1::70" })]);
  t.is(await eventually(() => neighbourOnB("2001:db8:1::70"), PAIR.macA), PAIR.macA);
});

test.serial(
  "the filter passes only ARP and NA; frames from other sockets come marked outgoing",
  async (t) => {
    const ipv4 = Buffer.alloc(34);
    ipv4.set([0x33, 0x33, 0, 0, 0, 1], 0);
    ipv4.writeUInt16BE(0x0800, 12);
    ipv4.writeUInt8(0x45, 14);
    const advertisement = unsolicitedNeighbourAdvertisement({ mac: PAIR.macA, ip: "2001:db8:1::71" });
    const icmpType = (type: number): Buffer => {
      const frame = Buffer.from(advertisement);
      frame.writeUInt8(type, 54);
      return frame;
    };
    const arp = gratuitousArpRequest({ mac: PAIR.macA, ip: "198.51.100.74" });
    const solicitation = duplicateAddressProbe({ mac: PAIR.macA, ip: "2001:db8:1::72" });
    // Echo request (128) and router solicitation (133) are ICMPv6 too, and must not pass; nor may a
    // neighbour solicitation, which asks for an address and never claims one.
    const output = await exchange([ipv4, icmpType(128), icmpType(133), arp, solicitation, advertisement]);
    const seen = output.frames.filter((frame) => frame.pktType === "outgoing").map((frame) => frame.hex);
    t.deepEqual(
      seen,
      [arp, advertisement].map((frame) => frame.toString("hex")),
    );
    t.true(output.frames.every((frame) => frame.outgoing === (frame.pktType === "outgoing")));
  },
);

test.serial("B's kernel answers our NS only because its checksum is right", async (t) => {
  const good = neighbourSolicitation({ mac: PAIR.macA, sourceIp: PAIR.ipv6A, target: PAIR.ipv6B });
  const damaged = Buffer.from(good);
  damaged.writeUInt16BE(damaged.readUInt16BE(56) ^ 0xffff, 56);
  t.is(parseNeighbourMessage(damaged), undefined);
  const output = await exchange([damaged]);
  t.deepEqual(
    incoming(output).filter((frame) => parseNeighbourMessage(frame)?.type === "advertisement"),
    [],
  );
  const control = await exchange([good]);
  t.is(incoming(control).filter((frame) => parseNeighbourMessage(frame)?.type === "advertisement").length, 1);
});
