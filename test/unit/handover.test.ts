import test from "ava";
import type { V1Lease } from "@kubernetes/client-node";
import { FreshLeases } from "../../src/agent/fresh-leases.ts";
import { Handover, leasesToHandOver } from "../../src/agent/handover.ts";
import { addressWork } from "../../src/agent/work-keys.ts";
import { HEARTBEAT_COMPONENT, LEASE_LABEL_COMPONENT } from "../../src/election/lease-names.ts";
import { Ownership } from "../../src/election/ownership.ts";
import { AgentMetrics } from "../../src/metrics/metrics.ts";
import { FakeDataPlane, silentLogger } from "./fakes/agent-world.ts";
import { FakeLeaseApi } from "./fakes/lease-api.ts";

const SELF = "node-a";
const ADDRESS_LEASE = "vipd-ip-192.0.2.10";
const OTHER_LEASE = "vipd-ip-192.0.2.11";
const LOCK = "vipd-svc-default.web";
const HEARTBEAT = "vipd-node-node-a";

function lease(name: string, holder: string, annotations: Record<string, string> = {}): V1Lease {
  return { metadata: { name, annotations }, spec: { holderIdentity: holder } };
}

async function world() {
  const leases = new FakeLeaseApi();
  const own = new Ownership({ leases, node: SELF, leaseDuration: 5000 });
  for (const each of [
    lease(ADDRESS_LEASE, SELF),
    lease(OTHER_LEASE, "node-b"),
    lease(LOCK, SELF, { "vipd.io/service": "default/web" }),
    {
      ...lease(HEARTBEAT, SELF),
      metadata: { name: HEARTBEAT, labels: { [LEASE_LABEL_COMPONENT]: HEARTBEAT_COMPONENT } },
    },
  ])
    await leases.create(each);
  // The informer's cache, as of the start: each test moves the API server on from there.
  const cached = new Map([...leases.leases].map(([name, each]) => [name, structuredClone(each)]));
  const dataPlane = new FakeDataPlane();
  await dataPlane.announce({
    workKey: addressWork("192.0.2.10"),
    vips: [{ address: "192.0.2.10", family: 4 }],
    routed: false,
  });
  const fresh = new FreshLeases((name) => cached.get(name));
  const handover = new Handover({
    node: SELF,
    cachedLeases: () => [...cached.values()],
    leaseNameOf: (key) => (key === addressWork("192.0.2.10") ? ADDRESS_LEASE : undefined),
    fresh,
    leases,
    ownership: own,
    dataPlane,
    metrics: new AgentMetrics({ node: "node-a", version: "0.0.0" }),
    log: silentLogger,
  });
  return { leases, own, fresh, dataPlane, handover };
}

const holderOf = (leases: FakeLeaseApi, name: string) => leases.leases.get(name)?.spec?.holderIdentity;

test("the addresses come off the wire before any Lease is cleared, and the lock before the address", async (t) => {
  const w = await world();
  const before = w.leases.calls.length;
  await w.handover.run();
  t.deepEqual(w.dataPlane.log.at(-1), `withdraw ${addressWork("192.0.2.10")}`);
  t.deepEqual(w.dataPlane.heldKeys(), []);
  t.deepEqual(w.leases.calls.slice(before), [`replace ${LOCK}`, `replace ${ADDRESS_LEASE}`]);
  t.is(holderOf(w.leases, ADDRESS_LEASE), undefined);
  t.is(holderOf(w.leases, LOCK), undefined);
  t.is(holderOf(w.leases, OTHER_LEASE), "node-b", "another node's Lease is not touched");
  t.is(holderOf(w.leases, HEARTBEAT), SELF, "the heartbeat is released after, by the heartbeat");
});

test("a Lease that moved on but still names this node is read once more and cleared", async (t) => {
  const w = await world();
  w.leases.touch(ADDRESS_LEASE);
  await w.handover.run();
  t.is(holderOf(w.leases, ADDRESS_LEASE), undefined);
  t.true(w.leases.calls.includes(`get ${ADDRESS_LEASE}`));
});

test("a Lease another node took meanwhile is left to it", async (t) => {
  const w = await world();
  const current = w.leases.leases.get(ADDRESS_LEASE);
  await w.leases.replace({ ...current, spec: { holderIdentity: "node-b" } });
  await w.handover.run();
  t.is(holderOf(w.leases, ADDRESS_LEASE), "node-b");
});

test("a failed clear is logged and the rest still go", async (t) => {
  const w = await world();
  w.leases.failNext(FakeLeaseApi.unreachable());
  await w.handover.run();
  t.is(holderOf(w.leases, LOCK), SELF, "the first write failed: the Lease expires with the heartbeat");
  t.is(holderOf(w.leases, ADDRESS_LEASE), undefined);
});

test("leasesToHandOver: only this node's ownership Leases, locks apart", (t) => {
  const split = leasesToHandOver(
    [
      lease(ADDRESS_LEASE, SELF),
      lease(OTHER_LEASE, "node-b"),
      lease(LOCK, SELF, { "vipd.io/service": "default/web" }),
      {
        ...lease(HEARTBEAT, SELF),
        metadata: { name: HEARTBEAT, labels: { [LEASE_LABEL_COMPONENT]: HEARTBEAT_COMPONENT } },
      },
    ],
    SELF,
  );
  t.deepEqual(
    split.locks.map((each) => each.metadata?.name),
    [LOCK],
  );
  t.deepEqual(
    split.addresses.map((each) => each.metadata?.name),
    [ADDRESS_LEASE],
  );
});

test("a claim written during the last reconcile, not in the cache yet, is cleared too", async (t) => {
  const w = await world();
  const vip = { address: "192.0.2.12", family: 4 } as const;
  w.fresh.wrote(await w.own.claim({ kind: "address", vip }, null));
  await w.handover.run();
  t.is(holderOf(w.leases, "vipd-ip-192.0.2.12"), undefined);
});
