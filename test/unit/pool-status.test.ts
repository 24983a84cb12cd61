import test from "ava";
import { poolStatus } from "../../src/addresses/pool-status.ts";
import { resolvePools } from "../../src/addresses/pools.ts";
import type { AllocationRecord } from "../../src/addresses/allocation-index.ts";
import { timestampMs } from "../../src/kube/timestamps.ts";

const [older, younger] = resolvePools([
  {
    name: "a-lan",
    origin: "VIPPool",
    createdAt: 0,
    spec: { addresses: ["198.51.100.0/30", "2001:db8::/126"] },
  },
  { name: "b-lan", origin: "VIPPool", createdAt: 1, spec: { addresses: ["198.51.100.2-198.51.100.5"] } },
]);

function given(address: string): AllocationRecord {
  return {
    name: address,
    resourceVersion: "1",
    createdAt: 0,
    address,
    family: address.includes(":") ? 6 : 4,
    pool: "a-lan",
    services: [],
    sharingKey: undefined,
    releasedAt: undefined,
  };
}

test("usage per family, and a pool that keeps its overlaps is Ready and not Conflicting", (t) => {
  if (older === undefined) throw new Error("no pool");
  const status = poolStatus({
    pool: older,
    allocated: [given("198.51.100.1"), given("2001:db8::1")],
    previous: undefined,
    generation: 2,
    now: "T1",
  });
  t.deepEqual(status.ipv4, { total: "4", allocated: 1, free: "3" });
  t.deepEqual(status.ipv6, { total: "4", allocated: 1, free: "3" });
  t.is(status.allocated, 2);
  t.deepEqual(
    status.conditions?.map((each) => [
      each.type,
      each.status,
      each.reason,
      each.lastTransitionTime,
      each.observedGeneration,
    ]),
    [
      ["Ready", "True", "Ready", "T1", 2],
      ["Conflicting", "False", "NoOverlap", "T1", 2],
    ],
  );
});

test("the younger of two overlapping pools is Conflicting, naming who keeps what; a condition keeps its time while its status holds", (t) => {
  if (younger === undefined) throw new Error("no pool");
  const first = poolStatus({ pool: younger, allocated: [], previous: undefined, generation: 1, now: "T1" });
  const conflicting = first.conditions?.find((each) => each.type === "Conflicting");
  t.is(conflicting?.status, "True");
  t.is(
    conflicting?.message,
    "these addresses are also in older pools, which keep them: 198.51.100.2-198.51.100.3 (kept by a-lan)",
  );
  t.is(first.ipv6, undefined, "no IPv6 usage for a pool without IPv6 addresses");
  const again = poolStatus({ pool: younger, allocated: [], previous: first, generation: 1, now: "T2" });
  t.deepEqual(again, first);
});

test("timestamps from lists (Date) and from watch events (text) read alike; anything else is none", (t) => {
  t.is(timestampMs(new Date("2026-12-01T00:00:00Z")), timestampMs("2026-12-01T00:00:00Z"));
  t.is(timestampMs("not a time"), undefined);
  t.is(timestampMs(undefined), undefined);
});
