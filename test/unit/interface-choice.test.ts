import test from "ava";
import {
  chooseInterface,
  type InterfaceChoiceInput,
  type InterfaceChoiceResult,
} from "../../src/net/interface-choice.ts";

const base: InterfaceChoiceInput = {
  vips: ["198.51.100.200"],
  override: undefined,
  configured: undefined,
  defaultRouteIfindex: 2,
  links: [
    { index: 1, name: "lo", up: true, carrier: true, mac: "00:00:00:00:00:00", loopback: true, noArp: false },
    {
      index: 2,
      name: "eth0",
      up: true,
      carrier: true,
      mac: "02:00:00:00:00:0b",
      loopback: false,
      noArp: false,
    },
    {
      index: 3,
      name: "eth1",
      up: true,
      carrier: false,
      mac: "02:00:00:00:01:0b",
      loopback: false,
      noArp: false,
    },
  ],
  addresses: [
    { ifindex: 1, address: "127.0.0.1", prefixLength: 8 },
    { ifindex: 2, address: "198.51.100.11", prefixLength: 24 },
    { ifindex: 2, address: "2001:db8:1::11", prefixLength: 64 },
    { ifindex: 3, address: "203.0.113.11", prefixLength: 24 },
    { ifindex: 3, address: "fe80::11", prefixLength: 64 },
    { ifindex: 3, address: "192.0.2.77", prefixLength: 32 },
  ],
  allowOffSubnet: false,
};

const ETH0 = { index: 2, name: "eth0", up: true, carrier: true, loopback: false, noArp: false };

const eth0: InterfaceChoiceResult = { ok: true, name: "eth0", index: 2, carrier: true };
const eth1: InterfaceChoiceResult = { ok: true, name: "eth1", index: 3, carrier: false };

const table: [string, Partial<InterfaceChoiceInput>, InterfaceChoiceResult][] = [
  ["the default route's interface by default", {}, eth0],
  ["--interface", { configured: "eth1", vips: ["203.0.113.200"] }, eth1],
  [
    "the annotation beats --interface",
    { configured: "eth0", override: "eth1", vips: ["203.0.113.200"] },
    eth1,
  ],
  ["an unknown interface", { configured: "bond7" }, { ok: false, reason: "interface bond7 does not exist" }],
  [
    "no default route",
    { defaultRouteIfindex: null },
    { ok: false, reason: "no default route, and no --interface given" },
  ],
  ["auto: IPv4 subnet", { configured: "auto" }, eth0],
  [
    "an IPv6 VIP on an interface without IPv6",
    { configured: "eth1", vips: ["2001:db8:1::200"] },
    { ok: false, reason: "interface eth1 has no IPv6 address for 2001:db8:1::200" },
  ],
  [
    "another VIP (a host route) does not give an interface a family",
    {
      configured: "eth1",
      vips: ["192.0.2.78"],
      addresses: [{ ifindex: 3, address: "192.0.2.77", prefixLength: 32 }],
    },
    { ok: false, reason: "interface eth1 has no IPv4 address for 192.0.2.78" },
  ],
  ["a dual-stack pair on a dual-stack interface", { vips: ["198.51.100.200", "2001:db8:1::200"] }, eth0],
  [
    "auto: dual-stack on one interface",
    { configured: "auto", vips: ["198.51.100.200", "2001:db8:1::200"] },
    eth0,
  ],
  ["auto: another subnet", { override: "auto", vips: ["203.0.113.50"] }, eth1],
  [
    "auto: a host address (another VIP) is not a subnet",
    { configured: "auto", vips: ["192.0.2.77"] },
    { ok: false, reason: "no interface has a subnet containing 192.0.2.77" },
  ],
  [
    "auto: no subnet",
    { configured: "auto", vips: ["192.0.2.10"] },
    { ok: false, reason: "no interface has a subnet containing 192.0.2.10" },
  ],
  [
    "auto: VIPs on different interfaces",
    { configured: "auto", vips: ["198.51.100.200", "203.0.113.50"] },
    { ok: false, reason: "the VIPs are on different interfaces (eth0, eth1)" },
  ],
  [
    "a link that is down has no carrier for rule 7",
    { links: [{ ...ETH0, up: false, mac: "02:00:00:00:00:0b" }] },
    { ok: true, name: "eth0", index: 2, carrier: false },
  ],
  [
    "a loopback interface cannot carry ARP",
    { override: "lo" },
    { ok: false, reason: "interface lo cannot carry ARP or NDP (loopback)" },
  ],
  [
    "neither can a NOARP link, even on the VIP's subnet",
    { links: [{ ...ETH0, mac: "02:00:00:00:00:0b", noArp: true }] },
    { ok: false, reason: "interface eth0 cannot carry ARP or NDP (NOARP)" },
  ],
  [
    "nor a link without a hardware address (a tun device)",
    { links: [{ ...ETH0, mac: null }] },
    { ok: false, reason: "interface eth0 cannot carry ARP or NDP (no Ethernet address)" },
  ],
  [
    "nor one whose hardware address is not Ethernet's (an ipip tunnel's four bytes)",
    { links: [{ ...ETH0, mac: "c6:33:64:0b" }] },
    { ok: false, reason: "interface eth0 cannot carry ARP or NDP (no Ethernet address)" },
  ],
  [
    "auto: a subnet on a link that cannot carry ARP is refused too",
    {
      configured: "auto",
      links: [{ ...ETH0, mac: "02:00:00:00:00:0b", noArp: true }],
    },
    { ok: false, reason: "interface eth0 cannot carry ARP or NDP (NOARP)" },
  ],
  [
    "the network address of the interface's subnet",
    { vips: ["198.51.100.0"] },
    { ok: false, reason: "198.51.100.0 is the network address of eth0's subnet 198.51.100.0/24" },
  ],
  [
    "the broadcast address of the interface's subnet",
    { vips: ["198.51.100.255"] },
    { ok: false, reason: "198.51.100.255 is the broadcast address of eth0's subnet 198.51.100.0/24" },
  ],
  [
    "auto: the broadcast address is refused on the interface auto finds",
    { configured: "auto", vips: ["203.0.113.255"] },
    { ok: false, reason: "203.0.113.255 is the broadcast address of eth1's subnet 203.0.113.0/24" },
  ],
  [
    "network and broadcast of every subnet that contains the VIP, not only the first",
    {
      vips: ["198.51.100.127"],
      addresses: [
        { ifindex: 2, address: "198.51.100.11", prefixLength: 24 },
        { ifindex: 2, address: "198.51.100.100", prefixLength: 25 },
      ],
    },
    { ok: false, reason: "198.51.100.127 is the broadcast address of eth0's subnet 198.51.100.0/25" },
  ],
  [
    "the off-subnet opt-in does not allow the broadcast address",
    { vips: ["198.51.100.255"], allowOffSubnet: true },
    { ok: false, reason: "198.51.100.255 is the broadcast address of eth0's subnet 198.51.100.0/24" },
  ],
  [
    "a /30 still has a network and a broadcast address",
    { vips: ["198.51.100.3"], addresses: [{ ifindex: 2, address: "198.51.100.1", prefixLength: 30 }] },
    { ok: false, reason: "198.51.100.3 is the broadcast address of eth0's subnet 198.51.100.0/30" },
  ],
  [
    "a /31 has neither (RFC 3021): both its addresses are hosts",
    { vips: ["198.51.100.0"], addresses: [{ ifindex: 2, address: "198.51.100.1", prefixLength: 31 }] },
    eth0,
  ],
  ["the first address of an IPv6 subnet is an ordinary address to vipd", { vips: ["2001:db8:1::"] }, eth0],
  ["an address next to the broadcast address is a host", { vips: ["198.51.100.254"] }, eth0],
  [
    "a VIP in no subnet of the interface",
    { vips: ["203.0.113.77"] },
    {
      ok: false,
      reason:
        "203.0.113.77 is in no subnet of eth0, so no neighbour would send to it there (--allow-off-subnet-vips allows it)",
    },
  ],
  [
    "an IPv6 VIP in no subnet of the interface",
    { vips: ["2001:db8:2::77"] },
    {
      ok: false,
      reason:
        "2001:db8:2::77 is in no subnet of eth0, so no neighbour would send to it there (--allow-off-subnet-vips allows it)",
    },
  ],
  [
    "a subnet of another interface does not count for this one",
    { configured: "eth0", vips: ["203.0.113.50"] },
    {
      ok: false,
      reason:
        "203.0.113.50 is in no subnet of eth0, so no neighbour would send to it there (--allow-off-subnet-vips allows it)",
    },
  ],
  [
    "nor does a host route on the interface",
    {
      vips: ["192.0.2.78"],
      addresses: [...base.addresses, { ifindex: 2, address: "192.0.2.78", prefixLength: 32 }],
    },
    {
      ok: false,
      reason:
        "192.0.2.78 is in no subnet of eth0, so no neighbour would send to it there (--allow-off-subnet-vips allows it)",
    },
  ],
  ["off-subnet with the opt-in", { vips: ["203.0.113.77"], allowOffSubnet: true }, eth0],
  [
    "the opt-in does not give an interface a family it lacks",
    { configured: "eth1", vips: ["2001:db8:2::77"], allowOffSubnet: true },
    { ok: false, reason: "interface eth1 has no IPv6 address for 2001:db8:2::77" },
  ],
];

for (const [what, overrides, expected] of table) {
  test(what, (t) => {
    t.deepEqual(chooseInterface({ ...base, ...overrides }), expected);
  });
}
