// Address ranges as numbers: what a pool's spec.addresses entries cover, read once into inclusive
// [first, last] pairs of bigints so that overlaps, sizes and the first free address are arithmetic,
// never an enumeration (an IPv6 /64 holds 2^64 addresses). Pure: no I/O, no clock.
//
// Two readers of entries, because two kinds of text are read. parseRange reads vipd's own
// spec.addresses (pools.ts), strictly: a CIDR with host bits set, a reversed range, or an entry
// holding an address no VIP may have is refused with a sentence. parseNetipAddress, parseNetipPrefix
// and parseNetipRange read kube-vip's ConfigMap and MetalLB's pools (kube-vip-configmap.ts,
// metallb-convert.ts) as those programs do with Go's net/netip and go4.org/netipx, so that `vipd
// convert` and the agent's reading of the ConfigMap keep their meaning: host bits are masked, a
// reversed or mixed-family range is empty rather than wrong, nothing is trimmed, a lone address is
// no range, and no address is refused for its kind. The arithmetic below serves both.
import ipaddr from "ipaddr.js";
import { canonicalAddress, UNUSABLE_RANGES } from "../agent/service-intent.ts";

/** Every address from first to last, both included, of one family. */
export interface AddressRange {
  readonly family: 4 | 6;
  readonly first: bigint;
  readonly last: bigint;
}

/** An entry of spec.addresses read: its range and whether it was written as a CIDR, or why not. */
export type RangeReading =
  | { readonly ok: true; readonly range: AddressRange; readonly cidr: boolean }
  | { readonly ok: false; readonly problem: string };

const BITS: Readonly<Record<4 | 6, number>> = { 4: 32, 6: 128 };

/**
 * Reads one entry of spec.addresses: a CIDR ("198.51.100.0/24"), a range ("198.51.100.10-198.51.100.20",
 * spaces around the "-" allowed) or a single address. Problems are sentences naming the entry, for an
 * Event or a condition. An entry that contains an address no VIP may have (loopback, multicast,
 * link-local, unspecified, broadcast, IPv4-mapped; canonicalAddress's table) is refused whole,
 * wherever in the range that address lies.
 */
export function parseRange(entry: string): RangeReading {
  const text = entry.trim();
  if (text.includes("/")) return parseCidr(text);
  if (text.includes("-")) return parseSpan(text);
  const reading = canonicalAddress(text);
  if (!reading.ok) return reading;
  const { family, value } = addressValue(reading.vip.address);
  return { ok: true, range: { family, first: value, last: value }, cidr: false };
}

function parseCidr(text: string): RangeReading {
  const [address = "", prefix = "", ...rest] = text.split("/");
  const reading = canonicalAddress(address);
  if (!reading.ok) return { ok: false, problem: `${text}: ${reading.problem}` };
  const { family, value } = addressValue(reading.vip.address);
  const bits = BITS[family];
  const length = /^\d{1,3}$/.test(prefix) ? Number(prefix) : Number.NaN;
  if (rest.length > 0 || !(length <= bits))
    return {
      ok: false,
      problem: `${text} is not a CIDR: the prefix length must be a number from 0 to ${bits}`,
    };
  const hostBits = BigInt(bits - length);
  const first = (value >> hostBits) << hostBits;
  if (first !== value) {
    const network = `${addressText(family, first)}/${length}`;
    return { ok: false, problem: `${text} has host bits set; the network is ${network}` };
  }
  return usable(text, { family, first, last: first + (1n << hostBits) - 1n }, true);
}

function parseSpan(text: string): RangeReading {
  const parts = text.split("-").map((part) => part.trim());
  const [start = "", end = ""] = parts;
  if (parts.length !== 2 || start === "" || end === "")
    return {
      ok: false,
      problem: `${text} is not a range: write it as first-last, e.g. 198.51.100.10-198.51.100.20`,
    };
  const startReading = canonicalAddress(start);
  if (!startReading.ok) return { ok: false, problem: `${text}: ${startReading.problem}` };
  const endReading = canonicalAddress(end);
  if (!endReading.ok) return { ok: false, problem: `${text}: ${endReading.problem}` };
  const first = addressValue(startReading.vip.address);
  const last = addressValue(endReading.vip.address);
  if (first.family !== last.family) return { ok: false, problem: `${text} mixes IPv4 and IPv6` };
  if (first.value > last.value)
    return { ok: false, problem: `${text} is reversed: ${start} comes after ${end}` };
  return usable(text, { family: first.family, first: first.value, last: last.value }, false);
}

/** Refuses a range whose inside (its ends were checked already) holds an address no VIP may have. */
function usable(text: string, range: AddressRange, cidr: boolean): RangeReading {
  const [inside] = intersectRanges([range], unusableRanges(range.family));
  if (inside === undefined) return { ok: true, range, cidr };
  const address = addressText(range.family, inside.first);
  const why = UNUSABLE_RANGES[ipaddr.parse(address).range()] ?? "is not usable";
  return { ok: false, problem: `${text} includes ${address}, which ${why}` };
}

type SpecialRange = readonly [ipaddr.IPv4 | ipaddr.IPv6, number];
type SpecialRanges = Readonly<Record<string, SpecialRange | readonly SpecialRange[]>>;

/**
 * The ranges behind canonicalAddress's table, from ipaddr.js's own table (the one its range()
 * reads), so both always agree on what an unusable address is. ipaddr.js does not declare that table
 * in its types; a test pins the ranges read from it. Built on each call rather than cached at load,
 * so no module state exists and the import of service-intent.ts may be cyclic.
 */
function unusableRanges(family: 4 | 6): AddressRange[] {
  const prototype: unknown = family === 4 ? ipaddr.IPv4.prototype : ipaddr.IPv6.prototype;
  const table = (prototype as { readonly SpecialRanges: SpecialRanges }).SpecialRanges;
  const ranges: AddressRange[] = [];
  for (const name of Object.keys(UNUSABLE_RANGES)) {
    const entry = table[name];
    if (entry === undefined) continue;
    const list = isRangeList(entry) ? entry : [entry];
    for (const [network, length] of list) {
      const hostBits = BigInt(BITS[family] - length);
      const first = bytesValue(network.toByteArray());
      ranges.push({ family, first, last: first + (1n << hostBits) - 1n });
    }
  }
  return mergeRanges(ranges);
}

function isRangeList(entry: SpecialRange | readonly SpecialRange[]): entry is readonly SpecialRange[] {
  return Array.isArray(entry[0]);
}

function bytesValue(bytes: readonly number[]): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/** The family and numeric value of an address's text; throws on text that is none (read it first). */
export function addressValue(address: string): { readonly family: 4 | 6; readonly value: bigint } {
  const fast = plainValue(address);
  if (fast !== undefined) return fast;
  const parsed = ipaddr.parse(address);
  return { family: parsed.kind() === "ipv4" ? 4 : 6, value: bytesValue(parsed.toByteArray()) };
}

/**
 * An address as net/netip's ParseAddr reads it, without zones: IPv4 only in four plain decimal parts
 * (no "010.1.1.1", no "10.1"), IPv6 in any RFC 4291 form. Unlike canonicalAddress nothing is trimmed,
 * and no address is refused for its kind (loopback, multicast and the like).
 */
export function parseNetipAddress(
  text: string,
): { readonly family: 4 | 6; readonly value: bigint } | undefined {
  const valid =
    ipaddr.IPv4.isValidFourPartDecimal(text) ||
    (text.includes(":") && !text.includes("%") && ipaddr.IPv6.isValid(text));
  return valid ? addressValue(text) : undefined;
}

/**
 * "198.51.100.7/28" as netip's ParsePrefix and Masked read it: the whole prefix
 * (198.51.100.0-198.51.100.15), its length kept; no leading zero in the length.
 */
export function parseNetipPrefix(
  text: string,
): { readonly range: AddressRange; readonly bits: number } | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const address = parseNetipAddress(text.slice(0, slash));
  const bitsText = text.slice(slash + 1);
  if (address === undefined || !/^(0|[1-9]\d{0,2})$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  const width = BITS[address.family];
  if (bits > width) return undefined;
  const size = 1n << BigInt(width - bits);
  const first = (address.value / size) * size;
  return { range: { family: address.family, first, last: first + size - 1n }, bits };
}

/**
 * "first-last" with one dash, each end as parseNetipAddress reads it; undefined when either end is
 * no address, "empty" when reversed or of two families (netipx's IPSet drops such a range silently).
 */
export function parseNetipRange(text: string): AddressRange | "empty" | undefined {
  const ends = text.split("-");
  if (ends.length !== 2) return undefined;
  const first = parseNetipAddress(ends[0] ?? "");
  const last = parseNetipAddress(ends[1] ?? "");
  if (first === undefined || last === undefined) return undefined;
  if (first.family !== last.family || last.value < first.value) return "empty";
  return { family: first.family, first: first.value, last: last.value };
}

const PLAIN_IPV4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const PLAIN_IPV6 = /^[0-9a-fA-F:]+$/;
const IPV6_GROUP = /^[0-9a-fA-F]{1,4}$/;

/**
 * addressValue of the plain forms canonical text takes (dotted decimal without leading zeros; IPv6
 * of hex groups and at most one "::"), read several times faster than ipaddr.parse: firstFree reads
 * every taken address on each call. Anything else (zones, embedded IPv4, legacy IPv4 forms, errors)
 * is undefined, and ipaddr.parse decides it.
 */
function plainValue(address: string): { readonly family: 4 | 6; readonly value: bigint } | undefined {
  const octets = PLAIN_IPV4.exec(address);
  if (octets !== null) {
    let value = 0;
    for (const octet of octets.slice(1)) {
      const number = Number(octet);
      if (number > 255) return undefined;
      value = value * 256 + number;
    }
    return { family: 4, value: BigInt(value) };
  }
  if (!PLAIN_IPV6.test(address)) return undefined;
  const halves = address.split("::");
  if (halves.length > 2) return undefined;
  const [head = [], tail = []] = halves.map((half) => (half === "" ? [] : half.split(":")));
  const gap = 8 - head.length - tail.length;
  if (halves.length === 2 ? gap < 1 : gap !== 0) return undefined;
  const groups = [...head, ...Array<string>(gap).fill("0"), ...tail];
  if (!groups.every((group) => IPV6_GROUP.test(group))) return undefined;
  return { family: 6, value: BigInt(`0x${groups.map((group) => group.padStart(4, "0")).join("")}`) };
}

/** The canonical text of an address (canonicalAddress's form): lower case, shortest IPv6 form. */
export function addressText(family: 4 | 6, value: bigint): string {
  const bytes: number[] = [];
  for (let index = 0; index < BITS[family] / 8; index++) {
    bytes.unshift(Number(value & 0xffn));
    value >>= 8n;
  }
  return ipaddr.fromByteArray(bytes).toString();
}

export function rangeSize(range: AddressRange): bigint {
  return range.last - range.first + 1n;
}

/**
 * Whether a CIDR (a range that is one prefix) has ends that kube-vip's skip-end-ips-in-cidr leaves
 * out: IPv4 only, never of a /31 or /32 (RFC 3021: a /31 has no network or broadcast address).
 */
export function hasCidrEnds(prefix: AddressRange): boolean {
  return prefix.family === 4 && rangeSize(prefix) > 2n;
}

/** A CIDR without its first and last address where hasCidrEnds says it has them, else whole. */
export function withoutCidrEnds(prefix: AddressRange): AddressRange {
  return hasCidrEnds(prefix) ? { ...prefix, first: prefix.first + 1n, last: prefix.last - 1n } : prefix;
}

/** "first-last", or a lone address as itself (as parseRange reads it back). */
export function formatRange(range: AddressRange): string {
  const first = addressText(range.family, range.first);
  return range.first === range.last ? first : `${first}-${addressText(range.family, range.last)}`;
}

/**
 * "first-last" always, a lone address too ("198.51.100.7-198.51.100.7"): how the converters have
 * always printed range entries, so that `vipd convert`'s output and kube-vip's pools keep their text.
 */
export function formatFirstLast(range: AddressRange): string {
  return `${addressText(range.family, range.first)}-${addressText(range.family, range.last)}`;
}

/** The fewest prefixes covering exactly the range, in order (netipx's IPRange.Prefixes). */
export function prefixesOf(range: AddressRange): { readonly range: AddressRange; readonly bits: number }[] {
  const width = BITS[range.family];
  const prefixes: { range: AddressRange; bits: number }[] = [];
  let first = range.first;
  while (first <= range.last) {
    let hostBits = 0;
    while (
      hostBits < width &&
      first % (1n << BigInt(hostBits + 1)) === 0n &&
      first + (1n << BigInt(hostBits + 1)) - 1n <= range.last
    )
      hostBits += 1;
    const last = first + (1n << BigInt(hostBits)) - 1n;
    prefixes.push({ range: { family: range.family, first, last }, bits: width - hostBits });
    first = last + 1n;
  }
  return prefixes;
}

/** A CIDR when the range is exactly one prefix (a lone address is a /32 or /128), else "first-last". */
export function formatCidrOrRange(range: AddressRange): string {
  const [only, ...others] = prefixesOf(range);
  if (only !== undefined && others.length === 0)
    return `${addressText(range.family, range.first)}/${String(only.bits)}`;
  return formatRange(range);
}

function compareRanges(a: AddressRange, b: AddressRange): number {
  if (a.family !== b.family) return a.family - b.family;
  return a.first < b.first ? -1 : a.first > b.first ? 1 : 0;
}

/** The same addresses as disjoint ranges, IPv4 first, each family ascending, touching ones joined. */
export function mergeRanges(ranges: readonly AddressRange[]): AddressRange[] {
  const merged: AddressRange[] = [];
  for (const range of [...ranges].sort(compareRanges)) {
    const previous = merged.at(-1);
    if (previous?.family === range.family && range.first <= previous.last + 1n) {
      if (range.last > previous.last) merged[merged.length - 1] = { ...previous, last: range.last };
    } else {
      merged.push({ family: range.family, first: range.first, last: range.last });
    }
  }
  return merged;
}

/** The addresses of ranges that are in no range of minus, merged as mergeRanges does. */
export function subtractRanges(
  ranges: readonly AddressRange[],
  minus: readonly AddressRange[],
): AddressRange[] {
  const cuts = mergeRanges(minus);
  const result: AddressRange[] = [];
  for (const range of mergeRanges(ranges)) {
    let first = range.first;
    for (const cut of cuts) {
      if (cut.family !== range.family || cut.last < first) continue;
      if (cut.first > range.last) break;
      if (cut.first > first) result.push({ family: range.family, first, last: cut.first - 1n });
      first = cut.last + 1n;
      if (first > range.last) break;
    }
    if (first <= range.last) result.push({ family: range.family, first, last: range.last });
  }
  return result;
}

/** The addresses in both a and b, merged as mergeRanges does. */
export function intersectRanges(a: readonly AddressRange[], b: readonly AddressRange[]): AddressRange[] {
  const right = mergeRanges(b);
  const result: AddressRange[] = [];
  for (const range of mergeRanges(a)) {
    for (const other of right) {
      if (other.family !== range.family) continue;
      const first = other.first > range.first ? other.first : range.first;
      const last = other.last < range.last ? other.last : range.last;
      if (first <= last) result.push({ family: range.family, first, last });
    }
  }
  return mergeRanges(result);
}

export function rangesOverlap(a: readonly AddressRange[], b: readonly AddressRange[]): boolean {
  return intersectRanges(a, b).length > 0;
}

export function rangesContain(ranges: readonly AddressRange[], family: 4 | 6, value: bigint): boolean {
  return ranges.some((range) => range.family === family && range.first <= value && value <= range.last);
}
