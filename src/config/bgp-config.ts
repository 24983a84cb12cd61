// The `bgp` section of the agent's configuration: the --bgp-* and --bird-* flags, read once at
// start-up into one typed object. The BGP values are checked by the same schema that later checks
// what BIRD is told (bgpSettingsSchema), so a value BIRD's config would refuse stops the agent at
// start-up with the flag's name. What only the node can say is left undefined here: the local ASN
// and the peers may come from the node's kube-vip annotations (--bgp-peer-annotations), and the
// router ID, unless set, is the node's first IPv4 address (its Node's status.addresses); the
// speaker (src/routing/bgp-speaker.ts) fills them in.
import { z } from "zod";
import { isRouted, type AnnouncementMode } from "../routing/announcement-mode.ts";
import { bgpSettingsFields, bgpSettingsRules, type BgpPeer } from "../routing/bgp-settings.ts";
import type { KubeVipPeer } from "../routing/kube-vip-peers.ts";

export const BGP_SPEAKERS = ["bird", "external"] as const;
export type BgpSpeaker = (typeof BGP_SPEAKERS)[number];

export interface BgpConfig {
  /** bird: vipd writes BIRD's config and applies it; external: another daemon exports the routes. */
  readonly speaker: BgpSpeaker;
  /** BIRD's control socket (--bird-socket). */
  readonly birdSocket: string;
  /** The file BIRD runs with, which vipd replaces (--bird-config). */
  readonly birdConfig: string;
  /** kube-vip's per-node annotations prefix (--bgp-peer-annotations); undefined: off. */
  readonly peerAnnotations: string | undefined;
  /** vipd's kernel table and route protocol (also settings.routeTable/routeProtocol), for KernelHostRoutes. */
  readonly routeTable: number;
  readonly routeProtocol: number;
  readonly settings: FlagBgpSettings;
}

/** The flags' values as the run schema reads them (text parsed to numbers, durations to ms). */
export interface BgpFlags {
  readonly announceMode: AnnouncementMode;
  readonly bgpSpeaker: BgpSpeaker;
  readonly birdSocket: string;
  readonly birdConfig: string;
  readonly bgpPeerAnnotations?: string | undefined;
  readonly bgpLocalAsn?: number | undefined;
  readonly bgpRouterId?: string | undefined;
  readonly bgpPeers?: readonly KubeVipPeer[] | undefined;
  readonly bgpSourceAddress?: string | undefined;
  readonly bgpHoldTime: number;
  readonly bgpKeepaliveTime: number;
  readonly bgpBfd: boolean;
  readonly bgpBfdInterval: number;
  readonly bgpBfdMultiplier: number;
  readonly bgpGracefulRestart: boolean;
  readonly bgpRestartTime: number;
  readonly bgpRouteTable: number;
  readonly bgpRouteProtocol: number;
}

export type BgpFlagKey = keyof BgpFlags;

export type ProblemSink = (key: BgpFlagKey, message: string) => void;

// bgpSettingsSchema with the values the node may give optional: its checks, field and cross-field
// (keepalive below hold time, no peer twice), are the ones the speaker's final settings pass.
const flagSettingsSchema = z
  .object({
    ...bgpSettingsFields,
    localAsn: bgpSettingsFields.localAsn.optional(),
    routerId: bgpSettingsFields.routerId.optional(),
    peers: z.array(bgpSettingsFields.peers.element),
  })
  .superRefine(bgpSettingsRules);

/** The BGP settings the flags give: bgpSettingsSchema's, where what the node may give is optional. */
export type FlagBgpSettings = Readonly<Omit<z.output<typeof flagSettingsSchema>, "policies">>;

// Where each settings field comes from, so that the schema's problems name the flag.
const FLAG_OF_FIELD: Readonly<Record<string, BgpFlagKey>> = {
  localAsn: "bgpLocalAsn",
  routerId: "bgpRouterId",
  peers: "bgpPeers",
  sourceAddress: "bgpSourceAddress",
  holdTime: "bgpHoldTime",
  keepaliveTime: "bgpKeepaliveTime",
  bfd: "bgpBfd",
  gracefulRestart: "bgpRestartTime",
  routeTable: "bgpRouteTable",
  routeProtocol: "bgpRouteProtocol",
};

const FLAG_OF_NESTED: Readonly<Record<string, BgpFlagKey>> = {
  "bfd.intervalMs": "bgpBfdInterval",
  "bfd.multiplier": "bgpBfdMultiplier",
  "gracefulRestart.restartTime": "bgpRestartTime",
};

function flagOf(path: readonly PropertyKey[]): BgpFlagKey {
  const [field = "", second] = path.map(String);
  return FLAG_OF_NESTED[`${field}.${second ?? ""}`] ?? FLAG_OF_FIELD[field] ?? "bgpPeers";
}

// kube-vip sets BFD per peer, timers included; BIRD (and vipd) has one set of timers for all peers,
// so a peer's own timers must be the flags' ones rather than silently replaced by them.
function timerProblem(peer: KubeVipPeer, flags: BgpFlags): string | undefined {
  const timers = peer.bfdTimers;
  if (peer.bfd !== true || timers === undefined) return undefined;
  if (
    timers.receiveIntervalMs === flags.bgpBfdInterval &&
    timers.transmitIntervalMs === flags.bgpBfdInterval &&
    timers.multiplier === flags.bgpBfdMultiplier
  )
    return undefined;
  return `peer ${peer.address} sets BFD timers ${timers.receiveIntervalMs};${timers.transmitIntervalMs};${timers.multiplier}, and vipd uses one set for every peer: --bgp-bfd-interval ${flags.bgpBfdInterval}ms, --bgp-bfd-multiplier ${flags.bgpBfdMultiplier}; make them agree`;
}

/** The bgp section, or undefined after reporting its problems. */
export function bgpConfigOf(flags: BgpFlags, problem: ProblemSink): BgpConfig | undefined {
  const kubeVipPeers = flags.bgpPeers ?? [];
  const problems: [BgpFlagKey, string][] = [];
  const report: ProblemSink = (key, message) => {
    problems.push([key, message]);
  };
  for (const peer of kubeVipPeers) {
    const timers = timerProblem(peer, flags);
    if (timers !== undefined) report("bgpPeers", timers);
  }
  // A peer that asks for BFD gets it even when --bgp-bfd is off, as it did under kube-vip; the
  // others then keep theirs off, as they had it.
  const peerBfd = !flags.bgpBfd && kubeVipPeers.some((peer) => peer.bfd === true);
  const peers = kubeVipPeers.map((peer): BgpPeer => ({
    address: peer.address,
    asn: peer.asn,
    ...(peer.password === undefined ? {} : { password: peer.password }),
    ...(peer.multihop === undefined ? {} : { multihop: peer.multihop }),
    ...(peer.port === undefined ? {} : { port: peer.port }),
    ...(peer.bfd === undefined ? (peerBfd ? { bfd: false } : {}) : { bfd: peer.bfd }),
  }));
  const parsed = flagSettingsSchema.safeParse({
    localAsn: flags.bgpLocalAsn,
    routerId: flags.bgpRouterId,
    peers,
    sourceAddress: flags.bgpSourceAddress,
    holdTime: flags.bgpHoldTime / 1000,
    keepaliveTime: flags.bgpKeepaliveTime / 1000,
    bfd: {
      enabled: flags.bgpBfd || peerBfd,
      intervalMs: flags.bgpBfdInterval,
      multiplier: flags.bgpBfdMultiplier,
    },
    gracefulRestart: { enabled: flags.bgpGracefulRestart, restartTime: flags.bgpRestartTime / 1000 },
    routeTable: flags.bgpRouteTable,
    routeProtocol: flags.bgpRouteProtocol,
  });
  for (const issue of parsed.error?.issues ?? []) {
    const [field, index] = issue.path;
    const which = field === "peers" && typeof index === "number" ? `peer ${index + 1}: ` : "";
    report(flagOf(issue.path), which + issue.message);
  }

  const annotations = flags.bgpPeerAnnotations;
  const localAsn = flags.bgpLocalAsn !== undefined;
  const named = flags.bgpPeers !== undefined;
  // Without the node's annotations, the flags must name both or neither.
  if (annotations === undefined && localAsn && !named) report("bgpPeers", "is required with --bgp-local-asn");
  if (annotations === undefined && named && !localAsn) report("bgpLocalAsn", "is required with --bgp-peers");
  if (
    flags.bgpSpeaker === "bird" &&
    isRouted(flags.announceMode) &&
    annotations === undefined &&
    !localAsn &&
    !named
  )
    report(
      "announceMode",
      `${flags.announceMode} needs BGP settings: --bgp-local-asn and --bgp-peers (or --bgp-peer-annotations), or --bgp-speaker external when another routing daemon exports vipd's routes`,
    );
  for (const [key, message] of problems) problem(key, message);
  if (problems.length > 0 || !parsed.success) return undefined;
  const settings: FlagBgpSettings = parsed.data;
  return {
    speaker: flags.bgpSpeaker,
    birdSocket: flags.birdSocket,
    birdConfig: flags.birdConfig,
    peerAnnotations: annotations,
    routeTable: settings.routeTable,
    routeProtocol: settings.routeProtocol,
    settings,
  };
}
