// bird.conf as rendered from BGP settings: whole texts for two representative settings, then one
// feature at a time, and the settings that must be refused before anything is rendered. That BIRD
// itself parses these texts is checked in test/integration/bird.test.ts.
import test from "ava";
import { bgpSettingsSchema } from "../../src/routing/bgp-settings.ts";
import { renderBirdConfig } from "../../src/routing/bird-config.ts";

function render(input: unknown): string {
  return renderBirdConfig(bgpSettingsSchema.parse(input));
}

const ONE_PEER = {
  localAsn: 65000,
  routerId: "198.51.100.10",
  peers: [{ address: "198.51.100.20", asn: 65001 }],
};

const KERNEL = `# vipd's host routes: kernel table 198, route protocol 248 only.
protocol kernel vipd_kernel4 {
  kernel table 198;
  learn;
  ipv4 {
    import where krt_source = 248;
    export none;
  };
}

# vipd's host routes: kernel table 198, route protocol 248 only.
protocol kernel vipd_kernel6 {
  kernel table 198;
  learn;
  ipv6 {
    import where krt_source = 248;
    export none;
  };
}`;

test("one IPv4 peer with the defaults", (t) => {
  t.is(
    render(ONE_PEER),
    `# Written by vipd from its BGP settings; vipd replaces this file, so change its settings instead.
router id 198.51.100.10;
log stderr all;

protocol device {
}

${KERNEL}

filter vipd_export4 {
  if proto != "vipd_kernel4" then reject;
  accept;
}

protocol bgp vipd_peer1 {
  description "198.51.100.20 AS65001";
  local as 65000;
  neighbor 198.51.100.20 port 179 as 65001;
  hold time 90;
  keepalive time 30;
  connect retry time 5;
  error wait time 1, 30;
  graceful restart off;
  ipv4 {
    import none;
    export filter vipd_export4;
    next hop self;
  };
}
`,
  );
});

test("dual stack with BFD, graceful restart, a password, multihop and policies", (t) => {
  const text = render({
    localAsn: 4200000000,
    routerId: "198.51.100.10",
    sourceAddress: "198.51.100.10",
    holdTime: 9,
    keepaliveTime: 3,
    peers: [
      { address: "198.51.100.20", asn: 65001, password: "s3cr3t'\\x", multihop: 2, port: 1179 },
      { address: "2001:0db8:1::0020", asn: 65001, multihop: true, bfd: false },
    ],
    bfd: { enabled: true, intervalMs: 100, multiplier: 5 },
    gracefulRestart: { enabled: true, restartTime: 60 },
    policies: [
      {
        prefixes: ["203.0.113.0/24", "2001:db8:2::/64"],
        communities: ["65000:100", "1:2:3"],
        localPreference: 200,
      },
      { prefixes: ["192.0.2.0/25"], communities: ["65000:0200"] },
      { prefixes: ["2001:db8:3::/64"], communities: [] },
    ],
  });
  t.is(
    text,
    `# Written by vipd from its BGP settings; vipd replaces this file, so change its settings instead.
router id 198.51.100.10;
log stderr all;

protocol device {
}

${KERNEL}

protocol bfd vipd_bfd {
  interface "*" {
    interval 100 ms;
    multiplier 5;
  };
  multihop {
    interval 100 ms;
    multiplier 5;
  };
}

filter vipd_export4 {
  if proto != "vipd_kernel4" then reject;
  if net ~ [ 203.0.113.0/24+ ] then {
    bgp_community.add((65000, 100));
    bgp_large_community.add((1, 2, 3));
    bgp_local_pref = 200;
  }
  if net ~ [ 192.0.2.0/25+ ] then {
    bgp_community.add((65000, 200));
  }
  accept;
}

filter vipd_export6 {
  if proto != "vipd_kernel6" then reject;
  if net ~ [ 2001:db8:2::/64+ ] then {
    bgp_community.add((65000, 100));
    bgp_large_community.add((1, 2, 3));
    bgp_local_pref = 200;
  }
  accept;
}

protocol bgp vipd_peer1 {
  description "198.51.100.20 AS65001";
  local as 4200000000;
  neighbor 198.51.100.20 port 1179 as 65001;
  source address 198.51.100.10;
  password "s3cr3t'\\x";
  multihop 2;
  hold time 9;
  keepalive time 3;
  connect retry time 5;
  error wait time 1, 30;
  graceful restart on;
  graceful restart time 60;
  bfd graceful;
  ipv4 {
    import none;
    export filter vipd_export4;
    next hop self;
  };
}

protocol bgp vipd_peer2 {
  description "2001:db8:1::20 AS65001";
  local as 4200000000;
  neighbor 2001:db8:1::20 port 179 as 65001;
  multihop;
  hold time 9;
  keepalive time 3;
  connect retry time 5;
  error wait time 1, 30;
  graceful restart on;
  graceful restart time 60;
  ipv6 {
    import none;
    export filter vipd_export6;
    next hop self;
  };
}
`,
  );
});

test("another route table and protocol reach the kernel protocols", (t) => {
  const text = render({ ...ONE_PEER, routeTable: 1000, routeProtocol: 250 });
  t.regex(text, /kernel table 1000;/);
  t.regex(text, /import where krt_source = 250;/);
  t.notRegex(text, /198;|248;/);
});

test("an IPv6-only setup has no IPv4 export filter and no BFD protocol", (t) => {
  const text = render({ ...ONE_PEER, peers: [{ address: "2001:db8:1::20", asn: 65001 }] });
  t.notRegex(text, /vipd_export4|protocol bfd/);
  t.regex(text, /export filter vipd_export6;/);
});

test("the renderer refuses a quote even in settings that bypassed the schema", (t) => {
  const settings = bgpSettingsSchema.parse(ONE_PEER);
  const forged = {
    ...settings,
    peers: settings.peers.map((peer) => ({ ...peer, password: 'x"; import all; "' })),
  };
  t.throws(() => renderBirdConfig(forged), { message: /double quote/ });
});

const refused: readonly [string, object, RegExp][] = [
  ["no peers", { ...ONE_PEER, peers: [] }, /at least one peer/],
  ["AS 0", { ...ONE_PEER, localAsn: 0 }, /AS number from 1 to 4294967295/],
  ["AS beyond 32 bits", { ...ONE_PEER, localAsn: 4294967296 }, /AS number from 1 to 4294967295/],
  ["the kernel's main table", { ...ONE_PEER, routeTable: 254 }, /cannot be 254, the kernel's main table/],
  ["BIRD's own route protocol", { ...ONE_PEER, routeProtocol: 12 }, /cannot be 12, which is bird's/],
  ["a router ID that is not dotted IPv4", { ...ONE_PEER, routerId: "2001:db8::1" }, /not a router ID/],
  ["a router ID in one number", { ...ONE_PEER, routerId: "3325256714" }, /not a router ID/],
  ["a peer address in one number", { ...ONE_PEER, peers: [{ address: "10", asn: 1 }] }, /not an IP address/],
  [
    "a password with a double quote",
    { ...ONE_PEER, peers: [{ address: "198.51.100.20", asn: 1, password: 'a"b' }] },
    /double quote/,
  ],
  [
    "a password with a line break",
    { ...ONE_PEER, peers: [{ address: "198.51.100.20", asn: 1, password: "a\nprotocol" }] },
    /control character/,
  ],
  [
    "a password longer than TCP-MD5 takes",
    { ...ONE_PEER, peers: [{ address: "198.51.100.20", asn: 1, password: "x".repeat(81) }] },
    /80 bytes/,
  ],
  [
    "the same peer twice, spelled differently",
    {
      ...ONE_PEER,
      peers: [
        { address: "2001:db8::1", asn: 1 },
        { address: "2001:db8:0::0001", asn: 2 },
      ],
    },
    /named twice/,
  ],
  [
    "keepalive as long as the hold time",
    { ...ONE_PEER, holdTime: 30, keepaliveTime: 30 },
    /shorter than holdTime/,
  ],
  [
    "a TTL of 0",
    { ...ONE_PEER, peers: [{ address: "198.51.100.20", asn: 1, multihop: 0 }] },
    /a TTL from 1 to 255/,
  ],
  [
    "a community half beyond 16 bits",
    { ...ONE_PEER, policies: [{ prefixes: ["203.0.113.0/24"], communities: ["65536:1"] }] },
    /not a community/,
  ],
  [
    "a community with one part",
    { ...ONE_PEER, policies: [{ prefixes: ["203.0.113.0/24"], communities: ["100"] }] },
    /not a community/,
  ],
  [
    "a well-known community by name",
    { ...ONE_PEER, policies: [{ prefixes: ["203.0.113.0/24"], communities: ["no-export"] }] },
    /not a community/,
  ],
  [
    "a large community part beyond 32 bits",
    { ...ONE_PEER, policies: [{ prefixes: ["203.0.113.0/24"], communities: ["1:2:4294967296"] }] },
    /not a community/,
  ],
  [
    "a prefix with host bits",
    { ...ONE_PEER, policies: [{ prefixes: ["203.0.113.1/24"], communities: [] }] },
    /the network is 203\.0\.113\.0\/24/,
  ],
  [
    "a policy without prefixes",
    { ...ONE_PEER, policies: [{ prefixes: [], communities: [] }] },
    /at least one prefix/,
  ],
];

for (const [name, input, problem] of refused) {
  test(`refused: ${name}`, (t) => {
    const result = bgpSettingsSchema.safeParse(input);
    t.false(result.success);
    t.regex(result.error?.issues.map((issue) => issue.message).join("\n") ?? "", problem);
  });
}
