// The native data plane's routed VIPs (BGP and ECMP modes): on lo with vipd's mark, a host route
// each, nothing on the wire; routes before addresses on the way out; someone else's route leaves
// nothing behind; the refresh round finds a route someone deleted; the sweep takes vipd's leftovers.
import test, { type ExecutionContext } from "ava";
import type { Vip } from "../../src/agent/service-intent.ts";
import type { FrameChannel } from "../../src/net/announcer.ts";
import { SERVICES_ADDRESS_PROTOCOL } from "../../src/net/address-ownership.ts";
import { ForeignRouteError } from "../../src/routing/host-routes.ts";
import { FakeClock, flushEventLoop } from "./fakes/clock.ts";
import { dataPlane, FakeAddressTable, FakeHostRoutes, LAN, LO } from "./fakes/native-data-plane.ts";

const KEY = "default/web";
const V4: Vip = { address: "203.0.113.200", family: 4 };
const V6: Vip = { address: "2001:db8:3::5", family: 6 };
const LIFETIME_MS = 60_000;
const REFRESH_MS = LIFETIME_MS / 3;
/** Longer than the data plane reuses a reading of the routes for announce(). */
const PAST_CACHE_MS = 1000;

function routed(t: ExecutionContext, options: { readonly onError?: (message: string) => void } = {}) {
  const table = new FakeAddressTable();
  const routes = new FakeHostRoutes(table.log);
  const clock = new FakeClock();
  const opened: number[] = [];
  const sent: number[] = [];
  const plane = dataPlane(table, LIFETIME_MS, {
    clock,
    hostRoutes: routes,
    openChannel: (ifindex): FrameChannel => {
      opened.push(ifindex);
      return { send: () => sent.push(ifindex), receive: () => undefined, close: () => undefined };
    },
    ...(options.onError === undefined ? {} : { onError: options.onError }),
  });
  t.teardown(() => plane.close());
  const announce = (vips: readonly Vip[] = [V4, V6]) =>
    plane.announce({ workKey: KEY, vips, interfaceName: LO.name, routed: true });
  return { table, routes, clock, plane, opened, sent, announce };
}

test("a routed VIP goes on the route device, whatever the override or --interface", (t) => {
  const { table, plane } = routed(t);
  t.deepEqual(plane.interfaceFor([V4], "lan0", true), { ok: true, name: "lo", carrier: true });
  table.links = [LAN, { ...LO, up: false }];
  const fresh = dataPlane(table, LIFETIME_MS, { hostRoutes: new FakeHostRoutes(table.log) });
  t.teardown(() => fresh.close());
  t.deepEqual(fresh.interfaceFor([V4], undefined, true), { ok: true, name: "lo", carrier: false });
  table.links = [LAN];
  const without = dataPlane(table, LIFETIME_MS, { hostRoutes: new FakeHostRoutes(table.log) });
  t.teardown(() => without.close());
  t.like(without.interfaceFor([V4], undefined, true), { ok: false });
});

test("routed announce: vipd's addresses on lo, then their host routes, and no frame", async (t) => {
  const { table, plane, opened, sent, announce } = routed(t);
  t.deepEqual(await announce(), { newlyInstalled: true });
  t.deepEqual(table.log, [
    `add ${V4.address}`,
    `add ${V6.address}`,
    `route ${V4.address}`,
    `route ${V6.address}`,
  ]);
  t.like(table.find(V4.address, LO), {
    protocol: SERVICES_ADDRESS_PROTOCOL,
    validLifetime: 60,
    preferredLifetime: 60,
  });
  t.like(table.find(V6.address, LO), {
    protocol: SERVICES_ADDRESS_PROTOCOL,
    validLifetime: 60,
    preferredLifetime: 0,
    flags: ["nodad"],
  });
  t.true(plane.intact(KEY));
  t.deepEqual(plane.holding(KEY), [V4, V6]);
  t.deepEqual(plane.macs(), [], "lo is never published, VIPs on it or not");
  await flushEventLoop();
  t.deepEqual([opened, sent], [[], []], "no packet socket, no GARP or NA");
});

test("routed announce again changes nothing; a flushed address or a deleted route is put back", async (t) => {
  const { table, routes, clock, announce } = routed(t);
  await announce();
  table.log.length = 0;
  t.deepEqual(await announce(), { newlyInstalled: false });
  t.deepEqual(table.log, []);

  table.deleteAddress({ ifindex: LO.index, address: V6.address, prefixLength: 128 });
  table.log.length = 0;
  await clock.tick(PAST_CACHE_MS);
  t.deepEqual(await announce(), { newlyInstalled: true });
  t.deepEqual(table.log, [`add ${V6.address}`]);

  routes.own.delete(V4.address);
  table.log.length = 0;
  await clock.tick(PAST_CACHE_MS);
  t.deepEqual(await announce(), { newlyInstalled: true });
  t.deepEqual(table.log, [`route ${V4.address}`]);
});

test("routed announces within a moment share one reading of the routes", async (t) => {
  const { routes, announce } = routed(t);
  await announce();
  const before = routes.listings;
  for (let again = 0; again < 10; again++) await announce();
  t.true(routes.listings - before <= 1, `${routes.listings - before} listings`);
});

test("routed withdraw removes the routes first, then the addresses", async (t) => {
  const { table, plane, announce } = routed(t);
  await announce();
  table.log.length = 0;
  await plane.withdraw(KEY);
  t.deepEqual(table.log, [
    `unroute ${V4.address}`,
    `unroute ${V6.address}`,
    `delete ${V4.address}`,
    `delete ${V6.address}`,
  ]);
  t.is(plane.holding(KEY), undefined);
  t.false(plane.intact(KEY));
  await plane.withdraw(KEY);
  t.is(table.log.length, 4, "again: nothing");
});

function nothingLeft(
  t: ExecutionContext,
  { table, routes, plane }: Pick<ReturnType<typeof routed>, "table" | "routes" | "plane">,
): void {
  t.is(plane.holding(KEY), undefined);
  t.deepEqual(table.listAddresses(), [], "no address");
  t.deepEqual([...routes.own.keys()], [], "no route");
}

test("someone else's route to a VIP: ForeignRouteError, and nothing of the key stays", async (t) => {
  const { table, routes, plane, announce } = routed(t);
  routes.others.add(V6.address);
  await t.throwsAsync(announce(), { instanceOf: ForeignRouteError });
  t.deepEqual(table.log, [
    `add ${V4.address}`,
    `add ${V6.address}`,
    `route ${V4.address}`,
    `unroute ${V4.address}`,
    `delete ${V4.address}`,
    `delete ${V6.address}`,
  ]);
  nothingLeft(t, { table, routes, plane });
});

test("someone else's route is reported as the VIP's conflict until a refresh round finds it gone", async (t) => {
  const { routes, clock, plane, announce } = routed(t);
  routes.others.add(V6.address);
  await t.throwsAsync(announce(), { instanceOf: ForeignRouteError });
  const conflict = {
    address: V6.address,
    prefixLength: 128,
    interfaceName: "lo",
    route: { table: 198, protocol: 4 },
  };
  t.deepEqual(
    plane.foreignAddresses([V4, V6]),
    [conflict],
    "the address loop learns why, and does not serve it",
  );
  await clock.tick(REFRESH_MS);
  t.deepEqual(plane.foreignAddresses([V4, V6]), [conflict], "still there at the next round");
  routes.others.delete(V6.address);
  await clock.tick(REFRESH_MS);
  t.deepEqual(plane.foreignAddresses([V4, V6]), [], "gone: the VIP may be served again");
  t.deepEqual(await announce(), { newlyInstalled: true });
});

test("a held routed key whose route someone replaced with theirs is given up whole", async (t) => {
  const { table, routes, clock, plane, announce } = routed(t);
  await announce();
  routes.own.delete(V4.address);
  routes.others.add(V4.address);
  await clock.tick(PAST_CACHE_MS);
  await t.throwsAsync(announce(), { instanceOf: ForeignRouteError });
  nothingLeft(t, { table, routes, plane });
});

test("the refresh round refreshes routed addresses on lo and finds a route someone deleted", async (t) => {
  const { table, routes, clock, plane, announce } = routed(t);
  await announce();
  routes.own.delete(V6.address);
  t.true(plane.intact(KEY), "nothing tells of a deleted route before the round");
  table.log.length = 0;
  await clock.tick(REFRESH_MS);
  t.deepEqual(table.log, [`replace ${V4.address}`, `replace ${V6.address}`]);
  t.false(plane.intact(KEY));
  t.deepEqual(await announce(), { newlyInstalled: true });
  t.true(plane.intact(KEY));
});

test("the refresh round reads no routes while no routed VIP is held", async (t) => {
  const { routes, clock, plane } = routed(t);
  await plane.announce({ workKey: "default/l2", vips: [V4], interfaceName: LAN.name, routed: false });
  await clock.tick(3 * REFRESH_MS);
  t.is(routes.listings, 0);
});

test("the sweep removes vipd's leftover routes and lo addresses, never another's address", async (t) => {
  const warnings: string[] = [];
  const { table, routes, plane } = routed(t, { onError: (message) => warnings.push(message) });
  const kept: Vip = { address: "203.0.113.202", family: 4 };
  const lifetimes = { validLifetime: 20, preferredLifetime: 20 };
  for (const vip of [V4, kept]) {
    table.configure({
      ifindex: LO.index,
      address: vip.address,
      prefixLength: 32,
      protocol: SERVICES_ADDRESS_PROTOCOL,
      ...lifetimes,
    });
    routes.own.set(vip.address, vip);
  }
  // Someone's own host address on lo, forever.
  table.configure({
    ifindex: LO.index,
    address: "203.0.113.201",
    prefixLength: 32,
    protocol: 0,
    validLifetime: Infinity,
    preferredLifetime: Infinity,
  });
  await plane.sweep(new Map([["default/kept", [kept]]]));
  t.deepEqual(table.log, [`unroute ${V4.address}`, `delete ${V4.address}`]);
  t.deepEqual([...routes.own.keys()], [kept.address]);
  t.truthy(table.find("203.0.113.201", LO));
  t.true(warnings.some((warning) => warning.includes(`host route to ${V4.address}`)));
});

test("a key that turns routed leaves the segment first, and one that turns l2 leaves lo", async (t) => {
  const { table, plane, announce } = routed(t);
  await plane.announce({ workKey: KEY, vips: [V4], interfaceName: LAN.name, routed: false });
  table.log.length = 0;
  t.deepEqual(await announce([V4]), { newlyInstalled: true });
  t.deepEqual(table.log, [`delete ${V4.address}`, `add ${V4.address}`, `route ${V4.address}`]);
  t.truthy(table.find(V4.address, LO));
  table.log.length = 0;
  await plane.announce({ workKey: KEY, vips: [V4], interfaceName: LAN.name, routed: false });
  t.deepEqual(table.log, [`unroute ${V4.address}`, `delete ${V4.address}`, `add ${V4.address}`]);
  t.truthy(table.find(V4.address));
  t.true(plane.intact(KEY));
});
