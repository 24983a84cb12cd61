// Addresses from pools (issue 15), against three agents running as the ServiceAccount of
// manifests/rbac.yaml and the real API server with vipd's CRDs: a Service that names no address
// gets the pool's first free one and answers on it; 300 Services created at once get 300 distinct
// addresses, also when the allocating agent is killed midway; every agent and the API server
// restarted change no address; exhaustion, release and the cool-down; the three ipFamilyPolicies;
// an address outside the pools refused; externalIPs inside and outside --external-ip-cidrs; and
// vipd convert metallb output applied and used; overlapping pools; and each problem told once, by
// one agent.
import test from "ava";
import { spawnSync } from "node:child_process";
import { overlaps } from "../../lab/analysis.ts";
import {
  agentMetric,
  loadBalancerService,
  manifestRbacKubeconfig,
  nodesHolding,
  prepareCluster,
  serviceEvents,
  vipdProgram,
  type Cluster,
} from "../../lab/agents.ts";
import { up, type Lab, type LabProcess } from "../../lab/index.ts";

let lab: Lab;
let cluster: Cluster;
let agents = new Map<string, LabProcess>();

const COOLDOWN = "3s";
const AGENT_ARGS = [`--allocation-cooldown=${COOLDOWN}`, "--external-ip-cidrs=198.51.100.128/28"];

function kubectl(args: string[], input?: string): Promise<string> {
  return cluster.kubectl(args, input);
}

function pool(name: string, spec: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion: "vipd.io/v1alpha1", kind: "VIPPool", metadata: { name }, spec });
}

interface ServiceObject {
  readonly metadata?: { readonly name?: string; readonly uid?: string };
  readonly status?: { readonly loadBalancer?: { readonly ingress?: readonly { readonly ip?: string }[] } };
}

interface AllocationObject {
  readonly spec?: {
    readonly address?: string;
    readonly pool?: string;
    readonly releasedAt?: string;
    readonly services?: readonly { readonly name?: string; readonly uid?: string }[];
  };
}

/** status.loadBalancer.ingress of every Service of a namespace, by name. */
async function ingresses(namespace = "default"): Promise<Map<string, string[]>> {
  const list = JSON.parse(await kubectl(["get", "service", "-n", namespace, "-o", "json"])) as {
    items: ServiceObject[];
  };
  return new Map(
    list.items.map((service) => [
      service.metadata?.name ?? "",
      (service.status?.loadBalancer?.ingress ?? []).flatMap((entry) => entry.ip ?? []),
    ]),
  );
}

async function allocations(): Promise<AllocationObject[]> {
  return (JSON.parse(await kubectl(["get", "vipallocations", "-o", "json"])) as { items: AllocationObject[] })
    .items;
}

function eventsOf(service: string): Promise<string[]> {
  return serviceEvents(cluster, service, { withCount: true });
}

function onNodes(ip: string): Promise<string[]> {
  return nodesHolding(lab, ip);
}

async function answeredBy(ip: string): Promise<string> {
  const probe = await lab.probe({ target: ip, intervalMs: 10 });
  try {
    const sample = await probe.waitFor((each) => each.node !== null, 30_000);
    return sample.node ?? "";
  } finally {
    await probe.stop();
  }
}

function services(
  prefix: string,
  count: number,
  extra: Parameters<typeof loadBalancerService>[0] | object = {},
): string {
  const items = Array.from(
    { length: count },
    (_, index) => JSON.parse(loadBalancerService({ name: `${prefix}-${index}`, ...extra })) as object,
  );
  return JSON.stringify({ apiVersion: "v1", kind: "List", items });
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
  cluster = await prepareCluster(lab, { kubeconfig: manifestRbacKubeconfig });
  agents = cluster.startAgents(AGENT_ARGS);
});

test.after.always(async () => {
  if (agents.size > 0) await cluster.killAgents(agents.values());
  await lab.down();
});

test.serial("with no pool, a Service naming no address is told once why it waits", async (t) => {
  await kubectl(["apply", "-f", "-"], loadBalancerService({ name: "lonely" }));
  const events = await cluster.eventually(
    () => eventsOf("lonely"),
    (each) => each.some((line) => line.startsWith("NoAddress")),
    {
      what: "a NoAddress Event on lonely",
    },
  );
  // Every agent reaches the same answer; one of them says so.
  await new Promise((resolve) => setTimeout(resolve, 6000));
  const after = (await eventsOf("lonely")).filter((line) => line.startsWith("NoAddress"));
  t.is(after.length, 1, after.join("\n"));
  t.regex(events.join("\n"), /NoAddress ×1: no IPv4 address: no VIPPool exists/);
  await kubectl(["delete", "service", "lonely"]);
});

test.serial(
  "a Service naming no address gets the pool's first address, answers on it, and the pool shows it",
  async (t) => {
    await kubectl(
      ["apply", "-f", "-"],
      pool("lan", { addresses: ["198.51.100.100-198.51.100.109", "2001:db8:1::100/124"] }),
    );
    await kubectl(["apply", "-f", "-"], loadBalancerService({ name: "web" }));
    const status = await cluster.eventually(
      () => ingresses(),
      (each) => (each.get("web") ?? []).length === 1,
      {
        what: "web's status",
      },
    );
    t.deepEqual(status.get("web"), ["198.51.100.100"]);
    const holder = await answeredBy("198.51.100.100");
    t.deepEqual(await onNodes("198.51.100.100"), [holder]);
    const allocation = (await allocations()).find((each) => each.spec?.address === "198.51.100.100");
    t.is(allocation?.spec?.pool, "lan");
    t.is(allocation?.spec?.services?.[0]?.name, "web");
    const usage = await cluster.eventually(
      () =>
        kubectl([
          "get",
          "vippool",
          "lan",
          "-o",
          "jsonpath={.status.allocated} {.status.ipv4.free} {.status.ipv6.free}",
        ]),
      (text) => text.startsWith("1 "),
      { what: "lan's status" },
    );
    t.is(usage, "1 9 16");
  },
);

test.serial("the three ipFamilyPolicies", async (t) => {
  await kubectl(
    ["apply", "-f", "-"],
    loadBalancerService({ name: "single6", ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv6"] }),
  );
  await kubectl(
    ["apply", "-f", "-"],
    loadBalancerService({ name: "prefer", ipFamilyPolicy: "PreferDualStack" }),
  );
  await kubectl(["apply", "-f", "-"], pool("only4", { addresses: ["198.51.100.112/30"], autoAssign: false }));
  await kubectl(
    ["apply", "-f", "-"],
    loadBalancerService({
      name: "require",
      ipFamilyPolicy: "RequireDualStack",
      annotations: { "vipd.io/pool": "only4" },
    }),
  );
  const status = await cluster.eventually(
    () => ingresses(),
    (each) => (each.get("single6") ?? []).length === 1 && (each.get("prefer") ?? []).length === 2,
    { what: "single6 and prefer served" },
  );
  t.deepEqual(status.get("single6"), ["2001:db8:1::100"]);
  t.deepEqual([...(status.get("prefer") ?? [])].sort(), ["198.51.100.101", "2001:db8:1::101"]);
  const events = await cluster.eventually(
    () => eventsOf("require"),
    (each) => each.some((line) => line.startsWith("NoAddress")),
    {
      what: "require told which family is short",
    },
  );
  t.regex(events.join("\n"), /no IPv6 address/);
  t.deepEqual(status.get("require"), []);
  t.false(
    (await allocations()).some((each) => each.spec?.services?.some((ref) => ref.name === "require")),
    "RequireDualStack takes nothing while a family is short",
  );
  await kubectl(["delete", "service", "single6", "prefer", "require"]);
  await kubectl(["delete", "vippool", "only4"]);
});

test.serial(
  "an address named outside every pool is refused; one inside is allocated to its Service",
  async (t) => {
    await kubectl(
      ["apply", "-f", "-"],
      loadBalancerService({ name: "outside", loadBalancerIP: "198.51.100.230" }),
    );
    await kubectl(
      ["apply", "-f", "-"],
      loadBalancerService({ name: "inside", loadBalancerIP: "198.51.100.105" }),
    );
    const events = await cluster.eventually(
      () => eventsOf("outside"),
      (each) => each.some((line) => line.startsWith("InvalidVIP")),
      {
        what: "outside refused",
      },
    );
    t.regex(events.join("\n"), /198\.51\.100\.230 is in no VIPPool/);
    const status = await cluster.eventually(
      () => ingresses(),
      (each) => (each.get("inside") ?? []).length === 1,
      { what: "inside served" },
    );
    t.deepEqual(status.get("inside"), ["198.51.100.105"]);
    t.deepEqual(await onNodes("198.51.100.230"), []);
    await kubectl(["delete", "service", "outside", "inside"]);
  },
);

test.serial("exhaustion, release and the cool-down", async (t) => {
  await kubectl(
    ["apply", "-f", "-"],
    pool("tiny", { addresses: ["198.51.100.110-198.51.100.111"], autoAssign: false }),
  );
  const annotations = { "vipd.io/pool": "tiny" };
  for (const name of ["t1", "t2", "t3"]) {
    await kubectl(
      ["apply", "-f", "-"],
      loadBalancerService({ name, annotations, ipFamilyPolicy: "SingleStack", ipFamilies: ["IPv4"] }),
    );
    if (name !== "t3")
      await cluster.eventually(
        () => ingresses(),
        (each) => (each.get(name) ?? []).length === 1,
        { what: `${name} served` },
      );
  }
  const events = await cluster.eventually(
    () => eventsOf("t3"),
    (each) => each.some((line) => line.startsWith("PoolExhausted")),
    {
      what: "t3 told the pool is exhausted",
    },
  );
  t.regex(events.join("\n"), /VIPPool tiny has no free IPv4 address/);
  const freed = (await ingresses()).get("t1")?.[0] ?? "";
  const deletedAt = Date.now();
  await kubectl(["delete", "service", "t1"]);
  const status = await cluster.eventually(
    () => ingresses(),
    (each) => (each.get("t3") ?? []).length === 1,
    { what: "t3 served", timeoutMs: 30_000 },
  );
  t.deepEqual(status.get("t3"), [freed]);
  // Not before the cool-down: clients' caches had that long to forget t1's holder.
  t.true(Date.now() - deletedAt >= 3000, `t3 got ${freed} ${Date.now() - deletedAt} ms after t1 was deleted`);
  await kubectl(["delete", "service", "t2", "t3"]);
  await kubectl(["delete", "vippool", "tiny"]);
});

test.serial("externalIPs inside --external-ip-cidrs are announced; those outside are refused", async (t) => {
  const spec = {
    type: "ClusterIP",
    ports: [{ port: 8080, protocol: "UDP" }],
    externalIPs: ["198.51.100.130", "198.51.100.150"],
  };
  await kubectl(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "ext", namespace: "default" },
      spec,
    }),
  );
  const holder = await answeredBy("198.51.100.130");
  t.deepEqual(await onNodes("198.51.100.130"), [holder]);
  t.deepEqual(await onNodes("198.51.100.150"), []);
  const events = await cluster.eventually(
    () => eventsOf("ext"),
    (each) => each.some((line) => line.startsWith("InvalidVIP")),
    {
      what: "ext told about 198.51.100.150",
    },
  );
  t.regex(events.join("\n"), /198\.51\.100\.150 is outside --external-ip-cidrs/);
  const annotation = await kubectl([
    "get",
    "service",
    "ext",
    "-o",
    "jsonpath={.metadata.annotations.vipd\\.io/holder}",
  ]);
  t.is(annotation, holder);
  await kubectl(["delete", "service", "ext"]);
});

test.serial("kube-vip's kube-system/kubevip ConfigMap is read as pools, in its search order", async (t) => {
  await kubectl(["create", "namespace", "team"]);
  // cidr-<namespace> comes before range-global for the namespace's Services; the others get range-global.
  const config = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "kubevip", namespace: "kube-system" },
    data: { "cidr-team": "198.51.100.120/30", "range-global": "198.51.100.124-198.51.100.125" },
  };
  await kubectl(["apply", "-f", "-"], JSON.stringify(config));
  const annotations = { "vipd.io/pool": "kubevip-team" };
  await kubectl(["apply", "-f", "-"], loadBalancerService({ name: "kv", namespace: "team", annotations }));
  await kubectl(
    ["apply", "-f", "-"],
    loadBalancerService({ name: "kv-global", annotations: { "vipd.io/pool": "kubevip-global" } }),
  );
  const team = await cluster.eventually(
    () => ingresses("team"),
    (each) => (each.get("kv") ?? []).length === 1,
    { what: "team/kv served" },
  );
  // kube-vip skips .0 and .255 but not a CIDR's network address unless skip-end-ips-in-cidr is set.
  t.deepEqual(team.get("kv"), ["198.51.100.120"]);
  const global = await cluster.eventually(
    () => ingresses(),
    (each) => (each.get("kv-global") ?? []).length === 1,
    {
      what: "kv-global served",
    },
  );
  t.deepEqual(global.get("kv-global"), ["198.51.100.124"]);
  t.not(await answeredBy("198.51.100.120"), "");
  await kubectl(["delete", "service", "kv-global"]);
  await kubectl(["delete", "namespace", "team", "--wait=false"]);
  await kubectl(["delete", "configmap", "-n", "kube-system", "kubevip"]);
});

test.serial(
  "vipd convert metallb output, applied, gives addresses to Services naming the MetalLB pool",
  async (t) => {
    const metallb = [
      "apiVersion: metallb.io/v1beta1",
      "kind: IPAddressPool",
      "metadata: { name: legacy, namespace: metallb-system }",
      "spec: { addresses: [198.51.100.140-198.51.100.141], autoAssign: false }",
    ].join("\n");
    const converted = spawnSync(process.execPath, [vipdProgram(), "convert", "metallb", "-f", "-"], {
      input: metallb,
      encoding: "utf8",
    });
    t.is(converted.status, 0, converted.stderr);
    await kubectl(["apply", "-f", "-"], converted.stdout);
    await kubectl(
      ["apply", "-f", "-"],
      loadBalancerService({ name: "from-metallb", annotations: { "metallb.io/address-pool": "legacy" } }),
    );
    const status = await cluster.eventually(
      () => ingresses(),
      (each) => (each.get("from-metallb") ?? []).length === 1,
      {
        what: "from-metallb served",
      },
    );
    t.deepEqual(status.get("from-metallb"), ["198.51.100.140"]);
    await kubectl(["delete", "service", "from-metallb"]);
  },
);

test.serial("two overlapping pools: the older keeps the overlap, the younger says so", async (t) => {
  await kubectl(
    ["apply", "-f", "-"],
    pool("younger", { addresses: ["198.51.100.108-198.51.100.115"], autoAssign: false }),
  );
  const condition = await cluster.eventually(
    () =>
      kubectl([
        "get",
        "vippool",
        "younger",
        "-o",
        'jsonpath={.status.conditions[?(@.type=="Conflicting")].status} {.status.conditions[?(@.type=="Conflicting")].message}',
      ]),
    (text) => text.startsWith("True"),
    { what: "younger Conflicting" },
  );
  t.regex(condition, /198\.51\.100\.108-198\.51\.100\.109 \(kept by lan\)/);
  await kubectl(
    ["apply", "-f", "-"],
    loadBalancerService({ name: "from-younger", annotations: { "vipd.io/pool": "younger" } }),
  );
  const status = await cluster.eventually(
    () => ingresses(),
    (each) => (each.get("from-younger") ?? []).length === 1,
    {
      what: "from-younger served",
    },
  );
  t.deepEqual(status.get("from-younger"), ["198.51.100.110"]);
  await kubectl(["delete", "service", "from-younger"]);
  await kubectl(["delete", "vippool", "younger"]);
});

const MANY = 300;
const MANY_POOL = "2001:db8:1::1:0/119";
const manyV6 = {
  ipFamilyPolicy: "SingleStack",
  ipFamilies: ["IPv6"],
  annotations: { "vipd.io/pool": "many" },
} as const;

async function distinctAndServed(
  prefix: string,
): Promise<{ addresses: Map<string, string>; problems: string[] }> {
  const status = await ingresses();
  const addresses = new Map<string, string>();
  const problems: string[] = [];
  for (let index = 0; index < MANY; index += 1) {
    const name = `${prefix}-${index}`;
    const ips = status.get(name) ?? [];
    if (ips.length !== 1) problems.push(`${name}: ${ips.join(",") || "pending"}`);
    for (const ip of ips) {
      const other = addresses.get(ip);
      if (other !== undefined) problems.push(`${ip} given to ${other} and ${name}`);
      addresses.set(ip, name);
    }
  }
  return { addresses, problems };
}

test.serial(
  `${MANY} Services created at once get ${MANY} distinct addresses, each on one node, also with the allocator killed midway`,
  async (t) => {
    await kubectl(["apply", "-f", "-"], pool("many", { addresses: [MANY_POOL], autoAssign: false }));
    const ips = Array.from({ length: 512 }, (_, index) => `2001:db8:1::1:${index.toString(16)}`);
    const sampler = await lab.sampleAddressSet({ ips, intervalMs: 50 });
    await kubectl(["apply", "-f", "-"], services("many", MANY, manyV6));
    // The allocator is the agent whose creates succeed; it is killed once a third are allocated.
    const allocator = await cluster.eventually(
      async () => {
        for (const name of agents.keys()) {
          const created = await agentMetric(lab, cluster.node(name), "vipd_allocation_writes_total", {
            step: "create",
            outcome: "done",
          }).catch(() => 0);
          if (created >= MANY / 3) return name;
        }
        return "";
      },
      (name) => name !== "",
      { what: `an agent that allocated ${MANY / 3} addresses`, timeoutMs: 60_000 },
    );
    await cluster.killAgents([agents.get(allocator)].filter((each) => each !== undefined));
    const settled = await cluster.eventually(
      () => distinctAndServed("many"),
      (each) => each.problems.length === 0,
      {
        what: `${MANY} Services served on distinct addresses`,
        timeoutMs: 180_000,
      },
    );
    t.is(settled.addresses.size, MANY);
    const records = (await allocations()).filter(
      (each) => each.spec?.pool === "many" && each.spec.releasedAt === undefined,
    );
    t.is(records.length, MANY, "one allocation per Service, none left over from the killed allocator");
    const samples = await sampler.stop();
    const doubled = [...samples].flatMap(([ip, each]) => (overlaps(each).length > 0 ? [ip] : []));
    t.deepEqual(doubled, [], "no address on two nodes at any sample");
    for (const ip of [...settled.addresses.keys()].slice(0, 3)) t.not(await answeredBy(ip), "");
    agents.set(allocator, cluster.startAgent(cluster.node(allocator), AGENT_ARGS));
  },
);

test.serial("every agent and the API server restarted: every address unchanged", async (t) => {
  const before = await ingresses();
  await cluster.killAgents(agents.values());
  await cluster.api.restart();
  agents = cluster.startAgents(AGENT_ARGS);
  const wanted = [...before].filter(([, ips]) => ips.length > 0);
  const after = await cluster.eventually(
    () => ingresses(),
    (each) => wanted.every(([name, ips]) => (each.get(name) ?? []).join() === ips.join()),
    { what: "every Service showing its old addresses again", timeoutMs: 120_000 },
  );
  const changed = wanted
    .filter(([name, ips]) => (after.get(name) ?? []).join() !== ips.join())
    .map(([name]) => name);
  t.deepEqual(changed, []);
  t.true(wanted.length > MANY);
});
