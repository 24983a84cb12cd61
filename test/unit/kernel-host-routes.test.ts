import test from "ava";
import type { Vip } from "../../src/agent/service-intent.ts";
import { SystemCallError } from "../../src/net/native.ts";
import type { AddRouteOptions, Link, Route, RouteKey } from "../../src/net/netlink.ts";
import { ForeignRouteError } from "../../src/routing/host-routes.ts";
import {
  HOST_ROUTE_DEFAULTS,
  KernelHostRoutes,
  routeProtocolProblem,
  routeTableProblem,
} from "../../src/routing/kernel-host-routes.ts";

const TABLE = HOST_ROUTE_DEFAULTS.table;
const PROTOCOL = HOST_ROUTE_DEFAULTS.protocol;
const RTPROT_STATIC = 4;
const RTPROT_BIRD = 12;

function link(index: number, name: string): Link {
  return {
    index,
    name,
    mac: null,
    mtu: 65536,
    operstate: "unknown",
    carrier: true,
    up: true,
    loopback: false,
    noArp: true,
  };
}

function route(destination: string, overrides: Partial<Route> = {}): Route {
  const family = destination.includes(":") ? 6 : 4;
  return {
    family,
    table: TABLE,
    destination,
    prefixLength: family === 4 ? 32 : 128,
    type: 1,
    protocol: PROTOCOL,
    scope: 0,
    priority: family === 4 ? 0 : 1024,
    nexthops: [{ ifindex: 1, gateway: null }],
    ...overrides,
  };
}

const sameRoute = (a: RouteKey, b: RouteKey): boolean =>
  a.destination === b.destination && a.prefixLength === b.prefixLength && a.table === b.table;

/** The routing tables as far as KernelHostRoutes sees them, with a log of every change it asks for. */
class FakeRouteTables {
  routes: Route[] = [];
  links: Link[] = [link(1, "lo"), link(2, "lan0")];
  readonly log: string[] = [];
  /** What the next delete throws instead of deleting, as if the table changed after the listing. */
  deleteError: Error | undefined;

  listLinks(): Link[] {
    return this.links;
  }

  listRoutes(family: 4 | 6): Route[] {
    return this.routes.filter((each) => each.family === family);
  }

  // NLM_F_REPLACE: the kernel replaces a route to the same destination whatever its protocol.
  addRoute(options: AddRouteOptions): void {
    this.log.push(
      `replace ${options.destination}/${options.prefixLength} table ${options.table} proto ${options.protocol} oif ${options.ifindex} scope ${options.scope}`,
    );
    this.routes = [
      ...this.routes.filter((each) => !sameRoute(each, options)),
      route(options.destination, { ...options, nexthops: [{ ifindex: options.ifindex, gateway: null }] }),
    ];
  }

  deleteRoute(key: RouteKey): void {
    this.log.push(`delete ${key.destination}/${key.prefixLength} table ${key.table} proto ${key.protocol}`);
    if (this.deleteError !== undefined) throw this.deleteError;
    const index = this.routes.findIndex((each) => sameRoute(each, key) && each.protocol === key.protocol);
    if (index < 0) throw kernelError("ESRCH", 3);
    this.routes.splice(index, 1);
  }
}

function kernelError(code: string, errno: number): SystemCallError {
  return new SystemCallError(`RTM_DELROUTE failed: ${code}`, { errno, code, syscall: "RTM_DELROUTE" });
}

const v4: Vip = { address: "198.51.100.1", family: 4 };
const v6: Vip = { address: "2001:db8:1::1", family: 6 };

function setup(options: { table?: number; protocol?: number; device?: string } = {}) {
  const tables = new FakeRouteTables();
  return { tables, routes: new KernelHostRoutes({ netlink: tables, ...options }) };
}

test("install adds a unicast host route out of lo in table 198 with protocol 248, for either family", async (t) => {
  const { tables, routes } = setup();
  await routes.install(v4);
  await routes.install(v6);
  t.deepEqual(tables.log, [
    "replace 198.51.100.1/32 table 198 proto 248 oif 1 scope 0",
    "replace 2001:db8:1::1/128 table 198 proto 248 oif 1 scope 0",
  ]);
  t.deepEqual(await routes.installed(), [v4, v6]);
});

test("installing again replaces vipd's own route: one route, and it follows the device", async (t) => {
  const { tables, routes } = setup({ device: "lan0" });
  tables.routes = [route(v4.address, { nexthops: [{ ifindex: 1, gateway: null }] })];
  await routes.install(v4);
  await routes.install(v4);
  t.deepEqual(tables.log, [
    "replace 198.51.100.1/32 table 198 proto 248 oif 2 scope 0",
    "replace 198.51.100.1/32 table 198 proto 248 oif 2 scope 0",
  ]);
  t.deepEqual(
    tables.routes.map((each) => each.nexthops),
    [[{ ifindex: 2, gateway: null }]],
  );
});

test("install refuses, untouched, a table's route to the address with another protocol", async (t) => {
  const { tables, routes } = setup();
  const foreign = route(v6.address, { protocol: RTPROT_STATIC });
  tables.routes = [foreign];
  const error = await t.throwsAsync(routes.install(v6), { instanceOf: ForeignRouteError });
  t.deepEqual(error.foreign, [
    { destination: v6.address, prefixLength: 128, table: TABLE, protocol: RTPROT_STATIC },
  ]);
  t.is(error.message, "not vipd's: 2001:db8:1::1/128 in table 198 with protocol 4");
  t.deepEqual(tables.log, []);
  t.deepEqual(tables.routes, [foreign]);
});

test("foreign lists another's routes to the VIPs in vipd's table, by the VIP's canonical address", async (t) => {
  const { tables, routes } = setup();
  tables.routes = [route(v4.address), route(v6.address, { protocol: RTPROT_STATIC })];
  t.deepEqual(await routes.foreign([v4, v6]), [
    { destination: v6.address, prefixLength: 128, table: TABLE, protocol: RTPROT_STATIC },
  ]);
  t.deepEqual(await routes.foreign([v4]), [], "vipd's own route is not foreign");
});

test("install refuses when another's route sits beside vipd's own (a metric of its own)", async (t) => {
  const { tables, routes } = setup();
  tables.routes = [route(v4.address), route(v4.address, { protocol: RTPROT_BIRD, priority: 10 })];
  await t.throwsAsync(routes.install(v4), { instanceOf: ForeignRouteError });
  t.deepEqual(tables.log, []);
});

test("routes outside vipd's table, or to a wider prefix, are nobody's business here", async (t) => {
  const { tables, routes } = setup();
  tables.routes = [
    route(v4.address, { table: 254, protocol: RTPROT_STATIC }),
    route("198.51.100.0", { prefixLength: 24, protocol: RTPROT_STATIC }),
    route(v6.address, { table: 199, protocol: RTPROT_BIRD }),
  ];
  await routes.install(v4);
  await routes.install(v6);
  t.is(tables.log.length, 2);
  t.deepEqual(await routes.installed(), [v4, v6]);
});

test("install fails with the device's name when the device does not exist, and adds nothing", async (t) => {
  const { tables, routes } = setup({ device: "dummy-vips" });
  await t.throwsAsync(routes.install(v4), { message: "interface dummy-vips does not exist" });
  t.deepEqual(tables.log, []);
});

test("remove deletes vipd's own route by its protocol, and then has nothing to do", async (t) => {
  const { tables, routes } = setup();
  tables.routes = [route(v4.address), route(v6.address)];
  await routes.remove(v4);
  await routes.remove(v4);
  t.deepEqual(tables.log, ["delete 198.51.100.1/32 table 198 proto 248"]);
  t.deepEqual(await routes.installed(), [v6]);
});

test("remove leaves another's route to the address alone", async (t) => {
  const { tables, routes } = setup();
  const foreign = route(v4.address, { protocol: RTPROT_STATIC });
  tables.routes = [foreign];
  await routes.remove(v4);
  t.deepEqual(tables.log, []);
  t.deepEqual(tables.routes, [foreign]);
});

test("remove is done when the route went away after the listing (ESRCH), and fails on anything else", async (t) => {
  const { tables, routes } = setup();
  tables.routes = [route(v4.address)];
  tables.deleteError = kernelError("ESRCH", 3);
  await routes.remove(v4);
  tables.deleteError = kernelError("EPERM", 1);
  await t.throwsAsync(routes.remove(v4), { instanceOf: SystemCallError, message: /EPERM/ });
});

test("installed lists only vipd's protocol in vipd's table, host prefixes, each address once", async (t) => {
  const { tables, routes } = setup({ table: 70000, protocol: 201 });
  tables.routes = [
    route("198.51.100.2", { table: 70000, protocol: 201 }),
    route("198.51.100.2", { table: 70000, protocol: 201, priority: 5 }),
    route("198.51.100.3", { table: 70000, protocol: PROTOCOL }),
    route("198.51.100.4", { table: TABLE, protocol: 201 }),
    route("198.51.100.0", { table: 70000, protocol: 201, prefixLength: 24 }),
    route("2001:db8:1::2", { table: 70000, protocol: 201 }),
  ];
  t.deepEqual(await routes.installed(), [
    { address: "198.51.100.2", family: 4 },
    { address: "2001:db8:1::2", family: 6 },
  ]);
});

test("the constructor refuses a table or protocol that cannot be vipd's", (t) => {
  t.throws(() => setup({ table: 254 }), { instanceOf: RangeError, message: /main table/ });
  t.throws(() => setup({ protocol: RTPROT_STATIC }), { instanceOf: RangeError, message: /static/ });
});

const TABLES: readonly [number, string | null][] = [
  [198, null],
  [1, null],
  [251, null],
  [256, null],
  [4294967295, null],
  [0, "the route table must be an integer from 1 to 4294967295, not 0"],
  [4294967296, "the route table must be an integer from 1 to 4294967295, not 4294967296"],
  [1.5, "the route table must be an integer from 1 to 4294967295, not 1.5"],
  [-1, "the route table must be an integer from 1 to 4294967295, not -1"],
  [252, "the route table cannot be 252, the kernel's compat table"],
  [253, "the route table cannot be 253, the kernel's default table"],
  [254, "the route table cannot be 254, the kernel's main table"],
  [255, "the route table cannot be 255, the kernel's local table"],
];

for (const [table, problem] of TABLES) {
  test(`route table ${table}: ${problem ?? "fine"}`, (t) => {
    t.is(routeTableProblem(table), problem);
  });
}

const PROTOCOLS: readonly [number, string | null][] = [
  [248, null],
  [5, null],
  [19, null],
  [255, null],
  [0, "the route protocol cannot be 0, which is unspec's"],
  [2, "the route protocol cannot be 2, which is kernel's"],
  [3, "the route protocol cannot be 3, which is boot's"],
  [4, "the route protocol cannot be 4, which is static's"],
  [11, "the route protocol cannot be 11, which is zebra's"],
  [12, "the route protocol cannot be 12, which is bird's"],
  [16, "the route protocol cannot be 16, which is dhcp's"],
  [186, "the route protocol cannot be 186, which is bgp's"],
  [256, "the route protocol must be an integer from 0 to 255, not 256"],
  [-1, "the route protocol must be an integer from 0 to 255, not -1"],
  [2.5, "the route protocol must be an integer from 0 to 255, not 2.5"],
];

for (const [protocol, problem] of PROTOCOLS) {
  test(`route protocol ${protocol}: ${problem ?? "fine"}`, (t) => {
    t.is(routeProtocolProblem(protocol), problem);
  });
}
