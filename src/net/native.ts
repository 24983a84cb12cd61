// Loads the native data-path module (src/net/native, built by scripts/build-native.ts on
// `npm ci`) and describes what it exports. It is loaded on first use, so that code which only
// imports the wrappers, such as unit tests with fakes, runs without a build.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

export interface RawLink {
  readonly index: number;
  readonly name: string;
  readonly mac: string | null;
  readonly mtu: number;
  /** IF_OPER_* */
  readonly operstate: number;
  /** IFF_* */
  readonly flags: number;
  /** IFLA_INFO_KIND; absent for physical interfaces. */
  readonly kind?: string;
}

export interface RawAddress {
  readonly ifindex: number;
  readonly family: 4 | 6;
  readonly address: string;
  readonly prefixLength: number;
  readonly protocol: number;
  /** Seconds; 0xffffffff is forever. */
  readonly validLifetime: number;
  readonly preferredLifetime: number;
  /** IFA_F_* */
  readonly flags: number;
  readonly label: string;
}

export interface RawRoute {
  readonly family: 4 | 6;
  readonly table: number;
  readonly destination: string;
  readonly prefixLength: number;
  /** RTN_* */
  readonly type: number;
  /** RTPROT_* */
  readonly protocol: number;
  /** RT_SCOPE_* */
  readonly scope: number;
  readonly priority: number;
  readonly nexthops: readonly { readonly ifindex: number; readonly gateway: string | null }[];
}

export interface RawAddressKey {
  readonly ifindex: number;
  readonly address: string;
  readonly prefixLength: number;
}

export interface RawNewAddress extends RawAddressKey {
  readonly protocol: number;
  readonly validLifetime: number;
  readonly preferredLifetime: number;
  readonly nodad: boolean;
  readonly replace: boolean;
}

export interface RawRouteKey {
  readonly destination: string;
  readonly prefixLength: number;
  readonly table: number;
  /** RTPROT_*; a delete matches only a route with this protocol. */
  readonly protocol: number;
}

/** A unicast route out of one interface, without a gateway. */
export interface RawNewRoute extends RawRouteKey {
  readonly ifindex: number;
  /** RT_SCOPE_* */
  readonly scope: number;
}

export type RawNetlinkEvent =
  | (RawLink & { readonly type: "link"; readonly action: "new" | "del" })
  | (RawAddress & { readonly type: "address"; readonly action: "new" | "del" })
  /** Default routes only (prefix length 0): the monitor drops every other route change. */
  | { readonly type: "route"; readonly action: "new" | "del"; readonly route: RawRoute }
  | { readonly type: "overrun" };

/** 0 asks for both families. */
export type RawFamily = 0 | 4 | 6;

export interface NativeNetlink {
  listLinks(): RawLink[];
  listAddresses(family: RawFamily): RawAddress[];
  listRoutes(family: RawFamily): RawRoute[];
  addAddress(options: RawNewAddress): void;
  deleteAddress(options: RawAddressKey): void;
  /** NLM_F_CREATE | NLM_F_REPLACE: idempotent. */
  addRoute(options: RawNewRoute): void;
  deleteRoute(options: RawRouteKey): void;
  close(): void;
}

export interface NativeNetlinkMonitor {
  close(): void;
}

export interface NativePacketSocket {
  send(frame: Uint8Array): void;
  start(
    callback: (
      error: Error | null,
      frame?: Buffer,
      details?: { readonly ifindex: number; /** PACKET_* */ readonly pktType: number },
    ) => void,
  ): void;
  close(): void;
}

export interface NativeBinding {
  readonly Netlink: new () => NativeNetlink;
  readonly NetlinkMonitor: new (
    callback: (error: Error | null, event?: RawNetlinkEvent) => void,
  ) => NativeNetlinkMonitor;
  readonly PacketSocket: new (ifindex: number) => NativePacketSocket;
}

/** A system call or kernel request that failed: errno as in os.constants.errno, code such as 'EEXIST'. */
export class SystemCallError extends Error {
  readonly errno: number;
  readonly code: string;
  readonly syscall: string;

  constructor(message: string, details: { errno: number; code: string; syscall: string }) {
    super(message);
    this.name = "SystemCallError";
    this.errno = details.errno;
    this.code = details.code;
    this.syscall = details.syscall;
  }
}

/** The native module's errors carry errno, code and syscall; they become SystemCallError here. */
export function toSystemCallError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const { errno, code, syscall } = error as Error & { errno?: unknown; code?: unknown; syscall?: unknown };
  if (typeof errno !== "number" || typeof code !== "string" || typeof syscall !== "string") return error;
  return new SystemCallError(error.message, { errno, code, syscall });
}

/** Runs a native call, rethrowing its kernel errors as SystemCallError. */
export function nativeCall<T>(call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw toSystemCallError(error);
  }
}

const MODULE_PATH = ["src", "net", "native", "build", "Release", "vipd_net.node"];

// The same file serves from src/net (run as TypeScript) and from dist/src/net (compiled), so the
// module is found from the package root rather than from this file.
function packageRoot(): string {
  let directory = import.meta.dirname;
  while (!existsSync(path.join(directory, "package.json"))) {
    const parent = path.dirname(directory);
    if (parent === directory) throw new Error(`no package.json above ${import.meta.dirname}`);
    directory = parent;
  }
  return directory;
}

let binding: NativeBinding | undefined;

export function loadNative(): NativeBinding {
  if (binding !== undefined) return binding;
  const modulePath = path.join(packageRoot(), ...MODULE_PATH);
  if (!existsSync(modulePath)) {
    throw new Error(
      `vipd's native module is not built: ${modulePath} is missing; run npm ci, or node scripts/build-native.ts`,
    );
  }
  binding = createRequire(import.meta.url)(modulePath) as NativeBinding;
  return binding;
}
