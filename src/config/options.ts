// How each configuration value is spelled by users: its flag, its VIPD_* twin, its default and its
// meaning. The CLI, the loader and the generated configuration reference all read this one table.
import { DEFAULT_LOAD_BALANCER_CLASS } from "../kube/names.ts";
import type { RunConfigKey } from "./schema.ts";

export interface OptionSpec {
  readonly flag: string;
  /** Placeholder shown in help; a switch (a flag without a value) has none. */
  readonly placeholder?: string;
  /** Written as a user would write it, and parsed like user input. */
  readonly default?: string;
  /** What happens when neither the flag nor its variable is set and there is no default. */
  readonly whenUnset?: string;
  readonly description: string;
}

export const RUN_OPTIONS: Readonly<Record<RunConfigKey, OptionSpec>> = {
  nodeName: {
    flag: "node-name",
    placeholder: "<name>",
    whenUnset: "required",
    description: "name of the Node this agent runs on (downward API spec.nodeName)",
  },
  namespace: {
    flag: "namespace",
    placeholder: "<namespace>",
    default: "vipd-system",
    description: "namespace of vipd's Leases (heartbeats and ownership)",
  },
  kubeconfig: {
    flag: "kubeconfig",
    placeholder: "<path>",
    whenUnset: "in-cluster service account",
    description: "kubeconfig file to reach the API server",
  },
  interface: {
    flag: "interface",
    placeholder: "<name|auto>",
    whenUnset: "the interface of the default route",
    description: "interface that carries the VIPs; auto = the interface whose subnet contains the VIP",
  },
  allowOffSubnetVips: {
    flag: "allow-off-subnet-vips",
    default: "false",
    description:
      "put a VIP on its interface even when it lies in none of the interface's subnets (for networks that route such addresses to the nodes' segment); refused by default, since no neighbour would send to it",
  },
  loadBalancerClass: {
    flag: "load-balancer-class",
    placeholder: "<class>",
    default: DEFAULT_LOAD_BALANCER_CLASS,
    description: "spec.loadBalancerClass this agent serves",
  },
  classOnly: {
    flag: "class-only",
    default: "false",
    description: "serve only Services with the class; leave Services without a class alone",
  },
  controlPlane: {
    flag: "control-plane",
    default: "false",
    description:
      "control-plane mode: one VIP (--vip) in front of kube-apiserver, held by a control-plane node whose local API server is healthy; no Services are watched",
  },
  vip: {
    flag: "vip",
    placeholder: "<ip[,ip]>",
    whenUnset: "required with --control-plane",
    description: "control-plane mode: the VIP of the API server, one IPv4 and/or one IPv6 address",
  },
  healthUrl: {
    flag: "health-url",
    placeholder: "<url>",
    default: "https://127.0.0.1:6443/livez",
    description:
      "control-plane mode: the local API server's health check; the agent also talks to the API server at this URL's origin, with the kubeconfig's credentials",
  },
  healthPeriod: {
    flag: "health-period",
    placeholder: "<duration>",
    default: "1s",
    description: "control-plane mode: how often the health check runs, and its timeout",
  },
  healthFailureThreshold: {
    flag: "health-failure-threshold",
    placeholder: "<n>",
    default: "3",
    description: "control-plane mode: failed health checks in a row that make this node give the VIP up",
  },
  leaseDuration: {
    flag: "lease-duration",
    placeholder: "<duration>",
    default: "5s",
    description: "D: how long a silent heartbeat is trusted before its node's Services are taken over",
  },
  renewDeadline: {
    flag: "renew-deadline",
    placeholder: "<duration>",
    default: "3s",
    description: "R: a holder stops announcing when its heartbeat was last renewed longer ago than this",
  },
  retryPeriod: {
    flag: "retry-period",
    placeholder: "<duration>",
    default: "1s",
    description: "P: how often the heartbeat is renewed and claims are retried",
  },
  claimStep: {
    flag: "claim-step",
    placeholder: "<duration>",
    default: "250ms",
    description: "delay per rank before a lower-ranked candidate claims a free Service",
  },
  cordonHandsOver: {
    flag: "cordon-hands-over",
    // A value, not a switch: it is on by default, and a switch could only turn it on.
    placeholder: "<true|false>",
    default: "true",
    description:
      "a cordoned node (kubectl cordon or drain) claims last and hands its VIPs to a live uncordoned node; false ignores cordons",
  },
  addressLifetime: {
    flag: "address-lifetime",
    placeholder: "<duration>",
    default: "30s",
    description: "valid lifetime of a VIP on the interface, refreshed by the holder (dead-man switch)",
  },
  addressMarking: {
    flag: "address-marking",
    placeholder: "<auto|kernel|record>",
    default: "auto",
    description:
      "how vipd tells its own addresses from anyone else's: kernel = its address protocol (IFA_PROTO, kept from Linux 6.1), record = a file in --state-dir, auto = kernel if a probe at start-up shows this kernel keeps it, else record",
  },
  announceMode: {
    flag: "announce-mode",
    placeholder: "<l2|bgp|ecmp>",
    default: "l2",
    description:
      "how addresses outside every VIPPool (and the control-plane VIP) reach the network: l2 = one elected holder answers ARP/NDP on the segment; bgp = one elected holder's host route is exported by the routing daemon; ecmp = every eligible node's host route is exported (docs/bgp.md)",
  },

  bgpSpeaker: {
    flag: "bgp-speaker",
    placeholder: "<bird|external>",
    default: "bird",
    description:
      "who exports vipd's host routes over BGP (bgp and ecmp modes): bird = vipd writes the config of a BIRD 2 beside it (--bird-config) and applies it through its socket (--bird-socket); external = another routing daemon on the node (Calico's BIRD, FRR) exports table --bgp-route-table, and vipd only writes the routes (docs/bgp.md)",
  },
  bgpLocalAsn: {
    flag: "bgp-local-asn",
    placeholder: "<asn>",
    whenUnset: "from --bgp-peer-annotations; required for the bgp and ecmp modes with --bgp-speaker bird",
    description: "this node's AS number (1 to 4294967295)",
  },
  bgpRouterId: {
    flag: "bgp-router-id",
    placeholder: "<a.b.c.d>",
    whenUnset:
      "the src-ip annotation (with --bgp-peer-annotations), else the node's first IPv4 address in its Node's status.addresses",
    description: "BGP router ID of this node's BIRD",
  },
  bgpPeers: {
    flag: "bgp-peers",
    placeholder: "<peer[,peer]>",
    whenUnset: "from --bgp-peer-annotations; required for the bgp and ecmp modes with --bgp-speaker bird",
    description:
      "BGP peers in kube-vip's bgp_peers syntax, address:AS[:password[:multihop[:port[:mpbgp[:bfd]]]]] with an IPv6 address in brackets, e.g. 192.0.2.1:64512::false,[2001:db8::1]:64512; one peer per family (MP-BGP options are refused); BFD options enable;rx;tx;multiplier must match --bgp-bfd-interval and --bgp-bfd-multiplier",
  },
  bgpSourceAddress: {
    flag: "bgp-source-address",
    placeholder: "<ip>",
    whenUnset: "the src-ip annotation (with --bgp-peer-annotations), else chosen by the kernel",
    description: "source address of the BGP sessions to peers of its family",
  },
  bgpHoldTime: {
    flag: "bgp-hold-time",
    placeholder: "<duration>",
    default: "90s",
    description: "BGP hold time, whole seconds from 3s",
  },
  bgpKeepaliveTime: {
    flag: "bgp-keepalive-time",
    placeholder: "<duration>",
    default: "30s",
    description: "BGP keepalive time, whole seconds, shorter than --bgp-hold-time",
  },
  bgpBfd: {
    flag: "bgp-bfd",
    placeholder: "<true|false>",
    default: "false",
    description:
      "BFD on every BGP session (a peer of --bgp-peers can turn its own on or off), so that a dead node's routes are withdrawn in about --bgp-bfd-interval × --bgp-bfd-multiplier",
  },
  bgpBfdInterval: {
    flag: "bgp-bfd-interval",
    placeholder: "<duration>",
    default: "300ms",
    description: "BFD transmit and receive interval, 10ms to 60s",
  },
  bgpBfdMultiplier: {
    flag: "bgp-bfd-multiplier",
    placeholder: "<n>",
    default: "3",
    description: "BFD packets missed in a row that take a session down (1 to 255)",
  },
  bgpGracefulRestart: {
    flag: "bgp-graceful-restart",
    placeholder: "<true|false>",
    default: "false",
    description:
      "BGP graceful restart: peers keep this node's routes for --bgp-restart-time while its BIRD restarts (off by default: they would also keep a dead node's)",
  },
  bgpRestartTime: {
    flag: "bgp-restart-time",
    placeholder: "<duration>",
    default: "120s",
    description: "how long peers keep the routes of a gracefully restarting BIRD, whole seconds up to 4095s",
  },
  bgpRouteTable: {
    flag: "bgp-route-table",
    placeholder: "<n>",
    default: "198",
    description:
      "kernel routing table of vipd's host routes (bgp and ecmp modes), which the routing daemon exports; not 252 to 255 (kube-vip's routing-table mode uses 198 too)",
  },
  bgpRouteProtocol: {
    flag: "bgp-route-protocol",
    placeholder: "<n>",
    default: "248",
    description:
      "route protocol number that marks vipd's host routes as its own; not one the kernel, an administrator or a routing daemon uses (kube-vip's routing-table mode uses 248 too)",
  },
  bgpPeerAnnotations: {
    flag: "bgp-peer-annotations",
    placeholder: "<prefix>",
    whenUnset: "off",
    description:
      "read this node's local AS, source address and peers from kube-vip's per-node annotations under the prefix (<prefix>/node-asn, peer-asn, peer-ip, src-ip, bgp-pass), as kube-vip's --annotations does; flags win where both are set, and peers of both are used",
  },
  birdSocket: {
    flag: "bird-socket",
    placeholder: "<path>",
    default: "/run/bird/bird.ctl",
    description: "control socket of the BIRD that vipd configures (--bgp-speaker bird)",
  },
  birdConfig: {
    flag: "bird-config",
    placeholder: "<path>",
    default: "/run/bird/bird.conf",
    description:
      "config file of that BIRD, which vipd replaces with the config it renders from the --bgp-* flags, the node's annotations and the VIPPools' spec.bgp",
  },

  stateDir: {
    flag: "state-dir",
    placeholder: "<path>",
    default: "/run/vipd",
    description:
      "directory of the record of vipd's addresses (--address-marking record, or auto on kernels before 6.1): a tmpfs, mounted from the node so that a restarted agent finds it",
  },
  announceCount: {
    flag: "announce-count",
    placeholder: "<n>",
    default: "3",
    description: "gratuitous ARP / unsolicited NA rounds sent on takeover",
  },
  announceInterval: {
    flag: "announce-interval",
    placeholder: "<duration>",
    default: "1100ms",
    description: "spacing of the takeover rounds (at least 1.1s: Linux ARP locktime)",
  },
  announceRefresh: {
    flag: "announce-refresh",
    placeholder: "<duration>",
    default: "10s",
    description: "period of refresh announcements while holding (keep it under switch FDB ageing)",
  },
  fenceProbes: {
    flag: "fence-probes",
    placeholder: "<n>",
    default: "3",
    description: "ARP probes / neighbour solicitations sent before taking over from a dead holder",
  },
  fenceInterval: {
    flag: "fence-interval",
    placeholder: "<duration>",
    default: "100ms",
    description: "spacing of the fence probes; a reply within the last interval still counts",
  },
  firstClaimFenceInterval: {
    flag: "first-claim-fence-interval",
    placeholder: "<duration>",
    default: "30ms",
    description:
      "spacing of the fence probes before a first claim (a new Service, a Lease nobody was seen to hand over); a host that answers later is still heard by the holder's own probes",
  },
  externalIpCidrs: {
    flag: "external-ip-cidrs",
    placeholder: "<cidr[,cidr]>",
    whenUnset: "spec.externalIPs are not announced",
    description:
      "announce a Service's spec.externalIPs that lie inside these CIDRs (any Service type; each address elected like a LoadBalancer one). Off unless set: anyone who may create a Service could otherwise attract traffic for any address (CVE-2020-8554)",
  },
  poolAddressesOnly: {
    flag: "pool-addresses-only",
    placeholder: "<true|false>",
    default: "true",
    description:
      "once a VIPPool exists, refuse an address a Service names outside the pools its namespace may use (false: serve any valid address, as before pools)",
  },
  allocationCooldown: {
    flag: "allocation-cooldown",
    placeholder: "<duration>",
    default: "60s",
    description:
      "how long a released address is not handed to another Service, so that clients' ARP and neighbour caches forget the old one; the same Service created again within it gets the address back",
  },
  resyncPeriod: {
    flag: "resync-period",
    placeholder: "<duration>",
    default: "5m",
    description: "how often every Service is reconciled even without a change",
  },
  syncTimeout: {
    flag: "sync-timeout",
    placeholder: "<duration>",
    default: "2m",
    description:
      "at start-up, how long the API server may refuse a list or watch (403 forbidden, 401, 404: RBAC or CRDs missing) before the agent exits with status 3 saying which; an API server that does not answer is waited for without end",
  },
  kubeApiQps: {
    flag: "kube-api-qps",
    placeholder: "<n>",
    default: "50",
    description:
      "API requests per second this agent sends at most, sustained (client-go's QPS); the heartbeat is exempt, Events go last",
  },
  kubeApiBurst: {
    flag: "kube-api-burst",
    placeholder: "<n>",
    default: "100",
    description: "API requests this agent may send at once after a quiet spell (client-go's Burst)",
  },
  metricsAddr: {
    flag: "metrics-addr",
    placeholder: "<host:port>",
    // The node's loopback: the agent runs on the host network, where 0.0.0.0 would offer its metrics
    // to every network the node is on (docs/monitoring.md says how to scrape them).
    default: "127.0.0.1:9559",
    description:
      "address of /metrics, /healthz and /readyz (0.0.0.0:9559 or the node's address to let a scraper reach it)",
  },
  logLevel: {
    flag: "log-level",
    placeholder: "<level>",
    default: "info",
    description: "error, warn, info or debug",
  },
  logFormat: {
    flag: "log-format",
    placeholder: "<format>",
    default: "json",
    description: "json for machines, text for people",
  },
};

export const ENV_PREFIX = "VIPD_";

export function envName(flag: string): string {
  return ENV_PREFIX + flag.toUpperCase().replaceAll("-", "_");
}
