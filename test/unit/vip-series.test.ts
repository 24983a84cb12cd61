import test from "ava";
import { announcedVips, desiredVips, type HeldAddress } from "../../src/metrics/vip-series.ts";

const FRONT = { namespace: "web", name: "front" };
const BACK = { namespace: "web", name: "back" };

test("an address is one series per Service sharing it, else per the Service it was installed for", (t) => {
  const held = new Map<string, HeldAddress>([
    ["198.51.100.10", { mode: "confirmed", interfaceName: "eth0", service: FRONT }],
    ["198.51.100.11", { mode: "degraded", interfaceName: "eth1", service: BACK }],
    ["2001:db8:1::5", { mode: "confirmed", interfaceName: "eth0", service: null }],
  ]);
  const sharing = new Map([["198.51.100.10", [FRONT, BACK]]]);
  t.deepEqual(
    announcedVips(held, (address) => sharing.get(address) ?? []),
    [
      {
        namespace: "web",
        service: "front",
        address: "198.51.100.10",
        interfaceName: "eth0",
        mode: "confirmed",
      },
      {
        namespace: "web",
        service: "back",
        address: "198.51.100.10",
        interfaceName: "eth0",
        mode: "confirmed",
      },
      {
        namespace: "web",
        service: "back",
        address: "198.51.100.11",
        interfaceName: "eth1",
        mode: "degraded",
      },
      { namespace: "", service: "", address: "2001:db8:1::5", interfaceName: "eth0", mode: "confirmed" },
    ],
  );
});

test("desired addresses are those with a demand, per Service sharing them", (t) => {
  const demands = new Map([
    ["198.51.100.10", FRONT],
    ["198.51.100.12", BACK],
  ]);
  const sharing = new Map([["198.51.100.10", [FRONT, BACK]]]);
  t.deepEqual(
    desiredVips(
      ["198.51.100.10", "198.51.100.11", "198.51.100.12"],
      (address) => demands.get(address) ?? null,
      (address) => sharing.get(address) ?? [],
    ),
    [
      { namespace: "web", service: "front", address: "198.51.100.10" },
      { namespace: "web", service: "back", address: "198.51.100.10" },
      { namespace: "web", service: "back", address: "198.51.100.12" },
    ],
  );
});
