// The data plane of a real node against a real kernel: two throwaway namespaces joined by a veth
// pair, the data plane running in namespace A through a fixture process. An address vipd did not
// add is never replaced, re-lifetimed or removed, whatever its prefix length; the record of vipd's
// addresses (forced here, as on kernels before 6.1) carries a restart; and an interface that flaps,
// or is deleted and created again, leaves the node hearing the wire and seeing its default route.
// Needs root.
import test from "ava";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Vip } from "../../src/agent/service-intent.ts";
import type { AddressMarking } from "../../src/net/address-marking.ts";
import {
  LEGACY_ADDRESS_PROTOCOL,
  MARK_PROBE_ADDRESS,
  SERVICES_ADDRESS_PROTOCOL,
} from "../../src/net/address-ownership.ts";
import type { Step, StepsOutput } from "./fixtures/data-plane-steps.ts";
import { createPair, ip, PAIR, requireRoot, type NamespacePair } from "./fixtures/namespace-pair.ts";
import { killFixtures, runFixture } from "./fixtures/run-fixture.ts";

let pair: NamespacePair;
let stateDir: string;

test.before(() => {
  requireRoot();
  pair = createPair("d");
  stateDir = mkdtempSync(path.join(tmpdir(), "vipd-state-"));
});

test.after.always(() => {
  killFixtures();
  pair.remove();
  rmSync(stateDir, { recursive: true, force: true });
});

const v4 = (address: string): Vip => ({ address, family: 4 });

interface Listed {
  readonly address: string;
  readonly prefixLength: number;
  readonly protocol: number;
  readonly validLifetime: number | "Infinity";
}

function steps(
  marking: AddressMarking,
  list: readonly Step[],
  options: { viaDefaultRoute?: boolean; recordFile?: string } = {},
): Promise<StepsOutput> {
  return runFixture<StepsOutput>(pair.a, "data-plane-steps.ts", {
    marking,
    recordFile: options.recordFile ?? path.join(stateDir, "services.addresses"),
    interfaceName: PAIR.interfaceA,
    // Unset: the interface of the default route, as on a node without --interface.
    configured: options.viaDefaultRoute === true ? undefined : PAIR.interfaceA,
    addressLifetimeMs: 3000,
    steps: list,
  });
}

function value(output: StepsOutput, index: number): unknown {
  const outcome = output.outcomes[index];
  if (outcome?.ok !== true) throw new Error(`step ${index} failed: ${JSON.stringify(outcome)}`);
  return outcome.value;
}

function failure(output: StepsOutput, index: number): { name?: string; foreign?: unknown } {
  const outcome = output.outcomes[index];
  if (outcome?.ok !== false) throw new Error(`step ${index} succeeded: ${JSON.stringify(outcome)}`);
  return outcome.error as { name?: string; foreign?: unknown };
}

/** `ip -j addr show dev va` in namespace A: each address with its prefix length and valid lifetime. */
function onA(address: string): { prefixlen: number; valid_life_time: number }[] {
  const links = JSON.parse(ip("-n", pair.a, "-j", "addr", "show", "dev", PAIR.interfaceA)) as {
    addr_info: { local: string; prefixlen: number; valid_life_time: number }[];
  }[];
  return links
    .flatMap((link) => link.addr_info)
    .filter((info) => info.local === address)
    .map(({ prefixlen, valid_life_time }) => ({ prefixlen, valid_life_time }));
}

const FOREVER = 0xffffffff;

/** By hand, with a lifetime: what an address of vipd's looks like on a kernel that drops its mark. */
function addExpiring(vip: Vip): void {
  ip(
    "-n",
    pair.a,
    "addr",
    "add",
    `${vip.address}/32`,
    "dev",
    PAIR.interfaceA,
    "valid_lft",
    "100",
    "preferred_lft",
    "100",
  );
}

test.serial(
  "the start-up probe finds that this kernel keeps vipd's mark, and leaves lo as it was",
  async (t) => {
    const before = ip("-n", pair.a, "addr", "show", "dev", "lo");
    const output = await steps("auto", []);
    t.is(output.method, "kernel");
    t.false(ip("-n", pair.a, "addr", "show", "dev", "lo").includes(MARK_PROBE_ADDRESS));
    t.is(ip("-n", pair.a, "addr", "show", "dev", "lo"), before);
  },
);

for (const marking of ["kernel", "record"] as const) {
  for (const prefixLength of [32, 24]) {
    test.serial(
      `${marking}: a VIP configured by hand as /${prefixLength} is reported and never added beside, refreshed or removed`,
      async (t) => {
        const vip = v4("198.51.100.71");
        ip("-n", pair.a, "addr", "add", `${vip.address}/${prefixLength}`, "dev", PAIR.interfaceA);
        t.teardown(() =>
          ip("-n", pair.a, "addr", "del", `${vip.address}/${prefixLength}`, "dev", PAIR.interfaceA),
        );
        // A refresh runs every second (lifetime 3 s) while the fixture waits.
        const output = await steps(marking, [
          { do: "foreign", vips: [vip] },
          { do: "announce", workKey: "default/web", vips: [vip] },
          { do: "wait", ms: 1500 },
          { do: "intact", workKey: "default/web" },
          { do: "withdraw", workKey: "default/web" },
          { do: "sweep", owned: [] },
        ]);
        t.deepEqual(value(output, 0), [
          { address: vip.address, prefixLength, interfaceName: PAIR.interfaceA },
        ]);
        t.is(failure(output, 1).name, "ForeignAddressError");
        t.is(value(output, 3), false);
        t.deepEqual(onA(vip.address), [{ prefixlen: prefixLength, valid_life_time: FOREVER }]);
      },
    );
  }
}

test.serial(
  "kernel: vipd's VIP is added with its mark and a lifetime, and removed on withdrawal",
  async (t) => {
    const vip = v4("198.51.100.72");
    const output = await steps("kernel", [
      { do: "announce", workKey: "default/own", vips: [vip] },
      { do: "addresses" },
      { do: "foreign", vips: [vip] },
      { do: "withdraw", workKey: "default/own" },
    ]);
    const added = (value(output, 1) as Listed[]).find((each) => each.address === vip.address);
    t.like(added, { prefixLength: 32, protocol: SERVICES_ADDRESS_PROTOCOL, validLifetime: 3 });
    t.deepEqual(value(output, 2), [], "its own address is not foreign");
    t.deepEqual(onA(vip.address), []);
  },
);

test.serial(
  "record, forced: vipd's addresses are unmarked; a restart sweeps the stale, adopts the owned and leaves foreign ones alone",
  async (t) => {
    const recordFile = path.join(stateDir, "restart.addresses");
    const [stale, kept, permanent, expiring, recordedOnly] = [74, 75, 76, 77, 79].map((host) =>
      v4(`198.51.100.${host}`),
    ) as [Vip, Vip, Vip, Vip, Vip];
    t.teardown(() => {
      for (const vip of [stale, kept, permanent, expiring, recordedOnly])
        ip("-n", pair.a, "addr", "flush", "to", `${vip.address}/32`, "dev", PAIR.interfaceA);
    });
    const first = await steps(
      "record",
      [
        { do: "announce", workKey: "default/stale", vips: [stale] },
        { do: "announce", workKey: "default/kept", vips: [kept] },
        { do: "addresses" },
        { do: "record" },
      ],
      { recordFile },
    );
    t.is(first.method, "record");
    const added = (value(first, 2) as Listed[]).filter((each) =>
      [stale.address, kept.address].includes(each.address),
    );
    t.deepEqual(
      added.map((each) => each.protocol),
      [0, 0],
      "no mark: what a kernel before 6.1 keeps",
    );
    const ifindex = Number(ip("-n", pair.a, "-o", "link", "show", PAIR.interfaceA).split(":")[0]);
    t.deepEqual((value(first, 3) as string[]).sort(), [
      `${ifindex} ${stale.address}/32`,
      `${ifindex} ${kept.address}/32`,
    ]);

    // The agent died without cleaning up (the fixture withdrew nothing). Meanwhile someone added two
    // addresses by hand, one permanent and one with a lifetime, as vipd's look on such a kernel; and
    // an entry was recorded whose add never happened (a crash between the two).
    ip("-n", pair.a, "addr", "add", `${permanent.address}/32`, "dev", PAIR.interfaceA);
    addExpiring(expiring);
    appendFileSync(recordFile, `+ ${ifindex} ${recordedOnly.address}/32\n`);

    const second = await steps(
      "record",
      [
        { do: "sweep", owned: [["default/kept", [kept]]] },
        { do: "record" },
        { do: "addresses" },
        { do: "foreign", vips: [expiring] },
        { do: "announce", workKey: "default/expiring", vips: [expiring] },
        { do: "announce", workKey: "default/kept", vips: [kept] },
        { do: "withdraw", workKey: "default/kept" },
        { do: "record" },
      ],
      { recordFile },
    );
    t.deepEqual(
      value(second, 1),
      [`${ifindex} ${kept.address}/32`],
      "the stale entry and the entry without address are gone",
    );
    const present = (value(second, 2) as Listed[]).map((each) => each.address);
    t.false(present.includes(stale.address), "the stale VIP was swept");
    t.true(present.includes(kept.address), "the VIP still owned was kept");
    t.deepEqual(value(second, 3), [
      { address: expiring.address, prefixLength: 32, interfaceName: PAIR.interfaceA },
    ]);
    t.is(failure(second, 4).name, "ForeignAddressError");
    t.deepEqual(value(second, 7), []);
    t.deepEqual(onA(kept.address), []);
    t.deepEqual(onA(permanent.address), [{ prefixlen: 32, valid_life_time: FOREVER }]);
    t.is(onA(expiring.address).length, 1, "an unrecorded address with a lifetime is not vipd's either");

    // The address of the pruned entry, added by hand now, is nobody's VIP to sweep.
    addExpiring(recordedOnly);
    await steps("record", [{ do: "sweep", owned: [] }], { recordFile });
    t.is(onA(recordedOnly.address).length, 1);
    t.is(onA(expiring.address).length, 1);
  },
);

for (const marking of ["kernel", "record"] as const) {
  test.serial(
    `${marking}: an address an older release marked is never swept; the agent that installs it takes it over, re-marked`,
    async (t) => {
      const [held, other] = [v4("198.51.100.86"), v4("198.51.100.87")];
      t.teardown(() => {
        for (const vip of [held, other])
          ip("-n", pair.a, "addr", "flush", "to", `${vip.address}/32`, "dev", PAIR.interfaceA);
      });
      const output = await steps(
        marking,
        [
          { do: "addMarked", address: held.address, protocol: LEGACY_ADDRESS_PROTOCOL },
          { do: "addMarked", address: other.address, protocol: LEGACY_ADDRESS_PROTOCOL },
          { do: "sweep", owned: [["default/held", [held]]] },
          { do: "addresses" },
          { do: "foreign", vips: [held] },
          { do: "announce", workKey: "default/held", vips: [held] },
          { do: "addresses" },
          { do: "withdraw", workKey: "default/held" },
          { do: "addresses" },
        ],
        { recordFile: path.join(stateDir, `inherited-${marking}.addresses`) },
      );
      const find = (index: number, vip: Vip) =>
        (value(output, index) as Listed[]).find((each) => each.address === vip.address);
      t.like(find(3, held), { protocol: LEGACY_ADDRESS_PROTOCOL }, "the sweep left the held one");
      t.like(find(3, other), { protocol: LEGACY_ADDRESS_PROTOCOL }, "and the other one");
      t.deepEqual(value(output, 4), [], "an inherited address is nobody else's");
      t.like(find(6, held), {
        protocol: marking === "kernel" ? SERVICES_ADDRESS_PROTOCOL : 0,
        validLifetime: 3,
      });
      t.is(find(8, held), undefined, "its own now: removed on withdrawal");
      t.like(find(8, other), { protocol: LEGACY_ADDRESS_PROTOCOL }, "the other one left to expire");
      t.true(output.errors.some((each) => each.includes(other.address) && each.includes("expires")));
    },
  );
}

function linkA(...args: string[]): Step {
  return { do: "ip", args: ["link", "set", PAIR.interfaceA, ...args] };
}

const defaultRoute: Step = {
  do: "ip",
  args: ["route", "replace", "default", "via", "198.51.100.1", "dev", PAIR.interfaceA, "onlink"],
};
const peer = v4(PAIR.ipv4B);

test.serial(
  "interface flaps: the packet socket hears the wire again, problem() says so meanwhile, the default route is seen again",
  async (t) => {
    ip("-n", pair.a, "route", "replace", "default", "via", "198.51.100.1", "dev", PAIR.interfaceA, "onlink");
    const flap: Step[] = [
      linkA("down"),
      { do: "untilProblem", present: true, timeoutMs: 3000 },
      linkA("up"),
      { do: "ip", args: ["addr", "replace", `${PAIR.ipv6A}/64`, "dev", PAIR.interfaceA, "nodad"] },
      { do: "untilProblem", present: false, timeoutMs: 3000 },
      // What an agent reads once the link and its addresses are back, before the route is.
      { do: "interfaceFor", vips: [v4("198.51.100.73")] },
      defaultRoute,
      { do: "wait", ms: 200 },
      { do: "interfaceFor", vips: [v4("198.51.100.73")] },
      { do: "fence", vips: [peer] },
    ];
    const output = await steps("kernel", [{ do: "fence", vips: [peer] }, ...flap, ...flap, ...flap], {
      viaDefaultRoute: true,
    });
    t.deepEqual(
      value(output, 0),
      { outcome: "answered", answeredBy: [{ ip: PAIR.ipv4B, mac: PAIR.macB }] },
      "B's kernel answers the probe",
    );
    for (let round = 0; round < 3; round++) {
      const at = 1 + round * flap.length;
      const unready = value(output, at + 1);
      t.true(
        typeof unready === "string" && unready.includes(PAIR.interfaceA),
        `round ${round}: unready while down`,
      );
      t.is(value(output, at + 4), null, `round ${round}: ready once up`);
      t.like(value(output, at + 5), { ok: false }, `round ${round}: no default route yet`);
      t.like(value(output, at + 8), { ok: true, name: PAIR.interfaceA }, `round ${round}: the route is back`);
      t.deepEqual(
        value(output, at + 9),
        { outcome: "answered", answeredBy: [{ ip: PAIR.ipv4B, mac: PAIR.macB }] },
        `round ${round}: heard again`,
      );
    }
  },
);

test.serial(
  "an interface deleted and created again: a socket on the new index hears the wire, and the route is seen",
  async (t) => {
    const indexOf = () => Number(ip("-n", pair.a, "-o", "link", "show", PAIR.interfaceA).split(":")[0]);
    const before = indexOf();
    const peerSide = (...args: string[]): Step => ({ do: "ip", args: ["-n", pair.b, ...args] });
    const output = await steps(
      "kernel",
      [
        { do: "fence", vips: [peer] },
        { do: "ip", args: ["link", "del", PAIR.interfaceA] },
        { do: "wait", ms: 200 },
        { do: "problem" },
        {
          do: "ip",
          args: [
            "link",
            "add",
            PAIR.interfaceA,
            "type",
            "veth",
            "peer",
            "name",
            PAIR.interfaceB,
            "netns",
            pair.b,
          ],
        },
        linkA("address", PAIR.macA),
        peerSide("link", "set", PAIR.interfaceB, "address", PAIR.macB),
        peerSide("link", "set", PAIR.interfaceB, "up"),
        peerSide("addr", "add", `${PAIR.ipv4B}/24`, "dev", PAIR.interfaceB),
        peerSide("addr", "add", `${PAIR.ipv6B}/64`, "dev", PAIR.interfaceB, "nodad"),
        { do: "ip", args: ["addr", "add", `${PAIR.ipv4A}/24`, "dev", PAIR.interfaceA] },
        { do: "ip", args: ["addr", "add", `${PAIR.ipv6A}/64`, "dev", PAIR.interfaceA, "nodad"] },
        linkA("up"),
        // Past the kernel's deferred operstate change, whose notification comes up to a second later.
        { do: "wait", ms: 1200 },
        { do: "interfaceFor", vips: [v4("198.51.100.73")] },
        defaultRoute,
        { do: "wait", ms: 200 },
        { do: "interfaceFor", vips: [v4("198.51.100.73")] },
        { do: "fence", vips: [peer] },
        { do: "announce", workKey: "default/again", vips: [v4("198.51.100.73")] },
        { do: "addresses" },
        { do: "withdraw", workKey: "default/again" },
      ],
      { viaDefaultRoute: true },
    );
    t.not(indexOf(), before, "a new index");
    t.deepEqual(value(output, 0), { outcome: "answered", answeredBy: [{ ip: PAIR.ipv4B, mac: PAIR.macB }] });
    t.is(value(output, 3), null, "a socket whose interface is gone is no broken data plane");
    t.like(value(output, 14), { ok: false }, "no default route yet");
    t.like(value(output, 17), { ok: true, name: PAIR.interfaceA });
    t.deepEqual(
      value(output, 18),
      { outcome: "answered", answeredBy: [{ ip: PAIR.ipv4B, mac: PAIR.macB }] },
      "heard on the new index",
    );
    t.true((value(output, 20) as Listed[]).some((each) => each.address === "198.51.100.73"));
  },
);
