import test from "ava";
import { classifyApiError } from "../../src/kube/errors.ts";
import { Ownership } from "../../src/election/ownership.ts";
import { leaseVersionOf } from "../../src/kube/leases.ts";
import { FakeLeaseApi } from "./fakes/lease-api.ts";

const service = { kind: "address", vip: { address: "198.51.100.10", family: 4 } } as const;
const LEASE = "vipd-ip-198.51.100.10";

function agents() {
  const leases = new FakeLeaseApi();
  const make = (node: string) => new Ownership({ leases, node, leaseDuration: 5000 });
  return { leases, a: make("node-a"), b: make("node-b") };
}

test("the first claim creates the address's Lease, labelled for the ownership informer", async (t) => {
  const { leases, a } = agents();
  const lease = await a.claim(service, null);
  t.is(lease.spec?.holderIdentity, "node-a");
  t.is(lease.spec?.leaseTransitions, 0);
  t.deepEqual(leases.leases.get(LEASE)?.metadata?.labels, {
    "vipd.io/component": "ownership",
    "vipd.io/address-family": "ipv4",
  });
  t.deepEqual(leases.leases.get(LEASE)?.metadata?.annotations, { "vipd.io/address": "198.51.100.10" });
});

test("a 0.1.0 per-Service Lease is written exactly as 0.1.0 writes it", async (t) => {
  const { leases, a } = agents();
  await a.claim({ kind: "legacy-service", service: { namespace: "default", name: "web" } }, null);
  const lease = leases.leases.get("vipd-svc-default.web");
  t.deepEqual(lease?.metadata?.labels, {
    "vipd.io/component": "ownership",
    "vipd.io/service-namespace": "default",
    "vipd.io/service-name": "web",
  });
  t.deepEqual(lease?.metadata?.annotations, { "vipd.io/service": "default/web" });
});

test("of two agents claiming from the same version, exactly one wins", async (t) => {
  const { a, b } = agents();
  const created = await a.claim(service, null);
  const cleared = await a.clearHolder(created);
  const results = await Promise.allSettled([a.claim(service, cleared), b.claim(service, cleared)]);
  t.is(results.filter((result) => result.status === "fulfilled").length, 1);
  const lost = results.find((result) => result.status === "rejected");
  t.is(classifyApiError(lost?.reason), "conflict");
});

test("two agents creating the Lease at once: one wins, one gets a conflict", async (t) => {
  const { a, b } = agents();
  const results = await Promise.allSettled([a.claim(service, null), b.claim(service, null)]);
  t.is(results.filter((result) => result.status === "fulfilled").length, 1);
});

test("a takeover counts a transition; a claim of a free Lease does not", async (t) => {
  const { a, b } = agents();
  const created = await a.claim(service, null);
  const taken = await b.claim(service, created);
  t.is(taken.spec?.holderIdentity, "node-b");
  t.is(taken.spec?.leaseTransitions, 1);
  const retaken = await a.claim(service, await b.clearHolder(taken));
  t.is(retaken.spec?.leaseTransitions, 1);
});

test("handover clears the holder and keeps the Lease", async (t) => {
  const { leases, a } = agents();
  const cleared = await a.clearHolder(await a.claim(service, null));
  t.is(cleared.spec?.holderIdentity, undefined);
  t.true(leases.leases.has(LEASE));
});

test("removal is refused when the Lease changed since it was read", async (t) => {
  const { leases, a, b } = agents();
  const created = await a.claim(service, null);
  await b.claim(service, created);
  const error = await t.throwsAsync(a.remove(leaseVersionOf(created)));
  t.is(classifyApiError(error), "conflict");
  t.true(leases.leases.has(LEASE));
});
