// What the reconcile loop needs from the node's network, as a small interface: the native
// implementation (netlink addresses, AF_PACKET announcements and probes, host routes) sits behind
// it, and unit tests of the loop use a fake.
//
// An address is either on the segment (l2: on an interface, announced with ARP/NDP and fenced) or
// routed (bgp, ecmp: on the route device, lo, and attracted by a host route that a routing daemon
// exports; nothing is said on the wire for it). `routed` says which, per call.
import type { Vip } from "./service-intent.ts";

export type InterfaceChoice =
  | { readonly ok: true; readonly name: string; readonly carrier: boolean }
  | { readonly ok: false; readonly reason: string };

/** Who claimed an address on the wire: a MAC that is none of this node's own interfaces. */
export interface WireClaim {
  readonly ip: string;
  readonly mac: string;
}

/**
 * What a fence found: nobody answered, these MACs answered, or the probes could not be sent at all
 * (the interface went away between choosing it and probing), which is no answer either way.
 */
export type FenceResult =
  | { readonly outcome: "quiet" }
  | { readonly outcome: "answered"; readonly answeredBy: readonly WireClaim[] }
  | { readonly outcome: "failed"; readonly failure: "interface-gone"; readonly interfaceName: string };

/** A VIP's address that the node has but vipd did not add: configured by hand, left by kube-vip, … */
export interface ForeignAddress {
  readonly address: string;
  readonly prefixLength: number;
  readonly interfaceName: string;
  /** Not an address but a route to it in vipd's table, with another program's protocol. */
  readonly route?: { readonly table: number; readonly protocol: number };
}

/** announce() met a VIP that the node already has from someone else; it installed none of them. */
export class ForeignAddressError extends Error {
  readonly foreign: readonly ForeignAddress[];

  constructor(foreign: readonly ForeignAddress[]) {
    const where = foreign.map((each) => `${each.address}/${each.prefixLength} on ${each.interfaceName}`);
    super(`not vipd's: ${where.join(", ")}`);
    this.name = "ForeignAddressError";
    this.foreign = foreign;
  }
}

export interface DataPlaneListener {
  /** A MAC of none of this node's interfaces announced or answered for a VIP this node holds. */
  readonly foreignClaim: (workKey: string, claim: WireClaim) => void;
  /** A link or address changed: carrier, an interface appearing, a VIP removed by someone else. */
  readonly networkChanged: () => void;
}

export interface DataPlane {
  /**
   * The interface that carries these VIPs: the annotation's override, else --interface, else the
   * default route's; "auto" picks the interface whose subnet contains the VIPs. Rule 7 needs it up.
   * Routed VIPs go on the host routes' device (lo), its carrier being that it is up; the override
   * and --interface, which are about the segment, do not apply to them.
   */
  interfaceFor(vips: readonly Vip[], override: string | undefined, routed: boolean): InterfaceChoice;
  /**
   * The VIPs this node has installed and announces under the work key (the address loop's key,
   * work-keys.ts), or undefined if none.
   */
  holding(workKey: string): readonly Vip[] | undefined;
  /** The work key of everything this node has installed and announces. */
  heldKeys(): readonly string[];
  /**
   * Every VIP held under the key is still on its interface (none expired or was removed) and, if
   * routed, still has its host route.
   */
  intact(workKey: string): boolean;
  /**
   * The VIPs' addresses that this node already has from someone else, on any interface and with any
   * prefix length. Its kernel answers for them already, so the node must not serve them, and vipd
   * never replaces, refreshes, adopts or removes such an address.
   */
  foreignAddresses(vips: readonly Vip[]): readonly ForeignAddress[];
  /**
   * Installs (or refreshes) the VIPs on the interface and keeps announcing them. Idempotent; says
   * whether anything was newly installed, which starts a takeover burst. Adds only addresses the node
   * does not have: a VIP that foreignAddresses reports (or that appears meanwhile) makes it throw
   * ForeignAddressError with none of the key's VIPs installed.
   *
   * Routed: the VIPs go on the interface (the route device) the same way, then each gets its host
   * route; no frame is sent for them. A route to a VIP that someone else has in vipd's table makes
   * it throw ForeignRouteError (routing/host-routes.ts) with nothing of the key left installed, even
   * a key held before. A held key whose address or route has gone gets it back (newlyInstalled).
   */
  announce(options: {
    readonly workKey: string;
    readonly vips: readonly Vip[];
    readonly interfaceName: string;
    readonly routed: boolean;
  }): Promise<{ readonly newlyInstalled: boolean }>;
  /**
   * Stops announcing and removes the key's VIPs; a routed key's routes first, so that no route
   * leads to a node without the address. Idempotent.
   */
  withdraw(workKey: string): Promise<void>;
  /**
   * Probes the wire for anyone answering for the VIPs (ARP probe / NDP solicitation), rule 2: every
   * MAC of another machine that answered, or a failure if the interface is gone. Routed VIPs are
   * not fenced: no neighbour asks for an address on lo, so nothing could answer for it.
   */
  fence(options: {
    readonly vips: readonly Vip[];
    readonly interfaceName: string;
    /** A takeover's probes are spaced by --fence-interval, a first claim's by the shorter one. */
    readonly purpose: "takeover" | "first-claim";
  }): Promise<FenceResult>;
  /** The MACs of this node's VIP-capable interfaces, which its heartbeat publishes; never lo's. */
  macs(): readonly string[];
  /**
   * At start-up, once the Leases are known: removes vipd's own addresses that belong to no work key
   * this node holds (a previous run's leftovers), never touching an address vipd did not add;
   * likewise vipd's own host routes to addresses no held key has, never another's route.
   */
  sweep(owned: ReadonlyMap<string, readonly Vip[]>): Promise<void>;
  subscribe(listener: DataPlaneListener): void;
  /**
   * null while working, else what is broken (for /readyz): the notifications, or a packet socket
   * that stopped receiving and is not open again yet (its interface went down or away).
   */
  problem(): string | null;
  close(): Promise<void>;
}
