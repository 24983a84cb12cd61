// Which of the node's MACs its heartbeat publishes (foreign-hosts.ts): those of the interfaces a VIP
// can go on, which are those with an address of a subnet — not a host route (another VIP), not an
// IPv6 link-local address (every IPv6 interface has one), not loopback. Pod veths and other
// addressless links stay out, so the list does not change with every pod. Down links stay in: one
// coming back answers ARP at once, before a renewal could publish it again.
import ipaddr from "ipaddr.js";

export interface MacLinkFacts {
  readonly index: number;
  readonly mac: string | null;
}

export interface MacAddressFacts {
  readonly ifindex: number;
  readonly address: string;
  readonly prefixLength: number;
}

// What the loopback interface reports.
const NO_MAC = "00:00:00:00:00:00";

function subnetAddress(address: MacAddressFacts): boolean {
  if (!ipaddr.isValid(address.address)) return false;
  const parsed = ipaddr.parse(address.address);
  const host = parsed.kind() === "ipv4" ? 32 : 128;
  return address.prefixLength !== host && !["linkLocal", "loopback"].includes(parsed.range());
}

/** The MACs of the links with a subnet address, lower case, sorted, each once. */
export function vipCapableMacs(
  links: readonly MacLinkFacts[],
  addresses: readonly MacAddressFacts[],
): string[] {
  const capable = new Set(addresses.filter(subnetAddress).map((address) => address.ifindex));
  const macs = links
    .filter((link) => capable.has(link.index))
    .flatMap((link) => (link.mac === null || link.mac === NO_MAC ? [] : [link.mac.toLowerCase()]));
  return [...new Set(macs)].sort();
}
