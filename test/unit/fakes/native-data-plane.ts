// What the native data plane's unit tests run it on: the kernel's address table and vipd's host
// routes as far as it sees them, each change written into one log so that tests can check the order
// of addresses and routes, and packet sockets that send nowhere.
import type { Vip } from "../../../src/agent/service-intent.ts";
import type { FrameChannel } from "../../../src/net/announcer.ts";
import { KernelMark } from "../../../src/net/address-ownership.ts";
import { NativeDataPlane, type NativeDataPlaneOptions } from "../../../src/net/native-data-plane.ts";
import type { AddAddressOptions, Address, Link } from "../../../src/net/netlink.ts";
import { ForeignRouteError, type ForeignRoute, type HostRoutes } from "../../../src/routing/host-routes.ts";
import { FakeClock } from "./clock.ts";

export const LAN: Link = {
  index: 2,
  name: "lan0",
  mac: "02:00:00:00:00:0b",
  mtu: 1500,
  operstate: "up",
  carrier: true,
  up: true,
  loopback: false,
  noArp: false,
};

export const LO: Link = {
  index: 1,
  name: "lo",
  mac: "00:00:00:00:00:00",
  mtu: 65536,
  operstate: "unknown",
  carrier: true,
  up: true,
  loopback: true,
  noArp: true,
};

function hostPrefix(address: string): number {
  return address.includes(":") ? 128 : 32;
}

/** The kernel's address table as far as the data plane sees it, with a log of every change. */
export class FakeAddressTable {
  /** By ifindex, address and prefix length, as the kernel tells addresses apart. */
  readonly addresses = new Map<string, Address>();
  readonly log: string[] = [];
  links: Link[] = [LAN, LO];

  listLinks(): Link[] {
    return this.links;
  }

  listAddresses(): Address[] {
    return [...this.addresses.values()];
  }

  /** The host-prefix address on the link (the LAN unless given), if any. */
  find(address: string, link: Link = LAN): Address | undefined {
    return this.addresses.get(`${link.index} ${address}/${hostPrefix(address)}`);
  }

  configure(address: Omit<Address, "family" | "flags" | "label">): void {
    this.addresses.set(`${address.ifindex} ${address.address}/${address.prefixLength}`, {
      ...address,
      family: address.address.includes(":") ? 6 : 4,
      flags: [],
      label: "",
    });
  }

  addAddress(options: AddAddressOptions): void {
    this.log.push(`${options.replace === true ? "replace" : "add"} ${options.address}`);
    const key = `${options.ifindex} ${options.address}/${options.prefixLength}`;
    if (options.replace !== true && this.addresses.has(key))
      throw Object.assign(new Error("RTM_NEWADDR failed: EEXIST"), { code: "EEXIST" });
    this.configure(options);
    const address = this.addresses.get(key);
    if (address !== undefined && options.nodad === true)
      this.addresses.set(key, { ...address, flags: ["nodad"] });
  }

  deleteAddress(key: { ifindex: number; address: string; prefixLength: number }): void {
    this.log.push(`delete ${key.address}`);
    this.addresses.delete(`${key.ifindex} ${key.address}/${key.prefixLength}`);
  }

  defaultRouteInterface(): number | null {
    return LAN.index;
  }
}

/** vipd's host routes and, apart, others' routes to VIPs in its table; changes go into the log. */
export class FakeHostRoutes implements HostRoutes {
  readonly device = LO.name;
  readonly own = new Map<string, Vip>();
  /** Addresses someone else has a route to in vipd's table. */
  readonly others = new Set<string>();
  listings = 0;
  readonly #log: string[];

  constructor(log: string[]) {
    this.#log = log;
  }

  install(vip: Vip): Promise<void> {
    const foreign = this.#foreignTo(vip);
    if (foreign.length > 0) return Promise.reject(new ForeignRouteError(foreign));
    this.#log.push(`route ${vip.address}`);
    this.own.set(vip.address, vip);
    return Promise.resolve();
  }

  remove(vip: Vip): Promise<void> {
    if (this.own.delete(vip.address)) this.#log.push(`unroute ${vip.address}`);
    return Promise.resolve();
  }

  installed(): Promise<readonly Vip[]> {
    this.listings++;
    return Promise.resolve([...this.own.values()]);
  }

  foreign(vips: readonly Vip[]): Promise<readonly ForeignRoute[]> {
    return Promise.resolve(vips.flatMap((vip) => this.#foreignTo(vip)));
  }

  #foreignTo(vip: Vip): ForeignRoute[] {
    if (!this.others.has(vip.address)) return [];
    return [{ destination: vip.address, prefixLength: hostPrefix(vip.address), table: 198, protocol: 4 }];
  }
}

export const silentChannel: FrameChannel = {
  send: () => undefined,
  receive: () => undefined,
  close: () => undefined,
};

export function dataPlane(
  table: FakeAddressTable,
  addressLifetimeMs: number,
  overrides: Partial<
    Pick<NativeDataPlaneOptions, "openChannel" | "onError" | "clock" | "ownership" | "hostRoutes">
  > = {},
): NativeDataPlane {
  return new NativeDataPlane({
    clock: new FakeClock(),
    netlink: table,
    ownership: new KernelMark("services"),
    hostRoutes: new FakeHostRoutes(table.log),
    openChannel: () => silentChannel,
    configuredInterface: undefined,
    allowOffSubnetVips: false,
    addressLifetimeMs,
    announce: {
      burstCount: 1,
      burstIntervalMs: 60_000,
      refreshMs: 60_000,
      fenceProbes: 1,
      fenceIntervalMs: 1,
      firstClaimFenceIntervalMs: 1,
    },
    onSent: () => undefined,
    onError: (message) => {
      throw new Error(message);
    },
    ...overrides,
  });
}
