// vipd's BGP settings: what BIRD is told to do (bird-config.ts renders them). vipd never speaks BGP
// itself; it puts host routes into one kernel table and BIRD announces what it learns there. Every
// value that ends up in bird.conf is checked here, so the renderer only ever sees text that cannot
// break out of its place in the file.
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { HOST_ROUTE_DEFAULTS, routeProtocolProblem, routeTableProblem } from "./kernel-host-routes.ts";

// The kernel table and route protocol vipd's host routes carry (numbers above 245 are free in
// iproute2's rt_protos; 248 names no other daemon).

const UINT32_MAX = 4294967295;
const UINT16_MAX = 65535;

const asn = z
  .number({ error: "must be a number" })
  .int({ error: "must be a whole number" })
  .min(1, { error: "must be an AS number from 1 to 4294967295" })
  .max(UINT32_MAX, { error: "must be an AS number from 1 to 4294967295" });

const seconds = (min: number, max: number) =>
  z
    .number()
    .int({ error: "must be whole seconds" })
    .min(min, { error: `must be at least ${min} s` })
    .max(max, { error: `must be at most ${max} s` });

// Canonical text (ipaddr's), so that two spellings of one peer are recognised as the same peer.
const ipAddress = z.string().transform((text, context) => {
  // Not ipaddr.isValid, which also takes "10" or "0x0a000001" for an IPv4 address.
  if (!ipaddr.IPv4.isValidFourPartDecimal(text) && !ipaddr.IPv6.isValid(text)) {
    context.addIssue({ code: "custom", message: `"${text}" is not an IP address` });
    return z.NEVER;
  }
  return ipaddr.parse(text).toString();
});

const routerId = z.string().refine((text) => ipaddr.IPv4.isValidFourPartDecimal(text), {
  error: (issue) => `${JSON.stringify(issue.input)} is not a router ID (an IPv4 address, a.b.c.d)`,
});

// BIRD's lexer takes a string as everything between two double quotes on one line, with no escapes,
// so a quote or a line break cannot be written at all; Linux's TCP-MD5 key is at most 80 bytes.
// eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
export const BIRD_UNQUOTABLE = /["\u0000-\u001f\u007f]/;
const TCP_MD5_MAX_KEY_BYTES = 80;
const password = z
  .string()
  .min(1, { error: "must not be empty (leave it out for no password)" })
  .refine((text) => !BIRD_UNQUOTABLE.test(text), {
    error: "must not contain a double quote or a control character (BIRD cannot quote them)",
  })
  .refine((text) => Buffer.byteLength(text) <= TCP_MD5_MAX_KEY_BYTES, {
    error: `must be at most ${TCP_MD5_MAX_KEY_BYTES} bytes (the kernel's TCP-MD5 key limit)`,
  });

const ttl = "must be true, false or a TTL from 1 to 255";

const peer = z.object({
  address: ipAddress,
  asn,
  password: password.optional(),
  // true: multihop with BIRD's default TTL (64); a number: that TTL. kube-vip has only the boolean.
  multihop: z
    .union([z.boolean(), z.number().int().min(1, { error: ttl }).max(255, { error: ttl })])
    .optional(),
  port: z.number().int().min(1).max(UINT16_MAX).optional(),
  // Per peer, so one router without BFD does not stop BFD for the others; on when BFD is enabled.
  bfd: z.boolean().optional(),
});

// "65000:100" (RFC 1997, two 16-bit halves) or "1:2:3" (RFC 8092, three 32-bit parts).
function communityProblem(text: string): string | undefined {
  const parts = text.split(":");
  const max = parts.length === 2 ? UINT16_MAX : parts.length === 3 ? UINT32_MAX : -1;
  if (max < 0 || !parts.every((part) => /^\d{1,10}$/.test(part) && Number(part) <= max))
    return `"${text}" is not a community; use a:b (each 0–65535) or a large community a:b:c (each 0–4294967295)`;
  return undefined;
}

const community = z.string().transform((text, context) => {
  const problem = communityProblem(text);
  if (problem !== undefined) {
    context.addIssue({ code: "custom", message: problem });
    return z.NEVER;
  }
  return text.split(":").map(Number).join(":");
});

// Canonical network form; a CIDR with host bits set is refused, as in the agent's own settings.
const prefix = z.string().transform((text, context) => {
  if (!ipaddr.isValidCIDR(text)) {
    context.addIssue({ code: "custom", message: `"${text}" is not a CIDR` });
    return z.NEVER;
  }
  const [address, length] = ipaddr.parseCIDR(text);
  const network =
    address.kind() === "ipv4"
      ? ipaddr.IPv4.networkAddressFromCIDR(text)
      : ipaddr.IPv6.networkAddressFromCIDR(text);
  if (network.toString() !== address.toString()) {
    context.addIssue({
      code: "custom",
      message: `${text} has host bits set; the network is ${network.toString()}/${length}`,
    });
    return z.NEVER;
  }
  return `${network.toString()}/${length}`;
});

// One address range's BGP attributes (from a VIPPool): routes inside any of its prefixes carry them.
const policy = z.object({
  prefixes: z.array(prefix).min(1, { error: "must name at least one prefix" }),
  communities: z.array(community).default([]),
  localPreference: z.number().int().min(0).max(UINT32_MAX).optional(),
});

// A kernel table or route protocol number, refused with the routes' own sentence.
const kernelNumber = (problemOf: (value: number) => string | null, fallback: number) =>
  z
    .number()
    .check(
      z.refine((value) => problemOf(value) === null, {
        error: (issue) => problemOf(issue.input as number) ?? "",
      }),
    )
    .default(fallback);

// The fields, apart from the checks across them (bgpSettingsRules), so that the agent's flags can be
// read with the same field checks while the node still has to supply some of them (config/bgp-config.ts).
export const bgpSettingsFields = {
  localAsn: asn,
  routerId,
  peers: z.array(peer).min(1, { error: "must name at least one peer" }),
  // Used for the peers of its own family only (BIRD refuses a source of the other family).
  sourceAddress: ipAddress.optional(),
  holdTime: seconds(3, UINT16_MAX).default(90),
  keepaliveTime: seconds(1, UINT16_MAX).default(30),
  bfd: z
    .object({
      enabled: z.boolean(),
      intervalMs: z.number().int().min(10).max(60000).default(300),
      multiplier: z.number().int().min(1).max(255).default(3),
    })
    .default({ enabled: false, intervalMs: 300, multiplier: 3 }),
  gracefulRestart: z
    .object({ enabled: z.boolean(), restartTime: seconds(1, 4095).default(120) })
    // Off unless asked for: a peer keeps a gracefully restarting node's routes for restartTime,
    // and that node may be one that died, whose addresses have moved on.
    .default({ enabled: false, restartTime: 120 }),
  // The same checks as the routes' own, so that BIRD never learns a table vipd would not write.
  routeTable: kernelNumber(routeTableProblem, HOST_ROUTE_DEFAULTS.table),
  routeProtocol: kernelNumber(routeProtocolProblem, HOST_ROUTE_DEFAULTS.protocol),
  policies: z.array(policy).default([]),
};

/** The checks across fields, for any schema built from bgpSettingsFields. */
export function bgpSettingsRules(
  settings: {
    readonly peers: readonly { readonly address: string }[];
    readonly keepaliveTime: number;
    readonly holdTime: number;
  },
  context: z.RefinementCtx,
): void {
  const seen = new Set<string>();
  settings.peers.forEach((candidate, index) => {
    if (seen.has(candidate.address))
      context.addIssue({
        code: "custom",
        path: ["peers", index, "address"],
        message: `${candidate.address} is named twice`,
      });
    seen.add(candidate.address);
  });
  // A session whose keepalives come no more often than its hold time drops between two of them.
  if (settings.keepaliveTime >= settings.holdTime)
    context.addIssue({ code: "custom", path: ["keepaliveTime"], message: "must be shorter than holdTime" });
}

export const bgpSettingsSchema = z.object(bgpSettingsFields).superRefine(bgpSettingsRules);

/** One policy alone, so that a pool's attributes can be checked, and refused, by themselves. */
export const routePolicySchema = policy;

export type BgpSettings = Readonly<z.output<typeof bgpSettingsSchema>>;
export type BgpPeer = BgpSettings["peers"][number];
export type RoutePolicy = BgpSettings["policies"][number];
