import test from "ava";
import { refusalOf, refusalRecording, type Recording, type Refusal } from "../../src/agent/refusals.ts";
import type { ServiceIntent } from "../../src/agent/service-intent.ts";
import { rankCandidates } from "../../src/election/ranking.ts";

const KEY = "default/web";
const [FIRST = "", SECOND = "", THIRD = ""] = rankCandidates(["node1", "node2", "node3"], KEY);
const D = 5000;

const recordingTable: [string, string, readonly string[], number, Recording][] = [
  ["the first-ranked of the live agents records", FIRST, [SECOND, THIRD], D, { action: "record" }],
  [
    "the second-ranked leaves it to the first",
    SECOND,
    [FIRST, THIRD],
    D,
    { action: "leave", reporter: FIRST },
  ],
  ["so does the third", THIRD, [FIRST, SECOND], D, { action: "leave", reporter: FIRST }],
  ["with the first's heartbeat silent, the second records", SECOND, [THIRD], D, { action: "record" }],
  ["and the third leaves it to the second", THIRD, [SECOND], D, { action: "leave", reporter: SECOND }],
  ["alone, an agent records", THIRD, [], D, { action: "record" }],
  [
    "in its first lease duration an agent waits for the others' heartbeats",
    FIRST,
    [],
    1000,
    { action: "wait", forMs: D - 1000 },
  ],
];

for (const [what, self, liveNodes, runningFor, expected] of recordingTable) {
  test(`who records: ${what}`, (t) => {
    t.deepEqual(
      refusalRecording({ self, liveNodes, serviceKey: KEY, runningFor, leaseDuration: D }),
      expected,
    );
  });
}

test("who records: every agent, whatever it sees first, names the same recorder", (t) => {
  const all = [FIRST, SECOND, THIRD];
  const recorders = all.filter(
    (self) =>
      refusalRecording({
        self,
        liveNodes: all.filter((node) => node !== self),
        serviceKey: KEY,
        runningFor: D,
        leaseDuration: D,
      }).action === "record",
  );
  t.deepEqual(recorders, [FIRST]);
});

const served: ServiceIntent = {
  serve: true,
  vips: [{ address: "198.51.100.200", family: 4 }],
  source: "spec.loadBalancerIP",
  interface: undefined,
};
const invalid: ServiceIntent = {
  serve: false,
  reason: "invalid",
  problems: [
    "spec.loadBalancerIP: 203.0.113.1 is an address of the API server (the server of the agent's kubeconfig)",
  ],
};
const conflict = { address: "198.51.100.200", heldBy: "default/older" };

const refusalTable: [string, Parameters<typeof refusalOf>[0], Refusal | null][] = [
  ["served: nothing to refuse", { intent: served, conflict: null }, null],
  [
    "not ours to serve: nothing to refuse",
    {
      intent: { serve: false, reason: "other-class" },
      conflict: null,
    },
    null,
  ],
  [
    "an invalid Service is the cluster's to hear about once",
    { intent: invalid, conflict: null },
    { type: "Warning", reason: "InvalidVIP", message: invalid.problems.join("; ") },
  ],
  [
    "a VIP conflict too",
    { intent: served, conflict },
    {
      type: "Warning",
      reason: "VIPConflict",
      message: "spec.loadBalancerIP: 198.51.100.200 is already used by the older Service default/older",
    },
  ],
];

for (const [what, input, expected] of refusalTable) {
  test(`refusal: ${what}`, (t) => {
    t.deepEqual(refusalOf(input), expected);
  });
}
