// The one typed, validated configuration of `vipd run`. Every value arrives as text (a flag or its
// VIPD_* twin) and is parsed here, so the rest of the agent only ever sees checked, typed values.
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { canonicalAddress, type Vip } from "../agent/service-intent.ts";
import { ADDRESS_MARKINGS } from "../net/address-marking.ts";
import { INTERFACE_NAME_PATTERN } from "../net/interface-name.ts";
import { ANNOUNCEMENT_MODES } from "../routing/announcement-mode.ts";
import { parseKubeVipPeers, type KubeVipPeer } from "../routing/kube-vip-peers.ts";
import { BGP_SPEAKERS, bgpConfigOf, type BgpConfig } from "./bgp-config.ts";
import { parseDuration } from "./duration.ts";

// R must exceed this × P. A renewal starts P after the last one started and keeps the node confirmed
// only if it succeeds within R of that start, so R − P is all the time it has (its timeout, see
// renewalTimeout in heartbeat.ts); the factor keeps that at a fifth of P or more. The number is
// client-go's leaderelection JitterFactor, where it covers jittered retries; vipd does not jitter.
export const RENEW_DEADLINE_FACTOR = 1.2;

// Linux ignores a second ARP update for the same neighbour within `locktime` (1 s by default), so
// announcements closer together than this would be dropped by the very hosts they are meant for.
export const MIN_ANNOUNCE_INTERVAL_MS = 1100;

const duration = z.string().transform((text, context) => {
  try {
    return parseDuration(text);
  } catch (error) {
    context.addIssue({ code: "custom", message: (error as Error).message });
    return z.NEVER;
  }
});

const positiveDuration = duration.pipe(z.number().positive({ error: "must be longer than 0" }));

const count = z
  .string()
  .regex(/^\d+$/, { error: "must be a whole number" })
  .transform(Number)
  .pipe(z.number().int().min(1, { error: "must be at least 1" }));

const onOff = z
  .enum(["true", "false"], { error: 'must be "true" or "false"' })
  .transform((v) => v === "true");

const interfaceName = z
  .string()
  .regex(INTERFACE_NAME_PATTERN, { error: "must be an interface name (1–15 characters) or auto" });

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

const listenAddress = z.string().transform((text, context): ListenAddress => {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2] ?? "";
  const port = Number(match?.[3]);
  if (match === null || port > 65535 || (host !== "" && !ipaddr.isValid(host))) {
    context.addIssue({
      code: "custom",
      message: `"${text}" is not an address to listen on; use host:port, [ipv6]:port or :port`,
    });
    return z.NEVER;
  }
  return { host: host === "" ? "0.0.0.0" : host, port };
});

// The same rule as for a Service's addresses: one per family, so a dual-stack API server has two.
const vipList = z.string().transform((text, context): readonly Vip[] => {
  const vips: Vip[] = [];
  for (const entry of text.split(",").map((part) => part.trim())) {
    const reading = canonicalAddress(entry);
    if (!reading.ok) context.addIssue({ code: "custom", message: reading.problem });
    else if (vips.some((other) => other.family === reading.vip.family))
      context.addIssue({
        code: "custom",
        message: `more than one IPv${reading.vip.family} address (${reading.vip.address})`,
      });
    else vips.push(reading.vip);
  }
  return vips;
});

// Written in canonical network form, so that a CIDR with host bits set (a typo for a different
// network more often than not) is refused rather than silently widened or narrowed.
const cidrList = z.string().transform((text, context): readonly string[] => {
  const cidrs: string[] = [];
  for (const entry of text.split(",").map((part) => part.trim())) {
    if (entry === "") continue;
    if (!ipaddr.isValidCIDR(entry)) {
      context.addIssue({ code: "custom", message: `"${entry}" is not a CIDR` });
      continue;
    }
    const [address, prefixLength] = ipaddr.parseCIDR(entry);
    const network = ipaddr.IPv4.isValid(address.toString())
      ? ipaddr.IPv4.networkAddressFromCIDR(entry)
      : ipaddr.IPv6.networkAddressFromCIDR(entry);
    const canonical = `${network.toString()}/${prefixLength}`;
    if (network.toString() !== address.toString())
      context.addIssue({
        code: "custom",
        message: `${entry} has host bits set; the network is ${canonical}`,
      });
    else cidrs.push(canonical);
  }
  return cidrs;
});

// Any whole number: the BGP schema (bgp-settings.ts) says which ones are allowed where.
const wholeNumber = z.string().regex(/^\d+$/, { error: "must be a whole number" }).transform(Number);

// kube-vip's bgp_peers syntax, so a kube-vip BGP user can keep the value.
const kubeVipPeers = z.string().transform((text, context): readonly KubeVipPeer[] => {
  const reading = parseKubeVipPeers(text.trim());
  if (reading.ok) return reading.peers;
  context.addIssue({ code: "custom", message: reading.problem });
  return z.NEVER;
});

const absolutePath = z.string().regex(/^\//, { error: "must be an absolute path" });

const healthUrl = z.string().transform((text, context): URL => {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (url === undefined || (url.protocol !== "https:" && url.protocol !== "http:")) {
    context.addIssue({ code: "custom", message: `"${text}" is not an http(s) URL` });
    return z.NEVER;
  }
  return url;
});

// Exported for commands that take some of the agent's settings as they are (vipd explain).
export const runConfigShape = {
  nodeName: z
    .string({ error: "is required (set it from the downward API: spec.nodeName)" })
    .regex(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { error: "must be a Kubernetes node name" }),
  namespace: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { error: "must be a Kubernetes namespace name" }),
  kubeconfig: z.string().min(1).optional(),
  interface: interfaceName.optional(),
  allowOffSubnetVips: onOff,
  loadBalancerClass: z.string().min(1),
  classOnly: onOff,
  controlPlane: onOff,
  vip: vipList.optional(),
  healthUrl,
  healthPeriod: positiveDuration,
  healthFailureThreshold: count,
  leaseDuration: positiveDuration,
  renewDeadline: positiveDuration,
  retryPeriod: positiveDuration,
  claimStep: positiveDuration,
  cordonHandsOver: onOff,
  addressLifetime: positiveDuration,
  addressMarking: z.enum(ADDRESS_MARKINGS),
  announceMode: z.enum(ANNOUNCEMENT_MODES),
  bgpSpeaker: z.enum(BGP_SPEAKERS),
  bgpLocalAsn: wholeNumber.optional(),
  bgpRouterId: z.string().optional(),
  bgpPeers: kubeVipPeers.optional(),
  bgpSourceAddress: z.string().optional(),
  bgpHoldTime: positiveDuration,
  bgpKeepaliveTime: positiveDuration,
  bgpBfd: onOff,
  bgpBfdInterval: positiveDuration,
  bgpBfdMultiplier: count,
  bgpGracefulRestart: onOff,
  bgpRestartTime: positiveDuration,
  bgpRouteTable: wholeNumber,
  bgpRouteProtocol: wholeNumber,
  // Empty is off, so that a manifest can always carry the variable.
  bgpPeerAnnotations: z
    .string()
    .optional()
    .transform((text) => (text === undefined || text.trim() === "" ? undefined : text.trim())),
  birdSocket: absolutePath,
  birdConfig: absolutePath,
  stateDir: absolutePath,
  announceCount: count,
  announceInterval: duration.pipe(
    z.number().min(MIN_ANNOUNCE_INTERVAL_MS, {
      error: `must be at least ${MIN_ANNOUNCE_INTERVAL_MS}ms (Linux ARP locktime)`,
    }),
  ),
  announceRefresh: positiveDuration,
  fenceProbes: count,
  fenceInterval: positiveDuration,
  firstClaimFenceInterval: positiveDuration,
  externalIpCidrs: cidrList.default([]),
  poolAddressesOnly: onOff,
  allocationCooldown: duration,
  resyncPeriod: positiveDuration,
  syncTimeout: positiveDuration,
  kubeApiQps: z
    .string()
    .regex(/^\d+(\.\d+)?$/, { error: "must be a number" })
    .transform(Number)
    .pipe(z.number().positive({ error: "must be more than 0" })),
  kubeApiBurst: count,
  metricsAddr: listenAddress,
  logLevel: z.enum(["error", "warn", "info", "debug"]),
  logFormat: z.enum(["json", "text"]),
};

function checkTimings(config: z.output<z.ZodObject<typeof runConfigShape>>, context: z.RefinementCtx): void {
  const problem = (key: keyof typeof runConfigShape, message: string): void => {
    context.addIssue({ code: "custom", path: [key], message });
  };
  if (config.leaseDuration <= config.renewDeadline) {
    problem("leaseDuration", "must be longer than --renew-deadline");
  }
  if (config.renewDeadline <= RENEW_DEADLINE_FACTOR * config.retryPeriod) {
    problem("renewDeadline", `must be longer than ${RENEW_DEADLINE_FACTOR} × --retry-period`);
  }
  // The holder refreshes the VIP's valid lifetime every lifetime / 3 (native-data-plane.ts), so a
  // live holder's address survives two missed refreshes at any lifetime; this floor keeps that
  // refresh, a netlink write per VIP, no more frequent than the heartbeat's once per P.
  if (config.addressLifetime < 3 * config.retryPeriod) {
    problem("addressLifetime", "must be at least 3 × --retry-period");
  }
  // Services mode takes its VIPs from Services; a --vip there would be silently ignored.
  if (config.controlPlane && config.vip === undefined) problem("vip", "is required with --control-plane");
  if (!config.controlPlane && config.vip !== undefined) problem("vip", "is only used with --control-plane");
}

// The flags of the bgp section, which the config object carries as one typed `bgp` value instead.
const BGP_KEYS = [
  "bgpSpeaker",
  "bgpLocalAsn",
  "bgpRouterId",
  "bgpPeers",
  "bgpSourceAddress",
  "bgpHoldTime",
  "bgpKeepaliveTime",
  "bgpBfd",
  "bgpBfdInterval",
  "bgpBfdMultiplier",
  "bgpGracefulRestart",
  "bgpRestartTime",
  "bgpRouteTable",
  "bgpRouteProtocol",
  "bgpPeerAnnotations",
  "birdSocket",
  "birdConfig",
] as const satisfies readonly (keyof typeof runConfigShape)[];

type BgpKey = (typeof BGP_KEYS)[number];
type FlatConfig = z.output<typeof flatSchema>;

const flatSchema = z.object(runConfigShape).superRefine(checkTimings);

export const runConfigSchema = flatSchema.transform((flat, context) => {
  const bgp = bgpConfigOf(flat, (key, message) => {
    context.addIssue({ code: "custom", path: [key], message });
  });
  if (bgp === undefined) return z.NEVER;
  const rest = Object.fromEntries(
    Object.entries(flat).filter(([key]) => !(BGP_KEYS as readonly string[]).includes(key)),
  ) as Omit<FlatConfig, BgpKey>;
  return { ...rest, bgp: bgp satisfies BgpConfig };
});

export type RunConfig = Readonly<z.output<typeof runConfigSchema>>;
export type RunConfigKey = keyof typeof runConfigShape;
