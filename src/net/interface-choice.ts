// Which interface carries a Service's VIPs: the Service's vipd.io/interface, else --interface, else
// the interface of the default route; "auto" means the interface with a subnet that contains the VIP.
// Then whether the VIPs may go there at all: what is refused here depends on this node's links and
// addresses, so each node says it for itself (the Service-only refusals are in service-intent.ts).
// A pure function of the link and address tables, so every case has a table test.
import ipaddr from "ipaddr.js";
import { AUTO_INTERFACE } from "./interface-name.ts";

export interface LinkFacts {
  readonly index: number;
  readonly name: string;
  readonly up: boolean;
  readonly carrier: boolean;
  /** null for links without a hardware address. */
  readonly mac: string | null;
  readonly loopback: boolean;
  /** IFF_NOARP: the link resolves no neighbours. */
  readonly noArp: boolean;
}

export interface AddressFacts {
  readonly ifindex: number;
  readonly address: string;
  readonly prefixLength: number;
}

export interface InterfaceChoiceInput {
  readonly vips: readonly string[];
  /** The Service's vipd.io/interface annotation. */
  readonly override: string | undefined;
  /** --interface. */
  readonly configured: string | undefined;
  readonly defaultRouteIfindex: number | null;
  readonly links: readonly LinkFacts[];
  readonly addresses: readonly AddressFacts[];
  /** --allow-off-subnet-vips: a VIP in no subnet of the interface is put there all the same. */
  readonly allowOffSubnet: boolean;
}

/** Why no interface carries the VIPs, as a code (for tests and callers) beside the sentence. */
export type InterfaceProblem =
  | "unknown-interface"
  | "no-default-route"
  | "no-subnet-contains-vip"
  | "different-interfaces"
  | "no-arp"
  | "no-address-of-family"
  | "network-address"
  | "broadcast-address"
  | "off-subnet";

type Refusal = { readonly ok: false; readonly code: InterfaceProblem; readonly reason: string };

export type InterfaceChoiceResult =
  { readonly ok: true; readonly name: string; readonly index: number; readonly carrier: boolean } | Refusal;

function refused(code: InterfaceProblem, reason: string): Refusal {
  return { ok: false, code, reason };
}

type ParsedAddress = ReturnType<typeof ipaddr.parse>;

// A host route (/32, /128: another VIP, a foreign single address) is no subnet.
function inSubnet(address: ParsedAddress, candidate: AddressFacts): boolean {
  if (isHostRoute(candidate) || !ipaddr.isValid(candidate.address)) return false;
  const network = ipaddr.parse(candidate.address);
  return network.kind() === address.kind() && address.match(network, candidate.prefixLength);
}

function subnetContaining(vip: string, input: InterfaceChoiceInput): LinkFacts | undefined {
  const address = ipaddr.parse(vip);
  const match = input.addresses.find((candidate) => inSubnet(address, candidate));
  return match === undefined ? undefined : input.links.find((link) => link.index === match.ifindex);
}

function familyOf(address: string): "ipv4" | "ipv6" | undefined {
  return ipaddr.isValid(address) ? ipaddr.parse(address).kind() : undefined;
}

function isHostRoute(address: AddressFacts): boolean {
  return address.prefixLength === (familyOf(address.address) === "ipv4" ? 32 : 128);
}

const ETHERNET_MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;

// Announcements are Ethernet frames from the link's own MAC, and neighbours find the VIP through
// ARP or NDP; a link that has neither (lo, tunnels, IFF_NOARP) would take the address and tell
// nobody (`vipd.io/interface: lo` was accepted, and its gratuitous ARP went nowhere).
function arpProblem(link: LinkFacts): Refusal | null {
  const why = link.loopback
    ? "loopback"
    : link.noArp
      ? "NOARP"
      : link.mac === null || !ETHERNET_MAC.test(link.mac) || link.mac === "00:00:00:00:00:00"
        ? "no Ethernet address"
        : null;
  return why === null ? null : refused("no-arp", `interface ${link.name} cannot carry ARP or NDP (${why})`);
}

// Where a VIP stands against the subnets of the link's own addresses. The network and broadcast
// addresses of an IPv4 subnet are not host addresses: hosts on the segment broadcast to the latter
// and many treat the former alike (198.51.100.0 and .255 were announced). A /31 or /32 has neither
// (RFC 3021). A VIP in no subnet is one that no neighbour on the link would send to directly
// (192.0.2.77 was announced on eth0, where no client could reach it); a network that routes such
// addresses to the segment is the operator's to know, hence a flag and not an annotation.
function subnetProblem(vip: string, link: LinkFacts, input: InterfaceChoiceInput): Refusal | null {
  const address = ipaddr.parse(vip);
  const subnets = input.addresses.filter(
    (candidate) => candidate.ifindex === link.index && inSubnet(address, candidate),
  );
  for (const subnet of subnets) {
    if (address.kind() !== "ipv4" || subnet.prefixLength > 30) continue;
    const cidr = `${subnet.address}/${subnet.prefixLength}`;
    const network = ipaddr.IPv4.networkAddressFromCIDR(cidr).toString();
    const named = `of ${link.name}'s subnet ${network}/${subnet.prefixLength}`;
    if (vip === network) return refused("network-address", `${vip} is the network address ${named}`);
    if (vip === ipaddr.IPv4.broadcastAddressFromCIDR(cidr).toString())
      return refused("broadcast-address", `${vip} is the broadcast address ${named}`);
  }
  if (subnets.length > 0 || input.allowOffSubnet) return null;
  return refused(
    "off-subnet",
    `${vip} is in no subnet of ${link.name}, so no neighbour would send to it there (--allow-off-subnet-vips allows it)`,
  );
}

// An interface with no address of a VIP's family (IPv6 disabled, or an IPv4-only NIC) would refuse
// the VIP or strand it where no neighbour can reach it; a host route (another VIP) does not count,
// nor does an IPv6 link-local address, which every IPv6-enabled interface has.
function result(link: LinkFacts, input: InterfaceChoiceInput): InterfaceChoiceResult {
  const noArp = arpProblem(link);
  if (noArp !== null) return noArp;
  const families = new Set(
    input.addresses
      .filter((address) => address.ifindex === link.index && !isHostRoute(address))
      .filter(
        (address) =>
          !ipaddr.isValid(address.address) || ipaddr.parse(address.address).range() !== "linkLocal",
      )
      .map((address) => familyOf(address.address)),
  );
  const lacking = input.vips.find((vip) => !families.has(familyOf(vip)));
  if (lacking !== undefined) {
    const family = familyOf(lacking) === "ipv4" ? "IPv4" : "IPv6";
    return refused("no-address-of-family", `interface ${link.name} has no ${family} address for ${lacking}`);
  }
  for (const vip of input.vips) {
    const problem = subnetProblem(vip, link, input);
    if (problem !== null) return problem;
  }
  return { ok: true, name: link.name, index: link.index, carrier: link.up && link.carrier };
}

export function chooseInterface(input: InterfaceChoiceInput): InterfaceChoiceResult {
  const wanted = input.override ?? input.configured;
  if (wanted === AUTO_INTERFACE) {
    const links = input.vips.map((vip) => ({ vip, link: subnetContaining(vip, input) }));
    const missing = links.find((entry) => entry.link === undefined);
    if (missing !== undefined)
      return refused("no-subnet-contains-vip", `no interface has a subnet containing ${missing.vip}`);
    const names = new Set(links.map((entry) => entry.link?.name));
    const [first] = links;
    if (names.size !== 1 || first?.link === undefined) {
      return refused(
        "different-interfaces",
        `the VIPs are on different interfaces (${[...names].join(", ")})`,
      );
    }
    return result(first.link, input);
  }
  if (wanted !== undefined) {
    const link = input.links.find((candidate) => candidate.name === wanted);
    return link === undefined
      ? refused("unknown-interface", `interface ${wanted} does not exist`)
      : result(link, input);
  }
  const link = input.links.find((candidate) => candidate.index === input.defaultRouteIfindex);
  return link === undefined
    ? refused("no-default-route", "no default route, and no --interface given")
    : result(link, input);
}
