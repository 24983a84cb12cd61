// Which addresses on the node are vipd's (docs/design.md, the data path). vipd refreshes, keeps across a
// restart or removes only addresses it added itself. Any other address equal to a VIP — configured by
// hand, left behind by kube-vip, with any prefix length — is someone else's: a conflict, never
// something to adopt.
//
// vipd knows its addresses in one of two ways:
// - kernel: each carries vipd's address protocol (IFA_PROTO). Linux keeps the field from 6.1 on;
//   older kernels (Debian 11's 5.10, RHEL 9's 5.14, Ubuntu 22.04's 5.15) accept it and drop it
//   without a word, so there an address of vipd's looks like anyone's.
// - record: a file that lists what vipd added, in a directory under /run. Addresses do not survive a
//   reboot, and neither does /run (a tmpfs), so the record cannot outlive what it describes; it
//   also carries the boot it was written in, in case it is kept somewhere that does survive.
//
// Either way an address that never expires is not vipd's, whatever its mark says: vipd gives every
// address a valid lifetime (the dead-man switch), and `ip addr replace` by hand makes one permanent.
//
// One agent, one set of addresses. A control-plane agent (the static pod) and a services agent (the
// DaemonSet) on the same node are two agents, each with its own restart sweep, so each owns only
// what it added itself: the kernel mark is one per mode (SERVICES_ADDRESS_PROTOCOL,
// CONTROL_PLANE_ADDRESS_PROTOCOL), and so is the record file (recordFileOf). Neither ever refreshes,
// keeps or removes the other's; an address of the other's that equals one of its own VIPs is a
// conflict like anyone else's.
//
// Upgrades. Until marks were per mode, both modes marked with LEGACY_ADDRESS_PROTOCOL, so an address
// carrying it may be either agent's, and neither can tell whose. Such an address is *inherited*:
// - no sweep removes it: removing it could take the other agent's VIP off the node (a steal);
// - the agent that installs that very address takes it over, re-marked with its own mark and a
//   fresh lifetime: only the agent whose ownership Lease names this node for the address installs
//   it, so the one that wants it is the one it was added for, and its VIP stays up across the
//   upgrade (nothing stranded). Both modes install the same address only when the control-plane VIP
//   is also a Service's address, which is a conflict whatever vipd does;
// - otherwise nobody refreshes it, and it expires within its valid lifetime (--address-lifetime),
//   as the addresses of an agent killed without cleanup do. That is the cost of not knowing whose
//   it is: a stale VIP of an older agent answers on this node for up to one lifetime.
// The mixed states of a rolling upgrade are safe the same way: an agent of the older version owns
// only LEGACY_ADDRESS_PROTOCOL, so it never touches what a newer one marked, and a newer one never
// sweeps what an older one marked. The record files were one per mode already; they are unchanged.
import { appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { AddressMarking } from "./address-marking.ts";
import type { AddAddressOptions, Address, AddressKey, Link } from "./netlink.ts";

/** Which agent: the DaemonSet's (services mode) or the static pod's (control-plane mode). */
export type AgentMode = "services" | "control-plane";

/**
 * The IFA_PROTO values that mark vipd's addresses: 'S' for a services agent's, 'C' for a
 * control-plane agent's. The kernel uses 0-3 (IFAPROT_UNSPEC, _KERNEL_LO, _KERNEL_RA, _KERNEL_LL)
 * and nothing else assigns numbers; iproute2 names values only from its rt_addrprotos file.
 */
export const SERVICES_ADDRESS_PROTOCOL = 0x53;
export const CONTROL_PLANE_ADDRESS_PROTOCOL = 0x43;
/** 'V': the mark of both modes before marks were per mode; see "Upgrades" above. */
export const LEGACY_ADDRESS_PROTOCOL = 0x56;

export function addressProtocolOf(mode: AgentMode): number {
  return mode === "services" ? SERVICES_ADDRESS_PROTOCOL : CONTROL_PLANE_ADDRESS_PROTOCOL;
}

/** The record of one mode's addresses in --state-dir; the names are those of every earlier release. */
export function recordFileOf(stateDir: string, mode: AgentMode): string {
  return path.join(stateDir, `${mode}.addresses`);
}

/** What ownership reads of a listed address. */
export type ListedAddress = AddressKey & Pick<Address, "protocol" | "validLifetime">;

/** Marked by a vipd agent before marks were per mode, and still expiring: see "Upgrades" above. */
export function isInherited(address: ListedAddress): boolean {
  return address.protocol === LEGACY_ADDRESS_PROTOCOL && address.validLifetime !== Infinity;
}

export interface AddressOwnership {
  readonly method: "kernel" | "record";
  /** The IFA_PROTO this agent's additions carry. */
  readonly protocol: number;
  /** Whether this agent added this address (and may refresh or remove it). */
  owns(address: ListedAddress): boolean;
  /** Called before adding the address; when it throws, the address must not be added. */
  adding(key: AddressKey): void;
  /** Called once the address is gone, or known not to be vipd's after all. */
  removed(key: AddressKey): void;
  /** Forgets every address this listing of the whole node does not show as vipd's. */
  prune(listing: readonly ListedAddress[]): void;
}

function entryOf(key: AddressKey): string {
  return `${key.ifindex} ${key.address}/${key.prefixLength}`;
}

export class KernelMark implements AddressOwnership {
  readonly method = "kernel";
  readonly protocol: number;

  constructor(mode: AgentMode) {
    this.protocol = addressProtocolOf(mode);
  }

  owns(address: ListedAddress): boolean {
    return address.protocol === this.protocol && address.validLifetime !== Infinity;
  }

  // The mark travels with the address: there is nothing to keep beside it.
  adding(): void {
    return undefined;
  }

  removed(): void {
    return undefined;
  }

  prune(): void {
    return undefined;
  }
}

// Entries written since the last compaction, beyond twice the live ones, that make it rewrite the
// file: a holder that takes and gives up VIPs for weeks must not grow it without bound.
const COMPACT_SLACK = 256;
const ENTRY = /^([+-]) (\d+) (\S+)\/(\d+)$/;

/**
 * The record of vipd's addresses: an append-only file of `+ <ifindex> <address>/<prefix>` and
 * `- …` lines after a `boot <id>` line, replayed on open and rewritten (to a new file, then renamed
 * over the old one) when it has grown. An address is written to it before it is added and struck
 * from it only once it is gone, so an agent that crashes at any point leaves no address of vipd's
 * unrecorded; what it can leave is an entry without an address, and entries are dropped as soon as
 * a listing does not show them. A torn last line (a crash while appending) is ignored: it is either
 * a `+` whose address was never added, or a `-` whose address is gone and is pruned the same way.
 * The addresses carry no mark (protocol 0), exactly as on a kernel that drops it, so that forcing
 * the record on a newer kernel tests what those kernels see.
 */
export class AddressRecord implements AddressOwnership {
  readonly method = "record";
  readonly protocol = 0;
  readonly file: string;
  readonly #bootId: string;
  readonly #entries = new Set<string>();
  #lines = 0;

  private constructor(file: string, bootId: string) {
    this.file = file;
    this.#bootId = bootId;
  }

  /** Reads the record (one from another boot counts as empty) and rewrites it compacted. */
  static open(options: { readonly file: string; readonly bootId: string }): AddressRecord {
    const record = new AddressRecord(options.file, options.bootId);
    mkdirSync(path.dirname(options.file), { recursive: true, mode: 0o700 });
    let text = "";
    try {
      text = readFileSync(options.file, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    const [first, ...lines] = text.split("\n");
    if (first === `boot ${options.bootId}`) {
      for (const line of lines) {
        const match = ENTRY.exec(line);
        if (match === null) continue;
        const entry = `${match[2] ?? ""} ${match[3] ?? ""}/${match[4] ?? ""}`;
        if (match[1] === "+") record.#entries.add(entry);
        else record.#entries.delete(entry);
      }
    }
    record.#compact();
    return record;
  }

  /** The entries, as `<ifindex> <address>/<prefix>`. */
  entries(): string[] {
    return [...this.#entries];
  }

  owns(address: ListedAddress): boolean {
    return address.validLifetime !== Infinity && this.#entries.has(entryOf(address));
  }

  adding(key: AddressKey): void {
    const entry = entryOf(key);
    if (this.#entries.has(entry)) return;
    this.#append(`+ ${entry}`);
    this.#entries.add(entry);
  }

  removed(key: AddressKey): void {
    const entry = entryOf(key);
    if (!this.#entries.has(entry)) return;
    this.#append(`- ${entry}`);
    this.#entries.delete(entry);
    if (this.#lines > 2 * this.#entries.size + COMPACT_SLACK) this.#compact();
  }

  prune(listing: readonly ListedAddress[]): void {
    if (this.#entries.size === 0) return;
    const present = new Set(
      listing.filter((address) => address.validLifetime !== Infinity).map((address) => entryOf(address)),
    );
    for (const entry of [...this.#entries]) {
      if (present.has(entry)) continue;
      this.#append(`- ${entry}`);
      this.#entries.delete(entry);
    }
    if (this.#lines > 2 * this.#entries.size + COMPACT_SLACK) this.#compact();
  }

  #append(line: string): void {
    appendFileSync(this.file, `${line}\n`);
    this.#lines++;
  }

  #compact(): void {
    const temporary = `${this.file}.new`;
    const lines = [`boot ${this.#bootId}`, ...[...this.#entries].map((entry) => `+ ${entry}`)];
    writeFileSync(temporary, `${lines.join("\n")}\n`, { mode: 0o600 });
    renameSync(temporary, this.file);
    this.#lines = this.#entries.size;
  }
}

/**
 * The address of the start-up probe: 'V', 'I', 'P' in loopback's 127.0.0.0/8. An address there is
 * local to the node already (the 127.0.0.0/8 route covers it), is never on any wire (Linux neither
 * ARPs for loopback addresses nor answers for them), and is never a node's or a Service's address;
 * it lives a few seconds, should the agent die between adding and removing it. An address from a
 * documentation range would be a real address on a real node, and waiting for the first VIP to read
 * its mark back would come too late: the restart sweep, before any VIP is added, already needs to
 * know which addresses are vipd's.
 */
export const MARK_PROBE_ADDRESS = "127.86.73.80";
const MARK_PROBE_LIFETIME_S = 5;

export type MarkProbe = { readonly keeps: true } | { readonly keeps: false; readonly why: string };

const VIPD_PROTOCOLS: ReadonlySet<number> = new Set([
  SERVICES_ADDRESS_PROTOCOL,
  CONTROL_PLANE_ADDRESS_PROTOCOL,
  LEGACY_ADDRESS_PROTOCOL,
]);

/** Whether the kernel keeps IFA_PROTO: a host address on `lo` with this mark, read back, removed. */
export function probeKernelMark(
  netlink: {
    listLinks(): Link[];
    listAddresses(filter: { ifindex: number }): Address[];
    addAddress(options: AddAddressOptions): void;
    deleteAddress(key: AddressKey): void;
  },
  protocol: number,
): MarkProbe {
  const loopback = netlink.listLinks().find((link) => link.name === "lo");
  if (loopback === undefined) return { keeps: false, why: "there is no lo interface to probe on" };
  const key = { ifindex: loopback.index, address: MARK_PROBE_ADDRESS, prefixLength: 32 };
  const probe = () =>
    netlink.listAddresses({ ifindex: loopback.index }).find((address) => address.address === key.address);
  try {
    netlink.addAddress({
      ...key,
      protocol,
      validLifetime: MARK_PROBE_LIFETIME_S,
      preferredLifetime: MARK_PROBE_LIFETIME_S,
    });
  } catch (error) {
    // Another agent on this node probing at the same moment (control-plane mode beside services
    // mode, or an older release): its probe, marked with any of vipd's marks, answers the question
    // as well as ours; anything else does not.
    if ((error as { code?: unknown }).code === "EEXIST" && VIPD_PROTOCOLS.has(probe()?.protocol ?? 0))
      return { keeps: true };
    return { keeps: false, why: `the probe address could not be added: ${(error as Error).message}` };
  }
  const read = probe();
  try {
    netlink.deleteAddress(key);
  } catch {
    // It expires within seconds anyway.
  }
  return read?.protocol === protocol
    ? { keeps: true }
    : { keeps: false, why: "this kernel drops the address protocol (IFA_PROTO is kept from Linux 6.1)" };
}

/** --address-marking: the kernel's mark when it keeps it (auto, kernel), else the record. */
export function chooseAddressOwnership(options: {
  readonly marking: AddressMarking;
  readonly mode: AgentMode;
  readonly netlink: Parameters<typeof probeKernelMark>[0];
  /** Where this mode's record lives: recordFileOf(--state-dir, mode). */
  readonly recordFile: string;
  readonly bootId: string;
}): { readonly ownership: AddressOwnership; readonly reason: string } {
  const record = () => AddressRecord.open({ file: options.recordFile, bootId: options.bootId });
  if (options.marking === "record") return { ownership: record(), reason: "--address-marking record" };
  const probe = probeKernelMark(options.netlink, addressProtocolOf(options.mode));
  if (probe.keeps)
    return { ownership: new KernelMark(options.mode), reason: "the kernel keeps the address protocol" };
  // Forced, the mark would make every address of vipd's look foreign: not refreshed, left to expire.
  if (options.marking === "kernel") throw new Error(`--address-marking kernel: ${probe.why}`);
  return { ownership: record(), reason: probe.why };
}
