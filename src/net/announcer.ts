// Announcing held VIPs on the wire, watching the wire for anyone else claiming them, and fencing
// before a takeover (DESIGN.md sections 2 and 3). It owns no addresses: it only sends and reads
// frames through one long-lived packet socket per interface.
import {
  arpProbe,
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
  /** Rounds sent on takeover, one at once and the rest `burstIntervalMs` apart. */
  readonly burstCount: number;
  readonly burstIntervalMs: number;
  readonly refreshMs: number;
  readonly fenceProbes: number;
  readonly fenceIntervalMs: number;
  /**
   * Whether the VIP is still on its interface. Later rounds are sent only while it is: an agent
   * resumed after a freeze longer than the address lifetime must not announce a VIP that expired
   * and may have moved to another node since.
   */
  readonly stillInstalled: (vip: AnnouncedVip) => boolean;
  readonly onForeignClaim: (ip: string, mac: string) => void;
  readonly onSent: (kind: "garp" | "na") => void;
  readonly onError: (message: string) => void;
}

interface Held {
  readonly vip: AnnouncedVip;
  readonly timers: NodeJS.Timeout[];
}

interface FenceWaiter {
  readonly ips: ReadonlySet<string>;
  readonly ownMac: string;
  readonly answered: (mac: string) => void;
}

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
  readonly #held = new Map<string, Held>();
  readonly #fences = new Set<FenceWaiter>();

  constructor(options: AnnouncerOptions) {
    this.#options = options;
  }

  /** Starts announcing: a round at once, the rest of the burst, then a refresh for as long as held. */
  start(vip: AnnouncedVip): void {
    this.stop(vip.ip);
    const { burstCount, burstIntervalMs, refreshMs } = this.#options;
    const timers: NodeJS.Timeout[] = [];
    this.#held.set(vip.ip, { vip, timers });
    this.#round(vip);
    for (let round = 1; round < burstCount; round++) {
      timers.push(
        setTimeout(() => {
          this.#laterRound(vip);
        }, round * burstIntervalMs),
      );
    }
    timers.push(
      setInterval(() => {
        this.#laterRound(vip);
      }, refreshMs),
    );
  }

  stop(ip: string): void {
    const held = this.#held.get(ip);
    if (held === undefined) return;
    for (const timer of held.timers) clearTimeout(timer);
    this.#held.delete(ip);
  }

  /**
   * Rule 2's wire fence: probes for the VIPs (RFC 5227 ARP probes, DAD-style solicitations) and
   * reports the first MAC that answers for any of them, or quiet after the last probe's interval.
   */
  async fence(options: {
    readonly vips: readonly AnnouncedVip[];
  }): Promise<{ quiet: true } | { quiet: false; answeredBy: string }> {
    const [first] = options.vips;
    if (first === undefined) return { quiet: true };
    let answeredBy: string | undefined;
    const waiter: FenceWaiter = {
      ips: new Set(options.vips.map((vip) => vip.ip)),
      ownMac: first.mac,
      answered: (mac) => {
        answeredBy ??= mac;
      },
    };
    this.#fences.add(waiter);
    try {
      for (let probe = 0; probe < this.#options.fenceProbes && answeredBy === undefined; probe++) {
        for (const vip of options.vips) {
          const frame =
            vip.family === 4
              ? arpProbe({ mac: vip.mac, ip: vip.ip })
              : duplicateAddressProbe({ mac: vip.mac, ip: vip.ip });
          this.#send(vip.ifindex, frame);
        }
        await new Promise((resolve) => setTimeout(resolve, this.#options.fenceIntervalMs));
      }
    } finally {
      this.#fences.delete(waiter);
    }
    return answeredBy === undefined ? { quiet: true } : { quiet: false, answeredBy };
  }

  close(): void {
    for (const ip of [...this.#held.keys()]) this.stop(ip);
    for (const channel of this.#channels.values()) channel.close();
    this.#channels.clear();
  }

  #laterRound(vip: AnnouncedVip): void {
    if (this.#options.stillInstalled(vip)) this.#round(vip);
  }

  #round(vip: AnnouncedVip): void {
    // Each ARP round carries both forms: some hosts update their caches only from requests,
    // others only from replies.
    if (vip.family === 4) {
      this.#send(vip.ifindex, gratuitousArpRequest({ mac: vip.mac, ip: vip.ip }));
      this.#send(vip.ifindex, gratuitousArpReply({ mac: vip.mac, ip: vip.ip }));
      this.#options.onSent("garp");
    } else {
      this.#send(vip.ifindex, unsolicitedNeighbourAdvertisement({ mac: vip.mac, ip: vip.ip }));
      this.#options.onSent("na");
    }
  }

  #send(ifindex: number, frame: Uint8Array): void {
    try {
      this.#channel(ifindex).send(frame);
    } catch (error) {
      this.#options.onError(`sending on interface ${ifindex}: ${(error as Error).message}`);
    }
  }

  #channel(ifindex: number): FrameChannel {
    let channel = this.#channels.get(ifindex);
    if (channel === undefined) {
      channel = this.#options.openChannel(ifindex);
      channel.receive({
        onFrame: (frame, details) => {
          if (!details.outgoing) this.#heard(frame);
        },
        onError: (error) => {
          this.#options.onError(`receiving on interface ${ifindex}: ${error.message}`);
        },
      });
      this.#channels.set(ifindex, channel);
    }
    return channel;
  }

  #heard(frame: Buffer): void {
    const claim = claimIn(frame);
    if (claim === undefined) return;
    for (const waiter of this.#fences) {
      if (waiter.ips.has(claim.ip) && claim.mac !== waiter.ownMac) waiter.answered(claim.mac);
    }
    const held = this.#held.get(claim.ip);
    if (held !== undefined && claim.mac !== held.vip.mac) this.#options.onForeignClaim(claim.ip, claim.mac);
  }
}
