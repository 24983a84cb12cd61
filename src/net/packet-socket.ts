// A long-lived AF_PACKET socket on one interface: sends whole Ethernet frames and receives only ARP
// and IPv6 neighbour advertisements (a kernel BPF filter drops everything else).
// Opening a socket per send costs about 12 ms; this one stays open.
import {
  loadNative,
  nativeCall,
  toSystemCallError,
  type NativePacketSocket,
  type SystemCallError,
} from "./native.ts";

/** Who a frame was for (PACKET_HOST, …), or "outgoing" for one this host sent. */
export type PacketType = "host" | "broadcast" | "multicast" | "otherhost" | "outgoing" | "loopback";
// PACKET_* in number order, up to the last one the kernel reports to packet sockets.
const PACKET_TYPES: readonly PacketType[] = [
  "host",
  "broadcast",
  "multicast",
  "otherhost",
  "outgoing",
  "loopback",
];

export interface FrameDetails {
  readonly ifindex: number;
  readonly pktType: PacketType;
  /** Sent by this host (the kernel's own replies, other sockets); never this socket's own frames. */
  readonly outgoing: boolean;
}

export interface FrameListeners {
  readonly onFrame: (frame: Buffer, details: FrameDetails) => void;
  /** A receive error, such as ENETDOWN when the interface goes away. The socket stays open. */
  readonly onError: (error: SystemCallError | Error) => void;
}

export class PacketSocket {
  readonly ifindex: number;
  readonly #native: NativePacketSocket;

  private constructor(options: { ifindex: number; native: NativePacketSocket }) {
    this.ifindex = options.ifindex;
    this.#native = options.native;
  }

  /** Needs CAP_NET_RAW. */
  static open(options: { readonly ifindex: number }): PacketSocket {
    const { PacketSocket: NativePacketSocketClass } = loadNative();
    const native = nativeCall(() => new NativePacketSocketClass(options.ifindex));
    return new PacketSocket({ ifindex: options.ifindex, native });
  }

  /** Sends a whole Ethernet frame; its destination MAC and EtherType address it. */
  send(frame: Uint8Array): void {
    nativeCall(() => {
      this.#native.send(frame);
    });
  }

  /**
   * Starts delivering received frames; once per socket. Until then frames wait in the socket's
   * buffer. While receiving, the socket keeps the process alive until closed.
   */
  receive(listeners: FrameListeners): void {
    nativeCall(() => {
      this.#native.start((error, frame, details) => {
        if (error !== null) {
          listeners.onError(toSystemCallError(error) as Error);
        } else if (frame !== undefined && details !== undefined) {
          // Any other number would be a frame addressed to someone else in a type Linux added later.
          const pktType = PACKET_TYPES[details.pktType] ?? "otherhost";
          listeners.onFrame(frame, { ifindex: details.ifindex, pktType, outgoing: pktType === "outgoing" });
        }
      });
    });
  }

  close(): void {
    this.#native.close();
  }
}
