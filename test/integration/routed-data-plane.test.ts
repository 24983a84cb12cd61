// The routed data path (BGP and ECMP modes) of a real node against a real kernel: the data plane
// runs in a throwaway namespace through a fixture process and puts routed VIPs on lo, with vipd's
// mark, and their host routes into table 198 with protocol 248; it sends no frame for them; a
// withdrawal takes both away; someone else's route to a VIP leaves no address behind; the restart
// sweep takes vipd's leftovers and nobody else's. Each fixture run ends without withdrawing, as an
// agent killed with SIGKILL, so a run finds what the one before left. Needs root.
import test from "ava";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Vip } from "../../src/agent/service-intent.ts";
import { SERVICES_ADDRESS_PROTOCOL } from "../../src/net/address-ownership.ts";
import type { Address } from "../../src/net/netlink.ts";
import { HOST_ROUTE_DEFAULTS } from "../../src/routing/kernel-host-routes.ts";
import type { Step, StepsOutput } from "./fixtures/data-plane-steps.ts";
import { createPair, ip, PAIR, requireRoot, type NamespacePair } from "./fixtures/namespace-pair.ts";
import { killFixtures, runFixture } from "./fixtures/run-fixture.ts";

const TABLE = String(HOST_ROUTE_DEFAULTS.table);
const PROTOCOL = HOST_ROUTE_DEFAULTS.protocol;
const KEY = "default/web";
const V4: Vip = { address: "203.0.113.200", family: 4 };
const V6: Vip = { address: "2001:db8:3::5", family: 6 };

let pair: NamespacePair;
let stateDir: string;

test.before(() => {
  requireRoot();
  pair = createPair("o");
  stateDir = mkdtempSync(path.join(tmpdir(), "vipd-state-"));
});

test.after.always(() => {
  killFixtures();
  pair.remove();
  rmSync(stateDir, { recursive: true, force: true });
});

function steps(...list: Step[]): Promise<StepsOutput> {
  return runFixture<StepsOutput>(pair.a, "data-plane-steps.ts", {
    marking: "kernel",
    recordFile: path.join(stateDir, "services.addresses"),
    interfaceName: PAIR.interfaceA,
    configured: PAIR.interfaceA,
    // Long enough that nothing expires between two runs of a test.
    addressLifetimeMs: 600_000,
    steps: list,
  });
}

function values(output: StepsOutput): unknown[] {
  return output.outcomes.map((outcome, index) => {
    if (!outcome.ok) throw new Error(`step ${index} failed: ${JSON.stringify(outcome)}`);
    return outcome.value;
  });
}

/** The addresses on lo in the namespace, as netlink lists them. */
async function onLo(): Promise<Address[]> {
  const [addresses] = values(await steps({ do: "addresses", interfaceName: "lo" }));
  return addresses as Address[];
}

function routesShown(): string {
  return (
    ip("-n", pair.a, "route", "show", "table", TABLE) +
    ip("-n", pair.a, "-6", "route", "show", "table", TABLE)
  );
}

test.serial(
  "routed announce: both VIPs on lo with vipd's mark, host routes in table 198 proto 248, no frame",
  async (t) => {
    const [choice, announced, intact, frames] = values(
      await steps(
        { do: "interfaceFor", vips: [V4, V6], routed: true },
        { do: "announce", workKey: KEY, vips: [V4, V6], routed: true },
        { do: "intact", workKey: KEY },
        { do: "framesSent" },
      ),
    );
    t.deepEqual(choice, { ok: true, name: "lo", carrier: true });
    t.deepEqual(announced, { newlyInstalled: true });
    t.true(intact);
    t.is(frames, 0, "no GARP, no NA, no probe");

    const lo = await onLo();
    const v4 = lo.find((address) => address.address === V4.address);
    t.like(v4, { prefixLength: 32, protocol: SERVICES_ADDRESS_PROTOCOL });
    // A lifetime of its own, counting down from the one given: the dead-man switch.
    t.true(v4 !== undefined && v4.validLifetime <= 600, JSON.stringify(v4));
    const v6 = lo.find((address) => address.address === V6.address);
    t.like(v6, { prefixLength: 128, protocol: SERVICES_ADDRESS_PROTOCOL, preferredLifetime: 0 });
    t.true(v6?.flags.includes("nodad"), JSON.stringify(v6));
    t.regex(routesShown(), new RegExp(`^203\\.0\\.113\\.200 dev lo proto ${PROTOCOL} $`, "m"));
    t.regex(routesShown(), new RegExp(`^2001:db8:3::5 dev lo proto ${PROTOCOL} `, "m"));
    t.notRegex(ip("-n", pair.a, "addr", "show", "dev", PAIR.interfaceA), /203\.0\.113\.200|2001:db8:3::5/);
  },
);

test.serial(
  "routed withdraw, after a restart that adopts them, removes both routes and addresses",
  async (t) => {
    const [announced, , frames] = values(
      await steps(
        { do: "announce", workKey: KEY, vips: [V4, V6], routed: true },
        { do: "withdraw", workKey: KEY },
        { do: "framesSent" },
      ),
    );
    t.deepEqual(announced, { newlyInstalled: true });
    t.is(frames, 0);
    t.deepEqual(
      (await onLo()).filter((address) => [V4.address, V6.address].includes(address.address)),
      [],
    );
    t.is(routesShown(), "");
  },
);

test.serial(
  "someone else's route to the VIP in table 198: announce fails and leaves no address",
  async (t) => {
    const vip: Vip = { address: "203.0.113.210", family: 4 };
    ip("-n", pair.a, "route", "add", `${vip.address}/32`, "dev", "lo", "proto", "static", "table", TABLE);
    try {
      const output = await steps(
        { do: "announce", workKey: KEY, vips: [vip], routed: true },
        { do: "intact", workKey: KEY },
      );
      t.like(output.outcomes[0], { ok: false, error: { name: "ForeignRouteError" } });
      t.deepEqual(output.outcomes[1], { ok: true, value: false });
      t.false((await onLo()).some((address) => address.address === vip.address));
      t.regex(routesShown(), /^203\.0\.113\.210 dev lo proto static /m);
    } finally {
      ip("-n", pair.a, "route", "flush", "table", TABLE);
    }
  },
);

test.serial(
  "the sweep removes vipd's leftover route and address, never an address someone put on lo",
  async (t) => {
    const leftover: Vip = { address: "203.0.113.220", family: 4 };
    const kept: Vip = { address: "203.0.113.221", family: 4 };
    values(
      await steps(
        { do: "announce", workKey: "default/gone", vips: [leftover], routed: true },
        { do: "announce", workKey: "default/kept", vips: [kept], routed: true },
      ),
    );
    ip("-n", pair.a, "addr", "add", "203.0.113.201/32", "dev", "lo");
    try {
      const output = await steps({ do: "sweep", owned: [["default/kept", [kept]]] });
      values(output);
      const lo = (await onLo()).map((address) => address.address);
      t.false(lo.includes(leftover.address));
      t.true(lo.includes(kept.address));
      t.true(lo.includes("203.0.113.201"), "someone else's, never removed");
      t.notRegex(routesShown(), /203\.0\.113\.220/);
      t.regex(routesShown(), /^203\.0\.113\.221 dev lo proto 248 $/m);
      t.true(output.errors.some((message) => message.includes(`host route to ${leftover.address}`)));
      t.true(output.errors.some((message) => message.includes(`stale VIP ${leftover.address}`)));
    } finally {
      values(await steps({ do: "sweep", owned: [] }));
      ip("-n", pair.a, "addr", "del", "203.0.113.201/32", "dev", "lo");
    }
    t.is(routesShown(), "");
    t.false((await onLo()).some((address) => address.address === "203.0.113.201"));
  },
);
