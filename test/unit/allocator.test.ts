// The allocator's loop with a fake VIPAllocation API and view: what it reserves between a create
// and the informer showing it, who allocates, and who is woken when.
import test from "ava";
import { AllocationIndex } from "../../src/addresses/allocation-index.ts";
import type { AllocationApi, AllocationWrite } from "../../src/addresses/allocation-api.ts";
import { ALLOCATOR_RANKING_KEY, Allocator, type AllocatorView } from "../../src/addresses/allocator.ts";
import type { VipAllocationSpec } from "../../src/addresses/api.ts";
import { resolvePools } from "../../src/addresses/pools.ts";
import { rankCandidates } from "../../src/election/ranking.ts";
import type { ServiceRef } from "../../src/kube/service-ref.ts";
import { FakeClock } from "./fakes/clock.ts";

const D = 5000;
const pools = resolvePools([
  { name: "lan", origin: "VIPPool", createdAt: 0, spec: { addresses: ["198.51.100.10-198.51.100.19"] } },
]);

class FakeApi implements AllocationApi {
  readonly created: VipAllocationSpec[] = [];
  answer: AllocationWrite = "done";
  create(spec: VipAllocationSpec): Promise<AllocationWrite> {
    this.created.push(spec);
    return Promise.resolve(this.answer);
  }
  replace(): Promise<AllocationWrite> {
    return Promise.resolve("done");
  }
  delete(): Promise<AllocationWrite> {
    return Promise.resolve("done");
  }
}

function world(options: { self?: string; live?: string[] } = {}) {
  const clock = new FakeClock(100_000);
  const api = new FakeApi();
  const index = new AllocationIndex();
  const requeued: [string, number][] = [];
  const woken: [string, string][] = [];
  const events: string[] = [];
  const view: AllocatorView = {
    situation: (ref) => ({
      service: ref,
      request: { kind: "allocate", families: [4], dualStack: "single", pool: undefined },
      uid: `uid-${ref.name}`,
      facts: { namespace: ref.namespace, labels: {}, namespaceLabels: {} },
      pools,
      own: index.ofService(ref),
      at: (address) => index.at(address),
      sharingKey: undefined,
      sharedWith: () => [],
      joinProblem: () => "no key",
    }),
    requestedAddresses: () => new Set(),
    allocations: index,
    liveNodes: () => options.live ?? [],
    unavailable: () => null,
  };
  const allocator = new Allocator({
    node: options.self ?? "node1",
    view,
    api,
    events: { record: (_service, event) => events.push(`${event.reason}: ${event.message}`) },
    clock,
    wallClock: () => 1_700_000_000_000,
    leaseDuration: D,
    cooldownMs: 60_000,
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    requeue: (service: ServiceRef, delayMs) => requeued.push([service.name, delayMs]),
    wakeWhenSilent: (node, service) => woken.push([node, service.name]),
    counted: () => undefined,
  });
  return { clock, api, index, allocator, requeued, woken, events };
}

const web = (name: string): ServiceRef => ({ namespace: "default", name });

test("it waits one lease duration before deciding who allocates, then allocates alone", async (t) => {
  const w = world();
  await w.allocator.reconcile(web("a"));
  t.deepEqual(w.requeued, [["a", D]]);
  t.is(w.api.created.length, 0);
  w.clock.advance(D);
  await w.allocator.reconcile(web("a"));
  t.deepEqual(
    w.api.created.map((each) => each.address),
    ["198.51.100.10"],
  );
});

test("Services reconciled before the informer shows the first create get distinct addresses", async (t) => {
  const w = world();
  await w.allocator.reconcile(web("warm-up"));
  w.clock.advance(D);
  await Promise.all([
    w.allocator.reconcile(web("a")),
    w.allocator.reconcile(web("b")),
    w.allocator.reconcile(web("c")),
  ]);
  t.deepEqual(
    w.api.created.map((each) => each.address),
    ["198.51.100.10", "198.51.100.11", "198.51.100.12"],
  );
});

test("a Service whose create the informer does not show yet waits instead of taking a second address", async (t) => {
  const w = world();
  await w.allocator.reconcile(web("warm-up"));
  w.clock.advance(D);
  await w.allocator.reconcile(web("a"));
  w.requeued.length = 0;
  await w.allocator.reconcile(web("a"));
  t.is(w.api.created.length, 1);
  t.deepEqual(w.requeued, [["a", 100]]);
  w.allocator.allocationSeen("198.51.100.10");
  w.index.set(
    {
      metadata: { name: "198.51.100.10", resourceVersion: "1", creationTimestamp: new Date(0) },
      spec: {
        address: "198.51.100.10",
        pool: "lan",
        services: [{ namespace: "default", name: "a", uid: "uid-a" }],
      },
    },
    false,
  );
  await w.allocator.reconcile(web("a"));
  t.is(w.api.created.length, 1, "nothing more once it has its address");
});

test("an address another allocator took first is retried at once with the next one", async (t) => {
  const w = world();
  await w.allocator.reconcile(web("warm-up"));
  w.clock.advance(D);
  w.api.answer = "taken";
  await w.allocator.reconcile(web("a"));
  t.deepEqual(w.requeued.at(-1), ["a", 0]);
  w.api.answer = "done";
  // The informer has not shown the other allocator's object; the reservation keeps its address out.
  w.clock.advance(61_000);
  await w.allocator.reconcile(web("a"));
  t.deepEqual(
    w.api.created.map((each) => each.address),
    ["198.51.100.10", "198.51.100.10"],
    "a reservation lasts a minute at most: an address whose create failed is not lost for good",
  );
});

test("an agent that is not the allocator leaves the Service to it, and is woken if it falls silent", async (t) => {
  const ranked = rankCandidates(["node1", "node2", "node3"], ALLOCATOR_RANKING_KEY);
  const [other = "", , self = ""] = ranked;
  const w = world({ self, live: [other] });
  await w.allocator.reconcile(web("a"));
  w.clock.advance(D);
  await w.allocator.reconcile(web("a"));
  t.is(w.api.created.length, 0);
  t.deepEqual(w.woken, [[other, "a"]]);
  t.false(w.allocator.allocates());
});

test("an exhausted pool is told once, and the waiting Services try again when an address is freed", async (t) => {
  const w = world();
  await w.allocator.reconcile(web("warm-up"));
  w.clock.advance(D);
  for (let index = 0; index < 10; index += 1) {
    const address = `198.51.100.${10 + index}`;
    w.index.set(
      {
        metadata: { name: address, resourceVersion: "1", creationTimestamp: new Date(0) },
        spec: {
          address,
          pool: "lan",
          services: [{ namespace: "default", name: `s${index}`, uid: `u${index}` }],
        },
      },
      false,
    );
  }
  await w.allocator.reconcile(web("late"));
  await w.allocator.reconcile(web("late"));
  t.deepEqual(w.events, ["PoolExhausted: no IPv4 address: VIPPool lan has no free IPv4 address"]);
  w.requeued.length = 0;
  w.allocator.addressFreed();
  t.deepEqual(w.requeued, [["late", 0]]);
});
