// Which interface carries a Service's VIPs: the Service's vipd.io/interface, else --interface, else
// the interface of the default route; "auto" means the interface with a subnet that contains the VIP.
// A pure function of the link and address tables, so every case has a table test.
import ipaddr from "ipaddr.js";
import { AUTO_INTERFACE } from "./interface-name.ts";

export interface LinkFacts {
  readonly index: number;
  readonly name: string;
  readonly up: boolean;
  readonly carrier: boolean;
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
}

export type InterfaceChoiceResult =
  | { readonly ok: true; readonly name: string; readonly index: number; readonly carrier: boolean }
  | { readonly ok: false; readonly reason: string };

function subnetContaining(vip: string, input: InterfaceChoiceInput): LinkFacts | undefined {
  const address = ipaddr.parse(vip);
  const match = input.addresses.find((candidate) => {
    const hostRoute = candidate.prefixLength === (address.kind() === "ipv4" ? 32 : 128);
    if (hostRoute || !ipaddr.isValid(candidate.address)) return false;
    const network = ipaddr.parse(candidate.address);
    return network.kind() === address.kind() && address.match(network, candidate.prefixLength);
  });
  return match === undefined ? undefined : input.links.find((link) => link.index === match.ifindex);
}

function familyOf(address: string): "ipv4" | "ipv6" | undefined {
  return ipaddr.isValid(address) ? ipaddr.parse(address).kind() : undefined;
}

// An interface with no address of a VIP's family (IPv6 disabled, or an IPv4-only NIC) would refuse
// the VIP or strand it where no neighbour can reach it; a host route (another VIP) does not count,
// nor does an IPv6 link-local address, which every IPv6-enabled interface has.
function result(link: LinkFacts, input: InterfaceChoiceInput): InterfaceChoiceResult {
  const families = new Set(
    input.addresses
      .filter((address) => address.ifindex === link.index)
      .filter((address) => address.prefixLength !== (familyOf(address.address) === "ipv4" ? 32 : 128))
      .filter(
        (address) =>
          !ipaddr.isValid(address.address) || ipaddr.parse(address.address).range() !== "linkLocal",
      )
      .map((address) => familyOf(address.address)),
  );
  const lacking = input.vips.find((vip) => !families.has(familyOf(vip)));
  if (lacking !== undefined) {
    const family = familyOf(lacking) === "ipv4" ? "IPv4" : "IPv6";
    return { ok: false, reason: `interface ${link.name} has no ${family} address for ${lacking}` };
  }
  return { ok: true, name: link.name, index: link.index, carrier: link.up && link.carrier };
}

export function chooseInterface(input: InterfaceChoiceInput): InterfaceChoiceResult {
  const wanted = input.override ?? input.configured;
  if (wanted === AUTO_INTERFACE) {
    const links = input.vips.map((vip) => ({ vip, link: subnetContaining(vip, input) }));
    const missing = links.find((entry) => entry.link === undefined);
    if (missing !== undefined)
      return { ok: false, reason: `no interface has a subnet containing ${missing.vip}` };
    const names = new Set(links.map((entry) => entry.link?.name));
    const [first] = links;
    if (names.size !== 1 || first?.link === undefined) {
      return { ok: false, reason: `the VIPs are on different interfaces (${[...names].join(", ")})` };
    }
    return result(first.link, input);
  }
  if (wanted !== undefined) {
    const link = input.links.find((candidate) => candidate.name === wanted);
    return link === undefined
      ? { ok: false, reason: `interface ${wanted} does not exist` }
      : result(link, input);
  }
  const link = input.links.find((candidate) => candidate.index === input.defaultRouteIfindex);
  return link === undefined
    ? { ok: false, reason: "no default route, and no --interface given" }
    : result(link, input);
}
