import test from "ava";
import ipaddr from "ipaddr.js";
import { canonicalAddress } from "../../src/agent/service-intent.ts";
import {
  addressText,
  addressValue,
  formatCidrOrRange,
  formatFirstLast,
  formatRange,
  hasCidrEnds,
  intersectRanges,
  mergeRanges,
  parseNetipAddress,
  parseNetipPrefix,
  parseNetipRange,
  parseRange,
  prefixesOf,
  rangesContain,
  rangeSize,
  rangesOverlap,
  subtractRanges,
  withoutCidrEnds,
  type AddressRange,
} from "../../src/addresses/ranges.ts";

/** "a-b" or "a" as a range, so the tables read as addresses. */
function range(text: string): AddressRange {
  const [first = "", last = first] = text.split("-");
  const start = addressValue(first);
  return { family: start.family, first: start.value, last: addressValue(last).value };
}

function ranges(...texts: string[]): AddressRange[] {
  return texts.map(range);
}

type Expected = { range: string; cidr: boolean } | { problem: string };

const readings: [string, Expected][] = [
  ["198.51.100.0/24", { range: "198.51.100.0-198.51.100.255", cidr: true }],
  [" 203.0.113.7/32 ", { range: "203.0.113.7", cidr: true }],
  ["10.0.0.0/8", { range: "10.0.0.0-10.255.255.255", cidr: true }],
  ["2001:DB8::/120", { range: "2001:db8::-2001:db8::ff", cidr: true }],
  ["2001:db8::/32", { range: "2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", cidr: true }],
  ["198.51.100.10-198.51.100.20", { range: "198.51.100.10-198.51.100.20", cidr: false }],
  ["198.51.100.10 - 198.51.100.20", { range: "198.51.100.10-198.51.100.20", cidr: false }],
  ["2001:db8::10-2001:db8::1:0", { range: "2001:db8::10-2001:db8::1:0", cidr: false }],
  ["198.51.100.7-198.51.100.7", { range: "198.51.100.7", cidr: false }],
  ["198.51.100.5", { range: "198.51.100.5", cidr: false }],
  ["2001:db8:0:0::1", { range: "2001:db8::1", cidr: false }],
  [
    "198.51.100.20-198.51.100.10",
    { problem: "198.51.100.20-198.51.100.10 is reversed: 198.51.100.20 comes after 198.51.100.10" },
  ],
  [
    "2001:db8::20-2001:db8::10",
    { problem: "2001:db8::20-2001:db8::10 is reversed: 2001:db8::20 comes after 2001:db8::10" },
  ],
  ["198.51.100.1-2001:db8::1", { problem: "198.51.100.1-2001:db8::1 mixes IPv4 and IPv6" }],
  ["198.51.100.1/24", { problem: "198.51.100.1/24 has host bits set; the network is 198.51.100.0/24" }],
  ["2001:db8::1/64", { problem: "2001:db8::1/64 has host bits set; the network is 2001:db8::/64" }],
  [
    "198.51.100.0/33",
    { problem: "198.51.100.0/33 is not a CIDR: the prefix length must be a number from 0 to 32" },
  ],
  [
    "2001:db8::/129",
    { problem: "2001:db8::/129 is not a CIDR: the prefix length must be a number from 0 to 128" },
  ],
  [
    "198.51.100.0/x",
    { problem: "198.51.100.0/x is not a CIDR: the prefix length must be a number from 0 to 32" },
  ],
  [
    "198.51.100.0/24/1",
    { problem: "198.51.100.0/24/1 is not a CIDR: the prefix length must be a number from 0 to 32" },
  ],
  ["pool/24", { problem: 'pool/24: "pool" is not an IPv4 or IPv6 address' }],
  ["pool", { problem: '"pool" is not an IPv4 or IPv6 address' }],
  ["", { problem: '"" is not an IPv4 or IPv6 address' }],
  ["198.51.1", { problem: '"198.51.1" is not an IPv4 or IPv6 address' }],
  ["fe80::1%eth0", { problem: '"fe80::1%eth0" is not an IPv4 or IPv6 address' }],
  [
    "198.51.100.1-",
    { problem: "198.51.100.1- is not a range: write it as first-last, e.g. 198.51.100.10-198.51.100.20" },
  ],
  ["1-2-3", { problem: "1-2-3 is not a range: write it as first-last, e.g. 198.51.100.10-198.51.100.20" }],
  ["198.51.100.1-garbage", { problem: '198.51.100.1-garbage: "garbage" is not an IPv4 or IPv6 address' }],
  // addresses no VIP may have, at an end or inside
  ["127.0.0.0/8", { problem: "127.0.0.0/8: 127.0.0.0 is a loopback address" }],
  ["126.0.0.0-128.0.0.0", { problem: "126.0.0.0-128.0.0.0 includes 127.0.0.0, which is a loopback address" }],
  ["224.0.0.1", { problem: "224.0.0.1 is multicast" }],
  ["223.255.255.0-224.0.0.0", { problem: "223.255.255.0-224.0.0.0: 224.0.0.0 is multicast" }],
  ["169.254.0.0/16", { problem: "169.254.0.0/16: 169.254.0.0 is link-local" }],
  [
    "169.253.0.0-169.255.0.0",
    { problem: "169.253.0.0-169.255.0.0 includes 169.254.0.0, which is link-local" },
  ],
  ["0.0.0.0/0", { problem: "0.0.0.0/0: 0.0.0.0 is the unspecified address" }],
  ["240.0.0.0/4", { problem: "240.0.0.0/4 includes 255.255.255.255, which is the broadcast address" }],
  ["fe80::/64", { problem: "fe80::/64: fe80:: is link-local" }],
  ["fe7f::-fec0::", { problem: "fe7f::-fec0:: includes fe80::, which is link-local" }],
  ["ff02::1", { problem: "ff02::1 is multicast" }],
  ["::/0", { problem: "::/0: :: is the unspecified address" }],
  [
    "::fffe:0:0-::1:0:0:0",
    {
      problem:
        "::fffe:0:0-::1:0:0:0 includes ::ffff:0:0, which is an IPv4-mapped IPv6 address; write the IPv4 address instead",
    },
  ],
];

for (const [entry, expected] of readings) {
  test(`parseRange ${JSON.stringify(entry)}`, (t) => {
    const reading = parseRange(entry);
    t.deepEqual(
      reading.ok ? { range: formatRange(reading.range), cidr: reading.cidr } : { problem: reading.problem },
      expected,
    );
  });
}

test("addressText writes what canonicalAddress writes, and addressValue reads it back", (t) => {
  for (const text of [
    "198.51.100.7",
    "2001:DB8::1",
    "2001:db8:0:0:1:0:0:1",
    "2001:db8::ffff:0:1",
    "2001:db8:1::",
  ]) {
    const reading = canonicalAddress(text);
    if (!reading.ok) return t.fail(reading.problem);
    const { family, value } = addressValue(text);
    t.is(family, reading.vip.family);
    t.is(addressText(family, value), reading.vip.address, text);
  }
});

// addressValue reads plain text itself, faster than ipaddr.parse; it must agree with ipaddr.js on
// every text, and leave to it (so throw, like it) what it does not read.
const valueTexts = [
  "0.0.0.0",
  "255.255.255.255",
  "198.51.100.7",
  "198.51.100.256",
  "010.1.1.1",
  "198.51.1",
  "::",
  "::1",
  "1::",
  "2001:DB8::1",
  "1:2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7::",
  "::2:3:4:5:6:7:8",
  "1::2:3:4:5:6:7:8",
  "1:2:3:4:5:6:7:8:9",
  "1:2:3:4:5:6:7",
  "1::2::3",
  "12345::",
  "::ffff:198.51.100.7",
  "fe80::1%eth0",
  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
];

function ipaddrValue(text: string): { family: 4 | 6; value: bigint } | string {
  try {
    const parsed = ipaddr.parse(text);
    const value = parsed.toByteArray().reduce((sum, byte) => (sum << 8n) | BigInt(byte), 0n);
    return { family: parsed.kind() === "ipv4" ? 4 : 6, value };
  } catch {
    return "throws";
  }
}

for (const text of valueTexts) {
  test(`addressValue ${JSON.stringify(text)} agrees with ipaddr.js`, (t) => {
    let actual: { family: 4 | 6; value: bigint } | string;
    try {
      actual = { ...addressValue(text) };
    } catch {
      actual = "throws";
    }
    t.deepEqual(actual, ipaddrValue(text));
  });
}

test("rangeSize is exact for every family and size", (t) => {
  t.is(rangeSize(range("198.51.100.7")), 1n);
  t.is(rangeSize(range("198.51.100.0-198.51.100.255")), 256n);
  t.is(rangeSize(range("2001:db8::-2001:db8::ffff:ffff:ffff:ffff")), 18446744073709551616n);
});

const merges: [string, AddressRange[], string[]][] = [
  [
    "overlapping ranges join",
    ranges("198.51.100.0-198.51.100.10", "198.51.100.5-198.51.100.20"),
    ["198.51.100.0-198.51.100.20"],
  ],
  [
    "touching ranges join",
    ranges("198.51.100.11-198.51.100.20", "198.51.100.0-198.51.100.10"),
    ["198.51.100.0-198.51.100.20"],
  ],
  [
    "a gap keeps them apart",
    ranges("198.51.100.12-198.51.100.20", "198.51.100.0-198.51.100.10"),
    ["198.51.100.0-198.51.100.10", "198.51.100.12-198.51.100.20"],
  ],
  [
    "a range inside another disappears",
    ranges("198.51.100.0-198.51.100.20", "198.51.100.5"),
    ["198.51.100.0-198.51.100.20"],
  ],
  // 198.51.100.0 is 0xc6336400: the same number as ::c633:6400, which must stay apart
  ["families never join, IPv4 first", ranges("::c633:6400", "198.51.100.0"), ["198.51.100.0", "::c633:6400"]],
];

for (const [rule, input, expected] of merges) {
  test(`mergeRanges: ${rule}`, (t) => {
    t.deepEqual(mergeRanges(input).map(formatRange), expected);
  });
}

const subtractions: [string, AddressRange[], AddressRange[], string[]][] = [
  ["nothing to take", ranges("198.51.100.0-198.51.100.9"), [], ["198.51.100.0-198.51.100.9"]],
  [
    "a hole in the middle",
    ranges("198.51.100.0-198.51.100.9"),
    ranges("198.51.100.4-198.51.100.5"),
    ["198.51.100.0-198.51.100.3", "198.51.100.6-198.51.100.9"],
  ],
  [
    "both ends",
    ranges("198.51.100.0-198.51.100.9"),
    ranges("198.51.100.0", "198.51.100.9"),
    ["198.51.100.1-198.51.100.8"],
  ],
  [
    "a cut larger than the range",
    ranges("198.51.100.4-198.51.100.5"),
    ranges("198.51.100.0-198.51.100.255"),
    [],
  ],
  [
    "a cut beyond it",
    ranges("198.51.100.0-198.51.100.9"),
    ranges("198.51.100.10-198.51.100.20"),
    ["198.51.100.0-198.51.100.9"],
  ],
  [
    "several ranges and cuts, out of order",
    ranges("203.0.113.0-203.0.113.9", "198.51.100.0-198.51.100.9"),
    ranges("203.0.113.5", "198.51.100.9", "198.51.100.0"),
    ["198.51.100.1-198.51.100.8", "203.0.113.0-203.0.113.4", "203.0.113.6-203.0.113.9"],
  ],
  ["another family's cut takes nothing", ranges("198.51.100.0"), ranges("::c633:6400"), ["198.51.100.0"]],
  [
    "cuts across an end and beyond it",
    ranges("198.51.100.0-198.51.100.255"),
    ranges("198.51.100.250-198.51.101.5", "198.51.99.0-198.51.100.15"),
    ["198.51.100.16-198.51.100.249"],
  ],
  [
    "IPv6 beyond 64 bits",
    ranges("2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
    ranges("2001:db8:1::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
    ["2001:db8::-2001:db8:0:ffff:ffff:ffff:ffff:ffff"],
  ],
];

for (const [rule, from, minus, expected] of subtractions) {
  test(`subtractRanges: ${rule}`, (t) => {
    t.deepEqual(subtractRanges(from, minus).map(formatRange), expected);
  });
}

const intersections: [string, AddressRange[], AddressRange[], string[]][] = [
  ["disjoint", ranges("198.51.100.0-198.51.100.9"), ranges("198.51.100.10-198.51.100.20"), []],
  [
    "partial",
    ranges("198.51.100.0-198.51.100.9"),
    ranges("198.51.100.5-198.51.100.20"),
    ["198.51.100.5-198.51.100.9"],
  ],
  ["one inside the other", ranges("198.51.100.0-198.51.100.255"), ranges("198.51.100.5"), ["198.51.100.5"]],
  [
    "several pieces",
    ranges("198.51.100.0-198.51.100.255"),
    ranges("198.51.100.1-198.51.100.2", "198.51.100.7-198.51.100.8"),
    ["198.51.100.1-198.51.100.2", "198.51.100.7-198.51.100.8"],
  ],
  ["families never meet", ranges("198.51.100.0"), ranges("::c633:6400"), []],
];

for (const [rule, a, b, expected] of intersections) {
  test(`intersectRanges: ${rule}`, (t) => {
    t.deepEqual(intersectRanges(a, b).map(formatRange), expected);
    t.deepEqual(intersectRanges(b, a).map(formatRange), expected);
  });
}

test("rangesOverlap: a shared address of the same family, ends included", (t) => {
  t.true(rangesOverlap(ranges("198.51.100.0-198.51.100.9"), ranges("198.51.100.9-198.51.100.20")));
  t.false(rangesOverlap(ranges("198.51.100.0-198.51.100.9"), ranges("198.51.100.10-198.51.100.20")));
  t.false(rangesOverlap(ranges("198.51.100.0"), ranges("::c633:6400")));
  t.false(rangesOverlap([], ranges("198.51.100.0")));
});

test("rangesContain checks the family and both ends", (t) => {
  const pool = ranges("198.51.100.10-198.51.100.20", "2001:db8::-2001:db8::ff");
  t.true(rangesContain(pool, 4, addressValue("198.51.100.10").value));
  t.true(rangesContain(pool, 4, addressValue("198.51.100.20").value));
  t.false(rangesContain(pool, 4, addressValue("198.51.100.21").value));
  t.false(rangesContain(pool, 4, addressValue("198.51.100.9").value));
  t.true(rangesContain(pool, 6, addressValue("2001:db8::ff").value));
  // the same number in the other family
  t.false(rangesContain(pool, 6, addressValue("198.51.100.10").value));
});

// The readers of kube-vip's and MetalLB's entries, as Go's net/netip and go4.org/netipx read them.
// Where they differ from parseRange on the same text, the table above says what parseRange does.

const netipAddresses: readonly [string, boolean][] = [
  ["198.51.100.7", true],
  ["2001:db8::1", true],
  // parseRange refuses these three (IPv4-mapped, loopback, multicast); netip reads them
  ["::ffff:198.51.100.7", true],
  ["127.0.0.1", true],
  ["ff02::1", true],
  ["198.51.100.07", false],
  ["0x0a.0.0.1", false],
  ["10.1", false],
  ["fe80::1%eth0", false],
  // canonicalAddress trims; netip does not
  [" 198.51.100.7", false],
  ["", false],
];

for (const [text, valid] of netipAddresses)
  test(`parseNetipAddress(${JSON.stringify(text)}) is ${valid ? "an address" : "none"}`, (t) => {
    t.is(parseNetipAddress(text) !== undefined, valid);
  });

const netipPrefixes: readonly [string, string | undefined][] = [
  // parseRange refuses host bits; netip masks them
  ["198.51.100.210/29", "198.51.100.208/29"],
  ["2001:db8::1234/120", "2001:db8::1200/120"],
  ["198.51.100.7/32", "198.51.100.7/32"],
  ["0.0.0.0/0", "0.0.0.0/0"],
  ["198.51.100.0/33", undefined],
  // netip refuses a leading zero in the length
  ["198.51.100.0/024", undefined],
  ["198.51.100.0", undefined],
  [" 198.51.100.0/24", undefined],
];

for (const [text, expected] of netipPrefixes)
  test(`parseNetipPrefix ${JSON.stringify(text)}`, (t) => {
    const prefix = parseNetipPrefix(text);
    t.is(prefix === undefined ? undefined : formatCidrOrRange(prefix.range), expected);
    if (prefix !== undefined) t.is(prefixesOf(prefix.range)[0]?.bits, prefix.bits);
  });

const netipRanges: readonly [string, string | undefined][] = [
  ["198.51.100.1-198.51.100.9", "198.51.100.1-198.51.100.9"],
  ["198.51.100.7-198.51.100.7", "198.51.100.7-198.51.100.7"],
  // parseRange refuses these two with a reason; netipx holds no address in them
  ["198.51.100.9-198.51.100.1", "empty"],
  ["198.51.100.1-2001:db8::1", "empty"],
  ["198.51.100.1-198.51.100.2-198.51.100.3", undefined],
  // parseRange trims around the dash and reads a lone address; netipx does neither
  ["198.51.100.1 - 198.51.100.9", undefined],
  ["198.51.100.7", undefined],
];

for (const [text, expected] of netipRanges)
  test(`parseNetipRange ${JSON.stringify(text)}`, (t) => {
    const range = parseNetipRange(text);
    t.is(range === undefined || range === "empty" ? range : formatFirstLast(range), expected);
  });

test("prefixesOf gives the fewest aligned prefixes, in order", (t) => {
  t.deepEqual(
    prefixesOf(range("198.51.100.1-198.51.100.6")).map((prefix) => formatCidrOrRange(prefix.range)),
    ["198.51.100.1/32", "198.51.100.2/31", "198.51.100.4/31", "198.51.100.6/32"],
  );
  t.deepEqual(
    prefixesOf(range("0.0.0.0-255.255.255.255")).map((prefix) => prefix.bits),
    [0],
  );
  t.deepEqual(
    prefixesOf(range("2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")).map((prefix) => prefix.bits),
    [32],
  );
});

test("formatCidrOrRange writes one prefix as a CIDR, a lone address too; formatFirstLast always both ends", (t) => {
  const cases: [string, string, string, string][] = [
    // range, formatCidrOrRange, formatFirstLast, formatRange
    [
      "198.51.100.0-198.51.100.255",
      "198.51.100.0/24",
      "198.51.100.0-198.51.100.255",
      "198.51.100.0-198.51.100.255",
    ],
    [
      "198.51.100.1-198.51.100.6",
      "198.51.100.1-198.51.100.6",
      "198.51.100.1-198.51.100.6",
      "198.51.100.1-198.51.100.6",
    ],
    ["198.51.100.7", "198.51.100.7/32", "198.51.100.7-198.51.100.7", "198.51.100.7"],
    ["2001:db8::1", "2001:db8::1/128", "2001:db8::1-2001:db8::1", "2001:db8::1"],
  ];
  for (const [text, cidrOrRange, firstLast, plain] of cases) {
    t.is(formatCidrOrRange(range(text)), cidrOrRange, text);
    t.is(formatFirstLast(range(text)), firstLast, text);
    t.is(formatRange(range(text)), plain, text);
  }
});

// kube-vip's skip-end-ips-in-cidr, which both pools.ts and kube-vip-configmap.ts apply through these.
const cidrEnds: [string, string][] = [
  ["198.51.100.0/24", "198.51.100.1-198.51.100.254"],
  ["198.51.100.0/30", "198.51.100.1-198.51.100.2"],
  ["198.51.100.0/31", "198.51.100.0-198.51.100.1"],
  ["198.51.100.7/32", "198.51.100.7"],
  ["2001:db8::/126", "2001:db8::-2001:db8::3"],
];

for (const [cidr, expected] of cidrEnds)
  test(`withoutCidrEnds ${cidr}`, (t) => {
    const prefix = parseNetipPrefix(cidr);
    if (prefix === undefined) return t.fail(cidr);
    t.is(formatRange(withoutCidrEnds(prefix.range)), expected);
    t.is(hasCidrEnds(prefix.range), expected !== formatRange(prefix.range));
  });
