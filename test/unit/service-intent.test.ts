import test from "ava";
import {
  serviceIntent,
  type IntentOptions,
  type ServiceIntent,
  type ServiceShape,
} from "../../src/agent/service-intent.ts";
import { addressingOf } from "./fakes/addressing.ts";

const options: IntentOptions = {
  loadBalancerClass: "vipd.io/l2",
  classOnly: false,
  nodeAddresses: new Set(["198.51.100.11", "2001:db8:1::11"]),
  apiServerAddresses: new Map([
    ["203.0.113.1", "the server of the agent's kubeconfig"],
    ["2001:db8:ff::1", "an endpoint of default/kubernetes"],
  ]),
  serviceCidrs: [
    { cidr: "203.0.113.128/25", name: "kubernetes" },
    { cidr: "2001:db8:ffff::/112", name: "kubernetes" },
    { cidr: "198.51.100.192/26", name: "extra" },
  ],
  addressing: addressingOf(),
  externalIpCidrs: [],
};

function lb(
  spec: Partial<NonNullable<ServiceShape["spec"]>>,
  annotations: Record<string, string> = {},
): ServiceShape {
  return { metadata: { annotations }, spec: { type: "LoadBalancer", ...spec } };
}

const served = (vips: [string, 4 | 6][], source: string, iface?: string): ServiceIntent => ({
  serve: true,
  vips: vips.map(([address, family]) => ({ address, family })),
  source,
  interface: iface,
});

const invalid = (...problems: string[]): ServiceIntent => ({ serve: false, reason: "invalid", problems });

const table: [string, ServiceShape, ServiceIntent, Partial<IntentOptions>?][] = [
  [
    "kubectl expose --load-balancer-ip",
    lb({ loadBalancerIP: "192.0.2.10" }),
    served([["192.0.2.10", 4]], "spec.loadBalancerIP"),
  ],
  [
    "vipd annotation, dual-stack, canonical forms",
    lb({}, { "vipd.io/loadBalancerIPs": " 192.0.2.10 , 2001:DB8:0::10" }),
    served(
      [
        ["192.0.2.10", 4],
        ["2001:db8::10", 6],
      ],
      "vipd.io/loadBalancerIPs",
    ),
  ],
  [
    "vipd annotation wins over kube-vip, MetalLB and the spec",
    lb(
      { loadBalancerIP: "192.0.2.4" },
      {
        "vipd.io/loadBalancerIPs": "192.0.2.1",
        "kube-vip.io/loadbalancerIPs": "192.0.2.2",
        "metallb.io/loadBalancerIPs": "192.0.2.3",
      },
    ),
    served([["192.0.2.1", 4]], "vipd.io/loadBalancerIPs"),
  ],
  [
    "kube-vip annotation wins over MetalLB",
    lb({}, { "kube-vip.io/loadbalancerIPs": "192.0.2.2", "metallb.io/loadBalancerIPs": "192.0.2.3" }),
    served([["192.0.2.2", 4]], "kube-vip.io/loadbalancerIPs"),
  ],
  [
    "MetalLB annotation",
    lb({}, { "metallb.io/loadBalancerIPs": "192.0.2.3" }),
    served([["192.0.2.3", 4]], "metallb.io/loadBalancerIPs"),
  ],
  [
    "an empty annotation falls through to the next source",
    lb({ loadBalancerIP: "192.0.2.4" }, { "vipd.io/loadBalancerIPs": " " }),
    served([["192.0.2.4", 4]], "spec.loadBalancerIP"),
  ],
  [
    "interface override",
    lb({ loadBalancerIP: "192.0.2.4" }, { "vipd.io/interface": "auto" }),
    served([["192.0.2.4", 4]], "spec.loadBalancerIP", "auto"),
  ],
  [
    "not a LoadBalancer",
    { spec: { type: "ClusterIP", loadBalancerIP: "192.0.2.1" } },
    { serve: false, reason: "not-load-balancer" },
  ],
  ["no spec", {}, { serve: false, reason: "not-load-balancer" }],
  [
    "another class",
    lb({ loadBalancerClass: "metallb.io/l2", loadBalancerIP: "192.0.2.1" }),
    { serve: false, reason: "other-class" },
  ],
  [
    "our class",
    lb({ loadBalancerClass: "vipd.io/l2", loadBalancerIP: "192.0.2.1" }),
    served([["192.0.2.1", 4]], "spec.loadBalancerIP"),
  ],
  [
    "no class with --class-only",
    lb({ loadBalancerIP: "192.0.2.1" }),
    { serve: false, reason: "no-class" },
    { classOnly: true },
  ],
  [
    "ignored",
    lb({ loadBalancerIP: "192.0.2.1" }, { "vipd.io/ignore": "true" }),
    { serve: false, reason: "ignored" },
  ],
  [
    "ignore: false is served",
    lb({ loadBalancerIP: "192.0.2.1" }, { "vipd.io/ignore": "false" }),
    {
      serve: true,
      vips: [{ address: "192.0.2.1", family: 4 }],
      source: "spec.loadBalancerIP",
      interface: undefined,
    },
  ],
  [
    "ignore with garbage is refused, not guessed",
    lb({ loadBalancerIP: "192.0.2.1" }, { "vipd.io/ignore": "yes" }),
    invalid('vipd.io/ignore: "yes" is neither "true" nor "false"'),
  ],
  ["no VIP: waits for an allocation", lb({}), { serve: false, reason: "awaiting-address" }],
  [
    "only commas: waits for an allocation",
    lb({}, { "vipd.io/loadBalancerIPs": ",," }),
    { serve: false, reason: "awaiting-address" },
  ],
  [
    "garbage",
    lb({ loadBalancerIP: "web" }),
    invalid('spec.loadBalancerIP: "web" is not an IPv4 or IPv6 address'),
  ],
  [
    "legacy IPv4 form",
    lb({ loadBalancerIP: "0x7f.1" }),
    invalid('spec.loadBalancerIP: "0x7f.1" is not an IPv4 or IPv6 address'),
  ],
  [
    "a zone index",
    lb({ loadBalancerIP: "fe80::1%eth0" }),
    invalid('spec.loadBalancerIP: "fe80::1%eth0" is not an IPv4 or IPv6 address'),
  ],
  [
    "unspecified",
    lb({ loadBalancerIP: "0.0.0.0" }),
    invalid("spec.loadBalancerIP: 0.0.0.0 is the unspecified address"),
  ],
  [
    "loopback",
    lb({ loadBalancerIP: "127.0.0.1" }),
    invalid("spec.loadBalancerIP: 127.0.0.1 is a loopback address"),
  ],
  [
    "link-local",
    lb({ loadBalancerIP: "169.254.0.9" }),
    invalid("spec.loadBalancerIP: 169.254.0.9 is link-local"),
  ],
  ["multicast", lb({ loadBalancerIP: "ff02::1" }), invalid("spec.loadBalancerIP: ff02::1 is multicast")],
  [
    "broadcast",
    lb({ loadBalancerIP: "255.255.255.255" }),
    invalid("spec.loadBalancerIP: 255.255.255.255 is the broadcast address"),
  ],
  [
    "IPv4-mapped",
    lb({ loadBalancerIP: "::ffff:192.0.2.1" }),
    invalid(
      "spec.loadBalancerIP: ::ffff:192.0.2.1 is an IPv4-mapped IPv6 address; write the IPv4 address instead",
    ),
  ],
  [
    "a node's address",
    lb({ loadBalancerIP: "198.51.100.11" }),
    invalid("spec.loadBalancerIP: 198.51.100.11 is a node address"),
  ],
  [
    "a node's IPv6 address in another spelling",
    lb({}, { "vipd.io/loadBalancerIPs": "2001:db8:1:0::11" }),
    invalid("vipd.io/loadBalancerIPs: 2001:db8:1::11 is a node address"),
  ],
  [
    "the API server's address: its holder would lose the API server for good",
    lb({ loadBalancerIP: "203.0.113.1" }),
    invalid(
      "spec.loadBalancerIP: 203.0.113.1 is an address of the API server (the server of the agent's kubeconfig)",
    ),
  ],
  [
    "an API server's IPv6 address in another spelling",
    lb({ ipFamilies: ["IPv6"] }, { "vipd.io/loadBalancerIPs": "2001:DB8:FF:0:0::1" }),
    invalid(
      "vipd.io/loadBalancerIPs: 2001:db8:ff::1 is an address of the API server (an endpoint of default/kubernetes)",
    ),
  ],
  [
    "inside the Service CIDR",
    lb({ loadBalancerIP: "203.0.113.200" }),
    invalid(
      "spec.loadBalancerIP: 203.0.113.200 is inside the cluster's Service CIDR 203.0.113.128/25 (ServiceCIDR kubernetes)",
    ),
  ],
  [
    "inside an IPv6 Service CIDR",
    lb({ ipFamilies: ["IPv6"] }, { "vipd.io/loadBalancerIPs": "2001:db8:ffff::a" }),
    invalid(
      "vipd.io/loadBalancerIPs: 2001:db8:ffff::a is inside the cluster's Service CIDR 2001:db8:ffff::/112 (ServiceCIDR kubernetes)",
    ),
  ],
  [
    "inside a second ServiceCIDR",
    lb({ loadBalancerIP: "198.51.100.200" }),
    invalid(
      "spec.loadBalancerIP: 198.51.100.200 is inside the cluster's Service CIDR 198.51.100.192/26 (ServiceCIDR extra)",
    ),
  ],
  [
    "just outside the Service CIDR",
    lb({ loadBalancerIP: "203.0.113.127" }),
    served([["203.0.113.127", 4]], "spec.loadBalancerIP"),
  ],
  [
    "no ServiceCIDRs (an API server older than 1.33): no Service CIDR check",
    lb({ loadBalancerIP: "203.0.113.200" }),
    served([["203.0.113.200", 4]], "spec.loadBalancerIP"),
    { serviceCidrs: [] },
  ],
  [
    "an IPv6 VIP on an IPv4-only Service: kube-proxy programs no rule for it",
    lb({ ipFamilies: ["IPv4"] }, { "vipd.io/loadBalancerIPs": "2001:db8::10" }),
    invalid(
      "vipd.io/loadBalancerIPs: 2001:db8::10 is IPv6, but spec.ipFamilies is IPv4: kube-proxy would route nothing to it",
    ),
  ],
  [
    "an IPv4 VIP on an IPv6-only Service",
    lb({ ipFamilies: ["IPv6"], loadBalancerIP: "192.0.2.10" }),
    invalid(
      "spec.loadBalancerIP: 192.0.2.10 is IPv4, but spec.ipFamilies is IPv6: kube-proxy would route nothing to it",
    ),
  ],
  [
    "a dual-stack pair on a single-stack Service: the other family is refused",
    lb({ ipFamilies: ["IPv4"] }, { "vipd.io/loadBalancerIPs": "192.0.2.10,2001:db8::10" }),
    invalid(
      "vipd.io/loadBalancerIPs: 2001:db8::10 is IPv6, but spec.ipFamilies is IPv4: kube-proxy would route nothing to it",
    ),
  ],
  [
    "a dual-stack pair on a dual-stack Service",
    lb({ ipFamilies: ["IPv6", "IPv4"] }, { "vipd.io/loadBalancerIPs": "192.0.2.10,2001:db8::10" }),
    served(
      [
        ["192.0.2.10", 4],
        ["2001:db8::10", 6],
      ],
      "vipd.io/loadBalancerIPs",
    ),
  ],
  [
    "the same address twice",
    lb({}, { "vipd.io/loadBalancerIPs": "192.0.2.1,192.0.2.1" }),
    invalid("vipd.io/loadBalancerIPs: 192.0.2.1 is listed twice"),
  ],
  [
    "two of one family",
    lb({}, { "vipd.io/loadBalancerIPs": "192.0.2.1,192.0.2.2" }),
    invalid("vipd.io/loadBalancerIPs: more than one IPv4 address (192.0.2.2); a Service gets one per family"),
  ],
  [
    "one bad entry makes the whole Service invalid, all problems named",
    lb({}, { "vipd.io/loadBalancerIPs": "192.0.2.1,nope,::1" }),
    invalid(
      'vipd.io/loadBalancerIPs: "nope" is not an IPv4 or IPv6 address',
      "vipd.io/loadBalancerIPs: ::1 is a loopback address",
    ),
  ],
  [
    "a bad interface annotation",
    lb({ loadBalancerIP: "192.0.2.1" }, { "vipd.io/interface": "eth0/x" }),
    invalid('vipd.io/interface: "eth0/x" is not an interface name or auto'),
  ],
];

for (const [what, service, expected, overrides] of table) {
  test(what, (t) => {
    t.deepEqual(serviceIntent(service, { ...options, ...overrides }), expected);
  });
}
