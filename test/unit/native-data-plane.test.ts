import test from "ava";
import type { FrameChannel } from "../../src/net/announcer.ts";
import { NativeDataPlane } from "../../src/net/native-data-plane.ts";
import {
  VIPD_ADDRESS_PROTOCOL,
  type AddAddressOptions,
  type Address,
  type Link,
} from "../../src/net/netlink.ts";

const LAN: Link = {
  index: 2,
  name: "lan0",
  mac: "02:00:00:00:00:0b",
  mtu: 1500,
  operstate: "up",
  carrier: true,
  up: true,
  loopback: false,
  noArp: false,
};

/** The kernel's address table as far as the data plane sees it, with a log of every change. */
class FakeAddressTable {
  readonly addresses = new Map<string, Address>();
  readonly log: string[] = [];

  listLinks(): Link[] {
    return [LAN];
  }

  listAddresses(): Address[] {
    return [...this.addresses.values()];
  }

  addAddress(options: AddAddressOptions): void {
    this.log.push(`add ${options.address}`);
    this.addresses.set(options.address, {
      ifindex: options.ifindex,
      family: options.address.includes(":") ? 6 : 4,
      address: options.address,
      prefixLength: options.prefixLength,
      protocol: options.protocol,
      validLifetime: options.validLifetime,
      preferredLifetime: options.preferredLifetime,
      flags: [],
      label: "",
    });
  }

  deleteAddress(key: { address: string }): void {
    this.log.push(`delete ${key.address}`);
    this.addresses.delete(key.address);
  }

  defaultRouteInterface(): number | null {
    return LAN.index;
  }
}

const silentChannel: FrameChannel = {
  send: () => undefined,
  receive: () => undefined,
  close: () => undefined,
};

function dataPlane(table: FakeAddressTable, addressLifetimeMs: number): NativeDataPlane {
  return new NativeDataPlane({
    netlink: table,
    openChannel: () => silentChannel,
    configuredInterface: undefined,
    allowOffSubnetVips: false,
    addressLifetimeMs,
    announce: {
      burstCount: 1,
      burstIntervalMs: 60_000,
      refreshMs: 60_000,
      fenceProbes: 1,
      fenceIntervalMs: 1,
      firstClaimFenceIntervalMs: 1,
    },
    onSent: () => undefined,
    onError: (message) => {
      throw new Error(message);
    },
  });
}

const vipOf = (index: number) => ({ address: `2001:db8:1::1:${index.toString(16)}`, family: 6 as const });

async function holdMany(plane: NativeDataPlane, count: number): Promise<void> {
  for (let index = 0; index < count; index++)
    await plane.announce({ serviceKey: `default/s${index}`, vips: [vipOf(index)], interfaceName: LAN.name });
}

test("a lifetime refresh of many VIPs lets the event loop turn between slices", async (t) => {
  const table = new FakeAddressTable();
  // A refresh every 20 ms.
  const plane = dataPlane(table, 60);
  t.teardown(() => plane.close());
  await holdMany(plane, 300);
  table.log.length = 0;
  let turning = true;
  const turn = () => {
    table.log.push("turn");
    if (turning) setImmediate(turn);
  };
  setImmediate(turn);
  while (table.log.filter((entry) => entry.startsWith("add")).length < 900)
    await new Promise((resolve) => setTimeout(resolve, 5));
  turning = false;
  const longestRun = table.log
    .join("\n")
    .split("turn")
    .map((between) => between.split("\n").filter((entry) => entry.startsWith("add")).length);
  t.true(Math.max(...longestRun) <= 64, `at most one slice between turns, saw ${Math.max(...longestRun)}`);
  t.true(
    table.log.every((entry) => entry === "turn" || entry.startsWith("add")),
    "a refresh only adds",
  );
});

test("a Service withdrawn while a refresh is under way is not put back by it", async (t) => {
  const table = new FakeAddressTable();
  const plane = dataPlane(table, 60);
  t.teardown(() => plane.close());
  await holdMany(plane, 300);
  const last = vipOf(299).address;
  table.log.length = 0;
  // Withdraw the last Service once the refresh has done its first slice and yielded.
  while (table.log.length < 64) await new Promise((resolve) => setImmediate(resolve));
  await plane.withdraw("default/s299");
  const withdrawnAt = table.log.indexOf(`delete ${last}`);
  while (table.log.length < withdrawnAt + 600) await new Promise((resolve) => setTimeout(resolve, 5));
  t.false(table.log.slice(withdrawnAt).includes(`add ${last}`));
  t.false(table.addresses.has(last));
  t.is(plane.holding("default/s299"), undefined);
  t.is(table.addresses.get(vipOf(0).address)?.protocol, VIPD_ADDRESS_PROTOCOL);
});
