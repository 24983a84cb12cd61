// Known-good frames were captured with `tcpdump -xx` on a veth pair between two throwaway network
// namespaces (Linux 6.18, iputils arping 20221126), with the MACs set to 02:00:00:00:00:0a (A,
// 198.51.100.10, 2001:db8:1::10) and 02:00:00:00:00:0b (B, 198.51.100.20, 2001:db8:1::20).
import test from "ava";
import {
  addressKey,
  arpProbe,
  buildArp,
  buildNeighbourMessage,
  claimedAddressKey,
  duplicateAddressProbe,
  gratuitousArpReply,
  gratuitousArpRequest,
  icmpv6Checksum,
  multicastMac,
  neighbourSolicitation,
  parseArp,
  parseNeighbourMessage,
  solicitedNodeAddress,
  unsolicitedNeighbourAdvertisement,
  type ArpFrame,
  type NeighbourMessage,
} from "../../src/net/packets.ts";

const MAC_A = "02:00:00:00:00:0a";
const MAC_B = "02:00:00:00:00:0b";

function hex(text: string): Buffer {
  return Buffer.from(text.replace(/\s+/g, ""), "hex");
}

const captured = {
  // The kernel's own announcement (net.ipv4.conf.*.arp_notify=1, link set up with the address on).
  kernelGratuitousRequest: hex(`
    ffff ffff ffff 0200 0000 000a 0806 0001 0800 0604 0001 0200 0000 000a c633 640a
    0000 0000 0000 c633 640a`),
  // arping -U -I va 198.51.100.10: the request form, which fills the target MAC with ff.
  arpingUnsolicited: hex(`
    ffff ffff ffff 0200 0000 000a 0806 0001 0800 0604 0001 0200 0000 000a c633 640a
    ffff ffff ffff c633 640a`),
  // arping -A -I va 198.51.100.10: the reply form.
  arpingAdvert: hex(`
    ffff ffff ffff 0200 0000 000a 0806 0001 0800 0604 0002 0200 0000 000a c633 640a
    0200 0000 000a c633 640a`),
  // arping -D -I va 198.51.100.20: a duplicate-address probe, target MAC ff rather than RFC 5227's 0.
  arpingProbe: hex(`
    ffff ffff ffff 0200 0000 000a 0806 0001 0800 0604 0001 0200 0000 000a 0000 0000
    ffff ffff ffff c633 6414`),
  // B's kernel answering that probe, unicast, to target IP 0.0.0.0.
  kernelProbeReply: hex(`
    0200 0000 000a 0200 0000 000b 0806 0001 0800 0604 0002 0200 0000 000b c633 6414
    0200 0000 000a 0000 0000`),
  // A's kernel resolving B for a ping, and B's reply.
  kernelRequest: hex(`
    ffff ffff ffff 0200 0000 000a 0806 0001 0800 0604 0001 0200 0000 000a c633 640a
    0000 0000 0000 c633 6414`),
  kernelReply: hex(`
    0200 0000 000a 0200 0000 000b 0806 0001 0800 0604 0002 0200 0000 000b c633 6414
    0200 0000 000a c633 640a`),
  // The kernel's unsolicited advertisement for an address added with net.ipv6.conf.va.ndisc_notify=1.
  kernelUnsolicitedAdvertisement: hex(`
    3333 0000 0001 0200 0000 000a 86dd 6000 0000 0020 3aff 2001 0db8 0001 0000 0000
    0000 0000 0010 ff02 0000 0000 0000 0000 0000 0000 0001 8800 f901 2000 0000 2001
    0db8 0001 0000 0000 0000 0000 0010 0201 0200 0000 000a`),
  // The kernel's duplicate address detection with net.ipv6.conf.all.enhanced_dad=0 (no nonce).
  kernelDadSolicitation: hex(`
    3333 ff00 0010 0200 0000 000a 86dd 6000 0000 0018 3aff 0000 0000 0000 0000 0000
    0000 0000 0000 ff02 0000 0000 0000 0000 0001 ff00 0010 8700 4cce 0000 0000 2001
    0db8 0001 0000 0000 0000 0000 0010`),
  // The same with enhanced DAD on (the default): a nonce option (type 14) follows.
  kernelDadSolicitationWithNonce: hex(`
    3333 ff00 0020 0200 0000 000b 86dd 6000 0000 0020 3aff 0000 0000 0000 0000 0000
    0000 0000 0000 ff02 0000 0000 0000 0000 0001 ff00 0020 8700 1579 0000 0000 2001
    0db8 0001 0000 0000 0000 0000 0020 0e01 b103 efcd 885a`),
  // A's kernel resolving B for ping -6, and B's solicited answer.
  kernelSolicitation: hex(`
    3333 ff00 0020 0200 0000 000a 86dd 6000 0000 0020 3aff 2001 0db8 0001 0000 0000
    0000 0000 0010 ff02 0000 0000 0000 0000 0001 ff00 0020 8700 1bd1 0000 0000 2001
    0db8 0001 0000 0000 0000 0000 0020 0101 0200 0000 000a`),
  kernelSolicitedAdvertisement: hex(`
    0200 0000 000a 0200 0000 000b 86dd 6000 0000 0020 3aff 2001 0db8 0001 0000 0000
    0000 0000 0020 2001 0db8 0001 0000 0000 0000 0000 0010 8800 8a1a 6000 0000 2001
    0db8 0001 0000 0000 0000 0000 0020 0201 0200 0000 000b`),
};

test("gratuitous ARP request is byte for byte the kernel's own announcement", (t) => {
  t.deepEqual(gratuitousArpRequest({ mac: MAC_A, ip: "198.51.100.10" }), captured.kernelGratuitousRequest);
});

test("gratuitous ARP reply is byte for byte what arping -A sends", (t) => {
  t.deepEqual(gratuitousArpReply({ mac: MAC_A, ip: "198.51.100.10" }), captured.arpingAdvert);
});

test("ARP probe is arping -D's probe with RFC 5227's zero target MAC", (t) => {
  const expected = Buffer.from(captured.arpingProbe);
  expected.fill(0, 32, 38);
  t.deepEqual(arpProbe({ mac: MAC_A, ip: "198.51.100.20" }), expected);
});

const arpTable: readonly { readonly name: keyof typeof captured; readonly parsed: ArpFrame }[] = [
  {
    name: "arpingUnsolicited",
    parsed: {
      destinationMac: "ff:ff:ff:ff:ff:ff",
      sourceMac: MAC_A,
      operation: "request",
      senderMac: MAC_A,
      senderIp: "198.51.100.10",
      targetMac: "ff:ff:ff:ff:ff:ff",
      targetIp: "198.51.100.10",
    },
  },
  {
    name: "arpingProbe",
    parsed: {
      destinationMac: "ff:ff:ff:ff:ff:ff",
      sourceMac: MAC_A,
      operation: "request",
      senderMac: MAC_A,
      senderIp: "0.0.0.0",
      targetMac: "ff:ff:ff:ff:ff:ff",
      targetIp: "198.51.100.20",
    },
  },
  {
    name: "kernelProbeReply",
    parsed: {
      destinationMac: MAC_A,
      sourceMac: MAC_B,
      operation: "reply",
      senderMac: MAC_B,
      senderIp: "198.51.100.20",
      targetMac: MAC_A,
      targetIp: "0.0.0.0",
    },
  },
  {
    name: "kernelRequest",
    parsed: {
      destinationMac: "ff:ff:ff:ff:ff:ff",
      sourceMac: MAC_A,
      operation: "request",
      senderMac: MAC_A,
      senderIp: "198.51.100.10",
      targetMac: "00:00:00:00:00:00",
      targetIp: "198.51.100.20",
    },
  },
  {
    name: "kernelReply",
    parsed: {
      destinationMac: MAC_A,
      sourceMac: MAC_B,
      operation: "reply",
      senderMac: MAC_B,
      senderIp: "198.51.100.20",
      targetMac: MAC_A,
      targetIp: "198.51.100.10",
    },
  },
];

for (const { name, parsed } of arpTable) {
  test(`ARP ${name}: parses, and builds back to the captured bytes`, (t) => {
    t.deepEqual(parseArp(captured[name]), parsed);
    t.deepEqual(buildArp(parsed), captured[name]);
  });
}

test("parseArp rejects what is not Ethernet/IPv4 ARP request or reply", (t) => {
  t.is(parseArp(captured.kernelSolicitation), undefined);
  t.is(parseArp(captured.kernelRequest.subarray(0, 41)), undefined);
  const rarp = Buffer.from(captured.kernelRequest);
  rarp.writeUInt16BE(3, 20);
  t.is(parseArp(rarp), undefined);
  const ipv6Arp = Buffer.from(captured.kernelRequest);
  ipv6Arp.writeUInt16BE(0x86dd, 16);
  t.is(parseArp(ipv6Arp), undefined);
});

test("parseArp reads a frame at an offset inside a larger buffer", (t) => {
  const pool = Buffer.concat([Buffer.alloc(7, 0xee), captured.kernelReply]);
  t.is(parseArp(pool.subarray(7))?.senderIp, "198.51.100.20");
});

test("unsolicited NA is byte for byte the kernel's ndisc_notify advertisement", (t) => {
  t.deepEqual(
    unsolicitedNeighbourAdvertisement({ mac: MAC_A, ip: "2001:db8:1::10" }),
    captured.kernelUnsolicitedAdvertisement,
  );
});

test("duplicate-address probe is byte for byte the kernel's DAD solicitation without nonce", (t) => {
  t.deepEqual(duplicateAddressProbe({ mac: MAC_A, ip: "2001:db8:1::10" }), captured.kernelDadSolicitation);
});

test("neighbour solicitation is byte for byte the kernel's address resolution", (t) => {
  t.deepEqual(
    neighbourSolicitation({ mac: MAC_A, sourceIp: "2001:db8:1::10", target: "2001:db8:1::20" }),
    captured.kernelSolicitation,
  );
});

const neighbourTable: readonly { readonly name: keyof typeof captured; readonly parsed: NeighbourMessage }[] =
  [
    {
      name: "kernelUnsolicitedAdvertisement",
      parsed: {
        type: "advertisement",
        destinationMac: "33:33:00:00:00:01",
        sourceMac: MAC_A,
        sourceIp: "2001:db8:1::10",
        destinationIp: "ff02::1",
        target: "2001:db8:1::10",
        router: false,
        solicited: false,
        override: true,
        targetLinkAddress: MAC_A,
      },
    },
    {
      name: "kernelSolicitedAdvertisement",
      parsed: {
        type: "advertisement",
        destinationMac: MAC_A,
        sourceMac: MAC_B,
        sourceIp: "2001:db8:1::20",
        destinationIp: "2001:db8:1::10",
        target: "2001:db8:1::20",
        router: false,
        solicited: true,
        override: true,
        targetLinkAddress: MAC_B,
      },
    },
    {
      name: "kernelSolicitation",
      parsed: {
        type: "solicitation",
        destinationMac: "33:33:ff:00:00:20",
        sourceMac: MAC_A,
        sourceIp: "2001:db8:1::10",
        destinationIp: "ff02::1:ff00:20",
        target: "2001:db8:1::20",
        sourceLinkAddress: MAC_A,
      },
    },
    {
      name: "kernelDadSolicitation",
      parsed: {
        type: "solicitation",
        destinationMac: "33:33:ff:00:00:10",
        sourceMac: MAC_A,
        sourceIp: "::",
        destinationIp: "ff02::1:ff00:10",
        target: "2001:db8:1::10",
        sourceLinkAddress: undefined,
      },
    },
  ];

for (const { name, parsed } of neighbourTable) {
  test(`NDP ${name}: parses, and builds back to the captured bytes`, (t) => {
    t.deepEqual(parseNeighbourMessage(captured[name]), parsed);
    t.deepEqual(buildNeighbourMessage(parsed), captured[name]);
  });
}

test("an NS with an option it does not know (the DAD nonce) still parses", (t) => {
  t.like(parseNeighbourMessage(captured.kernelDadSolicitationWithNonce), {
    type: "solicitation",
    sourceIp: "::",
    target: "2001:db8:1::20",
    sourceLinkAddress: undefined,
  });
});

test("captured ICMPv6 messages check out to zero with their checksum included", (t) => {
  for (const frame of [captured.kernelUnsolicitedAdvertisement, captured.kernelDadSolicitationWithNonce]) {
    const message = frame.subarray(54, 54 + frame.readUInt16BE(18));
    const sourceIp = parseNeighbourMessage(frame)?.sourceIp ?? "";
    const destinationIp = parseNeighbourMessage(frame)?.destinationIp ?? "";
    t.is(icmpv6Checksum({ sourceIp, destinationIp, message }), 0);
  }
});

test("the checksum field of a built NA is what the kernel computed", (t) => {
  const built = unsolicitedNeighbourAdvertisement({ mac: MAC_A, ip: "2001:db8:1::10" });
  t.is(built.readUInt16BE(56), 0xf901);
});

test("parseNeighbourMessage rejects a bad checksum, a routed hop limit, a nonzero code and a zero-length option", (t) => {
  const damaged = (offset: number, value: number): Buffer => {
    const frame = Buffer.from(captured.kernelSolicitation);
    frame.writeUInt8(value, offset);
    return frame;
  };
  t.truthy(parseNeighbourMessage(captured.kernelSolicitation));
  t.is(parseNeighbourMessage(damaged(57, 0)), undefined, "checksum");
  t.is(parseNeighbourMessage(damaged(21, 64)), undefined, "hop limit");
  t.is(parseNeighbourMessage(damaged(55, 1)), undefined, "code");
  t.is(parseNeighbourMessage(damaged(79, 0)), undefined, "option length 0");
  t.is(parseNeighbourMessage(captured.kernelSolicitation.subarray(0, 70)), undefined, "truncated");
  t.is(parseNeighbourMessage(captured.kernelRequest), undefined, "ARP");
});

test("round trip: parse(build(x)) is x for every message shape", (t) => {
  const shapes: NeighbourMessage[] = [
    {
      type: "advertisement",
      destinationMac: MAC_B,
      sourceMac: MAC_A,
      sourceIp: "fe80::1",
      destinationIp: "fe80::2",
      target: "2001:db8:1::abcd:ef01",
      router: true,
      solicited: true,
      override: false,
      targetLinkAddress: undefined,
    },
    {
      type: "solicitation",
      destinationMac: MAC_B,
      sourceMac: MAC_A,
      sourceIp: "2001:db8:1::1",
      destinationIp: "2001:db8:1::2",
      target: "2001:db8:1::2",
      sourceLinkAddress: "aa:bb:cc:dd:ee:ff",
    },
  ];
  for (const shape of shapes) t.deepEqual(parseNeighbourMessage(buildNeighbourMessage(shape)), shape);
  const arp: ArpFrame = {
    destinationMac: MAC_B,
    sourceMac: MAC_A,
    operation: "reply",
    senderMac: "aa:bb:cc:dd:ee:ff",
    senderIp: "198.51.100.254",
    targetMac: MAC_B,
    targetIp: "198.51.100.1",
  };
  t.deepEqual(parseArp(buildArp(arp)), arp);
});

test("solicited-node groups and their multicast MACs", (t) => {
  t.is(solicitedNodeAddress("2001:db8:1::abcd:ef01"), "ff02::1:ffcd:ef01");
  t.is(multicastMac("ff02::1:ffcd:ef01"), "33:33:ff:cd:ef:01");
  t.is(multicastMac("ff02::1"), "33:33:00:00:00:01");
});

test("builders refuse malformed addresses", (t) => {
  t.throws(() => gratuitousArpRequest({ mac: MAC_A, ip: "2001:db8:1::1" }), { instanceOf: TypeError });
  t.throws(() => gratuitousArpRequest({ mac: "02:00:00:00:0a", ip: "198.51.100.1" }), {
    instanceOf: TypeError,
  });
  t.throws(() => unsolicitedNeighbourAdvertisement({ mac: MAC_A, ip: "198.51.100.1" }), {
    instanceOf: TypeError,
  });
});

test("claimedAddressKey finds the address a frame may claim by position, as addressKey spells it", (t) => {
  const mac = "02:00:00:00:00:0b";
  const cases: { frame: Buffer; key: string | undefined }[] = [
    { frame: gratuitousArpRequest({ mac, ip: "198.51.100.7" }), key: addressKey("198.51.100.7") },
    { frame: gratuitousArpReply({ mac, ip: "198.51.100.7" }), key: "c6336407" },
    { frame: arpProbe({ mac, ip: "198.51.100.7" }), key: "00000000" },
    {
      frame: unsolicitedNeighbourAdvertisement({ mac, ip: "2001:db8::7" }),
      key: addressKey("2001:db8:0:0::7"),
    },
    { frame: duplicateAddressProbe({ mac, ip: "2001:db8::7" }), key: "20010db8000000000000000000000007" },
    { frame: Buffer.alloc(20), key: undefined },
    { frame: Buffer.alloc(10), key: undefined },
  ];
  for (const { frame, key } of cases) t.is(claimedAddressKey(frame), key);
});
