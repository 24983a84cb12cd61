import test from "ava";
import {
  refusalOf,
  refusalRecording,
  type Recording,
  type Refusal,
  type RefusalScope,
} from "../../src/agent/refusals.ts";
import type { ServiceIntent } from "../../src/agent/service-intent.ts";
import { rankCandidates } from "../../src/election/ranking.ts";

const KEY = "default/web";
const [FIRST = "", SECOND = "", THIRD = ""] = rankCandidates(["node1", "node2", "node3"], KEY);
const D = 5000;

const recordingTable: [string, RefusalScope, string, readonly string[], number, Recording][] = [
  ["the first-ranked of the live agents records", "cluster", FIRST, [SECOND, THIRD], D, { action: "record" }],
  [
    "the second-ranked leaves it to the first",
    "cluster",
    SECOND,
    [FIRST, THIRD],
    D,
    { action: "leave", reporter: FIRST },
  ],
  ["so does the third", "cluster", THIRD, [FIRST, SECOND], D, { action: "leave", reporter: FIRST }],
  [
    "with the first's heartbeat silent, the second records",
    "cluster",
    SECOND,
    [THIRD],
    D,
    { action: "record" },
  ],
  [
    "and the third leaves it to the second",
    "cluster",
    THIRD,
    [SECOND],
    D,
    { action: "leave", reporter: SECOND },
  ],
  ["alone, an agent records", "cluster", THIRD, [], D, { action: "record" }],
  [
    "in its first lease duration an agent waits for the others' heartbeats",
    "cluster",
    FIRST,
    [],
    1000,
    { action: "wait", forMs: D - 1000 },
  ],
  ["a node's own refusal is recorded by each node", "node", THIRD, [FIRST, SECOND], D, { action: "record" }],
  ["at once, even just started", "node", SECOND, [], 0, { action: "record" }],
];

for (const [what, scope, self, liveNodes, runningFor, expected] of recordingTable) {
  test(`who records: ${what}`, (t) => {
    t.deepEqual(
      refusalRecording({ scope, self, liveNodes, serviceKey: KEY, runningFor, leaseDuration: D }),
      expected,
    );
  });
}

test("who records: every agent, whatever it sees first, names the same recorder", (t) => {
  const all = [FIRST, SECOND, THIRD];
  const recorders = all.filter(
    (self) =>
      refusalRecording({
        scope: "cluster",
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
const noArp = { ok: false, reason: "interface lo cannot carry ARP or NDP (loopback)" } as const;

const refusalTable: [string, Parameters<typeof refusalOf>[0], Refusal | null][] = [
  [
    "served: nothing to refuse",
    { node: "node1", intent: served, conflict: null, choice: undefined, perNode: false },
    null,
  ],
  [
    "not ours to serve: nothing to refuse",
    {
      node: "node1",
      intent: { serve: false, reason: "other-class" },
      conflict: null,
      choice: undefined,
      perNode: false,
    },
    null,
  ],
  [
    "an invalid Service is the cluster's to hear about once",
    { node: "node1", intent: invalid, conflict: null, choice: undefined, perNode: false },
    { type: "Warning", reason: "InvalidVIP", message: invalid.problems.join("; "), scope: "cluster" },
  ],
  [
    "a VIP conflict too",
    { node: "node1", intent: served, conflict, choice: undefined, perNode: false },
    {
      type: "Warning",
      reason: "VIPConflict",
      message: "spec.loadBalancerIP: 198.51.100.200 is already used by the older Service default/older",
      scope: "cluster",
    },
  ],
  [
    "an interface problem is the node's, and names it",
    { node: "node2", intent: served, conflict: null, choice: noArp, perNode: false },
    { type: "Warning", reason: "InvalidVIP", message: `node2: ${noArp.reason}`, scope: "node" },
  ],
  [
    "control-plane mode: the VIP is the node's own flag, so every refusal is the node's",
    { node: "node1", intent: invalid, conflict: null, choice: undefined, perNode: true },
    { type: "Warning", reason: "InvalidVIP", message: invalid.problems.join("; "), scope: "node" },
  ],
];

for (const [what, input, expected] of refusalTable) {
  test(`refusal: ${what}`, (t) => {
    t.deepEqual(refusalOf(input), expected);
  });
}
