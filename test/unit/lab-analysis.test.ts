// The lab's readings of its observations: what the end-to-end tests conclude depends on them.
import test from "ava";
import { addressesIn, holdsAddress, RunEdges, type AddressSample } from "../../lab/address-sampler.ts";
import {
  claimRuns,
  doubleAnswers,
  framesByIp,
  holdings,
  outages,
  overlaps,
  servedBy,
} from "../../lab/analysis.ts";
import type { ProbeSample } from "../../lab/probe.ts";
import { parseTcpdumpLine, type WireFrame } from "../../lab/wire-observer.ts";

const MS = 1e6;
const VIP = "198.51.100.200";
const MAC1 = "02:00:00:00:00:0b";
const MAC2 = "02:00:00:00:00:0c";
const CLIENT = "02:00:00:00:00:02";

/** One probe request every 10 ms: "a" answered, "-" unanswered. */
function probes(...answers: string[]): ProbeSample[] {
  return answers.map((answer, seq) => ({
    seq,
    sentNs: seq * 10 * MS,
    node: answer === "-" ? null : answer,
    rttUs: answer === "-" ? null : 100,
  }));
}

test("servedBy groups consecutive answers by node; timeouts do not split a run", (t) => {
  t.deepEqual(servedBy(probes("a", "a", "-", "a", "b", "b", "a")), [
    { node: "a", fromNs: 0, toNs: 30 * MS, replies: 3 },
    { node: "b", fromNs: 40 * MS, toNs: 50 * MS, replies: 2 },
    { node: "a", fromNs: 60 * MS, toNs: 60 * MS, replies: 1 },
  ]);
});

test("servedBy orders by sequence number, not by arrival", (t) => {
  const [first, second, third] = probes("a", "b", "b");
  if (first === undefined || second === undefined || third === undefined) throw new Error("three samples");
  t.deepEqual(
    servedBy([third, first, second]).map((run) => run.node),
    ["a", "b"],
  );
});

const outageCases: readonly {
  name: string;
  samples: ProbeSample[];
  window?: { fromNs?: number; toNs?: number };
  expected: {
    lastReplyNs: number;
    firstReplyNs: number;
    lost: number;
    before: string;
    after: string | null;
  }[];
}[] = [
  { name: "no misses", samples: probes("a", "a", "a"), expected: [] },
  { name: "misses before the first answer are start-up", samples: probes("-", "-", "a", "a"), expected: [] },
  {
    name: "a failover",
    samples: probes("a", "-", "-", "b"),
    expected: [{ lastReplyNs: 0, firstReplyNs: 30 * MS, lost: 2, before: "a", after: "b" }],
  },
  {
    name: "a blip on the same node",
    samples: probes("a", "-", "a"),
    expected: [{ lastReplyNs: 0, firstReplyNs: 20 * MS, lost: 1, before: "a", after: "a" }],
  },
  {
    name: "still out at the end",
    samples: probes("a", "a", "-", "-"),
    expected: [{ lastReplyNs: 10 * MS, firstReplyNs: 30 * MS, lost: 2, before: "a", after: null }],
  },
  {
    name: "two outages, the window keeps the later",
    samples: probes("a", "-", "a", "a", "-", "-", "b"),
    window: { fromNs: 25 * MS },
    expected: [{ lastReplyNs: 30 * MS, firstReplyNs: 60 * MS, lost: 2, before: "a", after: "b" }],
  },
  {
    name: "the window keeps the earlier",
    samples: probes("a", "-", "a", "a", "-", "-", "b"),
    window: { toNs: 25 * MS },
    expected: [{ lastReplyNs: 0, firstReplyNs: 20 * MS, lost: 1, before: "a", after: "a" }],
  },
];

for (const { name, samples, window, expected } of outageCases) {
  test(`outages: ${name}`, (t) => {
    t.deepEqual(
      outages(samples, window),
      expected.map((outage) => ({ ...outage, durationNs: outage.firstReplyNs - outage.lastReplyNs })),
    );
  });
}

/** Address samples every 5 ms per node, from a picture: "node: --xx-" (x = present). */
function addressSamples(pictures: Record<string, string>, offsetNs = 0): AddressSample[] {
  return Object.entries(pictures).flatMap(([node, picture]) =>
    [...picture].map((mark, index) => ({ node, timeNs: index * 5 * MS + offsetNs, present: mark === "x" })),
  );
}

test("holdings are the observed runs of presence, per node", (t) => {
  t.deepEqual(holdings(addressSamples({ a: "xx--x", b: "--xx-" })), [
    { node: "a", fromNs: 0, toNs: 5 * MS },
    { node: "b", fromNs: 10 * MS, toNs: 15 * MS },
    { node: "a", fromNs: 20 * MS, toNs: 20 * MS },
  ]);
});

const overlapCases: readonly { name: string; pictures: Record<string, string>; expected: unknown[] }[] = [
  { name: "a clean handover", pictures: { a: "xxx---", b: "---xxx" }, expected: [] },
  { name: "nobody holds it", pictures: { a: "------", b: "------" }, expected: [] },
  {
    name: "both at once",
    pictures: { a: "xxxx--", b: "--xxxx" },
    expected: [{ fromNs: 10 * MS, toNs: 15 * MS, nodes: ["a", "b"] }],
  },
  {
    name: "three nodes, two pairs",
    pictures: { a: "xx----", b: "-xx---", c: "----xx", d: "-----x" },
    expected: [
      { fromNs: 5 * MS, toNs: 5 * MS, nodes: ["a", "b"] },
      { fromNs: 25 * MS, toNs: 25 * MS, nodes: ["c", "d"] },
    ],
  },
];

for (const { name, pictures, expected } of overlapCases) {
  test(`overlaps: ${name}`, (t) => {
    t.deepEqual(overlaps(addressSamples(pictures)), expected);
  });
}

const runEdgeCases: readonly { name: string; pictures: Record<string, string> }[] = [
  { name: "never held", pictures: { a: "------" } },
  { name: "held throughout", pictures: { a: "xxxxxx" } },
  { name: "held, given up, held again", pictures: { a: "-xxx--x-xx", b: "x---xx-x--" } },
  { name: "single samples", pictures: { a: "x-x-x-", b: "-x-x-x" } },
  { name: "overlapping", pictures: { a: "xxxxx----", b: "---xxxxx-", c: "--------x" } },
];

for (const { name, pictures } of runEdgeCases) {
  test(`RunEdges keeps what holdings and overlaps read: ${name}`, (t) => {
    const samples = addressSamples(pictures);
    const kept = Object.keys(pictures).flatMap((node) => {
      const edges = new RunEdges();
      for (const sample of samples.filter((each) => each.node === node)) edges.add(sample);
      return edges.samples();
    });
    t.deepEqual(holdings(kept), holdings(samples));
    t.deepEqual(overlaps(kept), overlaps(samples));
  });
}

test("RunEdges drops the samples inside a run", (t) => {
  const edges = new RunEdges();
  for (const sample of addressSamples({ a: "--xxxx--" })) edges.add(sample);
  t.deepEqual(
    edges.samples().map((sample) => [sample.timeNs / MS, sample.present]),
    [
      [0, false],
      [10, true],
      [25, true],
      [30, false],
    ],
  );
});

test("overlaps: a handover between two samples is not an overlap", (t) => {
  // b's samples are taken 2 ms after a's: a last seen at 10, b first seen at 12 ms.
  const samples = [...addressSamples({ a: "xxx---" }), ...addressSamples({ b: "--xxxx" }, 2 * MS)];
  t.deepEqual(overlaps(samples), []);
});

const frame = (
  ms: number,
  kind: WireFrame["kind"],
  senderMac: string,
  senderIp: string,
  targetIp: string,
) => ({
  timeNs: ms * MS,
  kind,
  senderMac,
  senderIp,
  targetIp,
});

test("claimRuns: one run per holder, in time order", (t) => {
  const frames = [
    frame(1, "arp-request", CLIENT, "198.51.100.2", VIP),
    frame(2, "arp-reply", MAC1, VIP, VIP),
    frame(900, "arp-request", MAC2, VIP, VIP),
    frame(500, "arp-reply", MAC1, VIP, VIP),
    frame(1900, "arp-reply", MAC2, VIP, VIP),
  ];
  t.deepEqual(claimRuns(frames, VIP), [
    { mac: MAC1, fromNs: 2 * MS, toNs: 500 * MS, frames: 2 },
    { mac: MAC2, fromNs: 900 * MS, toNs: 1900 * MS, frames: 2 },
  ]);
});

const doubleAnswerCases: readonly { name: string; frames: WireFrame[]; expected: unknown[] }[] = [
  {
    name: "one answer per question",
    frames: [
      frame(0, "arp-request", CLIENT, "198.51.100.2", VIP),
      frame(0.1, "arp-reply", MAC1, VIP, VIP),
      frame(50, "arp-request", MAC2, VIP, VIP),
    ],
    expected: [],
  },
  {
    name: "two MACs answer one ARP request",
    frames: [
      frame(0, "arp-request", CLIENT, "198.51.100.2", VIP),
      frame(0.1, "arp-reply", MAC1, VIP, VIP),
      frame(0.2, "arp-reply", MAC2, VIP, VIP),
    ],
    expected: [{ fromNs: 0, toNs: 0.2 * MS, macs: [MAC1, MAC2] }],
  },
  {
    name: "an RFC 5227 probe answered twice",
    frames: [
      frame(0, "arp-request", MAC2, "0.0.0.0", VIP),
      frame(0.1, "arp-reply", MAC1, VIP, VIP),
      frame(0.3, "arp-reply", MAC2, VIP, VIP),
    ],
    expected: [{ fromNs: 0, toNs: 0.3 * MS, macs: [MAC1, MAC2] }],
  },
  {
    name: "a later announcement by the new holder is no answer to an old question",
    frames: [
      frame(0, "arp-request", CLIENT, "198.51.100.2", VIP),
      frame(0.1, "arp-reply", MAC1, VIP, VIP),
      frame(1000, "arp-reply", MAC2, VIP, VIP),
    ],
    expected: [],
  },
  {
    name: "a neighbour solicitation answered twice",
    frames: [
      frame(0, "ns", CLIENT, "2001:db8:1::2", "2001:db8:1::200"),
      frame(0.1, "na", MAC1, "2001:db8:1::200", "2001:db8:1::200"),
      frame(0.2, "na", MAC2, "2001:db8:1::200", "2001:db8:1::200"),
    ],
    expected: [{ fromNs: 0, toNs: 0.2 * MS, macs: [MAC1, MAC2] }],
  },
];

for (const { name, frames, expected } of doubleAnswerCases) {
  test(`doubleAnswers: ${name}`, (t) => {
    const ip = frames.some((f) => f.kind === "ns") ? "2001:db8:1::200" : VIP;
    t.deepEqual(doubleAnswers(frames, { ip }), expected);
  });
}

test("framesByIp: each IP gets the frames that name it, and doubleAnswers reads the same from them", (t) => {
  const other = "198.51.100.201";
  const frames = [
    frame(0, "arp-request", CLIENT, "198.51.100.2", VIP),
    frame(0.1, "arp-reply", MAC1, VIP, VIP),
    frame(0.2, "arp-request", CLIENT, "198.51.100.2", other),
    frame(0.3, "arp-reply", MAC2, VIP, VIP),
    frame(0.4, "arp-reply", MAC2, other, other),
  ];
  const byIp = framesByIp(frames);
  t.deepEqual([...byIp.keys()].sort(), ["198.51.100.2", VIP, other].sort());
  t.deepEqual(byIp.get(other), [frames[2], frames[4]]);
  for (const ip of [VIP, other])
    t.deepEqual(doubleAnswers(byIp.get(ip) ?? [], { ip }), doubleAnswers(frames, { ip }));
  t.is(doubleAnswers(byIp.get(VIP) ?? [], { ip: VIP }).length, 1);
});

// Lines as tcpdump 4.99 prints them with -n -e -tt --time-stamp-precision=nano.
const WALL_MINUS_MONOTONIC = 1_795_392_000_000_000_000n;
const tcpdumpCases: readonly { name: string; line: string; expected: WireFrame | undefined }[] = [
  {
    name: "the client asks who has the VIP",
    line: "1795392367.770018456 02:00:00:00:00:02 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 198.51.100.200 tell 198.51.100.2, length 28",
    expected: { ...frame(0, "arp-request", CLIENT, "198.51.100.2", VIP), timeNs: 367_770_018_456 },
  },
  {
    name: "a node answers",
    line: "1795392367.770093568 02:00:00:00:00:0b > 02:00:00:00:00:02, ethertype ARP (0x0806), length 42: Reply 198.51.100.200 is-at 02:00:00:00:00:0b, length 28",
    expected: { ...frame(0, "arp-reply", MAC1, VIP, VIP), timeNs: 367_770_093_568 },
  },
  {
    name: "a gratuitous ARP request",
    line: "1795392367.955954989 02:00:00:00:00:0c > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42: Request who-has 198.51.100.200 (ff:ff:ff:ff:ff:ff) tell 198.51.100.200, length 28",
    expected: { ...frame(0, "arp-request", MAC2, VIP, VIP), timeNs: 367_955_954_989 },
  },
  {
    name: "the client solicits the IPv6 VIP",
    line: "1795392367.911327854 02:00:00:00:00:02 > 33:33:ff:00:02:00, ethertype IPv6 (0x86dd), length 86: 2001:db8:1::2 > ff02::1:ff00:200: ICMP6, neighbor solicitation, who has 2001:db8:1::200, length 32",
    expected: { ...frame(0, "ns", CLIENT, "2001:db8:1::2", "2001:db8:1::200"), timeNs: 367_911_327_854 },
  },
  {
    name: "a node advertises it",
    line: "1795392367.911398910 02:00:00:00:00:0b > 02:00:00:00:00:02, ethertype IPv6 (0x86dd), length 86: 2001:db8:1::200 > 2001:db8:1::2: ICMP6, neighbor advertisement, tgt is 2001:db8:1::200, length 32",
    expected: { ...frame(0, "na", MAC1, "2001:db8:1::200", "2001:db8:1::200"), timeNs: 367_911_398_910 },
  },
  {
    name: "tcpdump's banner is no frame",
    line: "listening on eth0, link-type EN10MB (Ethernet), snapshot length 262144 bytes",
    expected: undefined,
  },
  {
    name: "other ICMPv6 is no frame",
    line: "1795392367.911327854 02:00:00:00:00:02 > 33:33:00:00:00:02, ethertype IPv6 (0x86dd), length 70: fe80::1 > ff02::2: ICMP6, router solicitation, length 16",
    expected: undefined,
  },
];

for (const { name, line, expected } of tcpdumpCases) {
  test(`parseTcpdumpLine: ${name}`, (t) => {
    const parsed = parseTcpdumpLine(line, WALL_MINUS_MONOTONIC);
    // Exact to the nanosecond: the stamp's digits survive the move onto the monotonic clock.
    t.deepEqual(parsed, expected);
  });
}

test("holdsAddress reads `ip -json address show` output", (t) => {
  const line = JSON.stringify([
    {
      ifname: "eth0",
      addr_info: [
        { family: "inet", local: "198.51.100.11", prefixlen: 24 },
        { family: "inet", local: VIP, prefixlen: 32 },
        { family: "inet6", local: "2001:db8:1::200", prefixlen: 128 },
      ],
    },
  ]);
  t.true(holdsAddress(line, VIP));
  t.true(holdsAddress(line, "2001:db8:1::200"));
  t.false(holdsAddress(line, "198.51.100.20"));
  t.false(holdsAddress("[]", VIP));
});

test("addressesIn reads every link of `ip -json -brief address show` output", (t) => {
  const line = JSON.stringify([
    { ifname: "lo", operstate: "UNKNOWN", addr_info: [{ local: "127.0.0.1", prefixlen: 8 }] },
    { ifname: "eth0", operstate: "UP", addr_info: [{ local: VIP, prefixlen: 32 }] },
    { ifname: "eth1", operstate: "DOWN", addr_info: [] },
  ]);
  t.deepEqual([...addressesIn(line)].sort(), ["127.0.0.1", VIP]);
});
