// Announcing held VIPs on the wire, watching the wire for anyone else claiming them, and fencing
// before a claim (docs/design.md: the election and the data path). It owns no addresses: it only
// sends and reads frames through one long-lived packet socket per interface. A socket whose
// interface goes down or away stops receiving (ENETDOWN); it is closed, and opened again once the
// interface is up, on its new index if it was created again: a node that cannot hear the wire would
// fence blind.
import type { FenceResult } from "../agent/data-plane.ts";
import { every, type Cancel, type Clock } from "../clock/clock.ts";
import {
  addressKey,
  arpProbe,
  claimedAddressKey,
  duplicateAddressProbe,
  gratuitousArpReply,
  gratuitousArpRequest,
  parseArp,
  parseNeighbourMessage,
  unsolicitedNeighbourAdvertisement,
} from "./packets.ts";

/** The part of PacketSocket the announcer uses, so unit tests can record frames instead. */
export interface FrameChannel {
  send(frame: Uint8Array): void;
  receive(listeners: {
    readonly onFrame: (frame: Buffer, details: { readonly outgoing: boolean }) => void;
    readonly onError: (error: Error) => void;
  }): void;
  close(): void;
}

export interface AnnouncedVip {
  readonly ip: string;
  readonly family: 4 | 6;
  readonly ifindex: number;
  readonly mac: string;
}

export interface AnnouncerOptions {
  readonly openChannel: (ifindex: number) => FrameChannel;
  /** Spaces the rounds of a burst, the refreshes and the probes of a fence. */
  readonly clock: Clock;
  /** Rounds sent on takeover, one at once and the rest `burstIntervalMs` apart. */
  readonly burstCount: number;
  readonly burstIntervalMs: number;
  readonly refreshMs: number;
  readonly fenceProbes: number;
  /** Spacing of the probes of a takeover's fence: the old holder may still be there. */
  readonly fenceIntervalMs: number;
  /**
   * Spacing of the probes before a first claim: the usual answer is silence, and every claim waits
   * for it, so it is kept short; a host that answers later still answers the holder's round probes.
   */
  readonly firstClaimFenceIntervalMs: number;
  /**
   * Whether the VIP is still on its interface. Later rounds are sent only while it is: an agent
   * resumed after a freeze longer than the address lifetime must not announce a VIP that expired
   * and may have moved to another node since.
   */
  readonly stillInstalled: (vip: AnnouncedVip) => boolean;
  /**
   * The MACs of all of this node's interfaces. Frames from them are never another claimant: with
   * two interfaces on one LAN, Linux answers ARP for the VIP on the other one too.
   */
  readonly ownMacs: () => ReadonlySet<string>;
  readonly onForeignClaim: (ip: string, mac: string) => void;
  /** The interface's state now (not as cached): whether a lost socket can be opened again. */
  readonly linkState: (ifindex: number) => "up" | "down" | "gone";
  readonly onSent: (kind: "garp" | "na") => void;
  readonly onError: (message: string) => void;
}

interface Held {
  readonly vip: AnnouncedVip;
  readonly key: string;
  /** A round's frames, built once: they do not change while the VIP is held. */
  readonly round: readonly Buffer[];
  readonly burst: Cancel[];
  nextRefreshAt: number;
}

// Refreshes are sent from one timer that ticks this many times per refresh period, so that a
// thousand held VIPs cost a few wake-ups and one look at the interface's addresses per tick, not
// a timer and a look each.
const REFRESH_TICKS_PER_PERIOD = 5;

interface FenceWaiter {
  readonly keys: ReadonlySet<string>;
  readonly answered: (claim: { readonly ip: string; readonly mac: string }) => void;
}

/** A takeover from a holder that may still be there, or a first claim of an address. */
export type FencePurpose = "takeover" | "first-claim";

/** A fence the announcer ran: it has its sockets, so it cannot fail as the data plane's can. */
export type FenceAnswer = Exclude<FenceResult, { readonly outcome: "failed" }>;

/** Who claims an address in a frame: an ARP reply or announcement for it, or an advertisement. */
export function claimIn(frame: Uint8Array): { ip: string; mac: string } | undefined {
  const arp = parseArp(frame);
  if (arp !== undefined) {
    // A probe (sender 0.0.0.0) asks; a request or reply with the address as sender claims it.
    return arp.senderIp === "0.0.0.0" ? undefined : { ip: arp.senderIp, mac: arp.senderMac };
  }
  const neighbour = parseNeighbourMessage(frame);
  if (neighbour?.type === "advertisement") return { ip: neighbour.target, mac: neighbour.sourceMac };
  return undefined;
}

export class Announcer {
  readonly #options: AnnouncerOptions;
  readonly #channels = new Map<number, FrameChannel>();
  /** Interfaces whose socket stopped receiving and is not open again yet, with the error. */
  readonly #lost = new Map<number, string>();
  /** By addressKey, so that any spelling of an address finds it. */
  readonly #held = new Map<string, Held>();
  readonly #fences = new Set<FenceWaiter>();
  #cancelRefresh: Cancel | undefined;

  constructor(options: AnnouncerOptions) {
    this.#options = options;
  }

  /**
   * Starts announcing: a round at once, the rest of the burst, then a refresh at least every
   * `refreshMs` (and at most a tick sooner) for as long as held.
   */
  start(vip: AnnouncedVip): void {
    this.stop(vip.ip);
    const { burstCount, burstIntervalMs, refreshMs, clock } = this.#options;
    const held: Held = {
      vip,
      key: addressKey(vip.ip),
      round: roundFrames(vip),
      burst: [],
      nextRefreshAt: clock.now() + refreshMs - this.#refreshTickMs(),
    };
    this.#held.set(held.key, held);
    this.#round(held);
    for (let round = 1; round < burstCount; round++) {
      held.burst.push(
        clock.after(round * burstIntervalMs, () => {
          this.#laterRound(held);
        }),
      );
    }
    this.#cancelRefresh ??= every(clock, this.#refreshTickMs(), () => {
      this.#refreshDue();
    });
  }

  stop(ip: string): void {
    const held = this.#held.get(addressKey(ip));
    if (held === undefined) return;
    for (const cancel of held.burst) cancel();
    this.#held.delete(held.key);
    if (this.#held.size === 0) {
      this.#cancelRefresh?.();
      this.#cancelRefresh = undefined;
    }
  }

  /**
   * Rule 2's wire fence: probes for the VIPs (RFC 5227 ARP probes, DAD-style solicitations) and
   * reports every address and MAC heard claiming one of them up to the end of the interval in which
   * the first was heard, or quiet after the last probe's interval. Who answered decides what the
   * caller does (another agent: wait; a foreign host: quarantine), so all of them are told.
   */
  async fence(options: {
    readonly vips: readonly AnnouncedVip[];
    readonly purpose: FencePurpose;
  }): Promise<FenceAnswer> {
    if (options.vips.length === 0) return { outcome: "quiet" };
    const intervalMs =
      options.purpose === "takeover"
        ? this.#options.fenceIntervalMs
        : this.#options.firstClaimFenceIntervalMs;
    const answeredBy = new Map<string, { readonly ip: string; readonly mac: string }>();
    const byIp = new Map(options.vips.map((vip) => [addressKey(vip.ip), vip.ip]));
    const waiter: FenceWaiter = {
      keys: new Set(byIp.keys()),
      answered: (claim) => {
        // Reported in the caller's spelling of the address.
        const ip = byIp.get(addressKey(claim.ip)) ?? claim.ip;
        answeredBy.set(`${ip} ${claim.mac}`, { ip, mac: claim.mac });
      },
    };
    this.#fences.add(waiter);
    try {
      for (let probe = 0; probe < this.#options.fenceProbes && answeredBy.size === 0; probe++) {
        for (const vip of options.vips) this.#send(vip, [probeFrame(vip)]);
        await this.#options.clock.sleep(intervalMs);
      }
    } finally {
      this.#fences.delete(waiter);
    }
    return answeredBy.size === 0
      ? { outcome: "quiet" }
      : { outcome: "answered", answeredBy: [...answeredBy.values()] };
  }

  /** Interfaces whose socket stopped receiving and is not open again yet, with the error. */
  lost(): ReadonlyMap<number, string> {
    return this.#lost;
  }

  /**
   * Opens the lost sockets of the interfaces that are up again and forgets those of interfaces that
   * are gone; a link changed, or notifications were lost.
   */
  recover(): void {
    for (const ifindex of [...this.#lost.keys()]) this.#recover(ifindex);
  }

  close(): void {
    for (const held of [...this.#held.values()]) this.stop(held.vip.ip);
    for (const channel of this.#channels.values()) channel.close();
    this.#channels.clear();
    this.#lost.clear();
  }

  #refreshTickMs(): number {
    return this.#options.refreshMs / REFRESH_TICKS_PER_PERIOD;
  }

  #refreshDue(): void {
    const now = this.#options.clock.now();
    for (const held of this.#held.values()) {
      if (held.nextRefreshAt > now) continue;
      held.nextRefreshAt = now + this.#options.refreshMs - this.#refreshTickMs();
      this.#laterRound(held);
    }
  }

  #laterRound(held: Held): void {
    if (this.#options.stillInstalled(held.vip)) this.#round(held);
  }

  #round(held: Held): void {
    if (this.#send(held.vip, held.round)) this.#options.onSent(held.vip.family === 4 ? "garp" : "na");
  }

  #send(vip: AnnouncedVip, frames: readonly Buffer[]): boolean {
    try {
      const channel = this.#channel(vip.ifindex);
      for (const frame of frames) channel.send(frame);
      return true;
    } catch (error) {
      this.#options.onError(`sending on interface ${vip.ifindex}: ${(error as Error).message}`);
      return false;
    }
  }

  #channel(ifindex: number): FrameChannel {
    let channel = this.#channels.get(ifindex);
    if (channel === undefined) {
      const opened = this.#options.openChannel(ifindex);
      opened.receive({
        onFrame: (frame, details) => {
          if (!details.outgoing) this.#heard(frame);
        },
        onError: (error) => {
          this.#options.onError(`receiving on interface ${ifindex}: ${error.message}`);
          this.#lose(ifindex, opened, error.message);
        },
      });
      this.#channels.set(ifindex, opened);
      this.#lost.delete(ifindex);
      channel = opened;
    }
    return channel;
  }

  // Any receive error ends the socket: after ENETDOWN it hears nothing until its interface is up
  // again, and one bound to a deleted interface never will.
  #lose(ifindex: number, channel: FrameChannel, message: string): void {
    if (this.#channels.get(ifindex) !== channel) return;
    channel.close();
    this.#channels.delete(ifindex);
    this.#lost.set(ifindex, message);
    // The interface may be up again already (a quick flap), and then no later link change would
    // come to reopen it.
    this.#recover(ifindex);
  }

  #recover(ifindex: number): void {
    const state = this.#options.linkState(ifindex);
    if (state === "gone") this.#lost.delete(ifindex);
    if (state !== "up") return;
    try {
      this.#channel(ifindex);
    } catch (error) {
      this.#options.onError(
        `reopening the packet socket of interface ${ifindex}: ${(error as Error).message}`,
      );
    }
  }

  #heard(frame: Buffer): void {
    // Every agent hears every other's announcements; a look at the claimed address's bytes spares
    // the frames about addresses nobody here holds or fences a full parse.
    const key = claimedAddressKey(frame);
    if (key === undefined) return;
    const held = this.#held.get(key);
    const fences = [...this.#fences].filter((waiter) => waiter.keys.has(key));
    if (held === undefined && fences.length === 0) return;
    const claim = claimIn(frame);
    if (claim === undefined || this.#options.ownMacs().has(claim.mac)) return;
    for (const waiter of fences) waiter.answered(claim);
    if (held !== undefined && claim.mac !== held.vip.mac)
      this.#options.onForeignClaim(held.vip.ip, claim.mac);
  }
}

function probeFrame(vip: AnnouncedVip): Buffer {
  const probe = { mac: vip.mac, ip: vip.ip };
  return vip.family === 4 ? arpProbe(probe) : duplicateAddressProbe(probe);
}

// Each ARP round carries both forms: some hosts update their caches only from requests, others
// only from replies. Each round ends with a probe for the address (RFC 5227's ongoing conflict
// detection, done actively): a host that has the address configured ignores announcements of it
// (Linux drops a gratuitous ARP whose sender is one of its own addresses) but its kernel answers a
// probe, and that answer is how a holder learns that a machine which is no agent uses its VIP.
function roundFrames(vip: AnnouncedVip): Buffer[] {
  const announcement = { mac: vip.mac, ip: vip.ip };
  return vip.family === 4
    ? [gratuitousArpRequest(announcement), gratuitousArpReply(announcement), probeFrame(vip)]
    : [unsolicitedNeighbourAdvertisement(announcement), probeFrame(vip)];
}
