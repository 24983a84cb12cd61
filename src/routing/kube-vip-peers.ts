// kube-vip's two ways of naming BGP peers, read so that a kube-vip BGP user can move to vipd with the
// same values: the bgp_peers setting (--bgppeers flag, bgp_peers environment variable) and the
// per-node annotations under its --annotations prefix (the Equinix Metal layout). What vipd cannot
// do the same way (unnumbered peers, MP-BGP next-hop options) is refused with a sentence rather
// than dropped, so nothing kube-vip announced differently goes unnoticed.
import ipaddr from "ipaddr.js";

export interface KubeVipPeer {
  readonly address: string;
  readonly asn: number;
  readonly password?: string;
  readonly multihop?: true;
  readonly port?: number;
  readonly bfd?: boolean;
  // kube-vip sets BFD timers per peer; vipd has one set for all of them, so the caller chooses.
  readonly bfdTimers?: {
    readonly receiveIntervalMs: number;
    readonly transmitIntervalMs: number;
    readonly multiplier: number;
  };
}

export type PeersReading =
  { readonly ok: true; readonly peers: KubeVipPeer[] } | { readonly ok: false; readonly problem: string };

export type AnnotationsReading =
  | {
      readonly ok: true;
      readonly localAsn: number;
      // kube-vip uses src-ip as both the router ID and the session's source address.
      readonly sourceAddress: string;
      readonly peers: KubeVipPeer[];
    }
  | { readonly ok: false; readonly problem: string };

class Refusal extends Error {}

// Go's strconv.ParseBool, which kube-vip's peer syntax uses.
function goBool(text: string, what: string): boolean {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  throw new Refusal(`${what} must be true or false, not "${text}"`);
}

function whole(text: string, what: string, min: number, max: number): number {
  const value = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= min && value <= max))
    throw new Refusal(`${what} must be a whole number from ${min} to ${max}, not "${text}"`);
  return value;
}

const asn = (text: string, what: string): number => whole(text, what, 1, 4294967295);

function address(text: string, entry: string): string {
  // ipaddr.isValid would also take "2001" (an IPv4 address in one number), the head of an
  // unbracketed IPv6 peer.
  if (!ipaddr.IPv4.isValidFourPartDecimal(text) && !ipaddr.IPv6.isValid(text))
    throw new Refusal(`"${text}" in "${entry}" is not an IP address (an IPv6 address goes in brackets)`);
  return ipaddr.parse(text).toString();
}

// <address>:<AS>[:<password>[:<multihop>[:<port>[:<mpbgp options>[:<BFD options>]]]]], an IPv6
// address in brackets; the fields after the AS may be empty.
function peer(entry: string): KubeVipPeer {
  if (entry.startsWith("unnumbered:"))
    throw new Refusal(`"${entry}" is an unnumbered peer; vipd needs the peer's address`);
  let host: string;
  let rest: string;
  if (entry.startsWith("[")) {
    const end = entry.indexOf("]");
    if (end < 0) throw new Refusal(`"${entry}" opens an IPv6 address with [ but never closes it with ]`);
    host = entry.slice(1, end);
    rest = entry.slice(end + 1);
    if (!rest.startsWith(":")) throw new Refusal(`"${entry}" needs :<AS> after the ]`);
    rest = rest.slice(1);
  } else {
    const colon = entry.indexOf(":");
    if (colon < 0) throw new Refusal(`"${entry}" needs at least <address>:<AS>`);
    host = entry.slice(0, colon);
    rest = entry.slice(colon + 1);
  }
  const [asText = "", password = "", multihop = "", port = "", mpbgp = "", bfd = "", ...extra] =
    rest.split(":");
  if (extra.length > 0) throw new Refusal(`"${entry}" has more than the 7 fields kube-vip knows`);
  if (mpbgp !== "")
    throw new Refusal(
      `"${entry}" sets MP-BGP options (${mpbgp}); vipd carries each family over a peer of that family, so name one peer per family instead`,
    );
  const parsed: {
    address: string;
    asn: number;
    password?: string;
    multihop?: true;
    port?: number;
    bfd?: boolean;
    bfdTimers?: KubeVipPeer["bfdTimers"];
  } = { address: address(host, entry), asn: asn(asText, `the AS in "${entry}"`) };
  if (password !== "") parsed.password = password;
  if (multihop !== "" && goBool(multihop, `multihop in "${entry}"`)) parsed.multihop = true;
  if (port !== "") parsed.port = whole(port, `the port in "${entry}"`, 1, 65535);
  if (bfd !== "") {
    const [enabled = "", receive = "", transmit = "", multiplier = ""] = bfd.split(";");
    if (bfd.split(";").length < 4)
      throw new Refusal(
        `the BFD options "${bfd}" in "${entry}" need enable;receive_interval;transmit_interval;detect_multiplier`,
      );
    const timer = (text: string, fallback: number, what: string): number =>
      text === "" ? fallback : whole(text, `the BFD ${what} in "${entry}"`, 1, 4294967295);
    parsed.bfd = goBool(enabled, `the BFD enable flag in "${entry}"`);
    parsed.bfdTimers = {
      receiveIntervalMs: timer(receive, 300, "receive interval"),
      transmitIntervalMs: timer(transmit, 300, "transmit interval"),
      multiplier: timer(multiplier, 3, "detect multiplier"),
    };
  }
  return parsed;
}

export function parseKubeVipPeers(text: string): PeersReading {
  const entries = text.split(",").filter((entry) => entry !== "");
  if (entries.length === 0) return { ok: false, problem: "no BGP peer is named" };
  try {
    return { ok: true, peers: entries.map(peer) };
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, problem: error.message };
    throw error;
  }
}

// kube-vip matches <prefix>/<name> and <prefix>/bgp-peers-0-<name> (only the peer-ip of any
// bgp-peers-<n>-). When both spellings are present the numbered one wins here; kube-vip's choice
// depends on Go's map order.
function annotation(
  annotations: Readonly<Record<string, string>>,
  prefix: string,
  name: string,
): string | undefined {
  return annotations[`${prefix}/bgp-peers-0-${name}`] ?? annotations[`${prefix}/${name}`];
}

function required(annotations: Readonly<Record<string, string>>, prefix: string, name: string): string {
  const value = annotation(annotations, prefix, name);
  if (value === undefined || value === "")
    throw new Refusal(`the node has no ${prefix}/bgp-peers-0-${name} (or ${prefix}/${name}) annotation`);
  return value;
}

const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function readAnnotations(annotations: Readonly<Record<string, string>>, prefix: string): AnnotationsReading {
  const localAsn = asn(required(annotations, prefix, "node-asn"), "node-asn");
  const source = required(annotations, prefix, "src-ip");
  const sourceAddress = address(source, `${prefix}/…src-ip`);
  const peerAsn = asn(required(annotations, prefix, "peer-asn"), "peer-asn");
  const addresses = Object.keys(annotations)
    .filter(
      (key) =>
        key.startsWith(`${prefix}/`) && /^(bgp-peers-\d+-)?peer-ip$/.test(key.slice(prefix.length + 1)),
    )
    .sort()
    .flatMap((key) => (annotations[key] ?? "").split(","))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (addresses.length === 0)
    throw new Refusal(`the node has no ${prefix}/bgp-peers-0-peer-ip (or ${prefix}/peer-ip) annotation`);
  const encoded = annotation(annotations, prefix, "bgp-pass");
  if (encoded !== undefined && encoded !== "" && !STRICT_BASE64.test(encoded))
    throw new Refusal("the bgp-pass annotation must be base64 (kube-vip decodes it)");
  const password =
    encoded === undefined || encoded === "" ? undefined : Buffer.from(encoded, "base64").toString("utf8");
  const multihop = annotation(annotations, prefix, "peer-multi-hop");
  if (multihop !== undefined && multihop !== "true" && multihop !== "false")
    throw new Refusal(`the peer-multi-hop annotation must be "true" or "false", not "${multihop}"`);
  const peers = addresses.map((entry): KubeVipPeer => ({
    address: address(entry, `${prefix}/…peer-ip`),
    asn: peerAsn,
    ...(password === undefined ? {} : { password }),
    ...(multihop === "true" ? { multihop: true } : {}),
  }));
  return { ok: true, localAsn, sourceAddress, peers };
}

export function parseKubeVipAnnotations(
  annotations: Readonly<Record<string, string>>,
  prefix: string,
): AnnotationsReading {
  try {
    return readAnnotations(annotations, prefix);
  } catch (error) {
    if (error instanceof Refusal) return { ok: false, problem: error.message };
    throw error;
  }
}
