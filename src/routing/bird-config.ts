// The whole bird.conf that vipd runs BIRD 2 with, rendered from its BGP settings. BIRD learns vipd's
// host routes from one kernel table (kernel protocols with `learn`, importing only the routes of
// vipd's route protocol) and announces them to the peers; it never writes into the kernel. A route
// coming or going is then only a kernel route change, never a reconfiguration.
//
// Families: an IPv4 peer carries the ipv4 channel and an IPv6 peer the ipv6 one. Carrying both over
// one session would need extended next hop (RFC 8950) on both ends, which routers disagree about;
// a dual-stack setup names one peer per family instead.
import ipaddr from "ipaddr.js";
import { BIRD_UNQUOTABLE, type BgpPeer, type BgpSettings, type RoutePolicy } from "./bgp-settings.ts";

type Family = 4 | 6;

const FAMILIES: readonly Family[] = [4, 6];

const kernelProtocol = (family: Family): string => `vipd_kernel${family}`;
const exportFilter = (family: Family): string => `vipd_export${family}`;

function familyOf(address: string): Family {
  return ipaddr.parse(address).kind() === "ipv4" ? 4 : 6;
}

// Settings are validated by bgpSettingsSchema; this is the last guard that nothing reaching the
// file as a string can end it early and add configuration of its own.
function quoted(text: string): string {
  if (BIRD_UNQUOTABLE.test(text))
    throw new Error("a double quote or control character cannot be written into bird.conf");
  return `"${text}"`;
}

function block(head: string, lines: readonly string[]): string[] {
  return [`${head} {`, ...lines.map((line) => `  ${line}`), "}"];
}

// A block inside a protocol's (a channel, a BFD interface) ends in `};` in BIRD; a filter's if does not.
function inner(head: string, lines: readonly string[]): string[] {
  return [...block(head, lines).slice(0, -1), "};"];
}

function kernel(settings: BgpSettings, family: Family): string[] {
  return [
    `# vipd's host routes: kernel table ${settings.routeTable}, route protocol ${settings.routeProtocol} only.`,
    ...block(`protocol kernel ${kernelProtocol(family)}`, [
      `kernel table ${settings.routeTable};`,
      "learn;",
      ...inner(`ipv${family}`, [`import where krt_source = ${settings.routeProtocol};`, "export none;"]),
    ]),
  ];
}

function bfd(settings: BgpSettings): string[] {
  const timers = [`interval ${settings.bfd.intervalMs} ms;`, `multiplier ${settings.bfd.multiplier};`];
  return block("protocol bfd vipd_bfd", [...inner('interface "*"', timers), ...inner("multihop", timers)]);
}

function communityAdd(community: string): string {
  const parts = community.split(":");
  const attribute = parts.length === 3 ? "bgp_large_community" : "bgp_community";
  return `${attribute}.add((${parts.join(", ")}));`;
}

// Every policy whose prefixes hold the route adds its communities, in order; the local preference
// of the last such policy that sets one wins. BIRD sends local preference to iBGP peers only.
function policyRule(policy: RoutePolicy, family: Family): string[] {
  const prefixes = policy.prefixes.filter((cidr) => familyOf(cidr.split("/")[0] ?? "") === family);
  if (prefixes.length === 0) return [];
  const actions = [
    ...policy.communities.map(communityAdd),
    ...(policy.localPreference === undefined ? [] : [`bgp_local_pref = ${policy.localPreference};`]),
  ];
  if (actions.length === 0) return [];
  return block(`if net ~ [ ${prefixes.map((cidr) => `${cidr}+`).join(", ")} ] then`, actions);
}

function filter(settings: BgpSettings, family: Family): string[] {
  return block(`filter ${exportFilter(family)}`, [
    `if proto != ${quoted(kernelProtocol(family))} then reject;`,
    ...settings.policies.flatMap((policy) => policyRule(policy, family)),
    "accept;",
  ]);
}

function bgp(settings: BgpSettings, peer: BgpPeer, index: number): string[] {
  const family = familyOf(peer.address);
  const source =
    settings.sourceAddress !== undefined && familyOf(settings.sourceAddress) === family
      ? [`source address ${settings.sourceAddress};`]
      : [];
  const multihop =
    peer.multihop === true
      ? ["multihop;"]
      : typeof peer.multihop === "number"
        ? [`multihop ${peer.multihop};`]
        : [];
  const restart = settings.gracefulRestart.enabled
    ? ["graceful restart on;", `graceful restart time ${settings.gracefulRestart.restartTime};`]
    : ["graceful restart off;"];
  const channel = inner(`ipv${family}`, [
    "import none;",
    `export filter ${exportFilter(family)};`,
    "next hop self;",
  ]);
  return block(`protocol bgp vipd_peer${index + 1}`, [
    `description ${quoted(`${peer.address} AS${peer.asn}`)};`,
    `local as ${settings.localAsn};`,
    `neighbor ${peer.address} port ${peer.port ?? 179} as ${peer.asn};`,
    ...source,
    ...(peer.password === undefined ? [] : [`password ${quoted(peer.password)};`]),
    ...multihop,
    `hold time ${settings.holdTime};`,
    `keepalive time ${settings.keepaliveTime};`,
    // BIRD's own defaults (retry after 120 s, wait 60-300 s after an error) keep a node that comes
    // back from a link or BFD failure off its peers for minutes, while the election may already
    // make it a holder: a failover agent re-peers within seconds.
    "connect retry time 5;",
    "error wait time 1, 30;",
    ...restart,
    // With graceful restart, a BFD session going down (BIRD restarting) restarts BGP gracefully
    // instead of dropping the routes it was meant to keep.
    ...(settings.bfd.enabled && peer.bfd !== false
      ? [settings.gracefulRestart.enabled ? "bfd graceful;" : "bfd on;"]
      : []),
    ...channel,
  ]);
}

export function renderBirdConfig(settings: BgpSettings): string {
  const families = FAMILIES.filter((family) =>
    settings.peers.some((peer) => familyOf(peer.address) === family),
  );
  const sections: string[][] = [
    [
      "# Written by vipd from its BGP settings; vipd replaces this file, so change its settings instead.",
      `router id ${settings.routerId};`,
      // A container has no syslog: BIRD's log goes where `kubectl logs -c bird` reads it.
      "log stderr all;",
    ],
    // The device protocol tells BIRD which interfaces exist; kernel routes on unknown ones are dropped.
    block("protocol device", []),
    ...FAMILIES.map((family) => kernel(settings, family)),
    ...(settings.bfd.enabled ? [bfd(settings)] : []),
    ...families.map((family) => filter(settings, family)),
    ...settings.peers.map((peer, index) => bgp(settings, peer, index)),
  ];
  return `${sections.map((lines) => lines.join("\n")).join("\n\n")}\n`;
}
