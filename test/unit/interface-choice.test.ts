import test from "ava";
import {
  chooseInterface,
  type InterfaceChoiceInput,
  type InterfaceChoiceResult,
  type InterfaceProblem,
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

/** A choice as the tables state it: a refusal by its code, not by its sentence. */
type Expected =
  Extract<InterfaceChoiceResult, { ok: true }> | { readonly ok: false; readonly code: InterfaceProblem };

function expectedOf(choice: InterfaceChoiceResult): Expected {
  return choice.ok ? choice : { ok: false, code: choice.code };
}

const table: [string, Partial<InterfaceChoiceInput>, Expected][] = [
  ["the default route's interface by default", {}, eth0],
  ["--interface", { configured: "eth1", vips: ["203.0.113.200"] }, eth1],
  [
    "the annotation beats --interface",
    { configured: "eth0", override: "eth1", vips: ["203.0.113.200"] },
    eth1,
  ],
  ["an unknown interface", { configured: "bond7" }, { ok: false, code: "unknown-interface" }],
  ["no default route", { defaultRouteIfindex: null }, { ok: false, code: "no-default-route" }],
  ["auto: IPv4 subnet", { configured: "auto" }, eth0],
  [
    "an IPv6 VIP on an interface without IPv6",
    { configured: "eth1", vips: ["2001:db8:1::200"] },
    { ok: false, code: "no-address-of-family" },
  ],
  [
    "another VIP (a host route) does not give an interface a family",
    {
      configured: "eth1",
      vips: ["192.0.2.78"],
      addresses: [{ ifindex: 3, address: "192.0.2.77", prefixLength: 32 }],
    },
    { ok: false, code: "no-address-of-family" },
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
    { ok: false, code: "no-subnet-contains-vip" },
  ],
  [
    "auto: no subnet",
    { configured: "auto", vips: ["192.0.2.10"] },
    { ok: false, code: "no-subnet-contains-vip" },
  ],
  [
    "auto: VIPs on different interfaces",
    { configured: "auto", vips: ["198.51.100.200", "203.0.113.50"] },
    { ok: false, code: "different-interfaces" },
  ],
  [
    "a link that is down has no carrier for rule 7",
    { links: [{ ...ETH0, up: false, mac: "02:00:00:00:00:0b" }] },
    { ok: true, name: "eth0", index: 2, carrier: false },
  ],
  ["a loopback interface cannot carry ARP", { override: "lo" }, { ok: false, code: "no-arp" }],
  [
    "neither can a NOARP link, even on the VIP's subnet",
    { links: [{ ...ETH0, mac: "02:00:00:00:00:0b", noArp: true }] },
    { ok: false, code: "no-arp" },
  ],
  [
    "nor a link without a hardware address (a tun device)",
    { links: [{ ...ETH0, mac: null }] },
    { ok: false, code: "no-arp" },
  ],
  [
    "nor one whose hardware address is not Ethernet's (an ipip tunnel's four bytes)",
    { links: [{ ...ETH0, mac: "c6:33:64:0b" }] },
    { ok: false, code: "no-arp" },
  ],
  [
    "auto: a subnet on a link that cannot carry ARP is refused too",
    {
      configured: "auto",
      links: [{ ...ETH0, mac: "02:00:00:00:00:0b", noArp: true }],
    },
    { ok: false, code: "no-arp" },
  ],
  [
    "the network address of the interface's subnet",
    { vips: ["198.51.100.0"] },
    { ok: false, code: "network-address" },
  ],
  [
    "the broadcast address of the interface's subnet",
    { vips: ["198.51.100.255"] },
    { ok: false, code: "broadcast-address" },
  ],
  [
    "auto: the broadcast address is refused on the interface auto finds",
    { configured: "auto", vips: ["203.0.113.255"] },
    { ok: false, code: "broadcast-address" },
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
    { ok: false, code: "broadcast-address" },
  ],
  [
    "the off-subnet opt-in does not allow the broadcast address",
    { vips: ["198.51.100.255"], allowOffSubnet: true },
    { ok: false, code: "broadcast-address" },
  ],
  [
    "a /30 still has a network and a broadcast address",
    { vips: ["198.51.100.3"], addresses: [{ ifindex: 2, address: "198.51.100.1", prefixLength: 30 }] },
    { ok: false, code: "broadcast-address" },
  ],
  [
    "a /31 has neither (RFC 3021): both its addresses are hosts",
    { vips: ["198.51.100.0"], addresses: [{ ifindex: 2, address: "198.51.100.1", prefixLength: 31 }] },
    eth0,
  ],
  ["the first address of an IPv6 subnet is an ordinary address to vipd", { vips: ["2001:db8:1::"] }, eth0],
  ["an address next to the broadcast address is a host", { vips: ["198.51.100.254"] }, eth0],
  ["a VIP in no subnet of the interface", { vips: ["203.0.113.77"] }, { ok: false, code: "off-subnet" }],
  [
    "an IPv6 VIP in no subnet of the interface",
    { vips: ["2001:db8:2::77"] },
    { ok: false, code: "off-subnet" },
  ],
  [
    "a subnet of another interface does not count for this one",
    { configured: "eth0", vips: ["203.0.113.50"] },
    { ok: false, code: "off-subnet" },
  ],
  [
    "nor does a host route on the interface",
    {
      vips: ["192.0.2.78"],
      addresses: [...base.addresses, { ifindex: 2, address: "192.0.2.78", prefixLength: 32 }],
    },
    { ok: false, code: "off-subnet" },
  ],
  ["off-subnet with the opt-in", { vips: ["203.0.113.77"], allowOffSubnet: true }, eth0],
  [
    "the opt-in does not give an interface a family it lacks",
    { configured: "eth1", vips: ["2001:db8:2::77"], allowOffSubnet: true },
    { ok: false, code: "no-address-of-family" },
  ],
];

for (const [what, overrides, expected] of table) {
  test(what, (t) => {
    t.deepEqual(expectedOf(chooseInterface({ ...base, ...overrides })), expected);
  });
}
