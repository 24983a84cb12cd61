// The native rtnetlink module against a real kernel: two throwaway namespaces joined by a veth pair.
// Needs root. Each check runs the wrapper in namespace A through a fixture process.
import test from "ava";
import { setTimeout as sleep } from "node:timers/promises";
import { SERVICES_ADDRESS_PROTOCOL } from "../../src/net/address-ownership.ts";
import type { AddAddressOptions, Address, Link, NetlinkEvent, Route } from "../../src/net/netlink.ts";
import type { Call, Outcome } from "./fixtures/netlink-calls.ts";
import { createPair, ip, PAIR, requireRoot, type NamespacePair } from "./fixtures/namespace-pair.ts";
import { killFixtures, runFixture, startLineFixture } from "./fixtures/run-fixture.ts";

// The kernel's main routing table, where an interface's subnet gets its on-link route.
const RT_TABLE_MAIN = 254;

// Lifetimes come back from the fixture as JSON, where Infinity is spelled out.
type Json<T> = { [K in keyof T]: T[K] extends number ? number | "Infinity" : T[K] };
type ListedAddress = Json<Address>;
type WatchLine = NetlinkEvent | { ready: true } | { error: unknown };

let pair: NamespacePair;
let ifindexA = 0;

test.before(() => {
  requireRoot();
  pair = createPair("n");
});

test.after.always(() => {
  killFixtures();
  pair.remove();
});

async function calls(...list: Call[]): Promise<Outcome[]> {
  return runFixture<Outcome[]>(pair.a, "netlink-calls.ts", list);
}

async function value<T>(call: Call): Promise<T> {
  const [outcome] = await calls(call);
  if (outcome?.ok !== true) throw new Error(`${call.method} failed: ${JSON.stringify(outcome)}`);
  return outcome.value as T;
}

async function linkA(): Promise<Link> {
  const links = await value<Link[]>({ method: "listLinks" });
  const link = links.find((candidate) => candidate.name === PAIR.interfaceA);
  if (link === undefined) throw new Error(`no ${PAIR.interfaceA} in ${JSON.stringify(links)}`);
  return link;
}

async function addressesOnA(): Promise<ListedAddress[]> {
  return value<ListedAddress[]>({ method: "listAddresses", filter: { ifindex: ifindexA } });
}

interface VipOverrides {
  readonly validLifetime?: number;
  readonly preferredLifetime?: number;
  readonly replace?: boolean;
}

function vipOptions(address: string, overrides: VipOverrides = {}): AddAddressOptions {
  const ipv6 = address.includes(":");
  return {
    ifindex: ifindexA,
    address,
    prefixLength: ipv6 ? 128 : 32,
    protocol: SERVICES_ADDRESS_PROTOCOL,
    validLifetime: overrides.validLifetime ?? 60,
    preferredLifetime: overrides.preferredLifetime ?? (ipv6 ? 0 : 60),
    nodad: ipv6,
    replace: overrides.replace ?? false,
  };
}

function vip(address: string, overrides: VipOverrides = {}): Call {
  return { method: "addAddress", options: vipOptions(address, overrides) };
}

function removal(address: string): Call {
  return {
    method: "deleteAddress",
    key: { ifindex: ifindexA, address, prefixLength: address.includes(":") ? 128 : 32 },
  };
}

function errorCode(outcome: Outcome | undefined): unknown {
  return outcome?.ok === false
    ? (outcome.error as { code?: string }).code
    : `succeeded: ${JSON.stringify(outcome)}`;
}

test.serial("links: index, MAC, MTU, up, carrier and kind of the veth", async (t) => {
  ip("-n", pair.a, "link", "set", PAIR.interfaceA, "mtu", "1400");
  const link = await linkA();
  ifindexA = link.index;
  t.like(link, {
    name: PAIR.interfaceA,
    mac: PAIR.macA,
    mtu: 1400,
    up: true,
    carrier: true,
    operstate: "up",
    kind: "veth",
  });
  t.is(link.index, Number(ip("-n", pair.a, "-o", "link", "show", PAIR.interfaceA).split(":")[0]));
  const loopback = (await value<Link[]>({ method: "listLinks" })).find(
    (candidate) => candidate.name === "lo",
  );
  t.like(loopback, { index: 1, mac: "00:00:00:00:00:00", up: true });
  t.is(loopback?.kind, undefined, "the loopback device has no link kind");
});

// IFF_LOWER_UP follows the carrier at once; operstate follows it through the kernel's deferred
// link watch, a moment later.
async function linkAOnceSettled(operstate: string): Promise<Link> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const link = await linkA();
    if (link.operstate === operstate || Date.now() > deadline) return link;
    await sleep(100);
  }
}

test.serial("links: carrier goes false when the peer goes down, and comes back", async (t) => {
  ip("-n", pair.b, "link", "set", PAIR.interfaceB, "down");
  try {
    t.like(await linkA(), { up: true, carrier: false });
    t.like(await linkAOnceSettled("down"), { up: true, carrier: false, operstate: "down" });
  } finally {
    ip("-n", pair.b, "link", "set", PAIR.interfaceB, "up");
  }
  t.like(await linkAOnceSettled("up"), { up: true, carrier: true, operstate: "up" });
});

test.serial("add, list and delete VIPs with vipd's protocol mark, IPv4 and IPv6", async (t) => {
  const [addedV4, addedV6] = await calls(vip("198.51.100.50"), vip("2001:db8:1::50"));
  t.deepEqual([addedV4?.ok, addedV6?.ok], [true, true]);

  const listed = await addressesOnA();
  const v4 = listed.find((address) => address.address === "198.51.100.50");
  const v6 = listed.find((address) => address.address === "2001:db8:1::50");
  t.like(v4, { family: 4, prefixLength: 32, protocol: SERVICES_ADDRESS_PROTOCOL, preferredLifetime: 60 });
  t.like(v6, { family: 6, prefixLength: 128, protocol: SERVICES_ADDRESS_PROTOCOL, preferredLifetime: 0 });
  // nodad: usable at once, never tentative; preferred lifetime 0: deprecated, so never a source.
  t.true(v6?.flags.includes("nodad"));
  t.false(v6?.flags.includes("tentative"));
  t.true(v6?.flags.includes("deprecated"));
  t.false(v4?.flags.includes("permanent"));
  // Addresses vipd did not add keep their own protocol (0 from ip, 3 for the kernel's link-local).
  const other = listed.find((address) => address.address === PAIR.ipv4A);
  t.like(other, { protocol: 0, prefixLength: 24, validLifetime: "Infinity" });
  t.true(other?.flags.includes("permanent"));
  t.like(
    listed.find((address) => address.address.startsWith("fe80:")),
    { protocol: 3 },
  );

  // iproute2 sees the same addresses, independently of the wrapper.
  const shown = ip("-n", pair.a, "address", "show", "dev", PAIR.interfaceA);
  t.regex(shown, /inet 198\.51\.100\.50\/32 .*\n\s+valid_lft (59|60)sec preferred_lft (59|60)sec/);
  t.regex(shown, /inet6 2001:db8:1::50\/128 .*nodad.*\n\s+valid_lft (59|60)sec preferred_lft 0sec/);
  t.notRegex(shown, /brd 198\.51\.100\.50|peer/);

  const removed = await calls(removal("198.51.100.50"), removal("2001:db8:1::50"));
  t.deepEqual(
    removed.map((outcome) => outcome.ok),
    [true, true],
  );
  const after = (await addressesOnA()).map((address) => address.address);
  t.false(after.includes("198.51.100.50"));
  t.false(after.includes("2001:db8:1::50"));
});

test.serial("the valid lifetime counts down, and replace refreshes it", async (t) => {
  await calls(
    vip("198.51.100.51", { validLifetime: 30, preferredLifetime: 30 }),
    vip("2001:db8:1::51", { validLifetime: 30 }),
  );
  await sleep(2500);
  const lifetimes = async (): Promise<unknown[]> =>
    (await addressesOnA())
      .filter((address) => address.address.endsWith("::51") || address.address.endsWith(".51"))
      .map((address) => address.validLifetime);
  const aged = await lifetimes();
  t.is(aged.length, 2);
  for (const lifetime of aged)
    t.true(typeof lifetime === "number" && lifetime <= 28, `aged ${String(lifetime)}`);

  const refreshed = await calls(
    vip("198.51.100.51", { validLifetime: 30, preferredLifetime: 30, replace: true }),
    vip("2001:db8:1::51", { validLifetime: 30, replace: true }),
  );
  t.deepEqual(
    refreshed.map((outcome) => outcome.ok),
    [true, true],
  );
  for (const lifetime of await lifetimes())
    t.true(typeof lifetime === "number" && lifetime >= 29, `refreshed ${String(lifetime)}`);
  await calls(removal("198.51.100.51"), removal("2001:db8:1::51"));
});

test.serial("an address whose valid lifetime runs out is removed by the kernel", async (t) => {
  await calls(
    vip("198.51.100.52", { validLifetime: 2, preferredLifetime: 2 }),
    vip("2001:db8:1::52", { validLifetime: 2 }),
  );
  const present = async (): Promise<string[]> =>
    (await addressesOnA()).map((address) => address.address).filter((address) => address.endsWith("52"));
  t.is((await present()).length, 2);
  const deadline = Date.now() + 10_000;
  while ((await present()).length > 0 && Date.now() < deadline) await sleep(500);
  t.deepEqual(await present(), []);
});

test.serial("errors carry the kernel's errno and code", async (t) => {
  const outcomes = await calls(
    vip("198.51.100.53"),
    vip("198.51.100.53"),
    vip("2001:db8:1::53"),
    vip("2001:db8:1::53"),
    vip("198.51.100.53", { replace: true }),
    removal("198.51.100.54"),
    removal("2001:db8:1::54"),
    {
      method: "addAddress",
      options: { ...vipOptions("198.51.100.55"), ifindex: 9999 },
    },
    { method: "deleteAddress", key: { ifindex: 9999, address: "198.51.100.55", prefixLength: 32 } },
    {
      method: "addAddress",
      options: { ...vipOptions("198.51.100.56"), validLifetime: 0 },
    },
    removal("198.51.100.53"),
    removal("2001:db8:1::53"),
  );
  t.true(outcomes[0]?.ok);
  t.is(errorCode(outcomes[1]), "EEXIST", "duplicate IPv4 without replace");
  t.true(outcomes[2]?.ok);
  t.is(errorCode(outcomes[3]), "EEXIST", "duplicate IPv6 without replace");
  t.true(outcomes[4]?.ok, "duplicate with replace");
  t.is(errorCode(outcomes[5]), "EADDRNOTAVAIL", "deleting a missing IPv4 address");
  t.is(errorCode(outcomes[6]), "EADDRNOTAVAIL", "deleting a missing IPv6 address");
  t.is(errorCode(outcomes[7]), "ENODEV", "adding on a missing interface");
  t.is(errorCode(outcomes[8]), "ENODEV", "deleting on a missing interface");
  t.is(errorCode(outcomes[9]), "EINVAL", "a valid lifetime of 0");
  t.like((outcomes[1] as { error: object }).error, {
    name: "SystemCallError",
    errno: 17,
    syscall: "RTM_NEWADDR",
  });
  t.regex((outcomes[1] as { error: { message: string } }).error.message, /EEXIST.*already assigned/);
  t.deepEqual(
    outcomes.slice(10).map((outcome) => outcome.ok),
    [true, true],
  );
});

test.serial(
  "routes: the subnets' on-link routes per interface, and the default route's interface",
  async (t) => {
    const [v4, v6, noDefault] = await calls(
      { method: "listRoutes", family: 4 },
      { method: "listRoutes", family: 6 },
      { method: "defaultRouteInterface", family: 4 },
    );
    const onLink = (outcome: Outcome | undefined, destination: string, prefixLength: number): Route[] =>
      (outcome as { value: Route[] }).value.filter(
        (route) =>
          route.table === RT_TABLE_MAIN &&
          route.destination === destination &&
          route.prefixLength === prefixLength,
      );
    t.like(onLink(v4, "198.51.100.0", 24), [{ family: 4, nexthops: [{ ifindex: ifindexA, gateway: null }] }]);
    t.like(onLink(v6, "2001:db8:1::", 64), [{ family: 6, nexthops: [{ ifindex: ifindexA, gateway: null }] }]);
    t.deepEqual(noDefault, { ok: true, value: null });

    ip("-n", pair.a, "route", "add", "default", "via", PAIR.ipv4B, "dev", PAIR.interfaceA);
    ip("-n", pair.a, "-6", "route", "add", "default", "via", PAIR.ipv6B, "dev", PAIR.interfaceA);
    const defaults = await calls(
      { method: "defaultRouteInterface", family: 4 },
      { method: "defaultRouteInterface", family: 6 },
    );
    t.deepEqual(defaults, [
      { ok: true, value: ifindexA },
      { ok: true, value: ifindexA },
    ]);
  },
);

test.serial("notifications: an address added and removed by ip, and the link losing carrier", async (t) => {
  const watch = startLineFixture<WatchLine>(pair.a, "netlink-watch.ts", null);
  try {
    await watch.next((line) => "ready" in line, 10_000);
    ip("-n", pair.a, "address", "add", "198.51.100.60/32", "dev", PAIR.interfaceA);
    ip("-n", pair.a, "address", "add", "2001:db8:1::60/128", "dev", PAIR.interfaceA, "nodad");
    const isAddress = (action: string, address: string) => (line: WatchLine) =>
      "type" in line && line.type === "address" && line.action === action && line.address === address;
    t.like(await watch.next(isAddress("new", "198.51.100.60"), 5000), {
      ifindex: ifindexA,
      family: 4,
      prefixLength: 32,
      protocol: 0,
    });
    t.like(await watch.next(isAddress("new", "2001:db8:1::60"), 5000), { ifindex: ifindexA, family: 6 });

    ip("-n", pair.a, "address", "del", "198.51.100.60/32", "dev", PAIR.interfaceA);
    t.like(await watch.next(isAddress("del", "198.51.100.60"), 5000), { ifindex: ifindexA });

    ip("-n", pair.b, "link", "set", PAIR.interfaceB, "down");
    const down = await watch.next(
      (line) => "type" in line && line.type === "link" && line.name === PAIR.interfaceA && !line.carrier,
      5000,
    );
    t.like(down, { action: "new", index: ifindexA, up: true, carrier: false, mac: PAIR.macA, kind: "veth" });
    ip("-n", pair.b, "link", "set", PAIR.interfaceB, "up");
    await watch.next(
      (line) => "type" in line && line.type === "link" && line.name === PAIR.interfaceA && line.carrier,
      5000,
    );
  } finally {
    ip("-n", pair.b, "link", "set", PAIR.interfaceB, "up");
    // The fixture exits by itself only if close() released the event loop.
    t.is(await watch.finish(), 0);
  }
});
