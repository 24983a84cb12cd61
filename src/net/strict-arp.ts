// Rule 8: with kube-proxy in IPVS mode, every LoadBalancer IP sits on the kube-ipvs0 dummy interface
// of every node, and unless arp_ignore ≥ 1 ("strict ARP") every node's kernel answers ARP for every
// VIP. No Layer-2 balancer can work then, so vipd says so loudly at start-up.
import { existsSync, readFileSync } from "node:fs";

export interface StrictArpFacts {
  readonly ipvsInterfacePresent: boolean;
  /** net.ipv4.conf.all.arp_ignore, or null when it cannot be read. */
  readonly arpIgnore: number | null;
}

export function strictArpProblem(facts: StrictArpFacts): string | null {
  if (!facts.ipvsInterfacePresent) return null;
  if (facts.arpIgnore !== null && facts.arpIgnore >= 1) return null;
  return (
    "kube-proxy runs in IPVS mode without strict ARP (kube-ipvs0 present, net.ipv4.conf.all.arp_ignore " +
    `${facts.arpIgnore ?? "unreadable"}): every node answers ARP for every LoadBalancer IP. ` +
    "Set strictARP: true in kube-proxy's configuration (ipvs section)."
  );
}

export function readStrictArpFacts(): StrictArpFacts {
  let arpIgnore: number | null = null;
  try {
    arpIgnore = Number(readFileSync("/proc/sys/net/ipv4/conf/all/arp_ignore", "utf8").trim());
  } catch {
    arpIgnore = null;
  }
  return { ipvsInterfacePresent: existsSync("/sys/class/net/kube-ipvs0"), arpIgnore };
}
