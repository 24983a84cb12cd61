import test, { type ExecutionContext } from "ava";
import { ForeignAddressError } from "../../src/agent/data-plane.ts";
import {
  CONTROL_PLANE_ADDRESS_PROTOCOL,
  KernelMark,
  LEGACY_ADDRESS_PROTOCOL,
  SERVICES_ADDRESS_PROTOCOL,
} from "../../src/net/address-ownership.ts";
import type { NativeDataPlane } from "../../src/net/native-data-plane.ts";
import { FakeClock, flushEventLoop } from "./fakes/clock.ts";
import { dataPlane, FakeAddressTable, LAN } from "./fakes/native-data-plane.ts";

const vipOf = (index: number) => ({ address: `2001:db8:1::1:${index.toString(16)}`, family: 6 as const });

async function holdMany(plane: NativeDataPlane, count: number): Promise<void> {
  for (let index = 0; index < count; index++)
    await plane.announce({
      workKey: `default/s${index}`,
      vips: [vipOf(index)],
      interfaceName: LAN.name,
      routed: false,
    });
}

const LIFETIME_MS = 60_000;
/** The data plane refreshes lifetimes three times a lifetime. */
const REFRESH_MS = LIFETIME_MS / 3;

/**
 * Turns the event loop until a turn adds no replace to the log: a refresh yields between its slices
 * (setImmediate) and needs no time, so the one under way has then ended.
 */
async function refreshEnded(table: FakeAddressTable): Promise<void> {
  const replaces = () => table.log.filter((entry) => entry.startsWith("replace")).length;
  for (;;) {
    const before = replaces();
    await flushEventLoop();
    if (replaces() === before) return;
  }
}

/** A data plane on a fake clock, to be moved on by refresh periods. */
function refreshing(t: ExecutionContext) {
  const table = new FakeAddressTable();
  const clock = new FakeClock();
  const plane = dataPlane(table, LIFETIME_MS, { clock });
  t.teardown(() => plane.close());
  return { table, clock, plane };
}

// Alone, not beside the other tests of this file: it counts what runs between two turns of the event loop.
test.serial("a lifetime refresh of many VIPs lets the event loop turn between slices", async (t) => {
  const { table, clock, plane } = refreshing(t);
  await holdMany(plane, 300);
  table.log.length = 0;
  let turning = true;
  const turn = () => {
    table.log.push("turn");
    if (turning) setImmediate(turn);
  };
  setImmediate(turn);
  for (let refresh = 0; refresh < 3; refresh++) {
    clock.advance(REFRESH_MS);
    await refreshEnded(table);
  }
  turning = false;
  t.is(table.log.filter((entry) => entry.startsWith("replace")).length, 900, "three refreshes of 300");
  const longestRun = table.log
    .join("\n")
    .split("turn")
    .map((between) => between.split("\n").filter((entry) => entry.startsWith("replace")).length);
  t.true(Math.max(...longestRun) <= 64, `at most one slice between turns, saw ${Math.max(...longestRun)}`);
  t.true(
    table.log.every((entry) => entry === "turn" || entry.startsWith("replace")),
    "a refresh only replaces",
  );
});

test("lifetimes are refreshed three times a lifetime, not before", async (t) => {
  const { table, clock, plane } = refreshing(t);
  await holdMany(plane, 1);
  table.log.length = 0;
  clock.advance(REFRESH_MS - 1);
  await refreshEnded(table);
  t.deepEqual(table.log, []);
  clock.advance(1);
  await refreshEnded(table);
  t.deepEqual(table.log, [`replace ${vipOf(0).address}`]);
  await plane.close();
  clock.advance(10 * REFRESH_MS);
  await refreshEnded(table);
  t.is(table.log.length, 1, "none after close");
});

test("a Service withdrawn while a refresh is under way is not put back by it", async (t) => {
  const { table, clock, plane } = refreshing(t);
  await holdMany(plane, 300);
  const last = vipOf(299).address;
  table.log.length = 0;
  clock.advance(REFRESH_MS);
  // The refresh has done its first slice and yielded: withdraw the last Service.
  t.is(table.log.length, 64);
  await plane.withdraw("default/s299");
  const withdrawnAt = table.log.indexOf(`delete ${last}`);
  t.true(withdrawnAt >= 0);
  await refreshEnded(table);
  for (let refresh = 0; refresh < 2; refresh++) {
    clock.advance(REFRESH_MS);
    await refreshEnded(table);
  }
  t.is(table.log.length, withdrawnAt + 1 + 235 + 2 * 299, "the rest of that refresh and two more");
  t.false(
    table.log.slice(withdrawnAt).some((entry) => entry === `add ${last}` || entry === `replace ${last}`),
  );
  t.is(table.find(last), undefined);
  t.is(plane.holding("default/s299"), undefined);
  t.is(table.find(vipOf(0).address)?.protocol, SERVICES_ADDRESS_PROTOCOL);
});

const SERVICE = "default/web";
const VIP = { address: "198.51.100.70", family: 4 as const };
const FOREVER = { protocol: 0, validLifetime: Infinity, preferredLifetime: Infinity };

function foreignSetup(t: ExecutionContext, configured: Parameters<FakeAddressTable["configure"]>[0]) {
  const table = new FakeAddressTable();
  table.configure(configured);
  const plane = dataPlane(table, 60_000);
  t.teardown(() => plane.close());
  return { table, plane };
}

for (const prefixLength of [32, 24]) {
  test(`a VIP the node has from someone else as /${prefixLength} is reported and never added`, async (t) => {
    const { table, plane } = foreignSetup(t, {
      ifindex: LAN.index,
      address: VIP.address,
      prefixLength,
      ...FOREVER,
    });
    t.deepEqual(plane.foreignAddresses([VIP]), [
      { address: VIP.address, prefixLength, interfaceName: LAN.name },
    ]);
    const error = await t.throwsAsync(
      async () => plane.announce({ workKey: SERVICE, vips: [VIP], interfaceName: LAN.name, routed: false }),
      { instanceOf: ForeignAddressError },
    );
    t.deepEqual(error.foreign, plane.foreignAddresses([VIP]));
    t.is(plane.holding(SERVICE), undefined);
    await plane.withdraw(SERVICE);
    await plane.sweep(new Map());
    t.deepEqual(table.log, [], "nothing added, replaced or deleted");
  });
}

test("a VIP withdrawn right after it was added is removed", async (t) => {
  const table = new FakeAddressTable();
  const plane = dataPlane(table, 60_000);
  t.teardown(() => plane.close());
  await plane.announce({ workKey: SERVICE, vips: [VIP], interfaceName: LAN.name, routed: false });
  await plane.withdraw(SERVICE);
  t.deepEqual(table.log, [`add ${VIP.address}`, `delete ${VIP.address}`]);
  t.is(table.find(VIP.address), undefined);
});

test("an exclusive add that meets EEXIST is a conflict, not an adoption", async (t) => {
  const table = new FakeAddressTable();
  const plane = dataPlane(table, 60_000);
  t.teardown(() => plane.close());
  t.deepEqual(plane.foreignAddresses([VIP]), [], "read before anyone added it");
  // Added by someone between the data plane's reading of the table and its own add.
  table.configure({ ifindex: LAN.index, address: VIP.address, prefixLength: 32, ...FOREVER });
  await t.throwsAsync(
    async () => plane.announce({ workKey: SERVICE, vips: [VIP], interfaceName: LAN.name, routed: false }),
    {
      instanceOf: ForeignAddressError,
    },
  );
  t.deepEqual(table.log, [`add ${VIP.address}`], "one exclusive add, no replace");
  t.is(table.find(VIP.address)?.validLifetime, Infinity);
});

test("an address of vipd's that someone replaces by hand is theirs: not refreshed, not deleted", async (t) => {
  const { table, clock, plane } = refreshing(t);
  const KEPT = { address: "198.51.100.71", family: 4 as const };
  await plane.announce({ workKey: SERVICE, vips: [VIP], interfaceName: LAN.name, routed: false });
  await plane.announce({ workKey: "default/kept", vips: [KEPT], interfaceName: LAN.name, routed: false });
  t.true(plane.intact(SERVICE));
  // `ip addr replace 198.51.100.70/32 dev lan0`: permanent, protocol 0.
  table.configure({ ifindex: LAN.index, address: VIP.address, prefixLength: 32, ...FOREVER });
  table.log.length = 0;
  for (let refresh = 0; refresh < 3; refresh++) {
    clock.advance(REFRESH_MS);
    await refreshEnded(table);
  }
  t.deepEqual(table.log, Array(3).fill(`replace ${KEPT.address}`), "only the other VIP was refreshed");
  t.false(plane.intact(SERVICE));
  t.is(plane.foreignAddresses([VIP]).length, 1);
  await plane.withdraw(SERVICE);
  t.deepEqual(table.log.slice(3), []);
  t.is(table.find(VIP.address)?.validLifetime, Infinity);
});

test("the restart sweep removes vipd's stale addresses and nobody else's", async (t) => {
  const table = new FakeAddressTable();
  const own = { ifindex: LAN.index, prefixLength: 32, protocol: SERVICES_ADDRESS_PROTOCOL };
  table.configure({ ...own, address: "198.51.100.80", validLifetime: 20, preferredLifetime: 20 });
  table.configure({ ...own, address: "198.51.100.81", validLifetime: 20, preferredLifetime: 20 });
  // Marked, but permanent: vipd never adds such an address.
  table.configure({ ...own, address: "198.51.100.82", validLifetime: Infinity, preferredLifetime: Infinity });
  table.configure({ ...FOREVER, ifindex: LAN.index, address: "198.51.100.83", prefixLength: 32 });
  table.configure({
    ifindex: LAN.index,
    address: "198.51.100.84",
    prefixLength: 32,
    protocol: 0,
    validLifetime: 20,
    preferredLifetime: 20,
  });
  const plane = dataPlane(table, 60_000, { onError: () => undefined });
  t.teardown(() => plane.close());
  await plane.sweep(new Map([["default/kept", [{ address: "198.51.100.81", family: 4 }]]]));
  t.deepEqual(table.log, ["delete 198.51.100.80"]);
  await plane.announce({
    workKey: "default/kept",
    vips: [{ address: "198.51.100.81", family: 4 }],
    interfaceName: LAN.name,
    routed: false,
  });
  t.deepEqual(table.log.slice(1), ["replace 198.51.100.81"], "its own address adopted with a fresh lifetime");
});

test("problem() names the interface whose packet socket stopped receiving", async (t) => {
  const table = new FakeAddressTable();
  let fail: (error: Error) => void = () => undefined;
  const opened: string[] = [];
  const plane = dataPlane(table, 60_000, {
    openChannel: () => {
      opened.push("open");
      return {
        send: () => undefined,
        receive: (listeners) => {
          fail = listeners.onError;
        },
        close: () => undefined,
      };
    },
    onError: () => undefined,
  });
  t.teardown(() => plane.close());
  await plane.announce({ workKey: SERVICE, vips: [VIP], interfaceName: LAN.name, routed: false });
  t.is(plane.problem(), null);
  table.links = [{ ...LAN, up: false, carrier: false, operstate: "down" }];
  fail(new Error("poll(AF_PACKET) failed: ENETDOWN"));
  t.regex(plane.problem() ?? "", /lan0/);
  t.deepEqual(opened, ["open"]);
});

test("two agents on one node: each one's restart sweep leaves the other's addresses", async (t) => {
  const table = new FakeAddressTable();
  const lifetimes = { validLifetime: 20, preferredLifetime: 20 };
  const host = { ifindex: LAN.index, prefixLength: 32, ...lifetimes };
  table.configure({ ...host, address: "198.51.100.90", protocol: CONTROL_PLANE_ADDRESS_PROTOCOL });
  table.configure({ ...host, address: "198.51.100.91", protocol: SERVICES_ADDRESS_PROTOCOL });
  const warnings: string[] = [];
  const onError = (message: string) => {
    warnings.push(message);
  };
  const services = dataPlane(table, 60_000, { onError });
  t.teardown(() => services.close());
  await services.sweep(new Map());
  t.deepEqual(table.log, ["delete 198.51.100.91"], "only its own stale address");
  table.configure({ ...host, address: "198.51.100.91", protocol: SERVICES_ADDRESS_PROTOCOL });
  const controlPlane = dataPlane(table, 60_000, { onError, ownership: new KernelMark("control-plane") });
  t.teardown(() => controlPlane.close());
  await controlPlane.sweep(new Map());
  t.deepEqual(table.log.slice(1), ["delete 198.51.100.90"]);
  t.is(table.find("198.51.100.91")?.protocol, SERVICES_ADDRESS_PROTOCOL);
  // The other agent's address equal to a VIP is a conflict, as anyone else's.
  const vip = { address: "198.51.100.91", family: 4 as const };
  t.is(controlPlane.foreignAddresses([vip]).length, 1);
  await t.throwsAsync(
    async () =>
      controlPlane.announce({
        workKey: "control-plane",
        vips: [vip],
        interfaceName: LAN.name,
        routed: false,
      }),
    { instanceOf: ForeignAddressError },
  );
  t.is(table.find("198.51.100.91")?.protocol, SERVICES_ADDRESS_PROTOCOL, "and left alone");
});

test("an address an older release marked: never swept, taken over re-marked by the agent that installs it", async (t) => {
  const table = new FakeAddressTable();
  const legacy = { ifindex: LAN.index, prefixLength: 32, protocol: LEGACY_ADDRESS_PROTOCOL };
  table.configure({ ...legacy, address: "198.51.100.92", validLifetime: 20, preferredLifetime: 20 });
  table.configure({ ...legacy, address: "198.51.100.93", validLifetime: 20, preferredLifetime: 20 });
  const warnings: string[] = [];
  const plane = dataPlane(table, 60_000, {
    onError: (message) => {
      warnings.push(message);
    },
  });
  t.teardown(() => plane.close());
  const held = { address: "198.51.100.92", family: 4 as const };
  await plane.sweep(new Map([["default/held", [held]]]));
  t.deepEqual(table.log, [], "neither the held one nor the other is removed");
  t.true(warnings.some((each) => each.includes("198.51.100.93") && each.includes("expires")));
  t.deepEqual(plane.foreignAddresses([held]), [], "not someone else's");
  await plane.announce({ workKey: "default/held", vips: [held], interfaceName: LAN.name, routed: false });
  t.deepEqual(table.log, ["replace 198.51.100.92"]);
  t.like(table.find(held.address), { protocol: SERVICES_ADDRESS_PROTOCOL, validLifetime: 60 });
  t.true(plane.intact("default/held"));
  await plane.withdraw("default/held");
  t.deepEqual(table.log.slice(1), ["delete 198.51.100.92"], "its own now, removed on withdrawal");
  t.is(table.find("198.51.100.93")?.protocol, LEGACY_ADDRESS_PROTOCOL, "the other one left to expire");
});
