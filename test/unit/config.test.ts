import test from "ava";
import { formatDuration, parseDuration } from "../../src/config/duration.ts";
import { ConfigError, loadRunConfig, type ConfigSources } from "../../src/config/load.ts";

const durations: [string, number][] = [
  ["5s", 5000],
  ["1500ms", 1500],
  ["1m30s", 90_000],
  ["2.5s", 2500],
  ["1h", 3_600_000],
  [" 250ms ", 250],
];
for (const [text, milliseconds] of durations) {
  test(`parseDuration(${JSON.stringify(text)}) = ${milliseconds}`, (t) => {
    t.is(parseDuration(text), milliseconds);
  });
}

for (const text of ["", "5", "s", "5 s", "5sec", "-1s", "1s2", "abc"]) {
  test(`parseDuration rejects ${JSON.stringify(text)}`, (t) => {
    t.throws(() => parseDuration(text));
  });
}

const formatted: [number, string][] = [
  [5000, "5s"],
  [1100, "1100ms"],
  [300_000, "5m"],
  [90_000, "90s"],
];
for (const [milliseconds, text] of formatted) {
  test(`formatDuration(${milliseconds}) = ${text}`, (t) => {
    t.is(formatDuration(milliseconds), text);
  });
}

function load(sources: Partial<ConfigSources>) {
  return loadRunConfig({ flags: { nodeName: "node1", ...sources.flags }, env: sources.env ?? {} });
}

function problemsOf(sources: Partial<ConfigSources>): readonly string[] {
  const error = (() => {
    try {
      load(sources);
    } catch (thrown) {
      return thrown;
    }
    return undefined;
  })();
  if (!(error instanceof ConfigError)) throw new Error("expected a ConfigError");
  return error.problems;
}

test("defaults are the values most kube-vip manifests use", (t) => {
  const config = load({});
  t.like(config, {
    nodeName: "node1",
    namespace: "vipd-system",
    leaseDuration: 5000,
    renewDeadline: 3000,
    retryPeriod: 1000,
    addressLifetime: 30_000,
    announceInterval: 1100,
    classOnly: false,
    loadBalancerClass: "vipd.io/l2",
    // The node's loopback: on the host network, 0.0.0.0 would serve every network the node is on.
    metricsAddr: { host: "127.0.0.1", port: 9559 },
    logFormat: "json",
  });
  t.is(config.kubeconfig, undefined);
  t.is(config.interface, undefined);
});

test("a flag beats its VIPD_* twin, which beats the default", (t) => {
  const fromEnv = load({ env: { VIPD_LEASE_DURATION: "8s", VIPD_RENEW_DEADLINE: "6s" } });
  t.is(fromEnv.leaseDuration, 8000);
  const fromFlag = load({ flags: { leaseDuration: "9s" }, env: { VIPD_LEASE_DURATION: "8s" } });
  t.is(fromFlag.leaseDuration, 9000);
});

test("the node name can come from VIPD_NODE_NAME", (t) => {
  t.is(loadRunConfig({ flags: {}, env: { VIPD_NODE_NAME: "worker-7" } }).nodeName, "worker-7");
});

test("switches arrive as booleans from flags and as text from variables", (t) => {
  t.true(load({ flags: { classOnly: true } }).classOnly);
  t.true(load({ env: { VIPD_CLASS_ONLY: "true" } }).classOnly);
  t.deepEqual(problemsOf({ env: { VIPD_CLASS_ONLY: "yes" } }), [
    '--class-only (VIPD_CLASS_ONLY): must be "true" or "false"',
  ]);
});

test("the cordon rule is on unless turned off by its flag or variable", (t) => {
  t.true(load({}).cordonHandsOver);
  t.false(load({ flags: { cordonHandsOver: "false" } }).cordonHandsOver);
  t.false(load({ env: { VIPD_CORDON_HANDS_OVER: "false" } }).cordonHandsOver);
  t.deepEqual(problemsOf({ flags: { cordonHandsOver: "off" } }), [
    '--cordon-hands-over (VIPD_CORDON_HANDS_OVER): must be "true" or "false"',
  ]);
});

const rejected: [string, Partial<ConfigSources>, string][] = [
  [
    "a missing node name",
    { flags: { nodeName: undefined } },
    "--node-name (VIPD_NODE_NAME): is required (set it from the downward API: spec.nodeName)",
  ],
  ["an unknown variable", { env: { VIPD_LEASE_DURATON: "5s" } }, "VIPD_LEASE_DURATON: unknown variable"],
  ["a duration without unit", { flags: { retryPeriod: "1" } }, "--retry-period (VIPD_RETRY_PERIOD): "],
  [
    "D not above R",
    { flags: { leaseDuration: "3s" } },
    "--lease-duration (VIPD_LEASE_DURATION): must be longer than --renew-deadline",
  ],
  [
    "R not above the jittered P",
    { flags: { retryPeriod: "2600ms" } },
    "--renew-deadline (VIPD_RENEW_DEADLINE): must be longer than 1.2 × --retry-period",
  ],
  [
    "an address lifetime shorter than three renewals",
    { flags: { addressLifetime: "2s" } },
    "--address-lifetime (VIPD_ADDRESS_LIFETIME): must be at least 3 × --retry-period",
  ],
  [
    "announcements inside the ARP locktime",
    { flags: { announceInterval: "500ms" } },
    "--announce-interval (VIPD_ANNOUNCE_INTERVAL): must be at least 1100ms",
  ],
  ["a zero count", { flags: { fenceProbes: "0" } }, "--fence-probes (VIPD_FENCE_PROBES): must be at least 1"],
  ["a bad interface name", { flags: { interface: "eth0/1" } }, "--interface (VIPD_INTERFACE): must be"],
  ["a bad metrics host", { flags: { metricsAddr: "300.1.1.1:80" } }, "--metrics-addr (VIPD_METRICS_ADDR): "],
  [
    "a metrics port out of range",
    { flags: { metricsAddr: ":70000" } },
    "--metrics-addr (VIPD_METRICS_ADDR): ",
  ],
  ["an unknown log format", { flags: { logFormat: "xml" } }, "--log-format (VIPD_LOG_FORMAT): "],
  ["an invalid namespace", { flags: { namespace: "Kube_System" } }, "--namespace (VIPD_NAMESPACE): "],
];
for (const [what, sources, expected] of rejected) {
  test(`rejects ${what}`, (t) => {
    const problems = problemsOf(sources);
    t.is(problems.length, 1, problems.join("\n"));
    t.true(problems[0]?.startsWith(expected), problems[0]);
  });
}

test("all problems are reported at once", (t) => {
  t.is(problemsOf({ flags: { nodeName: undefined, logLevel: "loud" }, env: { VIPD_X: "1" } }).length, 3);
});

test("Kubernetes service-link variables are not mistaken for configuration", (t) => {
  const env = {
    VIPD_METRICS_SERVICE_HOST: "192.0.2.1",
    VIPD_METRICS_SERVICE_PORT: "9559",
    VIPD_METRICS_SERVICE_PORT_HTTP: "9559",
    VIPD_METRICS_PORT: "tcp://192.0.2.1:9559",
    VIPD_METRICS_PORT_9559_TCP: "tcp://192.0.2.1:9559",
    VIPD_METRICS_PORT_9559_TCP_ADDR: "192.0.2.1",
  };
  t.is(load({ env }).nodeName, "node1");
});

test("listen addresses accept IPv6 and an empty host", (t) => {
  t.deepEqual(load({ flags: { metricsAddr: "[::1]:9000" } }).metricsAddr, { host: "::1", port: 9000 });
  t.deepEqual(load({ flags: { metricsAddr: ":9000" } }).metricsAddr, { host: "0.0.0.0", port: 9000 });
});

test("control-plane mode: --vip, one address per family, and the health check's defaults", (t) => {
  const config = load({ flags: { controlPlane: true, vip: "198.51.100.100, 2001:DB8:1::100" } });
  t.true(config.controlPlane);
  t.deepEqual(config.vip, [
    { address: "198.51.100.100", family: 4 },
    { address: "2001:db8:1::100", family: 6 },
  ]);
  t.is(config.healthUrl.href, "https://127.0.0.1:6443/livez");
  t.is(config.healthPeriod, 1000);
  t.is(config.healthFailureThreshold, 3);
  t.is(load({ env: { VIPD_CONTROL_PLANE: "true", VIPD_VIP: "192.0.2.5" } }).vip?.[0]?.address, "192.0.2.5");
});

const controlPlaneProblems: [string, Partial<ConfigSources>, RegExp][] = [
  [
    "--control-plane without --vip",
    { flags: { controlPlane: true } },
    /--vip \(VIPD_VIP\): is required with --control-plane/,
  ],
  [
    "--vip without --control-plane",
    { flags: { vip: "192.0.2.5" } },
    /--vip \(VIPD_VIP\): is only used with --control-plane/,
  ],
  [
    "two IPv4 VIPs",
    { flags: { controlPlane: true, vip: "192.0.2.5,192.0.2.6" } },
    /--vip \(VIPD_VIP\): more than one IPv4 address \(192\.0\.2\.6\)/,
  ],
  [
    "a VIP that is no address",
    { flags: { controlPlane: true, vip: "api.example" } },
    /--vip .*not an IPv4 or IPv6/,
  ],
  ["a loopback VIP", { flags: { controlPlane: true, vip: "127.0.0.1" } }, /--vip .*loopback/],
  [
    "a health URL that is not http(s)",
    { flags: { controlPlane: true, vip: "192.0.2.5", healthUrl: "tcp://127.0.0.1:6443" } },
    /--health-url \(VIPD_HEALTH_URL\): "tcp:\/\/127\.0\.0\.1:6443" is not an http\(s\) URL/,
  ],
  [
    "a failure threshold of 0",
    { flags: { controlPlane: true, vip: "192.0.2.5", healthFailureThreshold: "0" } },
    /--health-failure-threshold .*at least 1/,
  ],
];
for (const [name, sources, expected] of controlPlaneProblems) {
  test(`control-plane mode refuses ${name}`, (t) => {
    const problems = problemsOf(sources);
    t.true(
      problems.some((problem) => expected.test(problem)),
      problems.join("\n"),
    );
  });
}

test("bgp: the defaults are kube-vip's table and protocol, BIRD beside the agent, nothing to peer with", (t) => {
  const { bgp } = load({});
  t.like(bgp, {
    speaker: "bird",
    birdSocket: "/run/bird/bird.ctl",
    birdConfig: "/run/bird/bird.conf",
    peerAnnotations: undefined,
    routeTable: 198,
    routeProtocol: 248,
  });
  t.like(bgp.settings, {
    localAsn: undefined,
    routerId: undefined,
    peers: [],
    holdTime: 90,
    keepaliveTime: 30,
    bfd: { enabled: false, intervalMs: 300, multiplier: 3 },
    gracefulRestart: { enabled: false, restartTime: 120 },
    routeTable: 198,
    routeProtocol: 248,
  });
});

test("bgp: the flags become one typed section, peers in kube-vip's syntax", (t) => {
  const { bgp } = load({
    flags: {
      announceMode: "bgp",
      bgpLocalAsn: "64512",
      bgpRouterId: "192.0.2.10",
      bgpPeers: "192.0.2.1:64513:secret:true:1179,[2001:DB8::1]:64513",
      bgpSourceAddress: "192.0.2.10",
      bgpHoldTime: "9s",
      bgpKeepaliveTime: "3s",
      bgpBfd: "true",
      bgpBfdInterval: "100ms",
      bgpBfdMultiplier: "5",
      bgpGracefulRestart: "true",
      bgpRestartTime: "1m",
      bgpRouteTable: "1000",
      bgpRouteProtocol: "250",
    },
    env: { VIPD_BGP_PEER_ANNOTATIONS: "metal.equinix.com", VIPD_BIRD_SOCKET: "/var/run/bird.ctl" },
  });
  t.deepEqual(bgp, {
    speaker: "bird",
    birdSocket: "/var/run/bird.ctl",
    birdConfig: "/run/bird/bird.conf",
    peerAnnotations: "metal.equinix.com",
    routeTable: 1000,
    routeProtocol: 250,
    settings: {
      localAsn: 64512,
      routerId: "192.0.2.10",
      peers: [
        { address: "192.0.2.1", asn: 64513, password: "secret", multihop: true, port: 1179 },
        { address: "2001:db8::1", asn: 64513 },
      ],
      sourceAddress: "192.0.2.10",
      holdTime: 9,
      keepaliveTime: 3,
      bfd: { enabled: true, intervalMs: 100, multiplier: 5 },
      gracefulRestart: { enabled: true, restartTime: 60 },
      routeTable: 1000,
      routeProtocol: 250,
      policies: [],
    },
  });
  t.false("bgpLocalAsn" in load({}), "the flat flags are not in the config object");
});

test("bgp: a kube-vip peer that asks for BFD gets it, and only that peer", (t) => {
  const { settings } = load({
    flags: { bgpLocalAsn: "64512", bgpPeers: "192.0.2.1:64513:::::true;300;300;3,192.0.2.2:64513" },
  }).bgp;
  t.true(settings.bfd.enabled);
  t.deepEqual(
    settings.peers.map((peer) => peer.bfd),
    [true, false],
  );
});

test("bgp: an empty --bgp-peer-annotations is off", (t) => {
  t.is(load({ env: { VIPD_BGP_PEER_ANNOTATIONS: " " } }).bgp.peerAnnotations, undefined);
});

test("bgp: routed modes with an external speaker or the node's annotations need no BGP flags", (t) => {
  t.is(load({ flags: { announceMode: "ecmp", bgpSpeaker: "external" } }).bgp.speaker, "external");
  t.is(
    load({ flags: { announceMode: "bgp", bgpPeerAnnotations: "kube-vip.io" } }).bgp.peerAnnotations,
    "kube-vip.io",
  );
});

const bgpRejected: [string, Partial<ConfigSources>, string][] = [
  [
    "bgp mode with BIRD and no BGP settings",
    { flags: { announceMode: "bgp" } },
    "--announce-mode (VIPD_ANNOUNCE_MODE): bgp needs BGP settings: --bgp-local-asn and --bgp-peers",
  ],
  [
    "ecmp mode with BIRD and peers but no AS",
    { flags: { announceMode: "ecmp", bgpPeers: "192.0.2.1:64513" } },
    "--bgp-local-asn (VIPD_BGP_LOCAL_ASN): is required with --bgp-peers",
  ],
  [
    "an AS without peers",
    { flags: { bgpLocalAsn: "64512" } },
    "--bgp-peers (VIPD_BGP_PEERS): is required with --bgp-local-asn",
  ],
  [
    "an AS out of range",
    { flags: { bgpLocalAsn: "4294967296", bgpPeers: "192.0.2.1:1" } },
    "--bgp-local-asn (VIPD_BGP_LOCAL_ASN): must be an AS number",
  ],
  [
    "an AS that is no number",
    { flags: { bgpLocalAsn: "AS64512", bgpPeers: "192.0.2.1:1" } },
    "--bgp-local-asn (VIPD_BGP_LOCAL_ASN): must be a whole number",
  ],
  [
    "a router ID that is no IPv4 address",
    { flags: { bgpRouterId: "2001:db8::1" } },
    '--bgp-router-id (VIPD_BGP_ROUTER_ID): "2001:db8::1" is not a router ID',
  ],
  [
    "a peer in a syntax kube-vip does not have",
    { env: { VIPD_BGP_LOCAL_ASN: "1", VIPD_BGP_PEERS: "192.0.2.1" } },
    '--bgp-peers (VIPD_BGP_PEERS): "192.0.2.1" needs at least <address>:<AS>',
  ],
  [
    "a peer named twice",
    { flags: { bgpLocalAsn: "1", bgpPeers: "192.0.2.1:2,192.0.2.1:3" } },
    "--bgp-peers (VIPD_BGP_PEERS): peer 2: 192.0.2.1 is named twice",
  ],
  [
    "a password BIRD cannot quote",
    { flags: { bgpLocalAsn: "1", bgpPeers: '192.0.2.1:2:a"b' } },
    "--bgp-peers (VIPD_BGP_PEERS): peer 1: must not contain a double quote",
  ],
  [
    "peer BFD timers other than the flags'",
    { flags: { bgpLocalAsn: "1", bgpPeers: "192.0.2.1:2:::::true;500;500;3" } },
    "--bgp-peers (VIPD_BGP_PEERS): peer 192.0.2.1 sets BFD timers 500;500;3",
  ],
  [
    "a source address that is no address",
    { flags: { bgpSourceAddress: "node1" } },
    '--bgp-source-address (VIPD_BGP_SOURCE_ADDRESS): "node1" is not an IP address',
  ],
  [
    "a hold time in milliseconds",
    { flags: { bgpHoldTime: "9500ms" } },
    "--bgp-hold-time (VIPD_BGP_HOLD_TIME): must be whole seconds",
  ],
  [
    "a keepalive as long as the hold time",
    { flags: { bgpHoldTime: "30s" } },
    "--bgp-keepalive-time (VIPD_BGP_KEEPALIVE_TIME): must be shorter than holdTime",
  ],
  [
    "a BFD interval below BIRD's",
    { flags: { bgpBfdInterval: "5ms" } },
    "--bgp-bfd-interval (VIPD_BGP_BFD_INTERVAL): ",
  ],
  [
    "a BFD multiplier over 255",
    { flags: { bgpBfdMultiplier: "256" } },
    "--bgp-bfd-multiplier (VIPD_BGP_BFD_MULTIPLIER): ",
  ],
  [
    "a restart time BGP cannot carry",
    { flags: { bgpRestartTime: "2h" } },
    "--bgp-restart-time (VIPD_BGP_RESTART_TIME): must be at most 4095 s",
  ],
  [
    "the main table",
    { flags: { bgpRouteTable: "254" } },
    "--bgp-route-table (VIPD_BGP_ROUTE_TABLE): the route table cannot be 254, the kernel's main table",
  ],
  [
    "BIRD's own route protocol",
    { flags: { bgpRouteProtocol: "12" } },
    "--bgp-route-protocol (VIPD_BGP_ROUTE_PROTOCOL): the route protocol cannot be 12, which is bird's",
  ],
  [
    "a route protocol over 255",
    { flags: { bgpRouteProtocol: "256" } },
    "--bgp-route-protocol (VIPD_BGP_ROUTE_PROTOCOL): the route protocol must be an integer from 0 to 255",
  ],
  ["an unknown speaker", { flags: { bgpSpeaker: "frr" } }, "--bgp-speaker (VIPD_BGP_SPEAKER): "],
  [
    "a relative BIRD socket",
    { flags: { birdSocket: "bird.ctl" } },
    "--bird-socket (VIPD_BIRD_SOCKET): must be an absolute path",
  ],
];
for (const [what, sources, expected] of bgpRejected) {
  test(`bgp: rejects ${what}`, (t) => {
    const problems = problemsOf(sources);
    t.is(problems.length, 1, problems.join("\n"));
    t.true(problems[0]?.startsWith(expected), problems[0]);
  });
}
