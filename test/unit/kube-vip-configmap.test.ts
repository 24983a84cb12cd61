// kube-vip-cloud-provider's ConfigMap read as pools: the ConfigMaps of the provider's README and
// example/configmap/0.1.yaml (kube-vip/kube-vip-cloud-provider at d3522c6), then its search order
// and quirks one at a time, as the agent gets them (kubeVipPools) and as `vipd convert kube-vip`
// prints them (vipPoolsFromKubeVip). Problems are checked by the key they name, not their wording.
import test from "ava";
import type { VipPoolServiceAllocation } from "../../src/addresses/api.ts";
import { kubeVipPools, vipPoolsFromKubeVip } from "../../src/addresses/kube-vip-configmap.ts";
import type { PoolInput } from "../../src/addresses/pool-input.ts";

const CREATED = 1_700_000_000_000;

type Data = Readonly<Record<string, string>>;

function namespacePool(
  namespaces: readonly string[],
  addresses: readonly string[],
  extra: Partial<PoolInput> = {},
): PoolInput {
  return {
    name: `kubevip-${namespaces[0] ?? ""}`,
    origin: "kube-vip",
    createdAt: CREATED,
    spec: { addresses, avoidBuggyIPs: true, serviceAllocation: { priority: 1, namespaces } },
    ...extra,
  };
}

function globalAllocation(excluded: readonly string[]): VipPoolServiceAllocation {
  if (excluded.length === 0) return { priority: 2 };
  return {
    priority: 2,
    namespaceSelectors: [
      {
        matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: [...excluded] }],
      },
    ],
  };
}

function globalPool(
  addresses: readonly string[],
  excluded: readonly string[] = [],
  extra: Partial<PoolInput> = {},
) {
  return {
    name: "kubevip-global",
    origin: "kube-vip",
    createdAt: CREATED + 1,
    spec: { addresses, avoidBuggyIPs: true, serviceAllocation: globalAllocation(excluded) },
    ...extra,
  } satisfies PoolInput;
}

/** The keys the problems name (each problem starts with the key it is about). */
function problemKeys(problems: readonly string[]): string[] {
  return problems.map((problem) => problem.slice(0, problem.indexOf(":")));
}

interface Row {
  readonly title: string;
  readonly data: Data;
  readonly pools: readonly PoolInput[];
  readonly problems?: readonly string[];
}

const ROWS: readonly Row[] = [
  {
    title: "README, namespace pools: one pool per namespace, host bits masked as netip does",
    data: {
      "cidr-default": "192.168.0.200/29",
      "cidr-development": "192.168.0.210/29",
      "cidr-finance": "192.168.0.220/29",
      "cidr-testing": "192.168.0.230/29",
      "cidr-ipv6": "2001::10/127",
    },
    pools: [
      namespacePool(["default"], ["192.168.0.200/29"]),
      namespacePool(["development"], ["192.168.0.208/29"]),
      namespacePool(["finance"], ["192.168.0.216/29"]),
      namespacePool(["ipv6"], ["2001::10/127"]),
      namespacePool(["testing"], ["192.168.0.224/29"]),
    ],
  },
  {
    title: "README, cidr-global: one pool for every namespace, younger than the ConfigMap by 1 ms",
    data: { "cidr-global": "192.168.0.220/29" },
    pools: [globalPool(["192.168.0.216/29"])],
  },
  {
    title: "README, range-global with search-order desc: the order cannot be kept",
    data: { "range-global": "192.168.0.200-192.168.0.202", "search-order": "desc" },
    pools: [globalPool(["192.168.0.200-192.168.0.202"])],
    problems: ["search-order"],
  },
  {
    title: "search-order other than desc is kube-vip's ascending order: nothing to report",
    data: { "range-global": "192.168.0.200-192.168.0.202", "search-order": "asc" },
    pools: [globalPool(["192.168.0.200-192.168.0.202"])],
  },
  {
    title: "README, several CIDRs in one value are merged as one set",
    data: { "cidr-global": "192.168.0.200/30,192.168.0.200/29" },
    pools: [globalPool(["192.168.0.200/29"])],
  },
  {
    title: "README, several ranges in one value, overlapping, are merged",
    data: { "range-global": "192.168.0.10-192.168.0.11,192.168.0.10-192.168.0.13" },
    pools: [globalPool(["192.168.0.10-192.168.0.13"])],
  },
  {
    title: "README, mixed families in one value: one pool of both families, IPv4 first",
    data: { "cidr-default": "2001::12/127,192.168.0.200/30" },
    pools: [namespacePool(["default"], ["192.168.0.200/30", "2001::12/127"])],
  },
  {
    title: "README, dual-stack ranges",
    data: { "range-default": "192.168.0.10-192.168.0.11,2001::10-2001::11" },
    pools: [namespacePool(["default"], ["192.168.0.10-192.168.0.11", "2001::10-2001::11"])],
  },
  {
    title: "README, allow-share-development: only that namespace's pool shares",
    data: {
      "cidr-default": "192.168.0.200/29",
      "cidr-development": "192.168.0.210/29",
      "allow-share-development": "true",
    },
    pools: [
      namespacePool(["default"], ["192.168.0.200/29"]),
      namespacePool(["development"], ["192.168.0.208/29"], { allowShare: true }),
    ],
  },
  {
    title: "example/configmap/0.1.yaml: allow-share-global for every namespace but plunder, which says false",
    data: {
      "allow-share-global": "true",
      "cidr-default": "192.168.0.200/29",
      "cidr-plunder": "192.168.0.210/29",
      "allow-share-plunder": "false",
      "cidr-testing": "192.168.0.220/29",
    },
    pools: [
      namespacePool(["default"], ["192.168.0.200/29"], { allowShare: true }),
      namespacePool(["plunder"], ["192.168.0.208/29"]),
      namespacePool(["testing"], ["192.168.0.216/29"], { allowShare: true }),
    ],
  },
  {
    title: "README, skip-end-ips-in-cidr: the CIDR pool skips its ends",
    data: { "cidr-default": "192.168.0.200/29", "skip-end-ips-in-cidr": "true" },
    pools: [namespacePool(["default"], ["192.168.0.200/29"], { skipCidrEnds: true })],
  },
  {
    title: "skip-end-ips-in-cidr: adjacent CIDRs merge first, so only the merged prefix's ends are skipped",
    data: { "cidr-global": "198.51.100.0/25,198.51.100.128/25", "skip-end-ips-in-cidr": "true" },
    pools: [globalPool(["198.51.100.0/24"], [], { skipCidrEnds: true })],
  },
  {
    title: "skip-end-ips-in-cidr leaves /31, /32 and IPv6 whole: they are written as ranges",
    data: {
      "cidr-global": "198.51.100.16/28,203.0.113.4/31,203.0.113.9/32,2001:db8::/126",
      "skip-end-ips-in-cidr": "true",
    },
    pools: [
      globalPool(
        ["198.51.100.16/28", "203.0.113.4-203.0.113.5", "203.0.113.9-203.0.113.9", "2001:db8::-2001:db8::3"],
        [],
        { skipCidrEnds: true },
      ),
    ],
  },
  {
    title: "skip-end-ips-in-cidr is only the exact text true, and never applies to ranges",
    data: {
      "cidr-a": "198.51.100.0/28",
      "range-b": "198.51.100.32-198.51.100.47",
      "skip-end-ips-in-cidr": "True",
    },
    pools: [namespacePool(["a"], ["198.51.100.0/28"]), namespacePool(["b"], ["198.51.100.32-198.51.100.47"])],
    problems: ["skip-end-ips-in-cidr"],
  },
  {
    title: "a value with a / is read as CIDRs whatever its key says (range-x: 198.51.100.0/28)",
    data: { "range-x": "198.51.100.0/28", "skip-end-ips-in-cidr": "true" },
    pools: [namespacePool(["x"], ["198.51.100.0/28"], { skipCidrEnds: true })],
  },
  {
    title: "order: cidr-global comes before range-<namespace>, so that namespace takes from the global pool",
    data: { "cidr-global": "198.51.100.0/24", "range-dev": "203.0.113.10-203.0.113.20" },
    pools: [globalPool(["198.51.100.0/24"])],
    problems: ["range-dev"],
  },
  {
    title: "order: range-<namespace> is read when there is no cidr-global, before range-global",
    data: { "range-global": "198.51.100.1-198.51.100.100", "range-dev": "203.0.113.10-203.0.113.20" },
    pools: [
      namespacePool(["dev"], ["203.0.113.10-203.0.113.20"]),
      globalPool(["198.51.100.1-198.51.100.100"], ["dev"]),
    ],
  },
  {
    title: "order: cidr-<namespace> hides range-<namespace>, cidr-global hides range-global",
    data: {
      "cidr-dev": "203.0.113.0/28",
      "range-dev": "203.0.113.100-203.0.113.110",
      "cidr-global": "198.51.100.0/24",
      "range-global": "198.51.100.1-198.51.100.10",
    },
    pools: [namespacePool(["dev"], ["203.0.113.0/28"]), globalPool(["198.51.100.0/24"], ["dev"])],
    problems: ["range-dev", "range-global"],
  },
  {
    title: "a namespace range inside the global one: the namespace pool is older and keeps it",
    data: { "cidr-global": "198.51.100.0/24", "cidr-prod": "198.51.100.0/28" },
    pools: [namespacePool(["prod"], ["198.51.100.0/28"]), globalPool(["198.51.100.0/24"], ["prod"])],
  },
  {
    title: "namespaces with the same value share one pool, named after the first",
    data: { "cidr-b": "198.51.100.0/28", "cidr-a": "198.51.100.0/28", "cidr-c": "198.51.100.16/28" },
    pools: [namespacePool(["a", "b"], ["198.51.100.0/28"]), namespacePool(["c"], ["198.51.100.16/28"])],
  },
  {
    title: "namespaces whose values overlap in part: reported (kube-vip could give one address twice)",
    data: { "cidr-a": "198.51.100.0/27", "cidr-b": "198.51.100.16/28" },
    pools: [namespacePool(["a"], ["198.51.100.0/27"]), namespacePool(["b"], ["198.51.100.16/28"])],
    problems: ["cidr-a and cidr-b overlap"],
  },
  {
    title: "spaces around entries are trimmed, and reported: kube-vip refuses the value",
    data: { "cidr-global": "198.51.100.0/28, 198.51.100.32/28" },
    pools: [globalPool(["198.51.100.0/28", "198.51.100.32/28"])],
    problems: ["cidr-global"],
  },
  {
    title: "an invalid entry is left out, the others kept",
    data: { "cidr-global": "198.51.100.0/28,198.51.100.300/28,203.0.113.0/33" },
    pools: [globalPool(["198.51.100.0/28"])],
    problems: ["cidr-global", "cidr-global"],
  },
  {
    title: "a range list with a CIDR-less entry that is no range: left out; a reversed range holds nothing",
    data: { "range-global": "198.51.100.1-198.51.100.9,198.51.100.20,198.51.100.40-198.51.100.30" },
    pools: [globalPool(["198.51.100.1-198.51.100.9"])],
    problems: ["range-global", "range-global"],
  },
  {
    title: "a namespace whose value has no valid entry gets no pool, and still no global address",
    data: { "cidr-dev": "not-an-address/24", "cidr-global": "198.51.100.0/24" },
    pools: [globalPool(["198.51.100.0/24"], ["dev"])],
    problems: ["cidr-dev", "cidr-dev"],
  },
  {
    title: "DHCP mode (0.0.0.0/32) is reported; the namespace gets nothing, as with kube-vip",
    data: { "cidr-dhcp": "0.0.0.0/32", "cidr-global": "198.51.100.0/24" },
    pools: [globalPool(["198.51.100.0/24"], ["dhcp"])],
    problems: ["cidr-dhcp", "cidr-dhcp"],
  },
  {
    title: "allow-share: Go's ParseBool; anything else is false, and reported",
    data: {
      "cidr-a": "198.51.100.0/28",
      "allow-share-a": "T",
      "cidr-b": "198.51.100.16/28",
      "allow-share-b": "yes",
    },
    pools: [
      namespacePool(["a"], ["198.51.100.0/28"], { allowShare: true }),
      namespacePool(["b"], ["198.51.100.16/28"]),
    ],
    problems: ["allow-share-b"],
  },
  {
    title: "allow-share-<namespace> of a namespace on the global pool cannot be kept per namespace",
    data: { "cidr-global": "198.51.100.0/24", "allow-share-web": "true" },
    pools: [globalPool(["198.51.100.0/24"])],
    problems: ["allow-share-web"],
  },
  {
    title: "interface-* keys, unknown keys and names no namespace can have are reported and ignored",
    data: {
      "cidr-global": "198.51.100.0/24",
      "interface-global": "eth1",
      "cidr-Not_A_Namespace": "203.0.113.0/28",
      colour: "blue",
    },
    pools: [globalPool(["198.51.100.0/24"])],
    problems: ["cidr-Not_A_Namespace", "colour", "interface-global"],
  },
];

for (const row of ROWS) {
  test(`kubeVipPools: ${row.title}`, (t) => {
    const { pools, problems } = kubeVipPools(row.data, CREATED);
    t.deepEqual(pools, row.pools);
    t.deepEqual(problemKeys(problems).sort(), [...(row.problems ?? [])].sort(), problems.join("\n"));
  });
}

test("kubeVipPools: a ConfigMap without address keys gives no pool", (t) => {
  t.deepEqual(kubeVipPools({ "search-order": "asc" }, CREATED), { pools: [], problems: [] });
});

interface ConvertRow {
  readonly title: string;
  readonly data: Data;
  /** Pool name → spec.addresses. */
  readonly addresses: Readonly<Record<string, readonly string[]>>;
  readonly notes: number;
}

const CONVERT_ROWS: readonly ConvertRow[] = [
  {
    title: "README, skip-end-ips-in-cidr: exactly 192.168.0.201-192.168.0.206, as the README says",
    data: { "cidr-default": "192.168.0.200/29", "skip-end-ips-in-cidr": "true" },
    addresses: { "kubevip-default": ["192.168.0.201-192.168.0.206"] },
    notes: 1,
  },
  {
    title: "skip-end-ips-in-cidr on two adjacent /28s: one merged /27 loses .0 and .31 only",
    data: { "cidr-global": "198.51.100.0/28,198.51.100.16/28", "skip-end-ips-in-cidr": "true" },
    addresses: { "kubevip-global": ["198.51.100.1-198.51.100.30"] },
    notes: 1,
  },
  {
    title: "skip-end-ips-in-cidr keeps /31, /32, IPv6 and ranges whole",
    data: {
      "cidr-a": "203.0.113.4/31,203.0.113.9/32,2001:db8::/126",
      "range-b": "198.51.100.16-198.51.100.31",
      "skip-end-ips-in-cidr": "true",
    },
    addresses: {
      "kubevip-a": ["203.0.113.4/31", "203.0.113.9/32", "2001:db8::/126"],
      "kubevip-b": ["198.51.100.16/28"],
    },
    notes: 0,
  },
  {
    title: "the global pool leaves out what a namespace pool holds: each address is in one VIPPool",
    data: { "cidr-global": "198.51.100.0/24", "cidr-prod": "198.51.100.0/28" },
    addresses: { "kubevip-prod": ["198.51.100.0/28"], "kubevip-global": ["198.51.100.16-198.51.100.255"] },
    notes: 1,
  },
  {
    title: "allow-share: the pool is converted, with a note to annotate the Services",
    data: { "range-global": "198.51.100.10-198.51.100.20", "allow-share-global": "true" },
    addresses: { "kubevip-global": ["198.51.100.10-198.51.100.20"] },
    notes: 1,
  },
  {
    title: "a global pool wholly inside namespace pools is left out",
    data: { "cidr-global": "198.51.100.0/28", "cidr-prod": "198.51.100.0/27" },
    addresses: { "kubevip-prod": ["198.51.100.0/27"] },
    notes: 0,
  },
];

for (const row of CONVERT_ROWS) {
  test(`vipPoolsFromKubeVip: ${row.title}`, (t) => {
    const { pools, notes } = vipPoolsFromKubeVip(row.data);
    t.deepEqual(
      Object.fromEntries(pools.map((pool) => [pool.metadata?.name, pool.spec?.addresses])),
      row.addresses,
    );
    t.is(notes.length, row.notes, notes.join("\n"));
  });
}

test("vipPoolsFromKubeVip: VIPPool objects with the reader's allocation and avoidBuggyIPs", (t) => {
  const data = { "range-global": "198.51.100.1-198.51.100.100", "range-dev": "203.0.113.10-203.0.113.20" };
  const { pools, problems } = vipPoolsFromKubeVip(data);
  t.deepEqual(problems, []);
  t.deepEqual(
    pools,
    kubeVipPools(data, CREATED).pools.map((pool) => ({
      apiVersion: "vipd.io/v1alpha1",
      kind: "VIPPool",
      metadata: { name: pool.name },
      spec: pool.spec,
    })),
  );
});

test("vipPoolsFromKubeVip: a global pool left empty by the namespace pools is a problem", (t) => {
  const { problems } = vipPoolsFromKubeVip({
    "cidr-global": "198.51.100.0/28",
    "cidr-prod": "198.51.100.0/27",
  });
  t.deepEqual(problemKeys(problems), ["cidr-global"]);
});
