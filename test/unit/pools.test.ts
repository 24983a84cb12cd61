import test from "ava";
import type { VipPoolSpec } from "../../src/addresses/api.ts";
import type { PoolInput } from "../../src/addresses/pool-input.ts";
import {
  admits,
  announcementModeOf,
  familyUsage,
  firstFree,
  poolFamilies,
  poolOf,
  poolsToAllocateFrom,
  resolvePools,
  type Pool,
  type ServiceFacts,
} from "../../src/addresses/pools.ts";
import { addressText, addressValue, formatRange } from "../../src/addresses/ranges.ts";
import type { AnnouncementMode } from "../../src/routing/announcement-mode.ts";

const CREATED = Date.parse("2026-11-01T00:00:00Z");

function input(name: string, spec: Partial<VipPoolSpec>, extra: Partial<PoolInput> = {}): PoolInput {
  return { name, origin: "VIPPool", createdAt: CREATED, spec: { addresses: [], ...spec }, ...extra };
}

/** One pool alone, resolved. */
function pool(spec: Partial<VipPoolSpec>, extra: Partial<PoolInput> = {}): Pool {
  const [resolved] = resolvePools([input("pool", spec, extra)]);
  if (resolved === undefined) throw new Error("resolvePools lost the pool");
  return resolved;
}

/** What a test reads of a resolved pool: its ranges as text, problems and conflicts. */
function shape(resolved: Pool): {
  name: string;
  origin: string;
  ranges: string[];
  problems: readonly string[];
  conflicts: Pool["conflicts"];
} {
  return {
    name: resolved.name,
    origin: resolved.origin,
    ranges: resolved.ranges.map(formatRange),
    problems: resolved.problems,
    conflicts: resolved.conflicts,
  };
}

const threeOverlapping = [
  input("c", { addresses: ["198.51.100.0/24"] }),
  input("a", { addresses: ["198.51.100.0-198.51.100.20"] }),
  input("b", { addresses: ["198.51.100.10-198.51.100.30", "2001:db8::/120"] }),
];

const resolutions: [string, PoolInput[], ReturnType<typeof shape>[]][] = [
  [
    "three pools created at once: the name decides, and each keeps only what no older pool keeps",
    threeOverlapping,
    [
      { name: "a", origin: "VIPPool", ranges: ["198.51.100.0-198.51.100.20"], problems: [], conflicts: [] },
      {
        name: "b",
        origin: "VIPPool",
        ranges: ["198.51.100.21-198.51.100.30", "2001:db8::-2001:db8::ff"],
        problems: [],
        conflicts: [{ pool: "a", range: "198.51.100.10-198.51.100.20" }],
      },
      {
        name: "c",
        origin: "VIPPool",
        ranges: ["198.51.100.31-198.51.100.255"],
        problems: [],
        conflicts: [
          { pool: "a", range: "198.51.100.0-198.51.100.20" },
          { pool: "b", range: "198.51.100.21-198.51.100.30" },
        ],
      },
    ],
  ],
  [
    "the older pool keeps the overlap whatever the names; a pool wholly inside it hands out nothing",
    [
      input("a-new", { addresses: ["198.51.100.8/29"] }, { createdAt: CREATED + 1000 }),
      input("z-old", { addresses: ["198.51.100.0/24"] }),
    ],
    [
      {
        name: "a-new",
        origin: "VIPPool",
        ranges: [],
        problems: [],
        conflicts: [{ pool: "z-old", range: "198.51.100.8-198.51.100.15" }],
      },
      {
        name: "z-old",
        origin: "VIPPool",
        ranges: ["198.51.100.0-198.51.100.255"],
        problems: [],
        conflicts: [],
      },
    ],
  ],
  [
    "a VIPPool and a kube-vip pool of the same name and age: the VIPPool keeps the overlap",
    [
      input("global", { addresses: ["198.51.100.0-198.51.100.9"] }, { origin: "kube-vip" }),
      input("global", { addresses: ["198.51.100.5-198.51.100.14"] }),
    ],
    [
      {
        name: "global",
        origin: "VIPPool",
        ranges: ["198.51.100.5-198.51.100.14"],
        problems: [],
        conflicts: [],
      },
      {
        name: "global",
        origin: "kube-vip",
        ranges: ["198.51.100.0-198.51.100.4"],
        problems: [],
        conflicts: [{ pool: "global", range: "198.51.100.5-198.51.100.9" }],
      },
    ],
  ],
  [
    "a disabled pool still keeps its addresses: what it gave stays its own",
    [
      input("draining", { addresses: ["198.51.100.0/30"], disabled: true }),
      input("next", { addresses: ["198.51.100.0/29"] }),
    ],
    [
      {
        name: "draining",
        origin: "VIPPool",
        ranges: ["198.51.100.0-198.51.100.3"],
        problems: [],
        conflicts: [],
      },
      {
        name: "next",
        origin: "VIPPool",
        ranges: ["198.51.100.4-198.51.100.7"],
        problems: [],
        conflicts: [{ pool: "draining", range: "198.51.100.0-198.51.100.3" }],
      },
    ],
  ],
  [
    "a pool without a creation time comes after every dated one",
    [
      input("a-undated", { addresses: ["198.51.100.0/30"] }, { createdAt: Number.NaN }),
      input("b-dated", { addresses: ["198.51.100.0/30"] }, { createdAt: CREATED + 5000 }),
    ],
    [
      {
        name: "a-undated",
        origin: "VIPPool",
        ranges: [],
        problems: [],
        conflicts: [{ pool: "b-dated", range: "198.51.100.0-198.51.100.3" }],
      },
      {
        name: "b-dated",
        origin: "VIPPool",
        ranges: ["198.51.100.0-198.51.100.3"],
        problems: [],
        conflicts: [],
      },
    ],
  ],
  [
    "unreadable entries are listed and the readable ones used; entries of one pool that overlap merge",
    [
      input("mixed", {
        addresses: [
          "198.51.100.1/24",
          "203.0.113.0/30",
          "203.0.113.2-203.0.113.5",
          "198.51.100.9-198.51.100.1",
        ],
      }),
    ],
    [
      {
        name: "mixed",
        origin: "VIPPool",
        ranges: ["203.0.113.0-203.0.113.5"],
        problems: [
          "198.51.100.1/24 has host bits set; the network is 198.51.100.0/24",
          "198.51.100.9-198.51.100.1 is reversed: 198.51.100.9 comes after 198.51.100.1",
        ],
        conflicts: [],
      },
    ],
  ],
  [
    "skipCidrEnds drops an IPv4 CIDR's first and last address, not a range's (even one a CIDR covers), a /31's, a /32's or IPv6's",
    [
      input(
        "kube-vip-global",
        {
          addresses: [
            "198.51.100.0/24",
            "203.0.113.10-203.0.113.20",
            "203.0.113.32-203.0.113.63",
            "203.0.113.128/31",
            "203.0.113.200/32",
            "2001:db8::/126",
          ],
        },
        { origin: "kube-vip", skipCidrEnds: true },
      ),
    ],
    [
      {
        name: "kube-vip-global",
        origin: "kube-vip",
        ranges: [
          "198.51.100.1-198.51.100.254",
          "203.0.113.10-203.0.113.20",
          "203.0.113.32-203.0.113.63",
          "203.0.113.128-203.0.113.129",
          "203.0.113.200",
          "2001:db8::-2001:db8::3",
        ],
        problems: [],
        conflicts: [],
      },
    ],
  ],
  [
    "a trimmed CIDR end is no overlap: a younger pool may have it",
    [
      input(
        "kube-vip-global",
        { addresses: ["198.51.100.0/24"] },
        { origin: "kube-vip", skipCidrEnds: true },
      ),
      input("edge", { addresses: ["198.51.100.255"] }, { createdAt: CREATED + 1000 }),
    ],
    [
      { name: "edge", origin: "VIPPool", ranges: ["198.51.100.255"], problems: [], conflicts: [] },
      {
        name: "kube-vip-global",
        origin: "kube-vip",
        ranges: ["198.51.100.1-198.51.100.254"],
        problems: [],
        conflicts: [],
      },
    ],
  ],
];

for (const [rule, inputs, expected] of resolutions) {
  test(`resolvePools: ${rule}`, (t) => {
    t.deepEqual(resolvePools(inputs).map(shape), expected);
    t.deepEqual(
      resolvePools([...inputs].reverse()).map(shape),
      expected,
      "the order of the inputs changes nothing",
    );
  });
}

test("resolvePools: no address is in two pools' ranges, and poolOf finds the one that keeps it", (t) => {
  const pools = resolvePools(threeOverlapping);
  for (let last = 0; last < 256; last++) {
    const { family, value } = addressValue(`198.51.100.${last}`);
    const holders = pools.filter((p) =>
      p.ranges.some((r) => r.family === family && r.first <= value && value <= r.last),
    );
    t.is(holders.length, 1, `198.51.100.${last}`);
    t.is(poolOf(pools, `198.51.100.${last}`)?.name, holders[0]?.name);
  }
  t.is(poolOf(pools, "2001:db8::7")?.name, "b");
  t.is(poolOf(pools, "203.0.113.1"), undefined);
  t.is(poolOf(pools, "2001:db8::100"), undefined);
  t.is(poolOf(pools, "not an address"), undefined);
});

test("resolvePools: spec defaults and serviceAllocation are carried over", (t) => {
  const selector = { matchLabels: { team: "dns" } };
  const plain = pool({ addresses: ["198.51.100.0/30"] });
  t.like(plain, {
    autoAssign: true,
    avoidBuggyIPs: false,
    disabled: false,
    priority: undefined,
    allowShare: false,
  });
  t.deepEqual([plain.namespaces, plain.namespaceSelectors, plain.serviceSelectors], [[], [], []]);
  const full = pool(
    {
      addresses: ["198.51.100.0/30"],
      autoAssign: false,
      avoidBuggyIPs: true,
      disabled: true,
      serviceAllocation: {
        priority: 3,
        namespaces: ["dns"],
        namespaceSelectors: [selector],
        serviceSelectors: [selector],
      },
    },
    { allowShare: true },
  );
  t.like(full, { autoAssign: false, avoidBuggyIPs: true, disabled: true, priority: 3, allowShare: true });
  t.deepEqual(
    [full.namespaces, full.namespaceSelectors, full.serviceSelectors],
    [["dns"], [selector], [selector]],
  );
});

const service: ServiceFacts = {
  namespace: "dns",
  labels: { app: "coredns" },
  namespaceLabels: { team: "infra" },
};

const admissions: [string, VipPoolSpec["serviceAllocation"], Partial<ServiceFacts>, boolean][] = [
  ["no serviceAllocation admits every Service", undefined, {}, true],
  [
    "an empty serviceAllocation admits every Service",
    { namespaces: [], namespaceSelectors: [], serviceSelectors: [] },
    {},
    true,
  ],
  ["a priority alone admits every Service", { priority: 1 }, {}, true],
  ["namespaces: the Service's is listed", { namespaces: ["web", "dns"] }, {}, true],
  ["namespaces: the Service's is not listed", { namespaces: ["web"] }, {}, false],
  [
    "namespaceSelectors: one matches the namespace's labels",
    { namespaceSelectors: [{ matchLabels: { team: "web" } }, { matchLabels: { team: "infra" } }] },
    {},
    true,
  ],
  ["namespaceSelectors: none matches", { namespaceSelectors: [{ matchLabels: { team: "web" } }] }, {}, false],
  [
    "namespaceSelectors: the namespace's labels are not known yet",
    { namespaceSelectors: [{}] },
    { namespaceLabels: undefined },
    false,
  ],
  [
    "namespaces or namespaceSelectors: a listed namespace needs no matching labels (MetalLB's union)",
    { namespaces: ["dns"], namespaceSelectors: [{ matchLabels: { team: "web" } }] },
    { namespaceLabels: undefined },
    true,
  ],
  [
    "namespaces or namespaceSelectors: a matching namespace need not be listed",
    { namespaces: ["web"], namespaceSelectors: [{ matchLabels: { team: "infra" } }] },
    {},
    true,
  ],
  [
    "serviceSelectors: one matches",
    { serviceSelectors: [{ matchLabels: { app: "web" } }, { matchLabels: { app: "coredns" } }] },
    {},
    true,
  ],
  ["serviceSelectors: none matches", { serviceSelectors: [{ matchLabels: { app: "web" } }] }, {}, false],
  [
    "namespace and Service criteria must both hold",
    { namespaces: ["dns"], serviceSelectors: [{ matchLabels: { app: "web" } }] },
    {},
    false,
  ],
  [
    "namespace and Service criteria both holding admit",
    {
      namespaceSelectors: [{ matchLabels: { team: "infra" } }],
      serviceSelectors: [{ matchLabels: { app: "coredns" } }],
    },
    {},
    true,
  ],
];

for (const [rule, serviceAllocation, facts, expected] of admissions) {
  test(`admits: ${rule}`, (t) => {
    const spec =
      serviceAllocation === undefined
        ? { addresses: ["198.51.100.0/30"] }
        : { addresses: ["198.51.100.0/30"], serviceAllocation };
    t.is(admits(pool(spec), { ...service, ...facts }), expected);
  });
}

const choicePools = resolvePools([
  input("a-none", { addresses: ["198.51.100.0/28"] }),
  input("b-ten", { addresses: ["198.51.100.16/28"], serviceAllocation: { priority: 10 } }),
  input("c-one", { addresses: ["198.51.100.32/28"], serviceAllocation: { priority: 1 } }),
  input("d-one", { addresses: ["198.51.100.48/28"], serviceAllocation: { priority: 1 } }),
  input("e-manual", { addresses: ["198.51.100.64/28"], autoAssign: false }),
  input("f-disabled", { addresses: ["198.51.100.80/28"], disabled: true }),
  input("g-web", { addresses: ["198.51.100.96/28"], serviceAllocation: { namespaces: ["web"] } }),
  input("h-shadowed", { addresses: ["198.51.100.0/29"] }, { createdAt: CREATED + 1000 }),
  input("i-labels", {
    addresses: ["198.51.100.112/28"],
    serviceAllocation: { namespaceSelectors: [{ matchLabels: { team: "infra" } }] },
  }),
]);

type Choice = { pools: string[] } | { problem: string };

const choices: [string, Partial<ServiceFacts>, readonly Pool[], string | undefined, Choice][] = [
  [
    "not named: the enabled autoAssign pools that admit it, by priority (none last), then name",
    {},
    choicePools,
    undefined,
    { pools: ["c-one", "d-one", "b-ten", "a-none", "i-labels"] },
  ],
  [
    "not named, namespace labels unknown: the namespace-selecting pool is left out",
    { namespaceLabels: undefined },
    choicePools,
    undefined,
    { pools: ["c-one", "d-one", "b-ten", "a-none"] },
  ],
  [
    "named: that pool only, though it does not assign automatically",
    {},
    choicePools,
    "e-manual",
    { pools: ["e-manual"] },
  ],
  ["named: a pool that would not be chosen by priority", {}, choicePools, "a-none", { pools: ["a-none"] }],
  [
    "named: missing",
    {},
    choicePools,
    "nope",
    { problem: "the Service names pool nope, and no such VIPPool exists" },
  ],
  [
    "named: disabled",
    {},
    choicePools,
    "f-disabled",
    {
      problem:
        "VIPPool f-disabled, which the Service names, gives it no address: it is disabled and hands out no new addresses",
    },
  ],
  [
    "named: not admitting the Service's namespace",
    {},
    choicePools,
    "g-web",
    {
      problem:
        "VIPPool g-web, which the Service names, gives it no address: namespace dns is neither in its serviceAllocation.namespaces nor matched by its namespaceSelectors",
    },
  ],
  [
    "named: namespace labels not known yet",
    { namespaceLabels: undefined },
    choicePools,
    "i-labels",
    {
      problem:
        "VIPPool i-labels, which the Service names, gives it no address: namespace dns is not in its serviceAllocation.namespaces, and its labels, which the namespaceSelectors read, are not known yet",
    },
  ],
  [
    "named: every address of it kept by an older pool",
    {},
    choicePools,
    "h-shadowed",
    {
      problem:
        "VIPPool h-shadowed, which the Service names, gives it no address: every address of it belongs to an older pool it overlaps",
    },
  ],
  [
    "no pool at all",
    {},
    [],
    undefined,
    {
      problem:
        "no VIPPool exists to give the Service an address: create one, or give it an address (vipd.io/loadBalancerIPs)",
    },
  ],
  [
    "pools, none for this Service: each says why",
    { labels: {} },
    resolvePools([
      input("manual", { addresses: ["198.51.100.0/30"], autoAssign: false }),
      input("off", { addresses: ["198.51.100.4/30"], disabled: true }),
      input("picky", {
        addresses: ["198.51.100.8/30"],
        serviceAllocation: { serviceSelectors: [{ matchLabels: { app: "web" } }] },
      }),
      input("unreadable", { addresses: ["198.51.100.1/30"] }),
      input("kv", { addresses: [] }, { origin: "kube-vip" }),
    ]),
    undefined,
    {
      problem:
        "no VIPPool gives the Service an address: pool kv of ConfigMap kube-system/kubevip is empty: it has no addresses; VIPPool manual has autoAssign false: only Services that name it take from it; VIPPool off is disabled; VIPPool picky refuses it: the Service's labels match none of its serviceAllocation.serviceSelectors; VIPPool unreadable is empty: none of its entries can be read",
    },
  ],
  [
    "pools, none for this Service: at most five reasons",
    {},
    resolvePools(
      ["p1", "p2", "p3", "p4", "p5", "p6", "p7"].map((name) =>
        input(name, { addresses: [], disabled: true }),
      ),
    ),
    undefined,
    {
      problem:
        "no VIPPool gives the Service an address: VIPPool p1 is disabled; VIPPool p2 is disabled; VIPPool p3 is disabled; VIPPool p4 is disabled; VIPPool p5 is disabled; and 2 more",
    },
  ],
];

for (const [rule, facts, pools, named, expected] of choices) {
  test(`poolsToAllocateFrom: ${rule}`, (t) => {
    const choice = poolsToAllocateFrom({ ...service, ...facts }, pools, named);
    t.deepEqual(
      choice.ok ? { pools: choice.pools.map((p) => p.name) } : { problem: choice.problem },
      expected,
    );
  });
}

/** The addresses from first on, count of them, as canonical text. */
function run(first: string, count: number, keep: (last: number) => boolean = () => true): Set<string> {
  const { family, value } = addressValue(first);
  const taken = new Set<string>();
  for (let index = 0n; index < BigInt(count); index++) {
    const address = value + index;
    if (keep(Number(address & 0xffn))) taken.add(addressText(family, address));
  }
  return taken;
}

const notBuggy = (last: number): boolean => last !== 0 && last !== 255;

const frees: [string, Partial<VipPoolSpec>, 4 | 6, Set<string>, string | undefined][] = [
  ["nothing taken: the first address", { addresses: ["198.51.100.0/24"] }, 4, new Set(), "198.51.100.0"],
  [
    "the lowest gap",
    { addresses: ["198.51.100.0/24"] },
    4,
    new Set(["198.51.100.0", "198.51.100.1", "198.51.100.3"]),
    "198.51.100.2",
  ],
  [
    "taken addresses outside the pool, of the other family or unreadable change nothing",
    { addresses: ["198.51.100.10-198.51.100.20"] },
    4,
    new Set(["198.51.100.9", "203.0.113.10", "::c633:640a", "garbage", "198.51.100.10"]),
    "198.51.100.11",
  ],
  [
    "a full first range: the next one",
    { addresses: ["198.51.100.0/30", "203.0.113.0/30"] },
    4,
    run("198.51.100.0", 4),
    "203.0.113.0",
  ],
  [
    "everything taken",
    { addresses: ["198.51.100.0/30", "203.0.113.0/31"] },
    4,
    new Set([...run("198.51.100.0", 4), ...run("203.0.113.0", 2)]),
    undefined,
  ],
  [
    "avoidBuggyIPs skips .0",
    { addresses: ["198.51.100.0/23"], avoidBuggyIPs: true },
    4,
    new Set(),
    "198.51.100.1",
  ],
  [
    "avoidBuggyIPs skips .255 and the next .0",
    { addresses: ["198.51.100.0/23"], avoidBuggyIPs: true },
    4,
    run("198.51.100.1", 254),
    "198.51.101.1",
  ],
  [
    "avoidBuggyIPs: everything else taken",
    { addresses: ["198.51.100.0/24"], avoidBuggyIPs: true },
    4,
    run("198.51.100.1", 254),
    undefined,
  ],
  [
    "avoidBuggyIPs: a pool of .0 and .255 only has nothing",
    { addresses: ["198.51.100.255-198.51.101.0"], avoidBuggyIPs: true },
    4,
    new Set(),
    undefined,
  ],
  [
    "without avoidBuggyIPs .255 is handed out",
    { addresses: ["198.51.100.0/24"] },
    4,
    run("198.51.100.0", 255),
    "198.51.100.255",
  ],
  [
    "avoidBuggyIPs leaves IPv6 alone",
    { addresses: ["2001:db8::/120"], avoidBuggyIPs: true },
    6,
    new Set(),
    "2001:db8::",
  ],
  [
    "avoidBuggyIPs hands out an IPv6 address ending in ff",
    { addresses: ["2001:db8::/120"], avoidBuggyIPs: true },
    6,
    run("2001:db8::", 255),
    "2001:db8::ff",
  ],
  [
    "avoidBuggyIPs in a dual-stack pool: IPv6 from its ::0",
    { addresses: ["198.51.100.0/24", "2001:db8::/120"], avoidBuggyIPs: true },
    6,
    new Set(),
    "2001:db8::",
  ],
  [
    "avoidBuggyIPs in a dual-stack pool: IPv4 past its .0",
    { addresses: ["198.51.100.0/24", "2001:db8::/120"], avoidBuggyIPs: true },
    4,
    new Set(),
    "198.51.100.1",
  ],
  ["no range of that family", { addresses: ["198.51.100.0/24"] }, 6, new Set(), undefined],
  ["10,000 taken in a /16", { addresses: ["198.18.0.0/16"] }, 4, run("198.18.0.0", 10_000), "198.18.39.16"],
  [
    "over 10,000 taken in a /16, avoidBuggyIPs",
    { addresses: ["198.18.0.0/16"], avoidBuggyIPs: true },
    4,
    run("198.18.0.0", 10_200, notBuggy),
    "198.18.39.216",
  ],
  ["everything of a /16 taken", { addresses: ["198.18.0.0/16"] }, 4, run("198.18.0.0", 65_536), undefined],
  [
    "a /32 of IPv6 with its first 10,000 taken",
    { addresses: ["2001:db8::/32"] },
    6,
    run("2001:db8::", 10_000),
    "2001:db8::2710",
  ],
  [
    "a /32 of IPv6 with its first two taken",
    { addresses: ["2001:db8::/32"] },
    6,
    new Set(["2001:db8::", "2001:db8::1"]),
    "2001:db8::2",
  ],
];

for (const [rule, spec, family, taken, expected] of frees) {
  test(`firstFree: ${rule}`, (t) => {
    t.is(firstFree(pool(spec), family, taken), expected);
  });
}

test("firstFree never returns a taken address nor one outside the pool, step after step", (t) => {
  const resolved = resolvePools(threeOverlapping).find((p) => p.name === "c");
  if (resolved === undefined) return t.fail("no pool c");
  const taken = new Set<string>(["198.51.100.40", "198.51.100.41"]);
  for (let step = 0; step < 223; step++) {
    const address = firstFree(resolved, 4, taken);
    if (address === undefined) return t.fail(`nothing free after ${step} steps`);
    t.false(taken.has(address));
    t.is(poolOf([resolved], address)?.name, "c");
    taken.add(address);
  }
  t.is(firstFree(resolved, 4, taken), undefined);
});

const usages: [
  string,
  Partial<VipPoolSpec>,
  4 | 6,
  number,
  { total: string; allocated: number; free: string },
][] = [
  ["a /23", { addresses: ["198.51.100.0/23"] }, 4, 3, { total: "512", allocated: 3, free: "509" }],
  [
    "a /23 with avoidBuggyIPs loses its 4 buggy addresses",
    { addresses: ["198.51.100.0/23"], avoidBuggyIPs: true },
    4,
    3,
    { total: "508", allocated: 3, free: "505" },
  ],
  [
    "a range across an octet boundary with avoidBuggyIPs",
    { addresses: ["198.51.100.250-198.51.101.5"], avoidBuggyIPs: true },
    4,
    0,
    { total: "10", allocated: 0, free: "10" },
  ],
  [
    "a range without .0 or .255 loses nothing",
    { addresses: ["198.51.100.1-198.51.100.254"], avoidBuggyIPs: true },
    4,
    0,
    { total: "254", allocated: 0, free: "254" },
  ],
  [
    "a single .255",
    { addresses: ["198.51.100.255"], avoidBuggyIPs: true },
    4,
    0,
    { total: "0", allocated: 0, free: "0" },
  ],
  [
    "a /16 with avoidBuggyIPs",
    { addresses: ["198.18.0.0/16"], avoidBuggyIPs: true },
    4,
    0,
    { total: "65024", allocated: 0, free: "65024" },
  ],
  [
    "IPv6 /64, exact",
    { addresses: ["2001:db8::/64"] },
    6,
    2,
    { total: "18446744073709551616", allocated: 2, free: "18446744073709551614" },
  ],
  [
    "IPv6 /32, exact",
    { addresses: ["2001:db8::/32"] },
    6,
    0,
    { total: "79228162514264337593543950336", allocated: 0, free: "79228162514264337593543950336" },
  ],
  [
    "avoidBuggyIPs leaves IPv6 whole",
    { addresses: ["2001:db8::/120"], avoidBuggyIPs: true },
    6,
    0,
    { total: "256", allocated: 0, free: "256" },
  ],
  [
    "avoidBuggyIPs in a dual-stack pool: IPv6 whole",
    { addresses: ["198.51.100.0/24", "2001:db8::/120"], avoidBuggyIPs: true },
    6,
    0,
    { total: "256", allocated: 0, free: "256" },
  ],
  [
    "avoidBuggyIPs in a dual-stack pool: IPv4 without .0 and .255",
    { addresses: ["198.51.100.0/24", "2001:db8::/120"], avoidBuggyIPs: true },
    4,
    0,
    { total: "254", allocated: 0, free: "254" },
  ],
  [
    "only the family asked for",
    { addresses: ["198.51.100.0/24", "2001:db8::/120"] },
    6,
    1,
    { total: "256", allocated: 1, free: "255" },
  ],
  [
    "no range of the family",
    { addresses: ["198.51.100.0/24"] },
    6,
    0,
    { total: "0", allocated: 0, free: "0" },
  ],
  [
    "more allocated than it has (a requested .0 counts): free stays 0",
    { addresses: ["198.51.100.0/30"], avoidBuggyIPs: true },
    4,
    4,
    { total: "3", allocated: 4, free: "0" },
  ],
];

for (const [rule, spec, family, allocated, expected] of usages) {
  test(`familyUsage: ${rule}`, (t) => {
    t.deepEqual(familyUsage(pool(spec), family, allocated), expected);
  });
}

test("poolFamilies: the families of what the pool hands out", (t) => {
  t.deepEqual([...poolFamilies(pool({ addresses: ["2001:db8::/120", "198.51.100.0/24"] }))].sort(), [4, 6]);
  t.deepEqual([...poolFamilies(pool({ addresses: ["2001:db8::1"] }))], [6]);
  t.deepEqual([...poolFamilies(pool({ addresses: ["garbage"] }))], []);
});

test("resolvePools: spec.mode and spec.bgp are carried over; a mode the CRD would refuse is none", (t) => {
  const bgp = { communities: ["65000:100"], localPreference: 200 };
  t.like(pool({ addresses: ["198.51.100.0/30"], mode: "ecmp", bgp }), { mode: "ecmp", bgp });
  t.like(pool({ addresses: ["198.51.100.0/30"] }), { mode: undefined, bgp: undefined });
  t.is(pool({ addresses: ["198.51.100.0/30"], mode: "anycast" as never }).mode, undefined);
});

const modePools = resolvePools([
  input("routed", { addresses: ["198.51.100.0/28", "2001:db8:1::/120"], mode: "bgp" }),
  input("spread", { addresses: ["198.51.100.16/28"], mode: "ecmp" }),
  input("segment", { addresses: ["198.51.100.32/28"], mode: "l2" }),
  input("unset", { addresses: ["198.51.100.48/28"] }),
  // Loses 198.51.100.0/28 to the older "routed": its mode does not apply there.
  input("younger", { addresses: ["198.51.100.0/27"], mode: "ecmp" }, { createdAt: CREATED + 1000 }),
  input("kubevip", { addresses: ["203.0.113.0/28"] }, { origin: "kube-vip" }),
]);

const modeCases: [string, string, AnnouncementMode, AnnouncementMode][] = [
  ["an address of a bgp pool", "198.51.100.3", "l2", "bgp"],
  ["an IPv6 address of the same pool", "2001:db8:1::7", "ecmp", "bgp"],
  ["an address of an ecmp pool", "198.51.100.17", "l2", "ecmp"],
  ["an l2 pool overrides a routed fallback", "198.51.100.33", "ecmp", "l2"],
  ["a pool without a mode takes the fallback", "198.51.100.49", "bgp", "bgp"],
  ["a kube-vip pool takes the fallback", "203.0.113.5", "ecmp", "ecmp"],
  ["an address outside every pool takes the fallback", "192.0.2.1", "bgp", "bgp"],
  ["an overlap goes by the pool that keeps it", "198.51.100.1", "l2", "bgp"],
  ["text that is no address takes the fallback", "not-an-ip", "ecmp", "ecmp"],
];
for (const [name, address, fallback, expected] of modeCases) {
  test(`announcementModeOf: ${name}`, (t) => {
    t.is(announcementModeOf(address, modePools, fallback), expected);
  });
}
