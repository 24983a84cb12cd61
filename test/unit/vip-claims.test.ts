import test from "ava";
import { VipClaims, type VipRequest } from "../../src/agent/vip-claims.ts";

function request(serviceKey: string, createdAt: string, ...addresses: string[]): VipRequest {
  return { serviceKey, createdAt: Date.parse(createdAt), addresses };
}

const cases: [string, VipRequest[], Record<string, string | null>][] = [
  [
    "distinct addresses: no conflict",
    [
      request("a/one", "2026-01-01T00:00:00Z", "198.51.100.5"),
      request("a/two", "2026-01-02T00:00:00Z", "198.51.100.6"),
    ],
    { "a/one": null, "a/two": null },
  ],
  [
    "the older Service keeps a shared address",
    [
      request("a/new", "2026-01-02T00:00:00Z", "198.51.100.5"),
      request("a/old", "2026-01-01T00:00:00Z", "198.51.100.5"),
    ],
    { "a/old": null, "a/new": "198.51.100.5 a/old" },
  ],
  [
    "same creation time: namespace/name decides, the same way on every agent",
    [
      request("b/x", "2026-01-01T00:00:00Z", "198.51.100.5"),
      request("a/y", "2026-01-01T00:00:00Z", "198.51.100.5"),
    ],
    { "a/y": null, "b/x": "198.51.100.5 a/y" },
  ],
  [
    "dual-stack: one shared family is enough to conflict",
    [
      request("a/old", "2026-01-01T00:00:00Z", "2001:db8:1::5"),
      request("a/new", "2026-01-02T00:00:00Z", "198.51.100.5", "2001:db8:1::5"),
    ],
    { "a/old": null, "a/new": "2001:db8:1::5 a/old" },
  ],
];

for (const [name, requests, expected] of cases) {
  test(name, (t) => {
    const claims = new VipClaims();
    for (const each of requests) claims.set(each.serviceKey, each);
    const seen = Object.fromEntries(
      Object.keys(expected).map((key) => {
        const conflict = claims.conflict(key);
        return [key, conflict === null ? null : `${conflict.address} ${conflict.heldBy}`];
      }),
    );
    t.deepEqual(seen, expected);
  });
}

test("removing the older Service frees the address and names the Services to re-run", (t) => {
  const claims = new VipClaims();
  claims.set("a/old", request("a/old", "2026-01-01T00:00:00Z", "198.51.100.5"));
  t.deepEqual(claims.set("a/new", request("a/new", "2026-01-02T00:00:00Z", "198.51.100.5")), ["a/old"]);
  t.deepEqual(claims.set("a/old", null), ["a/new"]);
  t.is(claims.conflict("a/new"), null);
});

test("changing a Service's address names the Services of the old and the new address", (t) => {
  const claims = new VipClaims();
  claims.set("a/one", request("a/one", "2026-01-01T00:00:00Z", "198.51.100.5"));
  claims.set("a/two", request("a/two", "2026-01-01T00:00:00Z", "198.51.100.6"));
  claims.set("a/three", request("a/three", "2026-01-03T00:00:00Z", "198.51.100.5"));
  t.deepEqual(claims.set("a/three", request("a/three", "2026-01-03T00:00:00Z", "198.51.100.6")).sort(), [
    "a/one",
    "a/two",
  ]);
  t.is(claims.conflict("a/three")?.heldBy, "a/two");
});

test("an address is kept by the one asking Service without a conflict, and lists who asks, oldest first", (t) => {
  const claims = new VipClaims();
  claims.set("a/new", request("a/new", "2026-01-02T00:00:00Z", "198.51.100.5", "2001:db8:1::5"));
  claims.set("a/old", request("a/old", "2026-01-01T00:00:00Z", "198.51.100.5"));
  t.deepEqual(claims.asking("198.51.100.5"), ["a/old", "a/new"]);
  t.is(claims.keeper("198.51.100.5"), "a/old");
  // a/new conflicts on its IPv4 address, so it is refused whole: its IPv6 address serves nobody.
  t.is(claims.keeper("2001:db8:1::5"), null);
  t.deepEqual(claims.addressesOf("a/new"), ["198.51.100.5", "2001:db8:1::5"]);
  claims.set("a/old", null);
  t.is(claims.keeper("2001:db8:1::5"), "a/new");
});

test("when the oldest asker is refused for another address, nobody keeps the shared one", (t) => {
  const claims = new VipClaims();
  claims.set("a/first", request("a/first", "2026-01-01T00:00:00Z", "198.51.100.7"));
  claims.set("a/second", request("a/second", "2026-01-02T00:00:00Z", "198.51.100.7", "2001:db8:1::8"));
  claims.set("a/third", request("a/third", "2026-01-03T00:00:00Z", "2001:db8:1::8"));
  t.is(claims.keeper("2001:db8:1::8"), null);
  t.is(claims.keeper("198.51.100.7"), "a/first");
});
