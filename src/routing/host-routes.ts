// What the agent needs to make the node attract a VIP through a routing daemon (BGP/ECMP modes): a
// host route per VIP in a kernel routing table of vipd's own, which BIRD (or Calico's BIRD, or FRR)
// reads and exports. The kernel implementation is kernel-host-routes.ts; unit tests of callers use
// a fake.
import type { Vip } from "../agent/service-intent.ts";

export interface HostRoutes {
  /** Puts the host route (/32 or /128) for the address into vipd's table; idempotent. */
  install(vip: Vip): Promise<void>;
  /** Removes vipd's own host route for the address, if any; idempotent; never another's. */
  remove(vip: Vip): Promise<void>;
  /** The addresses vipd's own routes in its table lead to (its protocol, its table). */
  installed(): Promise<readonly Vip[]>;
  /**
   * The routes in vipd's table to these VIPs' host prefixes that carry another protocol, each
   * with its VIP's address (canonical) as destination.
   */
  foreign(vips: readonly Vip[]): Promise<readonly ForeignRoute[]>;
}

/** A route in vipd's table to a VIP's address that carries another protocol: someone else's. */
export interface ForeignRoute {
  readonly destination: string;
  readonly prefixLength: number;
  readonly table: number;
  readonly protocol: number;
}

/** install() found another's route to the address in vipd's table and left it as it was. */
export class ForeignRouteError extends Error {
  readonly foreign: readonly ForeignRoute[];

  constructor(foreign: readonly ForeignRoute[]) {
    const which = foreign.map(
      (each) =>
        `${each.destination}/${each.prefixLength} in table ${each.table} with protocol ${each.protocol}`,
    );
    super(`not vipd's: ${which.join(", ")}`);
    this.name = "ForeignRouteError";
    this.foreign = foreign;
  }
}
