// One failover repetition reduced to its figures: outage from answer arrivals, takeover and status
// times, and overlaps of the VIP on two nodes, less the times one of them was off the LAN.
import test from "ava";
import type { Overlap } from "../../lab/analysis.ts";
import type { AddressSample, ProbeSample } from "../../lab/index.ts";
import {
  analyzeRepetition,
  audibleOverlaps,
  longestOutageNs,
  probeRuns,
} from "../../scripts/bench/failover-analysis.ts";

const MS = 1e6;
const VIP = "198.51.100.100";

/** One probe request every 5 ms from t = 0: a node name answered after 1 ms, "-" went unanswered. */
function probes(...answers: string[]): ProbeSample[] {
  return answers.map((answer, seq) => ({
    seq,
    sentNs: seq * 5 * MS,
    node: answer === "-" ? null : answer,
    rttUs: answer === "-" ? null : 1000,
  }));
}

test("no lost probe, no outage, whatever the jitter between answers", (t) => {
  const samples = probes("a", "a", "a");
  const late = samples.map((sample, index) => (index === 1 ? { ...sample, rttUs: 9000 } : sample));
  t.is(longestOutageNs(late, 0), 0);
});

test("the outage runs from the arrival of the last answer to the arrival of the next", (t) => {
  // Answer 0 arrives at 1 ms, answer 4 (sent at 20 ms) at 21 ms.
  t.is(longestOutageNs(probes("a", "-", "-", "-", "b"), 0), 20 * MS);
});

test("a request that waited in the neighbour queue ends the outage when its answer arrives", (t) => {
  const samples = probes("a", "-", "b", "b");
  const queued = samples.map((sample) => (sample.seq === 2 ? { ...sample, rttUs: 40_000 } : sample));
  // Sent at 10 ms but answered at 50 ms: the client went 49 ms without an answer, not 9.
  t.is(longestOutageNs(queued, 0), 49 * MS);
});

test("outages before the fault do not count; one still open at the end runs to the last request", (t) => {
  const samples = probes("a", "-", "a", "a", "-", "-");
  t.is(longestOutageNs(samples, 12 * MS), 25 * MS - 16 * MS);
});

test("probe samples are kept as runs of one outcome", (t) => {
  t.deepEqual(
    probeRuns(probes("a", "a", "-", "b")).map((run) => [run.node, run.fromSeq, run.toSeq]),
    [
      ["a", 0, 1],
      [null, 2, 2],
      ["b", 3, 3],
    ],
  );
});

test("overlaps while one node was off the LAN are left out; the rest stays", (t) => {
  const overlap: Overlap = { fromNs: 100, toNs: 500, nodes: ["node1", "node2"] };
  t.deepEqual(audibleOverlaps([overlap], [{ node: "node1", fromNs: 0, toNs: 600 }]), []);
  t.deepEqual(audibleOverlaps([overlap], [{ node: "node3", fromNs: 0, toNs: 600 }]), [overlap]);
  t.deepEqual(
    audibleOverlaps([overlap], [{ node: "node2", fromNs: 200, toNs: 300 }]).map((piece) => [
      piece.fromNs,
      piece.toNs,
    ]),
    [
      [100, 200],
      [300, 500],
    ],
  );
});

function addresses(
  node: string,
  fromMs: number,
  toMs: number,
  present: (ms: number) => boolean,
): AddressSample[] {
  const samples: AddressSample[] = [];
  for (let ms = fromMs; ms <= toMs; ms += 5) samples.push({ timeNs: ms * MS, node, present: present(ms) });
  return samples;
}

test("a handover: new holder, times from the fault, no overlap", (t) => {
  const samples = probes("a", "a", "-", "-", "b", "b");
  const figures = analyzeRepetition({
    vip: VIP,
    holderBefore: "a",
    faultNs: 7 * MS,
    samples,
    frames: [],
    addresses: [...addresses("a", 0, 30, (ms) => ms < 12), ...addresses("b", 0, 30, (ms) => ms >= 15)],
    statusChanges: [
      { atNs: 1 * MS, ingress: [VIP], holder: "a" },
      { atNs: 40 * MS, ingress: [VIP], holder: "b" },
    ],
    isolations: [],
  });
  t.is(figures.holderAfter, "b");
  t.is(figures.outageMs, 15);
  t.is(figures.lostProbes, 2);
  t.is(figures.faultToNewHolderMs, 14);
  t.is(figures.statusMs, 33);
  t.deepEqual(figures.overlaps, []);
  t.is(figures.overlapMs, 0);
  t.deepEqual(figures.doubleAnswers, []);
});

test("a holder that keeps serving has no takeover and no status time", (t) => {
  const figures = analyzeRepetition({
    vip: VIP,
    holderBefore: "a",
    faultNs: 0,
    samples: probes("a", "a", "a"),
    frames: [],
    addresses: [],
    statusChanges: [{ atNs: 0, ingress: [VIP], holder: "a" }],
    isolations: [],
  });
  t.is(figures.holderAfter, "a");
  t.is(figures.outageMs, 0);
  t.is(figures.faultToNewHolderMs, null);
  t.is(figures.statusMs, null);
});
