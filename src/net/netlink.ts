// Typed access to rtnetlink in the process's network namespace: links, addresses, routes, and
// notifications of link and address changes. Calls are synchronous (the kernel answers at once)
// and throw SystemCallError with the kernel's errno.
import {
  loadNative,
  nativeCall,
  toSystemCallError,
  type NativeNetlink,
  type NativeNetlinkMonitor,
  type RawAddress,
  type RawLink,
  type RawRoute,
  type SystemCallError,
} from "./native.ts";

export type AddressFamily = 4 | 6;

/** RFC 2863 operational state, as in /sys/class/net/<name>/operstate. */
export type OperState = "unknown" | "notpresent" | "down" | "lowerlayerdown" | "testing" | "dormant" | "up";
const OPERSTATES: readonly OperState[] = [
  "unknown",
  "notpresent",
  "down",
  "lowerlayerdown",
  "testing",
  "dormant",
  "up",
];

const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_NOARP = 0x80;
const IFF_LOWER_UP = 0x10000;

export interface Link {
  readonly index: number;
  readonly name: string;
  /** null for links without a hardware address. */
  readonly mac: string | null;
  readonly mtu: number;
  readonly operstate: OperState;
  /** IFF_LOWER_UP: the physical (or veth peer) link is there. */
  readonly carrier: boolean;
  /** IFF_UP: administratively up. */
  readonly up: boolean;
  /** IFF_LOOPBACK. */
  readonly loopback: boolean;
  /** IFF_NOARP: the link resolves no neighbours (no ARP, no NDP), like tunnels and lo. */
  readonly noArp: boolean;
  /** The link type ('veth', 'bridge', 'vlan', 'bond', …); absent for physical interfaces. */
  readonly kind?: string;
}

export type AddressFlag =
  | "secondary"
  | "nodad"
  | "optimistic"
  | "dadfailed"
  | "homeaddress"
  | "deprecated"
  | "tentative"
  | "permanent"
  | "managetempaddr"
  | "noprefixroute"
  | "mcautojoin"
  | "stableprivacy";
// IFA_F_* in bit order; IFA_F_SECONDARY is also IFA_F_TEMPORARY for IPv6.
const ADDRESS_FLAGS: readonly AddressFlag[] = [
  "secondary",
  "nodad",
  "optimistic",
  "dadfailed",
  "homeaddress",
  "deprecated",
  "tentative",
  "permanent",
  "managetempaddr",
  "noprefixroute",
  "mcautojoin",
  "stableprivacy",
];

// What the kernel reports, and takes, for a lifetime that never ends.
const FOREVER = 0xffffffff;

export interface Address {
  readonly ifindex: number;
  readonly family: AddressFamily;
  readonly address: string;
  readonly prefixLength: number;
  /** IFA_PROTO; vipd marks its own with one value per mode (address-ownership.ts). */
  readonly protocol: number;
  /** Seconds left; Infinity when the address never expires. */
  readonly validLifetime: number;
  readonly preferredLifetime: number;
  readonly flags: readonly AddressFlag[];
  readonly label: string;
}

export interface AddressKey {
  readonly ifindex: number;
  readonly address: string;
  readonly prefixLength: number;
}

export interface AddAddressOptions extends AddressKey {
  readonly protocol: number;
  /** Seconds, or Infinity. The kernel removes the address when it runs out. */
  readonly validLifetime: number;
  /** Seconds, or Infinity; 0 keeps the address from being picked as a source address. */
  readonly preferredLifetime: number;
  /** Skip IPv6 duplicate address detection, so the address is usable at once. */
  readonly nodad?: boolean;
  /** Update an existing address (lifetimes, protocol) instead of failing with EEXIST. */
  readonly replace?: boolean;
}

export interface Nexthop {
  readonly ifindex: number;
  readonly gateway: string | null;
}

export interface Route {
  readonly family: AddressFamily;
  readonly table: number;
  readonly destination: string;
  readonly prefixLength: number;
  /** RTN_*: 1 unicast, 2 local, 3 broadcast, … */
  readonly type: number;
  /** RTPROT_*: 2 kernel, 3 boot, 4 static, … */
  readonly protocol: number;
  /** RT_SCOPE_*: 0 universe, 253 link, 254 host. */
  readonly scope: number;
  readonly priority: number;
  readonly nexthops: readonly Nexthop[];
}

/** One route of a table: destination, prefix length, table, and the protocol that marks whose it is. */
export interface RouteKey {
  readonly destination: string;
  readonly prefixLength: number;
  /** 1 to 2^32-1; RT_TABLE_MAIN is 254. */
  readonly table: number;
  /** RTPROT_*, 0 to 255. */
  readonly protocol: number;
}

/** A unicast route straight out of an interface (no gateway), as routing daemons learn from a table. */
export interface AddRouteOptions extends RouteKey {
  readonly ifindex: number;
  /** RT_SCOPE_*: 0 universe, 253 link, 254 host. */
  readonly scope: number;
}

export type NetlinkEvent =
  | (Link & { readonly type: "link"; readonly action: "new" | "del" })
  | (Address & { readonly type: "address"; readonly action: "new" | "del" })
  /** A default route (prefix length 0) of any table; other routes are not reported. */
  | { readonly type: "route"; readonly action: "new" | "del"; readonly route: Route }
  /** The kernel dropped notifications (socket buffer full): list again to catch up. */
  | { readonly type: "overrun" };

const RT_TABLE_MAIN = 254;
const RTN_UNICAST = 1;

function toLink(raw: RawLink): Link {
  return {
    index: raw.index,
    name: raw.name,
    mac: raw.mac,
    mtu: raw.mtu,
    operstate: OPERSTATES[raw.operstate] ?? "unknown",
    carrier: (raw.flags & IFF_LOWER_UP) !== 0,
    up: (raw.flags & IFF_UP) !== 0,
    loopback: (raw.flags & IFF_LOOPBACK) !== 0,
    noArp: (raw.flags & IFF_NOARP) !== 0,
    ...(raw.kind === undefined ? {} : { kind: raw.kind }),
  };
}

function fromKernelLifetime(seconds: number): number {
  return seconds === FOREVER ? Infinity : seconds;
}

function toKernelLifetime(seconds: number, name: string): number {
  if (seconds === Infinity) return FOREVER;
  if (!Number.isInteger(seconds) || seconds < 0 || seconds >= FOREVER) {
    throw new RangeError(`${name} must be whole seconds below ${FOREVER}, or Infinity`);
  }
  return seconds;
}

function toAddress(raw: RawAddress): Address {
  return {
    ifindex: raw.ifindex,
    family: raw.family,
    address: raw.address,
    prefixLength: raw.prefixLength,
    protocol: raw.protocol,
    validLifetime: fromKernelLifetime(raw.validLifetime),
    preferredLifetime: fromKernelLifetime(raw.preferredLifetime),
    flags: ADDRESS_FLAGS.filter((_, bit) => (raw.flags & (1 << bit)) !== 0),
    label: raw.label,
  };
}

// The kernel takes table 0 (RT_TABLE_UNSPEC) for the main table, never what a caller naming a table
// meant.
function checkedTable(table: number): number {
  if (!Number.isInteger(table) || table < 1 || table > 0xffffffff) {
    throw new RangeError(`table must be an integer from 1 to 4294967295, not ${table}`);
  }
  return table;
}

function toRoute(raw: RawRoute): Route {
  return { ...raw, nexthops: raw.nexthops.map((hop) => ({ ...hop })) };
}

/** One NETLINK_ROUTE socket, kept open for synchronous requests. */
export class Netlink {
  readonly #native: NativeNetlink;

  private constructor(native: NativeNetlink) {
    this.#native = native;
  }

  static open(): Netlink {
    const { Netlink: NativeNetlinkClass } = loadNative();
    return new Netlink(nativeCall(() => new NativeNetlinkClass()));
  }

  listLinks(): Link[] {
    return nativeCall(() => this.#native.listLinks()).map(toLink);
  }

  listAddresses(filter: { readonly ifindex?: number; readonly family?: AddressFamily } = {}): Address[] {
    const raw = nativeCall(() => this.#native.listAddresses(filter.family ?? 0));
    return raw
      .filter((address) => filter.ifindex === undefined || address.ifindex === filter.ifindex)
      .map(toAddress);
  }

  addAddress(options: AddAddressOptions): void {
    const request = {
      ifindex: options.ifindex,
      address: options.address,
      prefixLength: options.prefixLength,
      protocol: options.protocol,
      validLifetime: toKernelLifetime(options.validLifetime, "validLifetime"),
      preferredLifetime: toKernelLifetime(options.preferredLifetime, "preferredLifetime"),
      nodad: options.nodad ?? false,
      replace: options.replace ?? false,
    };
    nativeCall(() => {
      this.#native.addAddress(request);
    });
  }

  deleteAddress(key: AddressKey): void {
    const request = { ifindex: key.ifindex, address: key.address, prefixLength: key.prefixLength };
    nativeCall(() => {
      this.#native.deleteAddress(request);
    });
  }

  /**
   * Adds the route, or replaces the table's route to the same destination (the first with the same
   * metric, whatever its protocol: read the table first to keep off another's), so adding it again
   * succeeds. The kernel answers ENODEV for an interface that does not exist.
   */
  addRoute(options: AddRouteOptions): void {
    const request = {
      destination: options.destination,
      prefixLength: options.prefixLength,
      table: checkedTable(options.table),
      protocol: options.protocol,
      ifindex: options.ifindex,
      scope: options.scope,
    };
    nativeCall(() => {
      this.#native.addRoute(request);
    });
  }

  /** Deletes the table's route with this destination and protocol; ESRCH when there is none. */
  deleteRoute(key: RouteKey): void {
    const request = {
      destination: key.destination,
      prefixLength: key.prefixLength,
      table: checkedTable(key.table),
      protocol: key.protocol,
    };
    nativeCall(() => {
      this.#native.deleteRoute(request);
    });
  }

  /** Every route of the family in every table. */
  listRoutes(family: AddressFamily): Route[] {
    return nativeCall(() => this.#native.listRoutes(family)).map(toRoute);
  }

  /** The interface of the main table's default route with the lowest metric, or null if none. */
  defaultRouteInterface(family: AddressFamily): number | null {
    const defaults = this.listRoutes(family)
      .filter(
        (route) => route.table === RT_TABLE_MAIN && route.type === RTN_UNICAST && route.prefixLength === 0,
      )
      .sort((a, b) => a.priority - b.priority);
    return defaults[0]?.nexthops[0]?.ifindex ?? null;
  }

  close(): void {
    this.#native.close();
  }
}

export interface NetlinkWatch {
  close(): void;
}

/**
 * Subscribes to link, IPv4/IPv6 address and default-route changes on a socket of its own,
 * delivered on the event loop. It keeps the process alive until closed.
 */
export function watchNetlink(listeners: {
  readonly onEvent: (event: NetlinkEvent) => void;
  readonly onError: (error: SystemCallError | Error) => void;
}): NetlinkWatch {
  const { NetlinkMonitor } = loadNative();
  const monitor: NativeNetlinkMonitor = nativeCall(
    () =>
      new NetlinkMonitor((error, event) => {
        if (error !== null) {
          listeners.onError(toSystemCallError(error) as Error);
        } else if (event?.type === "link") {
          listeners.onEvent({ ...toLink(event), type: "link", action: event.action });
        } else if (event?.type === "address") {
          listeners.onEvent({ ...toAddress(event), type: "address", action: event.action });
        } else if (event?.type === "route") {
          listeners.onEvent({ type: "route", action: event.action, route: toRoute(event.route) });
        } else if (event !== undefined) {
          listeners.onEvent(event);
        }
      }),
  );
  return {
    close: () => {
      monitor.close();
    },
  };
}
