// Address arithmetic the two converters need (kube-vip-configmap.ts, metallb-convert.ts): parsing a
// CIDR or a "first-last" range as strictly as Go's net/netip does (the provider's parser), merging
// spans the way go4.org/netipx's IPSet does, cutting a span into prefixes, and subtracting one set
// from another. Addresses are BigInts, so IPv6 spans of any size cost nothing.
import ipaddr from "ipaddr.js";

export type Family = 4 | 6;

/** Every address from first to last, both included, of one family. */
export interface AddressSpan {
  readonly family: Family;
  readonly first: bigint;
  readonly last: bigint;
}

const BITS: Readonly<Record<Family, number>> = { 4: 32, 6: 128 };

/**
 * An address as net/netip's ParseAddr reads it, without zones: IPv4 only in four plain decimal parts
 * (no "010.1.1.1", no "10.1"), IPv6 in any RFC 4291 form. ipaddr.js alone takes octal and hex IPv4.
 */
export function parseAddress(text: string): { family: Family; value: bigint } | undefined {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) parsed = ipaddr.IPv4.parse(text);
  else if (text.includes(":") && !text.includes("%") && ipaddr.IPv6.isValid(text))
    parsed = ipaddr.IPv6.parse(text);
  else return undefined;
  let value = 0n;
  for (const byte of parsed.toByteArray()) value = (value << 8n) | BigInt(byte);
  return { family: parsed.kind() === "ipv4" ? 4 : 6, value };
}

export function formatAddress(family: Family, value: bigint): string {
  const bytes: number[] = [];
  for (let shift = BigInt(BITS[family] - 8); shift >= 0n; shift -= 8n)
    bytes.push(Number((value >> shift) & 0xffn));
  return ipaddr.fromByteArray(bytes).toString();
}

/** "198.51.100.7/28" → the whole prefix (198.51.100.0-198.51.100.15), as netip masks it; bits kept. */
export function parseCidr(text: string): { span: AddressSpan; bits: number } | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const address = parseAddress(text.slice(0, slash));
  const bitsText = text.slice(slash + 1);
  if (address === undefined || !/^(0|[1-9]\d{0,2})$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  const width = BITS[address.family];
  if (bits > width) return undefined;
  const size = 1n << BigInt(width - bits);
  const first = (address.value / size) * size;
  return { span: { family: address.family, first, last: first + size - 1n }, bits };
}

/** "first-last" with one dash; undefined when either end is no address. Reversed or mixed: empty. */
export function parseRange(text: string): AddressSpan | "empty" | undefined {
  const ends = text.split("-");
  if (ends.length !== 2) return undefined;
  const first = parseAddress(ends[0] ?? "");
  const last = parseAddress(ends[1] ?? "");
  if (first === undefined || last === undefined) return undefined;
  if (first.family !== last.family || last.value < first.value) return "empty";
  return { family: first.family, first: first.value, last: last.value };
}

/** Sorted (IPv4 first, as netip orders), overlapping and adjacent spans joined, as an IPSet holds them. */
export function mergeSpans(spans: readonly AddressSpan[]): AddressSpan[] {
  const sorted = [...spans].sort((a, b) =>
    a.family !== b.family ? a.family - b.family : a.first < b.first ? -1 : a.first > b.first ? 1 : 0,
  );
  const merged: AddressSpan[] = [];
  for (const span of sorted) {
    const last = merged.at(-1);
    if (last !== undefined && last.family === span.family && span.first <= last.last + 1n) {
      if (span.last > last.last) merged[merged.length - 1] = { ...last, last: span.last };
    } else merged.push(span);
  }
  return merged;
}

/** The fewest prefixes covering exactly the span, in order (netipx's IPRange.Prefixes). */
export function prefixesOf(span: AddressSpan): { span: AddressSpan; bits: number }[] {
  const width = BITS[span.family];
  const prefixes: { span: AddressSpan; bits: number }[] = [];
  let first = span.first;
  while (first <= span.last) {
    let hostBits = 0;
    while (
      hostBits < width &&
      first % (1n << BigInt(hostBits + 1)) === 0n &&
      first + (1n << BigInt(hostBits + 1)) - 1n <= span.last
    )
      hostBits += 1;
    const last = first + (1n << BigInt(hostBits)) - 1n;
    prefixes.push({ span: { family: span.family, first, last }, bits: width - hostBits });
    first = last + 1n;
  }
  return prefixes;
}

/** What of `from` is in none of `remove`; both merged first. */
export function subtractSpans(from: readonly AddressSpan[], remove: readonly AddressSpan[]): AddressSpan[] {
  const cuts = mergeSpans(remove);
  const result: AddressSpan[] = [];
  for (const span of mergeSpans(from)) {
    let first = span.first;
    for (const cut of cuts) {
      if (cut.family !== span.family || cut.last < first || cut.first > span.last) continue;
      if (cut.first > first) result.push({ family: span.family, first, last: cut.first - 1n });
      first = cut.last + 1n;
    }
    if (first <= span.last) result.push({ family: span.family, first, last: span.last });
  }
  return result;
}

/** A CIDR when the span is exactly one prefix, else "first-last". */
export function formatSpan(span: AddressSpan): string {
  const prefixes = prefixesOf(span);
  const [only] = prefixes;
  if (prefixes.length === 1 && only !== undefined)
    return `${formatAddress(span.family, span.first)}/${String(only.bits)}`;
  return formatRange(span);
}

export function formatRange(span: AddressSpan): string {
  return `${formatAddress(span.family, span.first)}-${formatAddress(span.family, span.last)}`;
}

export function overlaps(a: readonly AddressSpan[], b: readonly AddressSpan[]): boolean {
  return a.some((x) => b.some((y) => x.family === y.family && x.first <= y.last && y.first <= x.last));
}
