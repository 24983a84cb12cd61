// The allocation suite's analysis (issue 15): which allocation first named each Service and which
// addresses went to two Services, each Service's legs from created to answering, whether
// allocation added steady-state API writes, the agents' warnings, the pool's size, and the report.
import test from "ava";
import {
  agentWarnings,
  AllocationLedger,
  allocationLegs,
  allocationPool,
  isAllocationWrite,
  sighting,
  steadyWrites,
  type AllocationSighting,
} from "../../scripts/bench/allocation-analysis.ts";
import type { RequestRate } from "../../scripts/bench/api-requests.ts";
import { parseBenchOptions, UsageError } from "../../scripts/bench/options.ts";
import { renderSummary, targets } from "../../scripts/bench/report-markdown.ts";
import { emptyResults, type AllocationRun, type SteadyState } from "../../scripts/bench/results.ts";

function allocation(overrides: Partial<AllocationSighting> & { address: string }): AllocationSighting {
  return {
    name: overrides.address.replaceAll(":", "-"),
    services: [],
    sharingKey: undefined,
    released: false,
    ...overrides,
  };
}

test("sighting reads the address, the Services as namespace/name and whether it is released", (t) => {
  t.deepEqual(
    sighting({
      metadata: { name: "2001-0db8-0001-0000-0000-0000-0002-0000" },
      spec: {
        address: "2001:db8:1::2:0",
        pool: "bench",
        services: [{ namespace: "bench", name: "alloc-0", uid: "u0" }],
        releasedAt: "2026-12-02T00:00:00Z",
      },
    }),
    {
      name: "2001-0db8-0001-0000-0000-0000-0002-0000",
      address: "2001:db8:1::2:0",
      services: ["bench/alloc-0"],
      sharingKey: undefined,
      released: true,
    },
  );
  t.is(sighting({ metadata: { name: "x" } }), undefined);
});

test("a Service's allocation is the first unreleased one seen naming it, at the time it was seen", (t) => {
  const ledger = new AllocationLedger();
  ledger.seen(allocation({ address: "2001:db8:1::2:0", services: [] }), 5);
  ledger.seen(allocation({ address: "2001:db8:1::2:0", services: ["bench/a"], released: true }), 7);
  t.is(ledger.first("bench/a"), undefined, "neither an empty nor a released allocation gives an address");
  ledger.seen(allocation({ address: "2001:db8:1::2:1", services: ["bench/a"] }), 10);
  ledger.seen(allocation({ address: "2001:db8:1::2:1", services: ["bench/a"] }), 20);
  t.deepEqual(ledger.first("bench/a"), { address: "2001:db8:1::2:1", atNs: 10 });
  t.deepEqual(ledger.doubleAllocations(), []);
  t.deepEqual(ledger.sharedAddresses(), []);
});

test("two unreleased allocations of one family for one Service are a double allocation; of two families not", (t) => {
  const ledger = new AllocationLedger();
  ledger.seen(allocation({ address: "2001:db8:1::2:1", services: ["bench/a"] }), 1);
  ledger.seen(allocation({ address: "198.51.100.7", services: ["bench/a"] }), 2);
  t.deepEqual(ledger.doubleAllocations(), []);
  ledger.seen(allocation({ address: "2001:db8:1::2:0", services: ["bench/a"] }), 3);
  t.deepEqual(ledger.doubleAllocations(), ["bench/a named by 2001:db8:1::2:0 and 2001:db8:1::2:1"]);
  t.deepEqual(ledger.first("bench/a"), { address: "2001:db8:1::2:1", atNs: 1 });
});

test("an allocation released or deleted before the next one is no double allocation", (t) => {
  const ledger = new AllocationLedger();
  ledger.seen(allocation({ address: "2001:db8:1::2:1", services: ["bench/a"] }), 1);
  ledger.seen(allocation({ address: "2001:db8:1::2:1", services: ["bench/a"], released: true }), 2);
  ledger.seen(allocation({ address: "2001:db8:1::2:2", services: ["bench/b"] }), 3);
  ledger.deleted("2001-db8-1--2-2");
  ledger.seen(
    allocation({ address: "2001:db8:1::2:3", services: ["bench/a", "bench/b"], sharingKey: "k" }),
    4,
  );
  t.deepEqual(ledger.doubleAllocations(), []);
  t.deepEqual(ledger.sharedAddresses(), [], "sharing with a key is allowed");
});

test("an address given to two Services without a sharing key is reported", (t) => {
  const ledger = new AllocationLedger();
  ledger.seen(allocation({ address: "2001:db8:1::2:5", services: ["bench/a", "bench/b"] }), 1);
  t.deepEqual(ledger.sharedAddresses(), ["2001:db8:1::2:5 given to bench/a and bench/b"]);
});

function steady(writesPerSecond: number, rates: RequestRate[] = []): SteadyState {
  return {
    windowSeconds: 60,
    rates: [{ key: "PUT leases", verb: "PUT", resource: "leases", perSecond: writesPerSecond }, ...rates],
    writesPerSecond: writesPerSecond + rates.reduce((sum, rate) => sum + rate.perSecond, 0),
    readsPerSecond: 0.2,
    usage: [
      { node: "node1", rssBytes: 100 * 2 ** 20, cpuPercent: 1, eventLoopLagP99Ms: 2, eventLoopLagMaxMs: 5 },
    ],
  };
}

function run(overrides: Partial<AllocationRun> = {}): AllocationRun {
  return {
    services: 3,
    nodes: 3,
    pool: "2001:db8:1::2:0/126",
    createMs: 40,
    createdAtMs: [10, 20, 30],
    allocatedAtMs: [15, 18, 60],
    addresses: ["2001:db8:1::2:0", "2001:db8:1::2:1", "2001:db8:1::2:2"],
    answeredAtMs: [100, 120, 90],
    statusAtMs: [200, 210, 220],
    sharedAddresses: [],
    doubleAllocations: [],
    spread: { node1: 1, node2: 1, node3: 1 },
    idle: steady(3),
    loaded: steady(3.1),
    agentWarnings: [],
    ...overrides,
  };
}

test("legs per Service, one seen before the other counting 0, and the last of each over all", (t) => {
  // alloc-1 was allocated (18) before its create returned (20).
  const legs = allocationLegs(run());
  t.deepEqual(legs.createdToAllocated, [5, 0, 30]);
  t.deepEqual(legs.allocatedToAnswering, [85, 102, 30]);
  t.deepEqual(legs.createdToAnswering, [90, 100, 60]);
  t.deepEqual(legs.createdToStatus, [190, 190, 190]);
  t.is(legs.allAllocatedMs, 60);
  t.is(legs.allAnsweredMs, 120);
  t.is(legs.allStatusMs, 220);
  t.is(legs.answered, 3);
});

test("a Service never allocated or never answering leaves its legs out and the totals open", (t) => {
  const legs = allocationLegs(run({ allocatedAtMs: [15, null, 60], answeredAtMs: [100, null, null] }));
  t.deepEqual(legs.createdToAllocated, [5, 30]);
  t.deepEqual(legs.allocatedToAnswering, [85]);
  t.deepEqual(legs.createdToAnswering, [90]);
  t.is(legs.allAllocatedMs, null);
  t.is(legs.allAnsweredMs, null);
  t.is(legs.answered, 1);
});

test("writes to VIPAllocations and VIPPools, and their status, are allocation writes; reads are not", (t) => {
  const rate = (verb: string, resource: string): RequestRate => ({
    key: `${verb} ${resource}`,
    verb,
    resource,
    perSecond: 1,
  });
  t.true(isAllocationWrite(rate("POST", "vipallocations")));
  t.true(isAllocationWrite(rate("PATCH", "vippools/status")));
  t.true(isAllocationWrite(rate("DELETE", "vipallocations")));
  t.false(isAllocationWrite(rate("GET", "vipallocations")));
  t.false(isAllocationWrite(rate("WATCH", "vippools")));
  t.false(isAllocationWrite(rate("PUT", "leases")));
});

test("steady-state writes are flat with no allocation write and the total within 20 % of none", (t) => {
  t.deepEqual(steadyWrites(run()), {
    idlePerSecond: 3,
    loadedPerSecond: 3.1,
    allocationPerSecond: 0,
    flat: true,
  });
  const poolStatus: RequestRate = {
    key: "PATCH vippools/status",
    verb: "PATCH",
    resource: "vippools/status",
    perSecond: 0.02,
  };
  const rewritten = steadyWrites(run({ loaded: steady(3, [poolStatus]) }));
  t.false(rewritten.flat, "a pool status written in the steady state is a write allocation adds");
  t.is(rewritten.allocationPerSecond, 0.02);
  t.false(steadyWrites(run({ loaded: steady(4) })).flat, "a third more writes with the Services");
});

test("agents' warnings: WARN and ERROR lines, each message once with its count, INFO left out", (t) => {
  const output = [
    "2026-12-02T00:19:32.376Z WARN  VIPPool informer: list or watch failed; retrying node=node3 error=HTTP 429",
    "2026-12-02T00:19:32.400Z INFO  allocated address=2001:db8:1::2:0 node=node1",
    "2026-12-02T00:19:33.000Z WARN  VIPPool informer: list or watch failed; retrying node=node1 error=HTTP 429",
    "2026-12-02T00:19:34.000Z ERROR could not write a VIPPool's status pool=bench node=node2",
  ].join("\n");
  t.deepEqual(agentWarnings(output), [
    "2026-12-02T00:19:32.376Z WARN  VIPPool informer: list or watch failed; retrying node=node3 error=HTTP 429 (×2)",
    "2026-12-02T00:19:34.000Z ERROR could not write a VIPPool's status pool=bench node=node2",
  ]);
  t.is(agentWarnings(output, 1).length, 1);
});

test("the pool is the smallest CIDR holding every Service, and the sweep asks for all of it", (t) => {
  const thousand = allocationPool(1000);
  t.is(thousand.cidr, "2001:db8:1::2:0/118");
  t.is(thousand.addresses.length, 1024);
  t.is(thousand.addresses.at(-1), "2001:db8:1::2:3ff");
  t.deepEqual(allocationPool(1), {
    cidr: "2001:db8:1::2:0/127",
    addresses: ["2001:db8:1::2:0", "2001:db8:1::2:1"],
  });
  t.is(allocationPool(65_536).cidr, "2001:db8:1::2:0/112");
  t.throws(() => allocationPool(65_537));
  t.throws(() => parseBenchOptions(["--allocation-services=65537"]), { instanceOf: UsageError });
  t.is(parseBenchOptions(["--quick"]).allocationServices, 20);
});

test("the report: the legs table, the steady state against none, and both targets", (t) => {
  const results = { ...emptyResults(), allocation: [run()] };
  const summary = renderSummary(results, { timeline: () => "", outages: "", apiRates: "" });
  t.regex(summary, /### Allocation: 3 Services from one VIPPool \(2001:db8:1::2:0\/126\), on 3 nodes/);
  t.regex(summary, /\| created → allocated \| 3 \| 0 ms \| 5 ms \| 30 ms \| 30 ms \| 30 ms \|/);
  t.regex(summary, /all answering in 120 ms \(3\/3\)/);
  t.regex(
    summary,
    /\| 3 allocated Services \| 3\.10 \| 0\.00 \| 0\.20 \| PUT leases 3\.10 \| 100 MB \| 1\.0 % \| 2\.0 ms \|/,
  );
  t.deepEqual(
    targets(results).map((target) => target.met),
    [true, true],
  );
});

test("an address given twice, or a Service never answering, fails the allocation target", (t) => {
  const shared = run({ sharedAddresses: ["2001:db8:1::2:0 given to bench/alloc-0 and bench/alloc-1"] });
  const silent = run({ answeredAtMs: [100, null, 90] });
  for (const each of [shared, silent]) {
    const [served] = targets({ ...emptyResults(), allocation: [each] });
    t.false(served?.met);
  }
  const summary = renderSummary(
    { ...emptyResults(), allocation: [shared] },
    { timeline: () => "", outages: "", apiRates: "" },
  );
  t.regex(summary, /\*\*address given twice\*\*: 2001:db8:1::2:0 given to bench\/alloc-0 and bench\/alloc-1/);
});
