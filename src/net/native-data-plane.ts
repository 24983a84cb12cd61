// The DataPlane of a real node: VIPs go on and off the interface over rtnetlink, known as vipd's by
// their mark or the record (address-ownership.ts) and given a valid lifetime that the holder keeps
// refreshing (the dead-man switch of docs/design.md's data path), and the Announcer speaks for them on the
// wire.
//
// An address vipd did not add is never touched. A VIP is added exclusively (NLM_F_EXCL), and only
// when the node has no address equal to it at all: the kernel would accept a /32 beside someone's
// /24 of the same address, so the address table is read first, and EEXIST is a conflict. Replacing
// (the lifetime refresh) and deleting happen only to an address a listing read a moment before
// shows as vipd's. An address an older release marked, before marks were per mode, is nobody's for
// certain (address-ownership.ts, "Upgrades"): never swept, taken over only when this agent installs
// that very address, else left to expire.
//
// Routed VIPs (the BGP and ECMP modes) go on the host routes' device, lo, exactly so: vipd's mark,
// the same refreshed lifetime, IPv6 without DAD and never preferred. Each then gets a host route in
// vipd's table (HostRoutes), which a routing daemon exports; nothing is sent on the wire for them
// and they are not fenced. The address is the dead-man switch here too: an agent that stops
// refreshing loses it, and its node stops accepting the VIP's traffic. Known limit: the route has no
// lifetime of its own (the kernel flushes routes by their preferred source only in the main table,
// and ignores an IPv6 route's RTA_EXPIRES without a gateway), so a dead agent's route goes on
// attracting the traffic, which its node then drops, until the next start's sweep removes it.
import {
  ForeignAddressError,
  type DataPlane,
  type DataPlaneListener,
  type FenceResult,
  type ForeignAddress,
  type InterfaceChoice,
} from "../agent/data-plane.ts";
import type { Vip } from "../agent/service-intent.ts";
import { every, type Cancel, type Clock } from "../clock/clock.ts";
import { ForeignRouteError, type ForeignRoute, type HostRoutes } from "../routing/host-routes.ts";
import { HostRouteCache } from "../routing/host-route-cache.ts";
import { isInherited, type AddressOwnership } from "./address-ownership.ts";
import {
  Announcer,
  type AnnouncedVip,
  type AnnouncerOptions,
  type FencePurpose,
  type FrameChannel,
} from "./announcer.ts";
import { chooseInterface } from "./interface-choice.ts";
import {
  watchNetlink,
  type Address,
  type AddressKey,
  type Link,
  type Netlink,
  type NetlinkEvent,
  type NetlinkWatch,
} from "./netlink.ts";
import { PacketSocket } from "./packet-socket.ts";
import { vipCapableMacs } from "./published-macs.ts";

export interface NativeDataPlaneOptions {
  readonly netlink: Pick<
    Netlink,
    "listLinks" | "listAddresses" | "addAddress" | "deleteAddress" | "defaultRouteInterface"
  >;
  /** How vipd tells its addresses from anyone else's. */
  readonly ownership: AddressOwnership;
  /** vipd's host routes for routed VIPs, and the device they lead out of, where those VIPs go. */
  readonly hostRoutes: HostRoutes & { readonly device: string };
  /** The interface's packet socket; PacketSocket.open unless a test records frames instead. */
  readonly openChannel?: (ifindex: number) => FrameChannel;
  /** --interface; undefined for the default route's interface. */
  readonly configuredInterface: string | undefined;
  /** --allow-off-subnet-vips. */
  readonly allowOffSubnetVips: boolean;
  readonly addressLifetimeMs: number;
  /** Times the lifetime refreshes, the age of a listing and, through the Announcer, the wire. */
  readonly clock: Clock;
  readonly announce: Pick<
    AnnouncerOptions,
    | "burstCount"
    | "burstIntervalMs"
    | "refreshMs"
    | "fenceProbes"
    | "fenceIntervalMs"
    | "firstClaimFenceIntervalMs"
  >;
  readonly onSent: (kind: "garp" | "na") => void;
  readonly onError: (message: string) => void;
}

interface Installed {
  readonly vips: readonly Vip[];
  readonly ifindex: number;
  /** On the route device with host routes, not announced on the segment. */
  readonly routed: boolean;
}

/** One reading of the node's address table. */
interface Listing {
  readonly readAt: number;
  /** By VIP address: every address equal to it, on any interface, with any prefix length. */
  readonly byAddress: ReadonlyMap<string, readonly Address[]>;
  /** presentKey of vipd's own host addresses, kept current with vipd's own changes. */
  readonly own: Set<string>;
  /** presentKey of the host addresses an older release marked (isInherited). */
  readonly inherited: ReadonlySet<string>;
}

function hostPrefix(vip: Vip): number {
  return vip.family === 4 ? 32 : 128;
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "EADDRNOTAVAIL" || code === "ENOENT" || code === "ENODEV";
}

// How long a listing of the addresses answers "is this VIP still there?" and "does the node have it
// from someone else?". vipd's own changes are written into it as they are made and any other
// change drops it, so the age only bounds what a missed or not-yet-read notification can hide; a
// freeze past the address lifetime always outlasts it.
const PRESENT_CACHE_MS = 500;
// Changing an existing address (a lifetime refresh, a removal) must not act on an address someone
// replaced meanwhile, so it reads the table again unless it was read this recently. No reading
// closes that window, only narrows it; reading for every change would cost a handover of a
// thousand Services two seconds (a listing of 1000 addresses takes 2 ms), this costs nothing.
const CHANGE_CACHE_MS = 10;

// Refreshing an IPv6 address makes Linux walk every multicast group of the interface, so a
// thousand IPv6 VIPs take a good part of a second (npm run bench:data-path). A refresh yields to
// the event loop after each slice of this many VIPs, so that heartbeats and watch events do not
// wait behind it; each slice reads the addresses again, so that it only refreshes what is vipd's.
const REFRESH_SLICE = 64;

function presentKey(ifindex: number, address: string): string {
  return `${ifindex} ${address}`;
}

function vipKey(vip: Vip, ifindex: number): AddressKey {
  return { ifindex, address: vip.address, prefixLength: hostPrefix(vip) };
}

export class NativeDataPlane implements DataPlane {
  readonly #options: NativeDataPlaneOptions;
  readonly #installed = new Map<string, Installed>();
  readonly #announcer: Announcer;
  readonly #routes: HostRouteCache;
  readonly #cancelRefresh: Cancel;
  #listener: DataPlaneListener | undefined;
  #watch: NetlinkWatch | undefined;
  /** Links, the node's own addresses (not VIPs) and the default route: what interface choice reads. */
  #facts: { links: Link[]; addresses: Address[]; defaultRoute: number | null } | undefined;
  #watchProblem: string | null = null;
  /** Addresses vipd deleted whose notification has not been read yet. */
  readonly #removing = new Set<string>();
  #listing: Listing | undefined;
  /**
   * By VIP address, the routes of another program that an install of that routed VIP met in vipd's
   * table: until a refresh round finds them gone, the node does not serve the VIP, which the address
   * loop learns through foreignAddresses().
   */
  readonly #foreignRoutes = new Map<
    string,
    { readonly vip: Vip; readonly routes: readonly ForeignRoute[] }
  >();
  #refreshing = false;
  #closed = false;

  constructor(options: NativeDataPlaneOptions) {
    this.#options = options;
    this.#routes = new HostRouteCache({ routes: options.hostRoutes, clock: options.clock });
    this.#announcer = new Announcer({
      ...options.announce,
      clock: options.clock,
      openChannel: options.openChannel ?? ((ifindex) => PacketSocket.open({ ifindex })),
      stillInstalled: (vip) => this.#present(vip.ip, vip.ifindex),
      ownMacs: () =>
        new Set(this.#readFacts().links.flatMap((link) => (link.mac === null ? [] : [link.mac]))),
      onForeignClaim: (ip, mac) => {
        const key = this.#serviceOf(ip);
        if (key !== undefined) this.#listener?.foreignClaim(key, { ip, mac });
      },
      linkState: (ifindex) => {
        const link = options.netlink.listLinks().find((candidate) => candidate.index === ifindex);
        if (link === undefined) return "gone";
        return link.up ? "up" : "down";
      },
      onSent: options.onSent,
      onError: options.onError,
    });
    // Three refreshes per lifetime: a live holder's address never comes close to expiring.
    this.#cancelRefresh = every(options.clock, options.addressLifetimeMs / 3, () => {
      void this.#refreshLifetimes();
    });
  }

  interfaceFor(vips: readonly Vip[], override: string | undefined, routed: boolean): InterfaceChoice {
    const facts = this.#readFacts();
    if (routed) {
      const device = this.#options.hostRoutes.device;
      const link = facts.links.find((candidate) => candidate.name === device);
      if (link === undefined) return { ok: false, reason: `the route device ${device} does not exist` };
      return { ok: true, name: device, carrier: link.up };
    }
    const choice = chooseInterface({
      vips: vips.map((vip) => vip.address),
      override,
      configured: this.#options.configuredInterface,
      defaultRouteIfindex: facts.defaultRoute,
      links: facts.links,
      addresses: facts.addresses,
      allowOffSubnet: this.#options.allowOffSubnetVips,
    });
    return choice.ok ? { ok: true, name: choice.name, carrier: choice.carrier } : choice;
  }

  foreignAddresses(vips: readonly Vip[]): readonly ForeignAddress[] {
    const routes = vips.flatMap((vip) =>
      (this.#foreignRoutes.get(vip.address)?.routes ?? []).map((route) => ({
        address: vip.address,
        prefixLength: route.prefixLength,
        interfaceName: this.#options.hostRoutes.device,
        route: { table: route.table, protocol: route.protocol },
      })),
    );
    return [...this.#foreignIn(this.#readListing(), vips), ...routes];
  }

  holding(workKey: string): readonly Vip[] | undefined {
    return this.#installed.get(workKey)?.vips;
  }

  heldKeys(): readonly string[] {
    return [...this.#installed.keys()];
  }

  intact(workKey: string): boolean {
    const installed = this.#installed.get(workKey);
    return (
      installed?.vips.every(
        (vip) =>
          this.#present(vip.address, installed.ifindex) &&
          (!installed.routed || this.#routes.has(vip.address)),
      ) ?? false
    );
  }

  // Calls for one work key do not overlap: the work queue runs a key at a time.
  async announce(options: {
    workKey: string;
    vips: readonly Vip[];
    interfaceName: string;
    routed: boolean;
  }): Promise<{ newlyInstalled: boolean }> {
    const link = this.#readFacts().links.find((candidate) => candidate.name === options.interfaceName);
    // A routed VIP is never announced, so its device (lo) needs no MAC.
    if (link === undefined || (!options.routed && link.mac === null))
      throw new Error(`interface ${options.interfaceName} is gone or has no MAC address`);
    const foreign = this.#foreignIn(this.#readListing(), options.vips);
    if (foreign.length > 0) throw new ForeignAddressError(foreign);
    const previous = this.#installed.get(options.workKey);
    const same =
      previous?.ifindex === link.index &&
      previous.routed === options.routed &&
      previous.vips.length === options.vips.length &&
      previous.vips.every((vip, index) => vip.address === options.vips[index]?.address);
    if (previous !== undefined && !same) await this.#remove(options.workKey);
    let newlyInstalled = !same;
    this.#installed.set(options.workKey, {
      vips: options.vips,
      ifindex: link.index,
      routed: options.routed,
    });
    try {
      for (const vip of options.vips) {
        // Someone may have flushed the address (`ip addr flush`): put it back and announce it again.
        // An address that is there is left to the lifetime refresh: a write per reconcile would be a
        // netlink write per Service per event.
        if (same && this.#present(vip.address, link.index)) continue;
        if (same) newlyInstalled = true;
        this.#install(vip, link.index);
      }
      // The routes only once every address is there: a route attracts traffic at once.
      if (options.routed && (await this.#installRoutes(options.vips, same))) newlyInstalled = true;
    } catch (error) {
      // A Service installed afresh is installed whole or not at all, so that no VIP is left that
      // nobody withdraws; one held already stays held with the VIP that failed missing, which
      // intact() reports to the next run. Someone else's route in vipd's table is a conflict the
      // node cannot serve through, so then nothing of the key stays, held or not.
      if (!same || error instanceof ForeignRouteError) await this.#rollBack(options.workKey, error);
      if (error instanceof ForeignRouteError) await this.#noteForeignRoutes(options.vips);
      throw error;
    }
    const mac = link.mac;
    if (newlyInstalled && !options.routed && mac !== null) {
      for (const vip of options.vips) this.#announcer.start(this.#announced(vip, link.index, mac));
    }
    return { newlyInstalled };
  }

  withdraw(workKey: string): Promise<void> {
    return this.#remove(workKey);
  }

  async fence(options: {
    vips: readonly Vip[];
    interfaceName: string;
    purpose: FencePurpose;
  }): Promise<FenceResult> {
    const link = this.#readFacts().links.find((candidate) => candidate.name === options.interfaceName);
    if (link?.mac == null)
      return { outcome: "failed", failure: "interface-gone", interfaceName: options.interfaceName };
    const mac = link.mac;
    return this.#announcer.fence({
      vips: options.vips.map((vip) => this.#announced(vip, link.index, mac)),
      purpose: options.purpose,
    });
  }

  // lo is never among them: it has no subnet address and no MAC (published-macs.ts).
  macs(): readonly string[] {
    const facts = this.#readFacts();
    return vipCapableMacs(facts.links, facts.addresses);
  }

  async sweep(owned: ReadonlyMap<string, readonly Vip[]>): Promise<void> {
    const keep = new Set([...owned.values()].flat().map((vip) => vip.address));
    // Routes first, as in a withdrawal. HostRoutes lists and removes only vipd's own.
    for (const vip of [...(await this.#routes.read(0)).values()]) {
      if (keep.has(vip.address)) continue;
      await this.#routes.remove(vip);
      this.#options.onError(`removed stale host route to ${vip.address} left by an earlier run`);
    }
    const ownership = this.#options.ownership;
    const addresses = this.#options.netlink.listAddresses();
    ownership.prune(addresses);
    for (const address of addresses) {
      if (keep.has(address.address)) continue;
      if (ownership.owns(address)) {
        this.#deleteAddress(address);
        ownership.removed(address);
        this.#options.onError(`removed stale VIP ${address.address} left by an earlier run`);
      } else if (isInherited(address)) {
        this.#options.onError(
          `left ${address.address} alone: an older vipd marked it, for this agent or for the other mode's; it expires within ${address.validLifetime}s unless its holder takes it over`,
        );
      }
    }
    this.#listing = undefined;
  }

  subscribe(listener: DataPlaneListener): void {
    this.#listener = listener;
    this.#watch = watchNetlink({
      onEvent: (event) => {
        if (this.#ownChange(event)) return;
        this.#listing = undefined;
        if (event.type !== "address" || !this.#options.ownership.owns(event)) this.#facts = undefined;
        if (event.type === "overrun") this.#removing.clear();
        // A socket lost with its interface opens again once the interface is up.
        if (event.type === "link" || event.type === "overrun") this.#announcer.recover();
        listener.networkChanged();
      },
      onError: (error) => {
        this.#watchProblem = `netlink notifications: ${error.message}`;
        this.#options.onError(this.#watchProblem);
      },
    });
  }

  problem(): string | null {
    if (this.#watchProblem !== null) return this.#watchProblem;
    const lost = [...this.#announcer.lost()];
    if (lost.length === 0) return null;
    const links = this.#options.netlink.listLinks();
    const described = lost.map(([ifindex, error]) => {
      const name = links.find((link) => link.index === ifindex)?.name ?? `interface ${ifindex}`;
      return `${name} (${error})`;
    });
    return `packet socket not receiving, reopened once its interface is up: ${described.join(", ")}`;
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#cancelRefresh();
    this.#watch?.close();
    this.#announcer.close();
    return Promise.resolve();
  }

  // vipd's own additions, lifetime refreshes and removals are in the listing already and change
  // nothing a reconcile needs to see again: with thousands of VIPs, reacting to them would turn
  // every refresh into a listing of every address and another round of reconciles. A removal the
  // kernel made (an expired lifetime) is news.
  #ownChange(event: NetlinkEvent): boolean {
    if (event.type !== "address") return false;
    if (event.action === "del") return this.#removing.delete(presentKey(event.ifindex, event.address));
    return this.#options.ownership.owns(event);
  }

  // The record is written before the address is added, so that an agent that crashes right after
  // the add still finds the address as its own; if the add fails, the entry goes again.
  #install(vip: Vip, ifindex: number): void {
    const key = vipKey(vip, ifindex);
    const listing = this.#readListing();
    const present = presentKey(ifindex, vip.address);
    if (listing.own.has(present)) {
      // vipd's own from before (kept by the restart sweep): adopted, with a fresh lifetime.
      this.#write(vip, ifindex, { replace: true });
      return;
    }
    const ownership = this.#options.ownership;
    ownership.adding(key);
    if (listing.inherited.has(present)) {
      // An older release added it for whichever agent holds it, and that is this one: re-marked.
      try {
        this.#write(vip, ifindex, { replace: true });
      } catch (error) {
        ownership.removed(key);
        throw error;
      }
      listing.own.add(present);
      return;
    }
    try {
      this.#write(vip, ifindex, { replace: false });
    } catch (error) {
      ownership.removed(key);
      if ((error as { code?: unknown }).code !== "EEXIST") throw error;
      // Someone added the address since the table was read.
      this.#listing = undefined;
      const foreign = this.#foreignIn(this.#readListing(), [vip]);
      throw new ForeignAddressError(
        foreign.length > 0 ? foreign : [{ ...key, interfaceName: this.#linkName(ifindex) }],
      );
    }
    listing.own.add(present);
  }

  #write(vip: Vip, ifindex: number, options: { readonly replace: boolean }): void {
    const lifetime = Math.ceil(this.#options.addressLifetimeMs / 1000);
    this.#options.netlink.addAddress({
      ...vipKey(vip, ifindex),
      protocol: this.#options.ownership.protocol,
      validLifetime: lifetime,
      // IPv6 VIPs are never preferred, so they never become a source address or a node IP.
      preferredLifetime: vip.family === 6 ? 0 : lifetime,
      nodad: vip.family === 6,
      replace: options.replace,
    });
  }

  // A routed key's routes go first, and if one cannot be removed the key stays held (its addresses
  // refreshed), so that no route of vipd's leads to a node without the address and the withdrawal
  // can be tried again.
  async #remove(workKey: string): Promise<void> {
    const installed = this.#installed.get(workKey);
    if (installed === undefined) return;
    if (installed.routed) for (const vip of installed.vips) await this.#routes.remove(vip);
    this.#installed.delete(workKey);
    const listing = this.#readListing(CHANGE_CACHE_MS);
    for (const vip of installed.vips) {
      if (!installed.routed) this.#announcer.stop(vip.address);
      const key = vipKey(vip, installed.ifindex);
      const present = presentKey(key.ifindex, key.address);
      // Gone already, or no longer vipd's (replaced by hand): either way nothing of vipd's to delete.
      if (listing.own.has(present)) this.#deleteAddress(key);
      this.#options.ownership.removed(key);
      listing.own.delete(present);
    }
  }

  // A held key's routes that are there are left as they are, as its addresses are; a key installed
  // afresh replaces them (its own from before: adopted). Says whether any route was put in.
  async #installRoutes(vips: readonly Vip[], same: boolean): Promise<boolean> {
    const present = same ? await this.#routes.read(PRESENT_CACHE_MS) : new Map<string, Vip>();
    let installed = false;
    for (const vip of vips) {
      if (present.has(vip.address)) continue;
      await this.#routes.install(vip);
      installed = true;
    }
    return installed;
  }

  async #rollBack(workKey: string, cause: unknown): Promise<void> {
    try {
      await this.#remove(workKey);
    } catch (error) {
      this.#options.onError(
        `removing ${workKey} after ${(cause as Error).message}: ${(error as Error).message}`,
      );
    }
  }

  #deleteAddress(key: AddressKey): void {
    try {
      this.#options.netlink.deleteAddress(key);
      this.#removing.add(presentKey(key.ifindex, key.address));
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  // Only addresses a recent listing shows as vipd's are extended. One that vanished (expired while
  // this process was frozen, or removed by someone) is put back only by a reconcile run, which
  // re-reads the Lease; one that someone replaced is theirs now. Between slices a Service may be
  // withdrawn or moved: each is looked up again before its turn, so that one withdrawn meanwhile is
  // neither refreshed nor taken for an address that vanished. The round also reads vipd's host
  // routes, once, when it holds routed VIPs: nothing else tells of a route someone deleted.
  async #refreshLifetimes(): Promise<void> {
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      // A foreign route gone is news too: the address loop may serve the VIP again. Only awaited
      // when there is one to read, so a round without starts its first slice at once.
      let vanished = this.#foreignRoutes.size > 0 && (await this.#foreignRoutesGone());
      let sinceYield = 0;
      const routesRead = [...this.#installed.values()].some((installed) => installed.routed)
        ? await this.#readRoutes()
        : false;
      let listing = this.#readListing(CHANGE_CACHE_MS);
      for (const [key, installed] of [...this.#installed]) {
        if (this.#closed) return;
        if (this.#installed.get(key) !== installed) continue;
        try {
          for (const vip of installed.vips) {
            if (listing.own.has(presentKey(installed.ifindex, vip.address)))
              this.#write(vip, installed.ifindex, { replace: true });
            else vanished = true;
            if (installed.routed && routesRead && !this.#routes.has(vip.address)) vanished = true;
          }
        } catch (error) {
          this.#options.onError(`refreshing the VIPs of ${key}: ${(error as Error).message}`);
        }
        sinceYield += installed.vips.length;
        if (sinceYield >= REFRESH_SLICE) {
          sinceYield = 0;
          // A yield, not a wait: no time passes in it, so it is no timer of the Clock's.
          await new Promise((resolve) => setImmediate(resolve));
          listing = this.#readListing(CHANGE_CACHE_MS);
        }
      }
      if (vanished) this.#listener?.networkChanged();
    } finally {
      this.#refreshing = false;
    }
  }

  async #noteForeignRoutes(vips: readonly Vip[]): Promise<void> {
    const found = await this.#options.hostRoutes.foreign(vips);
    for (const vip of vips) {
      const routes = found.filter((route) => route.destination === vip.address);
      if (routes.length > 0) this.#foreignRoutes.set(vip.address, { vip, routes });
    }
  }

  /** Reads the foreign routes remembered again; true when one of them is gone. */
  async #foreignRoutesGone(): Promise<boolean> {
    const remembered = [...this.#foreignRoutes.values()];
    try {
      const found = await this.#options.hostRoutes.foreign(remembered.map((each) => each.vip));
      let gone = false;
      for (const { vip } of remembered) {
        const routes = found.filter((route) => route.destination === vip.address);
        if (routes.length > 0) this.#foreignRoutes.set(vip.address, { vip, routes });
        else gone = this.#foreignRoutes.delete(vip.address) || gone;
      }
      return gone;
    } catch (error) {
      this.#options.onError(`listing the routes in vipd's table: ${(error as Error).message}`);
      return false;
    }
  }

  async #readRoutes(): Promise<boolean> {
    try {
      await this.#routes.read(0);
      return true;
    } catch (error) {
      this.#options.onError(`listing vipd's host routes: ${(error as Error).message}`);
      return false;
    }
  }

  #present(address: string, ifindex: number): boolean {
    return this.#readListing().own.has(presentKey(ifindex, address));
  }

  // A listing reused for a moment, so that a refresh of thousands of VIPs reads it once a slice; each
  // new one also drops record entries whose address is gone.
  #readListing(maxAgeMs = PRESENT_CACHE_MS): Listing {
    const now = this.#options.clock.now();
    const cached = this.#listing;
    if (cached !== undefined && now - cached.readAt <= maxAgeMs) return cached;
    const ownership = this.#options.ownership;
    const addresses = this.#options.netlink.listAddresses();
    ownership.prune(addresses);
    const byAddress = new Map<string, Address[]>();
    const own = new Set<string>();
    const inherited = new Set<string>();
    for (const address of addresses) {
      const same = byAddress.get(address.address);
      if (same === undefined) byAddress.set(address.address, [address]);
      else same.push(address);
      if (address.prefixLength !== (address.family === 4 ? 32 : 128)) continue;
      if (ownership.owns(address)) own.add(presentKey(address.ifindex, address.address));
      else if (isInherited(address)) inherited.add(presentKey(address.ifindex, address.address));
    }
    this.#listing = { readAt: now, byAddress, own, inherited };
    return this.#listing;
  }

  #foreignIn(listing: Listing, vips: readonly Vip[]): ForeignAddress[] {
    const ownership = this.#options.ownership;
    return vips.flatMap((vip) =>
      (listing.byAddress.get(vip.address) ?? [])
        .filter((address) => !ownership.owns(address) && !this.#inheritedHost(address))
        .map((address) => ({
          address: address.address,
          prefixLength: address.prefixLength,
          interfaceName: this.#linkName(address.ifindex),
        })),
    );
  }

  // Not someone else's address but a VIP (a host address): the one whose holder installs it takes it.
  #inheritedHost(address: Address): boolean {
    return isInherited(address) && address.prefixLength === (address.family === 4 ? 32 : 128);
  }

  #linkName(ifindex: number): string {
    return this.#readFacts().links.find((link) => link.index === ifindex)?.name ?? `interface ${ifindex}`;
  }

  #serviceOf(ip: string): string | undefined {
    for (const [key, installed] of this.#installed) {
      if (installed.vips.some((vip) => vip.address === ip)) return key;
    }
    return undefined;
  }

  #announced(vip: Vip, ifindex: number, mac: string): AnnouncedVip {
    return { ip: vip.address, family: vip.family, ifindex, mac };
  }

  #readFacts(): { links: Link[]; addresses: Address[]; defaultRoute: number | null } {
    const netlink = this.#options.netlink;
    const ownership = this.#options.ownership;
    this.#facts ??= {
      links: netlink.listLinks(),
      addresses: netlink
        .listAddresses()
        .filter((address) => !ownership.owns(address) && !this.#inheritedHost(address)),
      defaultRoute: netlink.defaultRouteInterface(4) ?? netlink.defaultRouteInterface(6),
    };
    return this.#facts;
  }
}
