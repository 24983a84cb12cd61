// HostRoutes over rtnetlink. Each VIP gets a unicast host route (/32, /128) out of one interface, in
// vipd's table and marked with vipd's route protocol, built as kube-vip's routing-table mode builds
// its own (scope universe, no gateway, the same table 198 and protocol 248 by default), so a BIRD
// configuration written for kube-vip picks vipd's routes up unchanged.
//
// The route points at lo by default: in the BGP and ECMP modes the VIP sits on lo, and kube-vip's
// routes show `dev lo` too. The table is one the default rules never look up (routeTableProblem), so the route
// never steers a packet; it is only there for the routing daemon to read.
//
// Whose a route is, is its protocol alone: vipd's protocol in vipd's table is vipd's, anything else
// is not. vipd replaces or deletes only a route a listing read a moment before shows as its own,
// and its delete names its protocol, which the kernel matches, so not even a route that appears in
// between is taken. Two writers can still race on install (another adds its route between vipd's
// listing and vipd's replace); the protocol values that other software uses are refused for that
// reason too (routeProtocolProblem).
import { canonicalAddress, type Vip } from "../agent/service-intent.ts";
import { SystemCallError } from "../net/native.ts";
import type { AddressFamily, Netlink, Route, RouteKey } from "../net/netlink.ts";
import { ForeignRouteError, type ForeignRoute, type HostRoutes } from "./host-routes.ts";

/** kube-vip's routing-table mode defaults (--tableID, --routingProtocol), and lo. */
export const HOST_ROUTE_DEFAULTS = { table: 198, protocol: 248, device: "lo" } as const;

const RT_SCOPE_UNIVERSE = 0;

function rangeProblem(setting: string, value: number, min: number, max: number): string | null {
  if (Number.isInteger(value) && value >= min && value <= max) return null;
  return `the ${setting} must be an integer from ${min} to ${max}, not ${value}`;
}

// The tables the kernel's default rules look up (local 255, main 254, default 253), and 252,
// RT_TABLE_COMPAT, which the kernel reports in place of any table above 255 to tools that read only
// the 8-bit rtm_table: to them a real table 252 could not be told from a large one.
const RESERVED_TABLES: ReadonlyMap<number, string> = new Map([
  [252, "compat"],
  [253, "default"],
  [254, "main"],
  [255, "local"],
]);

/**
 * Why a table cannot be vipd's, or null. It must be a table of its own: a host route to lo in one the
 * default rules consult would take the VIP's traffic to the node itself, and sharing one with other
 * routes mixes vipd's into tables that the node's own configuration manages.
 */
export function routeTableProblem(table: number): string | null {
  const range = rangeProblem("route table", table, 1, 0xffffffff);
  if (range !== null) return range;
  const name = RESERVED_TABLES.get(table);
  return name === undefined ? null : `the route table cannot be ${table}, the kernel's ${name} table`;
}

// RTPROT_* values <linux/rtnetlink.h> gives meanings: 0-4 are the kernel's and the administrator's
// (`ip route add` marks with boot, `proto static` with static), the rest those of routing daemons
// and DHCP clients, which mark their own routes with them.
const RESERVED_PROTOCOLS: ReadonlyMap<number, string> = new Map([
  [0, "unspec"],
  [1, "redirect"],
  [2, "kernel"],
  [3, "boot"],
  [4, "static"],
  [8, "gated"],
  [9, "ra"],
  [10, "mrt"],
  [11, "zebra"],
  [12, "bird"],
  [13, "dnrouted"],
  [14, "xorp"],
  [15, "ntk"],
  [16, "dhcp"],
  [17, "mrouted"],
  [18, "keepalived"],
  [42, "babel"],
  [99, "openr"],
  [186, "bgp"],
  [187, "isis"],
  [188, "ospf"],
  [189, "rip"],
  [192, "eigrp"],
]);

/**
 * Why a route protocol cannot be vipd's mark, or null. vipd takes every route with its protocol in
 * its table for its own, so the mark must be one nobody else puts on routes: with `static` it would
 * sweep an administrator's routes, with `bird` or `zebra` the daemon's.
 */
export function routeProtocolProblem(protocol: number): string | null {
  const range = rangeProblem("route protocol", protocol, 0, 255);
  if (range !== null) return range;
  const name = RESERVED_PROTOCOLS.get(protocol);
  return name === undefined ? null : `the route protocol cannot be ${protocol}, which is ${name}'s`;
}

export interface KernelHostRoutesOptions {
  readonly netlink: Pick<Netlink, "listLinks" | "listRoutes" | "addRoute" | "deleteRoute">;
  /** vipd's table; HOST_ROUTE_DEFAULTS.table unless given. */
  readonly table?: number;
  /** vipd's route protocol, its mark; HOST_ROUTE_DEFAULTS.protocol unless given. */
  readonly protocol?: number;
  /** The interface the routes go out of; lo unless given. */
  readonly device?: string;
}

function hostPrefixLength(family: AddressFamily): number {
  return family === 4 ? 32 : 128;
}

export class KernelHostRoutes implements HostRoutes {
  readonly #netlink: KernelHostRoutesOptions["netlink"];
  readonly #table: number;
  readonly #protocol: number;
  readonly #device: string;

  constructor(options: KernelHostRoutesOptions) {
    this.#netlink = options.netlink;
    this.#table = options.table ?? HOST_ROUTE_DEFAULTS.table;
    this.#protocol = options.protocol ?? HOST_ROUTE_DEFAULTS.protocol;
    this.#device = options.device ?? HOST_ROUTE_DEFAULTS.device;
    const problem = routeTableProblem(this.#table) ?? routeProtocolProblem(this.#protocol);
    if (problem !== null) throw new RangeError(problem);
  }

  /** The interface the routes go out of: where the data plane puts routed VIPs. */
  get device(): string {
    return this.#device;
  }

  // Netlink answers synchronously; the executor turns what it throws into a rejection.
  install(vip: Vip): Promise<void> {
    return new Promise((resolve) => {
      this.#install(vip);
      resolve();
    });
  }

  remove(vip: Vip): Promise<void> {
    return new Promise((resolve) => {
      this.#remove(vip);
      resolve();
    });
  }

  installed(): Promise<readonly Vip[]> {
    return new Promise((resolve) => {
      resolve(this.#installed());
    });
  }

  foreign(vips: readonly Vip[]): Promise<readonly ForeignRoute[]> {
    return new Promise((resolve) => {
      resolve(vips.flatMap((vip) => this.#foreignTo(vip)));
    });
  }

  #foreignTo(vip: Vip): ForeignRoute[] {
    return this.#routesTo(vip)
      .filter((route) => route.protocol !== this.#protocol)
      .map((route) => ({
        destination: vip.address,
        prefixLength: route.prefixLength,
        table: route.table,
        protocol: route.protocol,
      }));
  }

  #install(vip: Vip): void {
    const foreign = this.#foreignTo(vip);
    if (foreign.length > 0) throw new ForeignRouteError(foreign);
    // Replacing vipd's own route, rather than adding only a missing one, also moves a route left
    // pointing at another interface (the device setting changed) to this one.
    this.#netlink.addRoute({ ...this.#key(vip), ifindex: this.#ifindex(), scope: RT_SCOPE_UNIVERSE });
  }

  #remove(vip: Vip): void {
    if (!this.#routesTo(vip).some((route) => route.protocol === this.#protocol)) return;
    try {
      this.#netlink.deleteRoute(this.#key(vip));
    } catch (error) {
      // ESRCH: gone between the listing and the delete, which is what remove was for.
      if (!(error instanceof SystemCallError && error.code === "ESRCH")) throw error;
    }
  }

  #installed(): Vip[] {
    const vips = new Map<string, Vip>();
    for (const route of this.#ownHostRoutes()) {
      const reading = canonicalAddress(route.destination);
      if (reading.ok) vips.set(reading.vip.address, reading.vip);
    }
    return [...vips.values()];
  }

  #key(vip: Vip): RouteKey {
    return {
      destination: vip.address,
      prefixLength: hostPrefixLength(vip.family),
      table: this.#table,
      protocol: this.#protocol,
    };
  }

  /** Every route, anyone's, in vipd's table to exactly the VIP's host prefix. */
  #routesTo(vip: Vip): Route[] {
    return this.#netlink
      .listRoutes(vip.family)
      .filter(
        (route) =>
          route.table === this.#table &&
          route.prefixLength === hostPrefixLength(vip.family) &&
          sameAddress(route.destination, vip.address),
      );
  }

  #ownHostRoutes(): Route[] {
    return ([4, 6] as const).flatMap((family) =>
      this.#netlink
        .listRoutes(family)
        .filter(
          (route) =>
            route.table === this.#table &&
            route.protocol === this.#protocol &&
            route.prefixLength === hostPrefixLength(family),
        ),
    );
  }

  #ifindex(): number {
    const link = this.#netlink.listLinks().find((candidate) => candidate.name === this.#device);
    if (link === undefined) throw new Error(`interface ${this.#device} does not exist`);
    return link.index;
  }
}

function sameAddress(kernelText: string, canonical: string): boolean {
  const reading = canonicalAddress(kernelText);
  return reading.ok && reading.vip.address === canonical;
}
