// The DataPlane of a real node: VIPs go on and off the interface over rtnetlink, marked with vipd's
// address protocol and given a valid lifetime that the holder keeps refreshing (the dead-man switch
// of DESIGN.md section 3), and the Announcer speaks for them on the wire.
import type { DataPlane, DataPlaneListener, FenceResult, InterfaceChoice } from "../agent/data-plane.ts";
import type { Vip } from "../agent/service-intent.ts";
import {
  Announcer,
  type AnnouncedVip,
  type AnnouncerOptions,
  type FencePurpose,
  type FrameChannel,
} from "./announcer.ts";
import { chooseInterface } from "./interface-choice.ts";
import {
  VIPD_ADDRESS_PROTOCOL,
  watchNetlink,
  type Address,
  type Link,
  type Netlink,
  type NetlinkWatch,
} from "./netlink.ts";
import { PacketSocket } from "./packet-socket.ts";
import { vipCapableMacs } from "./published-macs.ts";

export interface NativeDataPlaneOptions {
  readonly netlink: Pick<
    Netlink,
    "listLinks" | "listAddresses" | "addAddress" | "deleteAddress" | "defaultRouteInterface"
  >;
  /** The interface's packet socket; PacketSocket.open unless a test records frames instead. */
  readonly openChannel?: (ifindex: number) => FrameChannel;
  /** --interface; undefined for the default route's interface. */
  readonly configuredInterface: string | undefined;
  /** --allow-off-subnet-vips. */
  readonly allowOffSubnetVips: boolean;
  readonly addressLifetimeMs: number;
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
  readonly mac: string;
}

function hostPrefix(vip: Vip): number {
  return vip.family === 4 ? 32 : 128;
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "EADDRNOTAVAIL" || code === "ENOENT" || code === "ENODEV";
}

// How long a listing of the addresses answers "is this VIP still there?". vipd's own additions are
// written into it as they are made and any removal drops it, so the age only bounds what a missed
// or not-yet-read notification can hide; a freeze past the address lifetime always outlasts it.
const PRESENT_CACHE_MS = 500;

// Refreshing an IPv6 address makes Linux walk every multicast group of the interface, so a
// thousand IPv6 VIPs take a good part of a second (npm run bench:data-path). A refresh yields to
// the event loop after each slice of this many VIPs, so that heartbeats and watch events do not
// wait behind it.
const REFRESH_SLICE = 64;

function presentKey(ifindex: number, address: string): string {
  return `${ifindex} ${address}`;
}

export class NativeDataPlane implements DataPlane {
  readonly #options: NativeDataPlaneOptions;
  readonly #installed = new Map<string, Installed>();
  readonly #announcer: Announcer;
  readonly #refreshTimer: NodeJS.Timeout;
  #listener: DataPlaneListener | undefined;
  #watch: NetlinkWatch | undefined;
  /** Links, the node's own addresses (not VIPs) and the default route: what interface choice reads. */
  #facts: { links: Link[]; addresses: Address[]; defaultRoute: number | null } | undefined;
  #problem: string | null = null;
  /** Addresses vipd deleted whose notification has not been read yet. */
  readonly #removing = new Set<string>();
  #presentCache: { readonly readAt: number; readonly addresses: Set<string> } | undefined;
  #refreshing = false;
  #closed = false;

  constructor(options: NativeDataPlaneOptions) {
    this.#options = options;
    this.#announcer = new Announcer({
      ...options.announce,
      openChannel: options.openChannel ?? ((ifindex) => PacketSocket.open({ ifindex })),
      stillInstalled: (vip) => this.#present(vip.ip, vip.ifindex),
      ownMacs: () =>
        new Set(this.#readFacts().links.flatMap((link) => (link.mac === null ? [] : [link.mac]))),
      onForeignClaim: (ip, mac) => {
        const key = this.#serviceOf(ip);
        if (key !== undefined) this.#listener?.foreignClaim(key, { ip, mac });
      },
      onSent: options.onSent,
      onError: options.onError,
    });
    // Three refreshes per lifetime: a live holder's address never comes close to expiring.
    this.#refreshTimer = setInterval(() => {
      void this.#refreshLifetimes();
    }, options.addressLifetimeMs / 3);
  }

  interfaceFor(vips: readonly Vip[], override: string | undefined): InterfaceChoice {
    const facts = this.#readFacts();
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

  holding(serviceKey: string): readonly Vip[] | undefined {
    return this.#installed.get(serviceKey)?.vips;
  }

  intact(serviceKey: string): boolean {
    const installed = this.#installed.get(serviceKey);
    return installed?.vips.every((vip) => this.#present(vip.address, installed.ifindex)) ?? false;
  }

  announce(options: {
    serviceKey: string;
    vips: readonly Vip[];
    interfaceName: string;
  }): Promise<{ newlyInstalled: boolean }> {
    const link = this.#readFacts().links.find((candidate) => candidate.name === options.interfaceName);
    if (link?.mac == null)
      throw new Error(`interface ${options.interfaceName} is gone or has no MAC address`);
    const previous = this.#installed.get(options.serviceKey);
    const same =
      previous?.ifindex === link.index &&
      previous.vips.length === options.vips.length &&
      previous.vips.every((vip, index) => vip.address === options.vips[index]?.address);
    if (previous !== undefined && !same) this.#remove(options.serviceKey);
    let newlyInstalled = !same;
    for (const vip of options.vips) {
      // Someone may have flushed the address (`ip addr flush`): put it back and announce it again.
      // An address that is there is left to the lifetime refresh: a write per reconcile would be a
      // netlink write per Service per event.
      if (same && this.#present(vip.address, link.index)) continue;
      if (same) newlyInstalled = true;
      this.#install(vip, link.index);
    }
    this.#installed.set(options.serviceKey, { vips: options.vips, ifindex: link.index, mac: link.mac });
    if (newlyInstalled) {
      for (const vip of options.vips) this.#announcer.start(this.#announced(vip, link.index, link.mac));
    }
    return Promise.resolve({ newlyInstalled });
  }

  withdraw(serviceKey: string): Promise<void> {
    this.#remove(serviceKey);
    return Promise.resolve();
  }

  async fence(options: {
    vips: readonly Vip[];
    interfaceName: string;
    purpose: FencePurpose;
  }): Promise<FenceResult> {
    const link = this.#readFacts().links.find((candidate) => candidate.name === options.interfaceName);
    if (link?.mac == null)
      throw new Error(`interface ${options.interfaceName} is gone or has no MAC address`);
    const mac = link.mac;
    return this.#announcer.fence({
      vips: options.vips.map((vip) => this.#announced(vip, link.index, mac)),
      purpose: options.purpose,
    });
  }

  macs(): readonly string[] {
    const facts = this.#readFacts();
    return vipCapableMacs(facts.links, facts.addresses);
  }

  sweep(owned: ReadonlyMap<string, readonly Vip[]>): Promise<void> {
    const keep = new Set([...owned.values()].flat().map((vip) => vip.address));
    for (const address of this.#options.netlink.listAddresses()) {
      if (address.protocol !== VIPD_ADDRESS_PROTOCOL || keep.has(address.address)) continue;
      this.#deleteAddress(address);
      this.#options.onError(`removed stale VIP ${address.address} left by an earlier run`);
    }
    return Promise.resolve();
  }

  subscribe(listener: DataPlaneListener): void {
    this.#listener = listener;
    this.#watch = watchNetlink({
      onEvent: (event) => {
        // vipd's own additions and lifetime refreshes are in the cache already and change nothing a
        // reconcile needs to see again: with thousands of VIPs, reacting to them would turn every
        // refresh into a listing of every address and another round of reconciles.
        if (event.type === "overrun") this.#removing.clear();
        const ownVip = event.type === "address" && event.protocol === VIPD_ADDRESS_PROTOCOL;
        if (ownVip && event.action === "new") return;
        // Likewise the removals vipd made itself; one the kernel made (an expired lifetime) is news.
        if (ownVip && this.#removing.delete(presentKey(event.ifindex, event.address))) return;
        this.#presentCache = undefined;
        if (!ownVip) this.#facts = undefined;
        listener.networkChanged();
      },
      onError: (error) => {
        this.#problem = `netlink notifications: ${error.message}`;
        this.#options.onError(this.#problem);
      },
    });
  }

  problem(): string | null {
    return this.#problem;
  }

  close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#refreshTimer);
    this.#watch?.close();
    this.#announcer.close();
    return Promise.resolve();
  }

  #install(vip: Vip, ifindex: number): void {
    const lifetime = Math.ceil(this.#options.addressLifetimeMs / 1000);
    this.#options.netlink.addAddress({
      ifindex,
      address: vip.address,
      prefixLength: hostPrefix(vip),
      protocol: VIPD_ADDRESS_PROTOCOL,
      validLifetime: lifetime,
      // IPv6 VIPs are never preferred, so they never become a source address or a node IP.
      preferredLifetime: vip.family === 6 ? 0 : lifetime,
      nodad: vip.family === 6,
      replace: true,
    });
    this.#presentCache?.addresses.add(presentKey(ifindex, vip.address));
  }

  #remove(serviceKey: string): void {
    const installed = this.#installed.get(serviceKey);
    if (installed === undefined) return;
    this.#installed.delete(serviceKey);
    for (const vip of installed.vips) {
      this.#announcer.stop(vip.address);
      this.#deleteAddress({
        ifindex: installed.ifindex,
        address: vip.address,
        prefixLength: hostPrefix(vip),
      });
    }
  }

  #deleteAddress(key: { ifindex: number; address: string; prefixLength: number }): void {
    try {
      this.#options.netlink.deleteAddress(key);
      this.#removing.add(presentKey(key.ifindex, key.address));
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    this.#presentCache?.addresses.delete(presentKey(key.ifindex, key.address));
  }

  // Only addresses still present are extended. One that vanished (expired while this process was
  // frozen, or removed by someone) is put back only by a reconcile run, which re-reads the Lease.
  // Between slices a Service may be withdrawn or moved: each is looked up again before its turn, so
  // that one withdrawn meanwhile is neither refreshed nor taken for an address that vanished.
  async #refreshLifetimes(): Promise<void> {
    if (this.#refreshing) return;
    this.#refreshing = true;
    try {
      let vanished = false;
      let sinceYield = 0;
      for (const [key, installed] of [...this.#installed]) {
        if (this.#closed) return;
        if (this.#installed.get(key) !== installed) continue;
        try {
          for (const vip of installed.vips) {
            if (this.#present(vip.address, installed.ifindex)) this.#install(vip, installed.ifindex);
            else vanished = true;
          }
        } catch (error) {
          this.#options.onError(`refreshing the VIPs of ${key}: ${(error as Error).message}`);
        }
        sinceYield += installed.vips.length;
        if (sinceYield >= REFRESH_SLICE) {
          sinceYield = 0;
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      if (vanished) this.#listener?.networkChanged();
    } finally {
      this.#refreshing = false;
    }
  }

  // A fresh listing, reused for a moment so that a refresh of thousands of VIPs reads it once.
  #present(address: string, ifindex: number): boolean {
    const now = performance.now();
    if (this.#presentCache === undefined || now - this.#presentCache.readAt > PRESENT_CACHE_MS) {
      this.#presentCache = {
        readAt: now,
        addresses: new Set(
          this.#options.netlink.listAddresses().map((each) => presentKey(each.ifindex, each.address)),
        ),
      };
    }
    return this.#presentCache.addresses.has(presentKey(ifindex, address));
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
    this.#facts ??= {
      links: netlink.listLinks(),
      addresses: netlink.listAddresses().filter((address) => address.protocol !== VIPD_ADDRESS_PROTOCOL),
      defaultRoute: netlink.defaultRouteInterface(4) ?? netlink.defaultRouteInterface(6),
    };
    return this.#facts;
  }
}
