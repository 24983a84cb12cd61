import test from "ava";
import { rankCandidates } from "../../src/election/ranking.ts";
import { staleHeartbeats, type StaleHeartbeatInput } from "../../src/election/stale-heartbeats.ts";

const D = 5000;
const [first = "", second = ""] = rankCandidates(["a", "b"], "heartbeat/gone");

const base: StaleHeartbeatInput = {
  self: first,
  leaseDuration: D,
  heartbeats: [first, second, "gone"],
  nodes: new Set([first, second]),
  liveNodes: [second],
  silentFor: (node) => (node === "gone" ? D : 0),
};

const table: [string, Partial<StaleHeartbeatInput>, string[]][] = [
  ["a vanished node's heartbeat silent for D is deleted by the first-ranked", {}, ["gone"]],
  ["the second-ranked leaves it to the first", { self: second, liveNodes: [first] }, []],
  [
    "the second-ranked deletes it when the first-ranked is not alive",
    { self: second, liveNodes: [] },
    ["gone"],
  ],
  ["not before it has been silent for D", { silentFor: () => D - 1 }, []],
  [
    "a node that still exists keeps its heartbeat however long it is down",
    { nodes: new Set([first, second, "gone"]) },
    [],
  ],
  [
    "an agent never deletes its own heartbeat",
    { heartbeats: [first], nodes: new Set(), silentFor: () => D },
    [],
  ],
];

for (const [name, overrides, expected] of table) {
  test(name, (t) => {
    t.deepEqual(staleHeartbeats({ ...base, ...overrides }), expected);
  });
}
