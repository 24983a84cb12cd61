// The converters' address arithmetic: parsing as strictly as Go's net/netip, netipx's merging and
// prefix decomposition, and subtraction, on both families.
import test from "ava";
import {
  formatSpan,
  mergeSpans,
  parseAddress,
  parseCidr,
  parseRange,
  prefixesOf,
  subtractSpans,
  type AddressSpan,
} from "../../src/addresses/address-spans.ts";

function span(text: string): AddressSpan {
  const parsed = text.includes("/") ? parseCidr(text)?.span : parseRange(text);
  if (parsed === undefined || parsed === "empty") throw new Error(`bad span ${text}`);
  return parsed;
}

const ADDRESSES: readonly [string, boolean][] = [
  ["198.51.100.7", true],
  ["2001:db8::1", true],
  ["::ffff:198.51.100.7", true],
  ["198.51.100.07", false],
  ["0x0a.0.0.1", false],
  ["10.1", false],
  ["fe80::1%eth0", false],
  [" 198.51.100.7", false],
  ["", false],
];

for (const [text, valid] of ADDRESSES)
  test(`parseAddress(${JSON.stringify(text)}) is ${valid ? "an address" : "none"}`, (t) => {
    t.is(parseAddress(text) !== undefined, valid);
  });

test("parseCidr masks host bits and refuses lengths past the family's width", (t) => {
  t.is(formatSpan(span("198.51.100.210/29")), "198.51.100.208/29");
  t.is(parseCidr("198.51.100.0/33"), undefined);
  t.is(parseCidr("198.51.100.0/024"), undefined);
  t.is(formatSpan(span("2001:db8::1234/120")), "2001:db8::1200/120");
});

test("parseRange: one dash, one family, not reversed", (t) => {
  t.is(parseRange("198.51.100.1-198.51.100.2-198.51.100.3"), undefined);
  t.is(parseRange("198.51.100.9-198.51.100.1"), "empty");
  t.is(parseRange("198.51.100.1-2001:db8::1"), "empty");
});

test("mergeSpans joins overlapping and adjacent spans, IPv4 before IPv6", (t) => {
  const merged = mergeSpans([
    span("2001:db8::/127"),
    span("198.51.100.16/28"),
    span("198.51.100.0/28"),
    span("198.51.100.40-198.51.100.50"),
    span("198.51.100.45-198.51.100.60"),
  ]);
  t.deepEqual(merged.map(formatSpan), ["198.51.100.0/27", "198.51.100.40-198.51.100.60", "2001:db8::/127"]);
});

test("prefixesOf gives the fewest aligned prefixes", (t) => {
  t.deepEqual(
    prefixesOf(span("198.51.100.1-198.51.100.6")).map((prefix) => formatSpan(prefix.span)),
    ["198.51.100.1/32", "198.51.100.2/31", "198.51.100.4/31", "198.51.100.6/32"],
  );
  t.deepEqual(
    prefixesOf(span("0.0.0.0-255.255.255.255")).map((prefix) => prefix.bits),
    [0],
  );
});

test("subtractSpans cuts holes and ends, and leaves the other family alone", (t) => {
  const left = subtractSpans(
    [span("198.51.100.0/24"), span("2001:db8::/126")],
    [span("198.51.100.0/28"), span("198.51.100.100-198.51.100.110"), span("198.51.100.250-198.51.101.5")],
  );
  t.deepEqual(left.map(formatSpan), [
    "198.51.100.16-198.51.100.99",
    "198.51.100.111-198.51.100.249",
    "2001:db8::/126",
  ]);
});
