// How pools, allocations and --external-ip-cidrs change what a Service is served: the rows of
// service-intent.test.ts, with addresses inside and outside pools.
import test from "ava";
import { AllocationIndex } from "../../src/addresses/allocation-index.ts";
import type { VipAllocation } from "../../src/addresses/api.ts";
import { resolvePools } from "../../src/addresses/pools.ts";
import {
  serviceIntent,
  type IntentOptions,
  type ServiceIntent,
  type ServiceShape,
} from "../../src/agent/service-intent.ts";
import { addressingOf } from "./fakes/addressing.ts";

const UID = "uid-web";
const pools = resolvePools([
  {
    name: "lan",
    origin: "VIPPool",
    createdAt: 0,
    spec: { addresses: ["198.51.100.100-198.51.100.199", "2001:db8:1::100/120"] },
  },
  {
    name: "team-a",
    origin: "VIPPool",
    createdAt: 0,
    spec: { addresses: ["203.0.113.0/28"], serviceAllocation: { namespaces: ["team-a"] } },
  },
]);

function allocation(address: string, uid = UID, releasedAt?: string): VipAllocation {
  return {
    metadata: { name: address, resourceVersion: "1", creationTimestamp: new Date(0) },
    spec: {
      address,
      pool: "lan",
      services: [{ namespace: "default", name: "web", uid }],
      ...(releasedAt === undefined ? {} : { releasedAt }),
    },
  };
}

function options(parts: { allocations?: VipAllocation[]; external?: string[]; onlyPools?: boolean } = {}) {
  const index = new AllocationIndex();
  for (const each of parts.allocations ?? []) index.set(each, false);
  return {
    loadBalancerClass: "vipd.io/l2",
    classOnly: false,
    nodeAddresses: new Set(["198.51.100.11"]),
    apiServerAddresses: new Map(),
    serviceCidrs: [],
    addressing: addressingOf({ pools, allocations: index, poolAddressesOnly: parts.onlyPools ?? true }),
    externalIpCidrs: parts.external ?? [],
  } satisfies IntentOptions;
}

function service(
  spec: NonNullable<ServiceShape["spec"]>,
  annotations: Record<string, string> = {},
): ServiceShape {
  return { metadata: { namespace: "default", name: "web", uid: UID, annotations }, spec };
}

const lb = (spec: NonNullable<ServiceShape["spec"]> = {}, annotations?: Record<string, string>) =>
  service({ type: "LoadBalancer", ipFamilies: ["IPv4", "IPv6"], ...spec }, annotations);

const served = (
  addresses: string[],
  source = "allocated",
  extra: Partial<ServiceIntent> = {},
): ServiceIntent =>
  ({
    serve: true,
    vips: addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 })),
    source,
    interface: undefined,
    ...extra,
  }) as ServiceIntent;

const table: [string, ServiceShape, ReturnType<typeof options>, ServiceIntent][] = [
  ["no address and no allocation yet: waits", lb(), options(), { serve: false, reason: "awaiting-address" }],
  [
    "its allocations, one per family",
    lb(),
    options({ allocations: [allocation("198.51.100.100"), allocation("2001:db8:1::100")] }),
    served(["198.51.100.100", "2001:db8:1::100"]),
  ],
  [
    "only the families of spec.ipFamilies",
    lb({ ipFamilies: ["IPv6"] }),
    options({ allocations: [allocation("198.51.100.100"), allocation("2001:db8:1::100")] }),
    served(["2001:db8:1::100"]),
  ],
  [
    "another Service's allocation (same name, old UID) is not its",
    lb(),
    options({ allocations: [allocation("198.51.100.100", "old")] }),
    { serve: false, reason: "awaiting-address" },
  ],
  [
    "a released allocation is not served",
    lb(),
    options({ allocations: [allocation("198.51.100.100", UID, "2026-12-01T00:00:00Z")] }),
    { serve: false, reason: "awaiting-address" },
  ],
  [
    "a requested address inside a pool waits for its allocation",
    lb({ loadBalancerIP: "198.51.100.150" }),
    options(),
    { serve: false, reason: "awaiting-address" },
  ],
  [
    "and is served once allocated to it",
    lb({ loadBalancerIP: "198.51.100.150" }),
    options({ allocations: [allocation("198.51.100.150")] }),
    served(["198.51.100.150"], "spec.loadBalancerIP"),
  ],
  [
    "a requested address outside every pool is refused once pools exist",
    lb({ loadBalancerIP: "192.0.2.7" }),
    options(),
    {
      serve: false,
      reason: "invalid",
      problems: [
        "spec.loadBalancerIP: 192.0.2.7 is in no VIPPool, and addresses outside the pools are refused",
      ],
    },
  ],
  [
    "unless the operator allows it",
    lb({ loadBalancerIP: "192.0.2.7" }),
    options({ onlyPools: false }),
    served(["192.0.2.7"], "spec.loadBalancerIP"),
  ],
  [
    "a requested address in a pool the namespace may not use is refused",
    lb({ loadBalancerIP: "203.0.113.5" }),
    options(),
    {
      serve: false,
      reason: "invalid",
      problems: [
        "spec.loadBalancerIP: 203.0.113.5 is in VIPPool team-a, which the namespace default may not use",
      ],
    },
  ],
  [
    "externalIPs are ignored without --external-ip-cidrs",
    service({ type: "ClusterIP", externalIPs: ["192.0.2.9"] }),
    options(),
    { serve: false, reason: "not-load-balancer" },
  ],
  [
    "externalIPs inside the CIDRs are served on any Service type, outside the status",
    service({ type: "ClusterIP", externalIPs: ["192.0.2.9"] }),
    options({ external: ["192.0.2.0/24"] }),
    served(["192.0.2.9"], "spec.externalIPs", { external: new Set(["192.0.2.9"]) }),
  ],
  [
    "externalIPs outside the CIDRs are refused, the others served",
    service({ type: "ClusterIP", externalIPs: ["192.0.2.9", "203.0.113.99"] }),
    options({ external: ["192.0.2.0/24"] }),
    served(["192.0.2.9"], "spec.externalIPs", {
      external: new Set(["192.0.2.9"]),
      refused: ["spec.externalIPs: 203.0.113.99 is outside --external-ip-cidrs (192.0.2.0/24)"],
    }),
  ],
  [
    "an externalIP inside a pool is refused: only allocations give pool addresses out",
    service({ type: "ClusterIP", externalIPs: ["198.51.100.120"] }),
    options({ external: ["198.51.100.0/24"] }),
    {
      serve: false,
      reason: "invalid",
      problems: [
        "spec.externalIPs: 198.51.100.120 is inside a VIPPool; ask for it with a LoadBalancer Service instead",
      ],
    },
  ],
  [
    "an externalIP that is a node address is refused",
    service({ type: "ClusterIP", externalIPs: ["198.51.100.11"] }),
    options({ external: ["198.51.100.0/24"] }),
    { serve: false, reason: "invalid", problems: ["spec.externalIPs: 198.51.100.11 is a node address"] },
  ],
  [
    "a LoadBalancer Service with externalIPs too: both announced",
    lb({ externalIPs: ["192.0.2.9"] }),
    options({ allocations: [allocation("198.51.100.100")], external: ["192.0.2.0/24"] }),
    served(["198.51.100.100", "192.0.2.9"], "allocated", { external: new Set(["192.0.2.9"]) }),
  ],
];

for (const [what, shape, given, expected] of table) {
  test(what, (t) => {
    t.deepEqual(serviceIntent(shape, given), expected);
  });
}
