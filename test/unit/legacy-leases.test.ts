import test from "ava";
import type { V1Lease } from "@kubernetes/client-node";
import { legacyLeasesToDelete } from "../../src/agent/legacy-leases.ts";

function lease(name: string, holder: string | null): V1Lease {
  return { metadata: { name }, spec: holder === null ? {} : { holderIdentity: holder } };
}

const leases = [
  lease("vipd-svc-a.mine", "node1"),
  lease("vipd-svc-a.free", null),
  lease("vipd-svc-a.dead", "node2"),
  lease("vipd-svc-a.live", "node3"),
];
const silence: Record<string, number> = { node2: 5000, node3: 100 };

const cases: [string, boolean, string[]][] = [
  ["a 0.1.0 agent lives: every 0.1.0 Lease stays", true, []],
  [
    "none lives: own, free and dead holders' Leases go; a live holder deletes its own",
    false,
    ["vipd-svc-a.mine", "vipd-svc-a.free", "vipd-svc-a.dead"],
  ],
];

for (const [name, legacyAgentLive, expected] of cases) {
  test(name, (t) => {
    const doomed = legacyLeasesToDelete({
      self: "node1",
      legacyAgentLive,
      leaseDuration: 5000,
      leases,
      silentFor: (node) => silence[node] ?? 0,
    });
    t.deepEqual(
      doomed.map((each) => each.metadata?.name),
      expected,
    );
  });
}
