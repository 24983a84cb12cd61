// What the data plane knows of vipd's own host routes (BGP and ECMP modes): the addresses they lead
// to, read through HostRoutes.installed() and kept current with the data plane's own installs and
// removals. intact() must answer at once (the address loop plans from it) and a listing of the route
// table costs about as much as one of the addresses, which with thousands of VIPs is too much to
// pay per question; so the answer comes from this set, and the set is read again only when a caller
// asks for a reading younger than some age: announce() of a held key (a moment), every lifetime
// refresh round and the restart sweep (now). The kernel's notifications of routes other than the
// default route's are not watched, so a route someone deleted is found at the next refresh round.
import type { Vip } from "../agent/service-intent.ts";
import type { Clock } from "../clock/clock.ts";
import type { HostRoutes } from "./host-routes.ts";

/** By address, the VIP the route leads to; null where vipd removed it. */
type Changes = Map<string, Vip | null>;

export class HostRouteCache {
  readonly #routes: HostRoutes;
  readonly #clock: Clock;
  #own = new Map<string, Vip>();
  #readAt = -Infinity;
  #reading: Promise<ReadonlyMap<string, Vip>> | undefined;
  /**
   * vipd's own changes made while a reading was under way, one map per reading: the reading may
   * have listed the table before them, so they are applied over what it found.
   */
  readonly #changesDuring = new Set<Changes>();

  constructor(options: { readonly routes: HostRoutes; readonly clock: Clock }) {
    this.#routes = options.routes;
    this.#clock = options.clock;
  }

  /** vipd's route to the address is there, as of the last reading and vipd's changes since. */
  has(address: string): boolean {
    return this.#own.has(address);
  }

  /** vipd's routes, read again unless the last reading is at most maxAgeMs old. */
  async read(maxAgeMs: number): Promise<ReadonlyMap<string, Vip>> {
    if (this.#clock.now() - this.#readAt <= maxAgeMs) return this.#own;
    // One reading at a time: the announces of a handover that find the set stale share it.
    this.#reading ??= this.#readNow().finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async install(vip: Vip): Promise<void> {
    await this.#routes.install(vip);
    this.#note(vip.address, vip);
  }

  async remove(vip: Vip): Promise<void> {
    await this.#routes.remove(vip);
    this.#note(vip.address, null);
  }

  async #readNow(): Promise<ReadonlyMap<string, Vip>> {
    const startedAt = this.#clock.now();
    const changes: Changes = new Map();
    this.#changesDuring.add(changes);
    try {
      const listed = new Map((await this.#routes.installed()).map((vip) => [vip.address, vip]));
      for (const [address, vip] of changes) {
        if (vip === null) listed.delete(address);
        else listed.set(address, vip);
      }
      this.#own = listed;
      this.#readAt = startedAt;
      return listed;
    } finally {
      this.#changesDuring.delete(changes);
    }
  }

  #note(address: string, vip: Vip | null): void {
    if (vip === null) this.#own.delete(address);
    else this.#own.set(address, vip);
    for (const changes of this.#changesDuring) changes.set(address, vip);
  }
}
