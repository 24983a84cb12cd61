// Ethernet frames for ARP and IPv6 neighbour discovery: the ones vipd sends (announcements and
// probes) and the parsing of the ones it listens for (answers and foreign claims). Pure functions
// over bytes, with addresses as text on both sides. Frames are not padded to Ethernet's 60-byte
// minimum: the kernel does not pad its own ARP either, the NIC does.
import ipaddr from "ipaddr.js";

export const BROADCAST_MAC = "ff:ff:ff:ff:ff:ff";
const ZERO_MAC = "00:00:00:00:00:00";
const ZERO_IPV4 = "0.0.0.0";
const UNSPECIFIED_IPV6 = "::";
const ALL_NODES = "ff02::1";

const ETHERNET_HEADER_LENGTH = 14;
const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ARP_HARDWARE_ETHERNET = 1;
const ARP_LENGTH = 28;
const ARP_OPERATIONS = { request: 1, reply: 2 } as const;

const IPV6_HEADER_LENGTH = 40;
const NEXT_HEADER_ICMPV6 = 58;
// RFC 4861 makes receivers drop neighbour discovery that did not come with hop limit 255, which
// proves it was not routed.
const NEIGHBOUR_DISCOVERY_HOP_LIMIT = 255;
const ICMPV6_TYPES = { solicitation: 135, advertisement: 136 } as const;
const NEIGHBOUR_MESSAGE_LENGTH = 24;
const OPTION_SOURCE_LINK_ADDRESS = 1;
const OPTION_TARGET_LINK_ADDRESS = 2;
const LINK_ADDRESS_OPTION_LENGTH = 8;
const FLAG_ROUTER = 0x80;
const FLAG_SOLICITED = 0x40;
const FLAG_OVERRIDE = 0x20;

function macToBytes(mac: string): Uint8Array {
  const parts = mac.split(":");
  if (parts.length !== 6 || !parts.every((part) => /^[0-9a-fA-F]{2}$/.test(part))) {
    throw new TypeError(`not a MAC address: ${mac}`);
  }
  return Uint8Array.from(parts, (part) => parseInt(part, 16));
}

function macFromBytes(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 6), (byte) => byte.toString(16).padStart(2, "0")).join(":");
}

function ipv4ToBytes(address: string): number[] {
  if (!ipaddr.IPv4.isValidFourPartDecimal(address)) throw new TypeError(`not an IPv4 address: ${address}`);
  return ipaddr.IPv4.parse(address).toByteArray();
}

function ipv6ToBytes(address: string): number[] {
  if (!ipaddr.IPv6.isValid(address)) throw new TypeError(`not an IPv6 address: ${address}`);
  return ipaddr.IPv6.parse(address).toByteArray();
}

function ipv4FromBytes(bytes: Uint8Array): string {
  return ipaddr.fromByteArray(Array.from(bytes.subarray(0, 4))).toString();
}

function ipv6FromBytes(bytes: Uint8Array): string {
  return ipaddr.fromByteArray(Array.from(bytes.subarray(0, 16))).toString();
}

/** An address's bytes in hex: the key claimedAddressKey gives for frames about it. */
export function addressKey(address: string): string {
  const bytes = address.includes(":") ? ipv6ToBytes(address) : ipv4ToBytes(address);
  return Buffer.from(bytes).toString("hex");
}

const ARP_SENDER_IP_OFFSET = ETHERNET_HEADER_LENGTH + 14;
const NEIGHBOUR_TARGET_OFFSET = ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH + 8;

/**
 * The bytes, in hex, where an ARP frame names its sender's address and a neighbour message its
 * target: the address the frame may claim, read by position alone. A sieve, not a parse: a
 * listener that cares about a few addresses looks the key up before paying for parseArp or
 * parseNeighbourMessage, which still decide what the frame is.
 */
export function claimedAddressKey(frame: Buffer): string | undefined {
  if (frame.length < ETHERNET_HEADER_LENGTH) return undefined;
  const etherType = frame.readUInt16BE(12);
  if (etherType === ETHERTYPE_ARP && frame.length >= ARP_SENDER_IP_OFFSET + 4)
    return frame.toString("hex", ARP_SENDER_IP_OFFSET, ARP_SENDER_IP_OFFSET + 4);
  if (etherType === ETHERTYPE_IPV6 && frame.length >= NEIGHBOUR_TARGET_OFFSET + 16)
    return frame.toString("hex", NEIGHBOUR_TARGET_OFFSET, NEIGHBOUR_TARGET_OFFSET + 16);
  return undefined;
}

function writeEthernetHeader(
  frame: Buffer,
  header: { destinationMac: string; sourceMac: string; etherType: number },
): void {
  frame.set(macToBytes(header.destinationMac), 0);
  frame.set(macToBytes(header.sourceMac), 6);
  frame.writeUInt16BE(header.etherType, 12);
}

// ARP -----------------------------------------------------------------------------------------

export type ArpOperation = keyof typeof ARP_OPERATIONS;

/** An Ethernet/IPv4 ARP frame, with the Ethernet header's addresses. */
export interface ArpFrame {
  readonly destinationMac: string;
  readonly sourceMac: string;
  readonly operation: ArpOperation;
  readonly senderMac: string;
  readonly senderIp: string;
  readonly targetMac: string;
  readonly targetIp: string;
}

export function buildArp(arp: ArpFrame): Buffer {
  const frame = Buffer.alloc(ETHERNET_HEADER_LENGTH + ARP_LENGTH);
  writeEthernetHeader(frame, {
    destinationMac: arp.destinationMac,
    sourceMac: arp.sourceMac,
    etherType: ETHERTYPE_ARP,
  });
  const offset = ETHERNET_HEADER_LENGTH;
  frame.writeUInt16BE(ARP_HARDWARE_ETHERNET, offset);
  frame.writeUInt16BE(ETHERTYPE_IPV4, offset + 2);
  frame.writeUInt8(6, offset + 4);
  frame.writeUInt8(4, offset + 5);
  frame.writeUInt16BE(ARP_OPERATIONS[arp.operation], offset + 6);
  frame.set(macToBytes(arp.senderMac), offset + 8);
  frame.set(ipv4ToBytes(arp.senderIp), offset + 14);
  frame.set(macToBytes(arp.targetMac), offset + 18);
  frame.set(ipv4ToBytes(arp.targetIp), offset + 24);
  return frame;
}

/** undefined for anything but an Ethernet/IPv4 ARP request or reply. */
export function parseArp(frame: Uint8Array): ArpFrame | undefined {
  if (frame.length < ETHERNET_HEADER_LENGTH + ARP_LENGTH) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const offset = ETHERNET_HEADER_LENGTH;
  if (
    view.getUint16(12) !== ETHERTYPE_ARP ||
    view.getUint16(offset) !== ARP_HARDWARE_ETHERNET ||
    view.getUint16(offset + 2) !== ETHERTYPE_IPV4 ||
    view.getUint8(offset + 4) !== 6 ||
    view.getUint8(offset + 5) !== 4
  ) {
    return undefined;
  }
  const opcode = view.getUint16(offset + 6);
  const operation =
    opcode === ARP_OPERATIONS.request ? "request" : opcode === ARP_OPERATIONS.reply ? "reply" : undefined;
  if (operation === undefined) return undefined;
  return {
    destinationMac: macFromBytes(frame.subarray(0, 6)),
    sourceMac: macFromBytes(frame.subarray(6, 12)),
    operation,
    senderMac: macFromBytes(frame.subarray(offset + 8)),
    senderIp: ipv4FromBytes(frame.subarray(offset + 14)),
    targetMac: macFromBytes(frame.subarray(offset + 18)),
    targetIp: ipv4FromBytes(frame.subarray(offset + 24)),
  };
}

export interface Announcement {
  /** The announcing interface's MAC. */
  readonly mac: string;
  /** The address announced (or, for a probe, asked about). */
  readonly ip: string;
}

/**
 * An RFC 5227 announcement: a broadcast request with sender and target both the VIP and a zero
 * target MAC, exactly what the kernel itself sends for arp_notify. arping -U and keepalived fill
 * the target MAC with ff instead; receivers ignore that field of a request either way.
 */
export function gratuitousArpRequest(announcement: Announcement): Buffer {
  return buildArp({
    destinationMac: BROADCAST_MAC,
    sourceMac: announcement.mac,
    operation: "request",
    senderMac: announcement.mac,
    senderIp: announcement.ip,
    targetMac: ZERO_MAC,
    targetIp: announcement.ip,
  });
}

/**
 * The reply form, for neighbours that only learn from replies: broadcast, with the target MAC our
 * own, as `arping -A` sends it.
 */
export function gratuitousArpReply(announcement: Announcement): Buffer {
  return buildArp({
    destinationMac: BROADCAST_MAC,
    sourceMac: announcement.mac,
    operation: "reply",
    senderMac: announcement.mac,
    senderIp: announcement.ip,
    targetMac: announcement.mac,
    targetIp: announcement.ip,
  });
}

/**
 * An RFC 5227 probe asking who has the address: sender IP 0.0.0.0, so that no neighbour updates
 * its cache from it, and a zero target MAC.
 */
export function arpProbe(probe: Announcement): Buffer {
  return buildArp({
    destinationMac: BROADCAST_MAC,
    sourceMac: probe.mac,
    operation: "request",
    senderMac: probe.mac,
    senderIp: ZERO_IPV4,
    targetMac: ZERO_MAC,
    targetIp: probe.ip,
  });
}

// IPv6 neighbour discovery ---------------------------------------------------------------------

interface NeighbourFrameCommon {
  readonly destinationMac: string;
  readonly sourceMac: string;
  readonly sourceIp: string;
  readonly destinationIp: string;
  readonly target: string;
}

export interface NeighbourSolicitation extends NeighbourFrameCommon {
  readonly type: "solicitation";
  readonly sourceLinkAddress: string | undefined;
}

export interface NeighbourAdvertisement extends NeighbourFrameCommon {
  readonly type: "advertisement";
  readonly router: boolean;
  readonly solicited: boolean;
  readonly override: boolean;
  readonly targetLinkAddress: string | undefined;
}

export type NeighbourMessage = NeighbourSolicitation | NeighbourAdvertisement;

/** ff02::1:ffXX:XXXX, the group a node joins for each of its addresses (RFC 4291). */
export function solicitedNodeAddress(address: string): string {
  const bytes = ipv6ToBytes(address);
  return ipv6FromBytes(Uint8Array.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, ...bytes.slice(13)]));
}

/** 33:33 followed by the group's last four bytes (RFC 2464). */
export function multicastMac(group: string): string {
  return macFromBytes(Uint8Array.from([0x33, 0x33, ...ipv6ToBytes(group).slice(12)]));
}

/** The ICMPv6 checksum over the pseudo-header (RFC 8200 §8.1) and the message. */
export function icmpv6Checksum(options: {
  readonly sourceIp: string;
  readonly destinationIp: string;
  readonly message: Uint8Array;
}): number {
  const pseudoHeader = Buffer.alloc(40);
  pseudoHeader.set(ipv6ToBytes(options.sourceIp), 0);
  pseudoHeader.set(ipv6ToBytes(options.destinationIp), 16);
  pseudoHeader.writeUInt32BE(options.message.length, 32);
  pseudoHeader.writeUInt8(NEXT_HEADER_ICMPV6, 39);
  let sum = 0;
  for (const part of [pseudoHeader, options.message]) {
    for (let index = 0; index < part.length; index += 2) {
      sum += ((part[index] ?? 0) << 8) | (part[index + 1] ?? 0);
    }
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function linkAddressOf(message: NeighbourMessage): { type: number; mac: string } | undefined {
  if (message.type === "solicitation") {
    return message.sourceLinkAddress === undefined
      ? undefined
      : { type: OPTION_SOURCE_LINK_ADDRESS, mac: message.sourceLinkAddress };
  }
  return message.targetLinkAddress === undefined
    ? undefined
    : { type: OPTION_TARGET_LINK_ADDRESS, mac: message.targetLinkAddress };
}

export function buildNeighbourMessage(message: NeighbourMessage): Buffer {
  const linkAddress = linkAddressOf(message);
  const icmpLength = NEIGHBOUR_MESSAGE_LENGTH + (linkAddress === undefined ? 0 : LINK_ADDRESS_OPTION_LENGTH);
  const frame = Buffer.alloc(ETHERNET_HEADER_LENGTH + IPV6_HEADER_LENGTH + icmpLength);
  writeEthernetHeader(frame, {
    destinationMac: message.destinationMac,
    sourceMac: message.sourceMac,
    etherType: ETHERTYPE_IPV6,
  });

  const ip = ETHERNET_HEADER_LENGTH;
  frame.writeUInt32BE(0x60000000, ip);
  frame.writeUInt16BE(icmpLength, ip + 4);
  frame.writeUInt8(NEXT_HEADER_ICMPV6, ip + 6);
  frame.writeUInt8(NEIGHBOUR_DISCOVERY_HOP_LIMIT, ip + 7);
  frame.set(ipv6ToBytes(message.sourceIp), ip + 8);
  frame.set(ipv6ToBytes(message.destinationIp), ip + 24);

  const icmp = ip + IPV6_HEADER_LENGTH;
  frame.writeUInt8(ICMPV6_TYPES[message.type], icmp);
  if (message.type === "advertisement") {
    const flags =
      (message.router ? FLAG_ROUTER : 0) |
      (message.solicited ? FLAG_SOLICITED : 0) |
      (message.override ? FLAG_OVERRIDE : 0);
    frame.writeUInt8(flags, icmp + 4);
  }
  frame.set(ipv6ToBytes(message.target), icmp + 8);
  if (linkAddress !== undefined) {
    frame.writeUInt8(linkAddress.type, icmp + NEIGHBOUR_MESSAGE_LENGTH);
    frame.writeUInt8(LINK_ADDRESS_OPTION_LENGTH / 8, icmp + NEIGHBOUR_MESSAGE_LENGTH + 1);
    frame.set(macToBytes(linkAddress.mac), icmp + NEIGHBOUR_MESSAGE_LENGTH + 2);
  }
  const checksum = icmpv6Checksum({
    sourceIp: message.sourceIp,
    destinationIp: message.destinationIp,
    message: frame.subarray(icmp),
  });
  frame.writeUInt16BE(checksum, icmp + 2);
  return frame;
}

/** The link-layer address options of a message, by option type; undefined if malformed. */
function parseLinkAddressOptions(options: Uint8Array): Map<number, string> | undefined {
  const found = new Map<number, string>();
  let offset = 0;
  while (offset < options.length) {
    const type = options[offset];
    const length = (options[offset + 1] ?? 0) * 8;
    // RFC 4861 §4.6: a zero-length option makes the whole message invalid.
    if (type === undefined || length === 0 || offset + length > options.length) return undefined;
    if ((type === OPTION_SOURCE_LINK_ADDRESS || type === OPTION_TARGET_LINK_ADDRESS) && length >= 8) {
      found.set(type, macFromBytes(options.subarray(offset + 2, offset + 8)));
    }
    offset += length;
  }
  return found;
}

/**
 * undefined for anything but a valid neighbour solicitation or advertisement: the RFC 4861
 * §7.1 checks of hop limit, ICMP code, length, options and checksum all have to pass.
 */
export function parseNeighbourMessage(frame: Uint8Array): NeighbourMessage | undefined {
  const ip = ETHERNET_HEADER_LENGTH;
  const icmp = ip + IPV6_HEADER_LENGTH;
  if (frame.length < icmp + NEIGHBOUR_MESSAGE_LENGTH) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (
    view.getUint16(12) !== ETHERTYPE_IPV6 ||
    view.getUint8(ip) >>> 4 !== 6 ||
    view.getUint8(ip + 6) !== NEXT_HEADER_ICMPV6 ||
    view.getUint8(ip + 7) !== NEIGHBOUR_DISCOVERY_HOP_LIMIT
  ) {
    return undefined;
  }
  const icmpLength = view.getUint16(ip + 4);
  if (icmpLength < NEIGHBOUR_MESSAGE_LENGTH || icmp + icmpLength > frame.length) return undefined;
  const icmpType = view.getUint8(icmp);
  const type =
    icmpType === ICMPV6_TYPES.solicitation
      ? "solicitation"
      : icmpType === ICMPV6_TYPES.advertisement
        ? "advertisement"
        : undefined;
  if (type === undefined || view.getUint8(icmp + 1) !== 0) return undefined;

  const sourceIp = ipv6FromBytes(frame.subarray(ip + 8));
  const destinationIp = ipv6FromBytes(frame.subarray(ip + 24));
  const message = frame.subarray(icmp, icmp + icmpLength);
  if (icmpv6Checksum({ sourceIp, destinationIp, message }) !== 0) return undefined;
  const options = parseLinkAddressOptions(message.subarray(NEIGHBOUR_MESSAGE_LENGTH));
  if (options === undefined) return undefined;

  const common = {
    destinationMac: macFromBytes(frame.subarray(0, 6)),
    sourceMac: macFromBytes(frame.subarray(6, 12)),
    sourceIp,
    destinationIp,
    target: ipv6FromBytes(message.subarray(8)),
  };
  if (type === "solicitation") {
    return { type, ...common, sourceLinkAddress: options.get(OPTION_SOURCE_LINK_ADDRESS) };
  }
  const flags = view.getUint8(icmp + 4);
  return {
    type,
    ...common,
    router: (flags & FLAG_ROUTER) !== 0,
    solicited: (flags & FLAG_SOLICITED) !== 0,
    override: (flags & FLAG_OVERRIDE) !== 0,
    targetLinkAddress: options.get(OPTION_TARGET_LINK_ADDRESS),
  };
}

/**
 * What the kernel sends for ndisc_notify: to all nodes, override set, solicited and router clear,
 * the target's MAC in a target link-layer address option, and the target itself as the source.
 */
export function unsolicitedNeighbourAdvertisement(announcement: Announcement): Buffer {
  return buildNeighbourMessage({
    type: "advertisement",
    destinationMac: multicastMac(ALL_NODES),
    sourceMac: announcement.mac,
    sourceIp: announcement.ip,
    destinationIp: ALL_NODES,
    target: announcement.ip,
    router: false,
    solicited: false,
    override: true,
    targetLinkAddress: announcement.mac,
  });
}

/**
 * A duplicate-address-detection probe (RFC 4862 §5.4.2): from the unspecified address to the
 * target's solicited-node group, without a source link-layer option, so no neighbour caches it.
 * Whoever holds the address answers with an advertisement to all nodes.
 */
export function duplicateAddressProbe(probe: Announcement): Buffer {
  const group = solicitedNodeAddress(probe.ip);
  return buildNeighbourMessage({
    type: "solicitation",
    destinationMac: multicastMac(group),
    sourceMac: probe.mac,
    sourceIp: UNSPECIFIED_IPV6,
    destinationIp: group,
    target: probe.ip,
    sourceLinkAddress: undefined,
  });
}

/** An ordinary address resolution, as the kernel sends it: from one of our addresses, with our MAC. */
export function neighbourSolicitation(solicitation: {
  readonly mac: string;
  readonly sourceIp: string;
  readonly target: string;
}): Buffer {
  const group = solicitedNodeAddress(solicitation.target);
  return buildNeighbourMessage({
    type: "solicitation",
    destinationMac: multicastMac(group),
    sourceMac: solicitation.mac,
    sourceIp: solicitation.sourceIp,
    destinationIp: group,
    target: solicitation.target,
    sourceLinkAddress: solicitation.mac,
  });
}
