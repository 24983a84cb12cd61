import test from "ava";
import { vipCapableMacs } from "../../src/net/published-macs.ts";

test("a node publishes the MACs of the interfaces a VIP can go on, and only those", (t) => {
  const links = [
    { index: 1, mac: "00:00:00:00:00:00" },
    { index: 2, mac: "02:00:00:00:00:0B" },
    { index: 3, mac: "02:00:00:00:01:0b" },
    { index: 4, mac: "ee:ee:ee:ee:ee:ee" },
    { index: 5, mac: "02:00:00:00:02:0b" },
    { index: 6, mac: null },
    { index: 7, mac: "02:00:00:00:03:0b" },
  ];
  const addresses = [
    { ifindex: 1, address: "127.0.0.1", prefixLength: 8 },
    { ifindex: 1, address: "::1", prefixLength: 128 },
    { ifindex: 2, address: "198.51.100.11", prefixLength: 24 },
    { ifindex: 2, address: "2001:db8:1::11", prefixLength: 64 },
    { ifindex: 3, address: "2001:db8:2::11", prefixLength: 64 },
    { ifindex: 4, address: "fe80::ecee:eeff:feee:eeee", prefixLength: 64 },
    { ifindex: 5, address: "198.51.100.200", prefixLength: 32 },
    { ifindex: 6, address: "203.0.113.11", prefixLength: 24 },
    { ifindex: 7, address: "203.0.113.11", prefixLength: 24 },
  ];
  t.deepEqual(vipCapableMacs(links, addresses), [
    "02:00:00:00:00:0b",
    "02:00:00:00:01:0b",
    "02:00:00:00:03:0b",
  ]);
});
