import test from "ava";
import { doubleClaims, outages, overlaps, servedBy } from "../lab/analysis.ts";
import { parseTcpdumpLine, type ProbeSample, type WireFrame } from "../lab/observers.ts";

const probe = (seq: number, node: string | null): ProbeSample => ({
  seq,
  sentMs: seq * 10,
  node,
  rttMs: node === null ? null : 1,
});

test("servedBy groups consecutive answers by node, across timeouts", (t) => {
  const samples = [probe(0, "a"), probe(1, "a"), probe(2, null), probe(3, "b"), probe(4, "b"), probe(5, "a")];
  t.deepEqual(servedBy(samples), [
    { node: "a", fromMs: 0, toMs: 10, replies: 2 },
    { node: "b", fromMs: 30, toMs: 40, replies: 2 },
    { node: "a", fromMs: 50, toMs: 50, replies: 1 },
  ]);
});

test("outages measure from the last answer before the gap to the first after it", (t) => {
  const samples = [probe(0, "a"), probe(1, null), probe(2, null), probe(3, "b"), probe(4, "b")];
  t.deepEqual(outages(samples), [
    { lastReplyMs: 0, firstReplyMs: 30, durationMs: 30, lost: 2, before: "a", after: "b" },
  ]);
});

test("an outage still open at the end has no one after it", (t) => {
  t.deepEqual(outages([probe(0, "a"), probe(1, null)]), [
    { lastReplyMs: 0, firstReplyMs: 10, durationMs: 10, lost: 1, before: "a", after: null },
  ]);
});

test("no gaps, no outages; timeouts before any answer are not an outage", (t) => {
  t.deepEqual(outages([probe(0, null), probe(1, "a"), probe(2, "a")]), []);
});

test("overlaps find every moment two nodes held the address", (t) => {
  const samples = [
    { node: "a", timeMs: 0, present: true },
    { node: "b", timeMs: 5, present: false },
    { node: "a", timeMs: 100, present: false },
    { node: "b", timeMs: 101, present: true },
    { node: "a", timeMs: 200, present: true },
    { node: "b", timeMs: 203, present: false },
    { node: "c", timeMs: 300, present: true },
  ];
  t.deepEqual(overlaps(samples, 400), [
    { fromMs: 200, toMs: 203, nodes: ["a", "b"] },
    { fromMs: 300, toMs: 400, nodes: ["a", "c"] },
  ]);
});

const frame = (timeMs: number, senderMac: string, kind: WireFrame["kind"] = "arp-request"): WireFrame => ({
  timeMs,
  kind,
  senderMac,
  senderIp: "198.51.100.200",
  targetIp: "198.51.100.200",
});

test("a handover from one MAC to another is not a double claim; switching back is", (t) => {
  t.deepEqual(
    doubleClaims([frame(0, "A"), frame(1000, "A"), frame(2000, "B"), frame(3000, "B")], "198.51.100.200"),
    [],
  );
  t.deepEqual(doubleClaims([frame(0, "A"), frame(2000, "B"), frame(2500, "A")], "198.51.100.200"), [
    { fromMs: 0, toMs: 2500, macs: ["A", "B"] },
  ]);
});

test("requests that ask for the address are not claims", (t) => {
  const asking: WireFrame = {
    timeMs: 1,
    kind: "arp-request",
    senderMac: "C",
    senderIp: "198.51.100.2",
    targetIp: "198.51.100.200",
  };
  t.deepEqual(doubleClaims([frame(0, "A"), asking, frame(2, "A")], "198.51.100.200"), []);
});

const tcpdump: [string, Omit<WireFrame, "timeMs">][] = [
  [
    "1700000000.000000100 02:00:00:00:00:11 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 198.51.100.200 (ff:ff:ff:ff:ff:ff) tell 198.51.100.200, length 28",
    {
      kind: "arp-request",
      senderMac: "02:00:00:00:00:11",
      senderIp: "198.51.100.200",
      targetIp: "198.51.100.200",
    },
  ],
  [
    "1700000000.000000100 02:00:00:00:00:02 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 198.51.100.200 tell 198.51.100.2, length 28",
    {
      kind: "arp-request",
      senderMac: "02:00:00:00:00:02",
      senderIp: "198.51.100.2",
      targetIp: "198.51.100.200",
    },
  ],
  [
    "1700000000.000000100 02:00:00:00:00:12 > 02:00:00:00:00:02, ethertype ARP (0x0806), length 42: Reply 198.51.100.200 is-at 02:00:00:00:00:12, length 28",
    {
      kind: "arp-reply",
      senderMac: "02:00:00:00:00:12",
      senderIp: "198.51.100.200",
      targetIp: "198.51.100.200",
    },
  ],
  [
    "1700000000.000000100 02:00:00:00:00:11 > 33:33:00:00:00:01, ethertype IPv6 (0x86dd), length 86: fe80::1 > ff02::1: ICMP6, neighbor advertisement, tgt is 2001:db8:1::200, length 32",
    { kind: "na", senderMac: "02:00:00:00:00:11", senderIp: "fe80::1", targetIp: "2001:db8:1::200" },
  ],
  [
    "1700000000.000000100 02:00:00:00:00:02 > 33:33:ff:00:02:00, ethertype IPv6 (0x86dd), length 86: 2001:db8:1::2 > ff02::1:ff00:200: ICMP6, neighbor solicitation, who has 2001:db8:1::200, length 32",
    { kind: "ns", senderMac: "02:00:00:00:00:02", senderIp: "2001:db8:1::2", targetIp: "2001:db8:1::200" },
  ],
];

for (const [line, expected] of tcpdump) {
  test(`tcpdump: ${expected.kind} from ${expected.senderMac}`, (t) => {
    const parsed = parseTcpdumpLine(line, 1_700_000_000_000);
    t.like(parsed, expected);
    t.true(Math.abs((parsed?.timeMs ?? 0) - 0.0001) < 1e-9);
  });
}

test("tcpdump lines that are not frames are ignored", (t) => {
  t.is(parseTcpdumpLine("listening on eth0, link-type EN10MB (Ethernet)", 0), undefined);
});
