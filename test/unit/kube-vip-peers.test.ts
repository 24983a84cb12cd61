// kube-vip's peer syntax and node annotations, with the cases of kube-vip's own tests
// (pkg/kubevip/config_bgp_test.go and pkg/manager/watcher_test.go, kube-vip/kube-vip at bee5cfe).
// Where kube-vip accepts something vipd cannot do alike (MP-BGP options, unnumbered peers), the
// expected outcome is a refusal naming it.
import test from "ava";
import {
  parseKubeVipAnnotations,
  parseKubeVipPeers,
  type KubeVipPeer,
} from "../../src/routing/kube-vip-peers.ts";

const peers: readonly [string, string, readonly KubeVipPeer[] | RegExp][] = [
  [
    "IPv4, default port",
    "192.168.0.10:65000::false,192.168.0.11:65000::false",
    [
      { address: "192.168.0.10", asn: 65000 },
      { address: "192.168.0.11", asn: 65000 },
    ],
  ],
  [
    "IPv4, different port",
    "192.168.0.10:65000::false:180,192.168.0.11:65000::false:190",
    [
      { address: "192.168.0.10", asn: 65000, port: 180 },
      { address: "192.168.0.11", asn: 65000, port: 190 },
    ],
  ],
  [
    "IPv6, multi-protocol",
    "[fd00:1111:2222:3333:c7d9:7235:6bf7:5d52]:65501::false::mpbgp_nexthop=auto_sourceif",
    /MP-BGP/,
  ],
  [
    "IPv6, BFD, no multi-protocol options",
    "[fd00:1111:2222:3333:c7d9:7235:6bf7:5d52]:65501::false:::true;300;300;3",
    [
      {
        address: "fd00:1111:2222:3333:c7d9:7235:6bf7:5d52",
        asn: 65501,
        bfd: true,
        bfdTimers: { receiveIntervalMs: 300, transmitIntervalMs: 300, multiplier: 3 },
      },
    ],
  ],
  [
    "IPv6 bracketed, with password and multihop",
    "[fd00:100:64::2]:65000:secret:true",
    [{ address: "fd00:100:64::2", asn: 65000, password: "secret", multihop: true }],
  ],
  [
    "IPv6 bracketed, empty fields",
    "[fd00:100:64::2]:65000::false",
    [{ address: "fd00:100:64::2", asn: 65000 }],
  ],
  ["address and AS only", "198.51.100.1:64512", [{ address: "198.51.100.1", asn: 64512 }]],
  [
    "BFD timers left empty take kube-vip's defaults",
    "198.51.100.1:64512:::::true;;;5",
    [
      {
        address: "198.51.100.1",
        asn: 64512,
        bfd: true,
        bfdTimers: { receiveIntervalMs: 300, transmitIntervalMs: 300, multiplier: 5 },
      },
    ],
  ],
  [
    "Go's other spellings of true",
    "198.51.100.1:64512::T",
    [{ address: "198.51.100.1", asn: 64512, multihop: true }],
  ],
  ["Unnumbered", "unnumbered:eth0", /unnumbered/],
  ["Completely empty config", "", /no BGP peer/],
  ["Completely empty config (but with the separators)", ":::::::", /more than the 7 fields/],
  ["Malformed parameter (no value)", "1.2.3.4:65000/mpbgp_nexthop", /AS .* must be a whole number/],
  ["Unsupported parameter", "1.2.3.4:65000;unknown=value", /AS .* must be a whole number/],
  ["Malformed IPv6 (no matching bracket)", "[fd00:100:64::2:65000", /never closes it/],
  ["no AS", "198.51.100.1", /at least <address>:<AS>/],
  ["AS 0", "198.51.100.1:0", /from 1 to 4294967295/],
  ["AS beyond 32 bits", "198.51.100.1:4294967296", /from 1 to 4294967295/],
  ["multihop not a boolean", "198.51.100.1:64512::yes", /multihop .* must be true or false/],
  ["port out of range", "198.51.100.1:64512:::70000", /port .* from 1 to 65535/],
  ["too few BFD options", "198.51.100.1:64512:::::true;300", /need enable;receive_interval/],
  ["too many fields", "198.51.100.1:64512::::::true;1;1;1:x", /more than the 7 fields/],
  [
    "IPv6 without brackets",
    "2001:db8::1:64512",
    /"2001" .* not an IP address \(an IPv6 address goes in brackets\)/,
  ],
];

for (const [name, text, expected] of peers) {
  test(`peers: ${name}`, (t) => {
    const reading = parseKubeVipPeers(text);
    if (expected instanceof RegExp) {
      t.false(reading.ok);
      if (!reading.ok) t.regex(reading.problem, expected);
    } else t.deepEqual(reading, { ok: true, peers: [...expected] });
  });
}

const password = (address: string): KubeVipPeer => ({ address, asn: 64000, password: "password" });

const readAnnotations: readonly [string, string, Record<string, string>, object][] = [
  [
    "kube-vip's watcher test, numbered keys",
    "bgp",
    {
      "bgp/bgp-peers-0-node-asn": "65000",
      "bgp/bgp-peers-0-peer-asn": "64000",
      "bgp/bgp-peers-0-peer-ip": "10.0.0.1,10.0.0.2,10.0.0.3",
      "bgp/bgp-peers-0-src-ip": "10.0.0.254",
      "bgp/bgp-peers-0-bgp-pass": "cGFzc3dvcmQ=",
    },
    {
      localAsn: 65000,
      sourceAddress: "10.0.0.254",
      peers: ["10.0.0.1", "10.0.0.2", "10.0.0.3"].map(password),
    },
  ],
  [
    "the older unnumbered Equinix keys, multihop, and peer-ip of further peers",
    "metal.equinix.com",
    {
      "metal.equinix.com/node-asn": "65000",
      "metal.equinix.com/peer-asn": "65530",
      "metal.equinix.com/peer-ip": "198.51.100.1",
      "metal.equinix.com/bgp-peers-1-peer-ip": "2001:db8::1",
      "metal.equinix.com/src-ip": "198.51.100.10",
      "metal.equinix.com/peer-multi-hop": "true",
      "other.example/peer-ip": "198.51.100.99",
    },
    {
      localAsn: 65000,
      sourceAddress: "198.51.100.10",
      peers: [
        { address: "2001:db8::1", asn: 65530, multihop: true },
        { address: "198.51.100.1", asn: 65530, multihop: true },
      ],
    },
  ],
];

for (const [name, prefix, annotations, expected] of readAnnotations) {
  test(`annotations: ${name}`, (t) => {
    t.deepEqual(parseKubeVipAnnotations(annotations, prefix), { ok: true, ...expected });
  });
}

const refusedAnnotations: readonly [string, Record<string, string>, RegExp][] = [
  ["none at all", {}, /no bgp\/bgp-peers-0-node-asn/],
  ["no src-ip", { "bgp/node-asn": "65000" }, /no bgp\/bgp-peers-0-src-ip/],
  ["no peer-asn", { "bgp/node-asn": "65000", "bgp/src-ip": "198.51.100.10" }, /peer-asn/],
  [
    "no peer-ip",
    { "bgp/node-asn": "65000", "bgp/src-ip": "198.51.100.10", "bgp/peer-asn": "65001", "bgp/peer-ip": " , " },
    /peer-ip/,
  ],
  ["bad node-asn", { "bgp/node-asn": "AS65000" }, /node-asn must be a whole number/],
  [
    "password not base64",
    {
      "bgp/node-asn": "65000",
      "bgp/src-ip": "198.51.100.10",
      "bgp/peer-asn": "65001",
      "bgp/peer-ip": "198.51.100.1",
      "bgp/bgp-pass": "not base64!",
    },
    /base64/,
  ],
  [
    "multihop not true or false",
    {
      "bgp/node-asn": "65000",
      "bgp/src-ip": "198.51.100.10",
      "bgp/peer-asn": "65001",
      "bgp/peer-ip": "198.51.100.1",
      "bgp/peer-multi-hop": "True",
    },
    /"true" or "false"/,
  ],
];

for (const [name, annotations, problem] of refusedAnnotations) {
  test(`annotations refused: ${name}`, (t) => {
    const reading = parseKubeVipAnnotations(annotations, "bgp");
    t.false(reading.ok);
    if (!reading.ok) t.regex(reading.problem, problem);
  });
}
