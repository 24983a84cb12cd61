import test from "ava";
import type { V1Lease } from "@kubernetes/client-node";
import { leaseVersionOf, UnversionedLeaseError } from "../../src/kube/leases.ts";

test("a Lease's version is its name and resourceVersion", (t) => {
  const version = leaseVersionOf({ metadata: { name: "vipd-node-node1", resourceVersion: "7" } });
  t.deepEqual({ ...version }, { name: "vipd-node-node1", resourceVersion: "7" });
});

// An empty name would address the collection of Leases, not one of them.
const unversioned: [string, V1Lease][] = [
  ["no metadata", {}],
  ["no name", { metadata: { resourceVersion: "7" } }],
  ["an empty name", { metadata: { name: "", resourceVersion: "7" } }],
  ["no resourceVersion", { metadata: { name: "vipd-node-node1" } }],
  ["an empty resourceVersion", { metadata: { name: "vipd-node-node1", resourceVersion: "" } }],
];

for (const [name, lease] of unversioned) {
  test(`a Lease with ${name} has no version to delete at`, (t) => {
    t.throws(() => leaseVersionOf(lease), { instanceOf: UnversionedLeaseError });
  });
}
