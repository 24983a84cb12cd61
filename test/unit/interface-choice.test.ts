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
    { index: 1, name: "lo", up: true, carrier: true },
    { index: 2, name: "eth0", up: true, carrier: true },
    { index: 3, name: "eth1", up: true, carrier: false },
  ],
  addresses: [
    { ifindex: 1, address: "127.0.0.1", prefixLength: 8 },
    { ifindex: 2, address: "198.51.100.11", prefixLength: 24 },
    { ifindex: 2, address: "2001:db8:1::11", prefixLength: 64 },
    { ifindex: 3, address: "203.0.113.11", prefixLength: 24 },
    { ifindex: 3, address: "fe80::11", prefixLength: 64 },
    { ifindex: 3, address: "192.0.2.77", prefixLength: 32 },
  ],
};

const eth0: InterfaceChoiceResult = { ok: true, name: "eth0", index: 2, carrier: true };
const eth1: InterfaceChoiceResult = { ok: true, name: "eth1", index: 3, carrier: false };

const table: [string, Partial<InterfaceChoiceInput>, InterfaceChoiceResult][] = [
  ["the default route's interface by default", {}, eth0],
  ["--interface", { configured: "eth1" }, eth1],
  ["the annotation beats --interface", { configured: "eth0", override: "eth1" }, eth1],
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
    { links: [{ index: 2, name: "eth0", up: false, carrier: true }] },
    { ok: true, name: "eth0", index: 2, carrier: false },
  ],
];

for (const [what, overrides, expected] of table) {
  test(what, (t) => {
    t.deepEqual(chooseInterface({ ...base, ...overrides }), expected);
  });
}
