// Host routes in a table of vipd's own, against a real kernel: the native RTM_NEWROUTE/RTM_DELROUTE
// and KernelHostRoutes over them, in a throwaway namespace (with a veth pair, whose peer namespace
// these tests leave alone). Needs root. Each check runs in namespace A through a fixture process.
import test from "ava";
import type { Vip } from "../../src/agent/service-intent.ts";
import type { AddRouteOptions, Route } from "../../src/net/netlink.ts";
import { HOST_ROUTE_DEFAULTS } from "../../src/routing/kernel-host-routes.ts";
import type { HostRoutesCall, HostRoutesInput } from "./fixtures/host-routes-calls.ts";
import { createPair, ip, PAIR, requireRoot, type NamespacePair } from "./fixtures/namespace-pair.ts";
import type { Call, Outcome } from "./fixtures/netlink-calls.ts";
import { killFixtures, runFixture } from "./fixtures/run-fixture.ts";

const TABLE = HOST_ROUTE_DEFAULTS.table;
const PROTOCOL = HOST_ROUTE_DEFAULTS.protocol;
const LOOPBACK_IFINDEX = 1;
const RTN_UNICAST = 1;
const RT_SCOPE_UNIVERSE = 0;
const RTPROT_STATIC = 4;

let pair: NamespacePair;

test.before(() => {
  requireRoot();
  pair = createPair("r");
});

test.after.always(() => {
  killFixtures();
  pair.remove();
});

function v4(address: string): Vip {
  return { address, family: 4 };
}

function v6(address: string): Vip {
  return { address, family: 6 };
}

async function netlinkCalls(...list: Call[]): Promise<Outcome[]> {
  return runFixture<Outcome[]>(pair.a, "netlink-calls.ts", list);
}

async function hostRoutes(
  options: HostRoutesInput["options"],
  ...calls: HostRoutesCall[]
): Promise<Outcome[]> {
  return runFixture<Outcome[]>(pair.a, "host-routes-calls.ts", { options, calls } satisfies HostRoutesInput);
}

/** The routes of a table, both families, as the wrapper lists them. */
async function routesIn(table: number): Promise<Route[]> {
  const outcomes = await netlinkCalls(
    { method: "listRoutes", family: 4 },
    { method: "listRoutes", family: 6 },
  );
  return outcomes.flatMap((outcome) => {
    if (!outcome.ok) throw new Error(`listRoutes failed: ${JSON.stringify(outcome)}`);
    return (outcome.value as Route[]).filter((route) => route.table === table);
  });
}

function shown(table: number): string {
  return (
    ip("-n", pair.a, "route", "show", "table", String(table)) +
    ip("-n", pair.a, "-6", "route", "show", "table", String(table))
  );
}

function oks(outcomes: readonly Outcome[]): unknown[] {
  return outcomes.map((outcome) => (outcome.ok ? true : outcome.error));
}

function errorOf(outcome: Outcome | undefined): Record<string, unknown> {
  if (outcome?.ok !== false) throw new Error(`expected a failure, got ${JSON.stringify(outcome)}`);
  return outcome.error as Record<string, unknown>;
}

test.serial(
  "install IPv4 and IPv6 host routes into table 198 with protocol 248, out of lo; again changes nothing",
  async (t) => {
    const vips = [v4("198.51.100.70"), v6("2001:db8:1::70")];
    const outcomes = await hostRoutes(
      {},
      ...vips.map((vip): HostRoutesCall => ({ method: "install", vip })),
      ...vips.map((vip): HostRoutesCall => ({ method: "install", vip })),
      { method: "installed" },
    );
    t.deepEqual(oks(outcomes.slice(0, 4)), [true, true, true, true]);
    t.deepEqual(outcomes[4], { ok: true, value: vips });

    const routes = await routesIn(TABLE);
    t.is(routes.length, 2, JSON.stringify(routes));
    for (const [vip, prefixLength] of [
      [vips[0], 32],
      [vips[1], 128],
    ] as const) {
      t.like(
        routes.find((route) => route.destination === vip?.address),
        {
          family: vip?.family,
          table: TABLE,
          prefixLength,
          protocol: PROTOCOL,
          type: RTN_UNICAST,
          scope: RT_SCOPE_UNIVERSE,
          nexthops: [{ ifindex: LOOPBACK_IFINDEX, gateway: null }],
        },
      );
    }
    // As kube-vip's routing-table mode shows its own, so BIRD filters written for it match.
    t.regex(shown(TABLE), /^198\.51\.100\.70 dev lo proto 248 $/m);
    t.regex(shown(TABLE), /^2001:db8:1::70 dev lo proto 248 metric 1024 /m);
    t.notRegex(ip("-n", pair.a, "route", "show", "table", "main"), /198\.51\.100\.70/);
  },
);

test.serial("remove takes vipd's routes out, and removing again is fine", async (t) => {
  const vips = [v4("198.51.100.70"), v6("2001:db8:1::70")];
  const outcomes = await hostRoutes(
    {},
    ...vips.map((vip): HostRoutesCall => ({ method: "remove", vip })),
    ...vips.map((vip): HostRoutesCall => ({ method: "remove", vip })),
    { method: "installed" },
  );
  t.deepEqual(oks(outcomes), [true, true, true, true, true]);
  t.deepEqual(outcomes[4], { ok: true, value: [] });
  t.deepEqual(await routesIn(TABLE), []);
});

test.serial("a route of another protocol in the table is neither replaced nor removed", async (t) => {
  for (const prefix of ["198.51.100.71/32", "2001:db8:1::71/128"])
    ip("-n", pair.a, "route", "add", prefix, "dev", "lo", "proto", "static", "table", String(TABLE));
  const vips = [v4("198.51.100.71"), v6("2001:db8:1::71")];
  const outcomes = await hostRoutes(
    {},
    ...vips.map((vip): HostRoutesCall => ({ method: "install", vip })),
    ...vips.map((vip): HostRoutesCall => ({ method: "remove", vip })),
    { method: "installed" },
  );
  for (const [index, text] of ["198.51.100.71/32", "2001:db8:1::71/128"].entries()) {
    const error = errorOf(outcomes[index]);
    t.is(error.name, "ForeignRouteError");
    t.is(error.message, `not vipd's: ${text} in table ${TABLE} with protocol ${RTPROT_STATIC}`);
  }
  t.deepEqual(oks(outcomes.slice(2)), [true, true, true]);
  t.deepEqual(outcomes[4], { ok: true, value: [] });

  // Even asked directly, the kernel deletes only a route with the protocol the request names.
  const deletes = await netlinkCalls(
    ...vips.map((vip): Call => ({
      method: "deleteRoute",
      key: {
        destination: vip.address,
        prefixLength: vip.family === 4 ? 32 : 128,
        table: TABLE,
        protocol: PROTOCOL,
      },
    })),
  );
  t.deepEqual(
    deletes.map((outcome) => errorOf(outcome).code),
    ["ESRCH", "ESRCH"],
  );
  const routes = await routesIn(TABLE);
  t.deepEqual(
    routes.map((route) => [route.destination, route.protocol, route.nexthops[0]?.ifindex]),
    [
      ["198.51.100.71", RTPROT_STATIC, LOOPBACK_IFINDEX],
      ["2001:db8:1::71", RTPROT_STATIC, LOOPBACK_IFINDEX],
    ],
  );
  ip("-n", pair.a, "route", "flush", "table", String(TABLE));
  ip("-n", pair.a, "-6", "route", "flush", "table", String(TABLE));
});

test.serial("another table (above 255, carried in RTA_TABLE), protocol and device", async (t) => {
  const vip = v4("198.51.100.72");
  const options = { table: 70000, protocol: 201, device: PAIR.interfaceA };
  const outcomes = await hostRoutes(options, { method: "install", vip }, { method: "installed" });
  t.deepEqual(outcomes, [
    { ok: true, value: null },
    { ok: true, value: [vip] },
  ]);
  const ifindex = Number(ip("-n", pair.a, "-o", "link", "show", PAIR.interfaceA).split(":")[0]);
  t.like(await routesIn(70000), [
    { destination: vip.address, table: 70000, protocol: 201, nexthops: [{ ifindex, gateway: null }] },
  ]);
  t.deepEqual(await routesIn(TABLE), [], "nothing went into the default table");
  t.deepEqual(oks(await hostRoutes(options, { method: "remove", vip })), [true]);
  t.deepEqual(await routesIn(70000), []);
});

test.serial("errors carry the kernel's errno and code", async (t) => {
  const route: AddRouteOptions = {
    destination: "198.51.100.73",
    prefixLength: 32,
    table: TABLE,
    protocol: PROTOCOL,
    ifindex: 9999,
    scope: RT_SCOPE_UNIVERSE,
  };
  const { ifindex: _ifindex, scope: _scope, ...key } = route;
  const outcomes = await netlinkCalls(
    { method: "addRoute", options: route },
    { method: "addRoute", options: { ...route, destination: "2001:db8:1::73", prefixLength: 128 } },
    { method: "deleteRoute", key },
  );
  t.like(errorOf(outcomes[0]), {
    name: "SystemCallError",
    code: "ENODEV",
    errno: 19,
    syscall: "RTM_NEWROUTE",
  });
  t.like(errorOf(outcomes[1]), {
    name: "SystemCallError",
    code: "ENODEV",
    errno: 19,
    syscall: "RTM_NEWROUTE",
  });
  t.like(errorOf(outcomes[2]), { name: "SystemCallError", code: "ESRCH", errno: 3, syscall: "RTM_DELROUTE" });

  const [missingDevice] = await hostRoutes(
    { device: "nosuch0" },
    { method: "install", vip: v4("198.51.100.73") },
  );
  t.is(errorOf(missingDevice).message, "interface nosuch0 does not exist");
  t.deepEqual(await routesIn(TABLE), []);
});
