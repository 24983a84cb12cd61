// vipd's CustomResourceDefinitions (manifests/crds.yaml) against the real API server: the OpenAPI
// schema and the CEL rules refuse malformed pools and allocations at admission, naming the field;
// good ones are stored with their defaults; the printer columns are in the server's Table; and the
// agent's ServiceAccount (manifests/rbac.yaml, its own token) may write allocations and pool status
// but not a pool's spec, and may read kube-system/kubevip and no other ConfigMap there.
import test from "ava";
import { readFileSync } from "node:fs";
import { request, type RequestOptions } from "node:https";
import { createInterface } from "node:readline";
import { KubeConfig } from "@kubernetes/client-node";
import { startApiServer, type ApiServer } from "../../lab/apiserver.ts";
import { installCrds } from "../../lab/agents.ts";
import { allocationName, VIPD_GROUP_VERSION } from "../../src/addresses/api.ts";
import { ADDRESS_RULES, MAX_POOL_ADDRESSES } from "../../src/manifest/crds.ts";

const POOLS = `/apis/${VIPD_GROUP_VERSION}/vippools`;
const ALLOCATIONS = `/apis/${VIPD_GROUP_VERSION}/vipallocations`;
const TABLE = "application/json;as=Table;g=meta.k8s.io;v=v1";
/** The field the server names for a rule on the object's root (the name rule of VIPAllocation). */
const ROOT = "<nil>";

interface Response {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

interface Cause {
  readonly reason?: string;
  readonly field?: string;
  readonly message?: string;
}

/** A client for one identity: raw requests, so that a test reads the server's Status as sent. */
interface Client {
  send(
    method: string,
    path: string,
    options?: { body?: unknown; accept?: string; type?: string },
  ): Promise<Response>;
  /** The first event of a watch on path, or undefined when the server refuses the watch. */
  firstWatchEvent(
    path: string,
  ): Promise<{ status: number; event?: { type: string; object: Record<string, unknown> } }>;
}

async function client(kubeconfigPath: string): Promise<Client> {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  const server = config.getCurrentCluster()?.server;
  if (server === undefined) throw new Error(`${kubeconfigPath} names no server`);
  const base: RequestOptions = {};
  await config.applyToHTTPSOptions(base);
  const open = (method: string, path: string, headers: Record<string, string>) =>
    request(new URL(path, server), { ...base, method, headers: { ...base.headers, ...headers } });
  return {
    send: (method, path, options = {}) =>
      new Promise((resolve, reject) => {
        const body = options.body === undefined ? undefined : JSON.stringify(options.body);
        const req = open(method, path, {
          accept: options.accept ?? "application/json",
          ...(body === undefined ? {} : { "content-type": options.type ?? "application/json" }),
        });
        req.on("response", (response) => {
          let text = "";
          response.setEncoding("utf8");
          response.on("data", (chunk: string) => (text += chunk));
          response.on("end", () => {
            resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
          });
        });
        req.on("error", reject);
        req.end(body);
      }),
    firstWatchEvent: (path) =>
      new Promise((resolve, reject) => {
        const req = open("GET", path, { accept: "application/json" });
        req.setTimeout(10_000, () => req.destroy(new Error(`no watch event on ${path} within 10s`)));
        req.on("response", (response) => {
          const status = response.statusCode ?? 0;
          if (status !== 200) {
            response.resume();
            resolve({ status });
            return;
          }
          const lines = createInterface({ input: response });
          lines.once("line", (line) => {
            lines.close();
            req.destroy();
            resolve({ status, event: JSON.parse(line) as { type: string; object: Record<string, unknown> } });
          });
        });
        req.on("error", reject);
        req.end();
      }),
  };
}

function causesOf(response: Response): Cause[] {
  const details = response.body.details as { causes?: Cause[] } | undefined;
  return details?.causes ?? [];
}

function pool(name: string, spec: Record<string, unknown>) {
  return { apiVersion: VIPD_GROUP_VERSION, kind: "VIPPool", metadata: { name }, spec };
}

function allocation(address: string, spec: Record<string, unknown> = {}, name = allocationName(address)) {
  return {
    apiVersion: VIPD_GROUP_VERSION,
    kind: "VIPAllocation",
    metadata: { name },
    spec: { address, pool: "lan", services: [{ namespace: "default", name: "web", uid: "u-1" }], ...spec },
  };
}

let api: ApiServer;
let admin: Client;
let agent: Client;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("these tests start network namespaces and need root");
  api = await startApiServer();
  await installCrds(async (args, input) => {
    const result = await api.kubectl(args, input === undefined ? undefined : { input });
    if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  });
  const rbac = await api.kubectl(["apply", "-f", "-"], {
    input: readFileSync(new URL("../../manifests/rbac.yaml", import.meta.url), "utf8"),
  });
  if (rbac.code !== 0) throw new Error(`applying manifests/rbac.yaml: ${rbac.stderr}`);
  admin = await client(api.kubeconfigPath);
  agent = await client(await api.serviceAccountKubeconfig({ namespace: "vipd-system", name: "vipd" }));
});

test.after.always(async () => {
  await (api as ApiServer | undefined)?.stop();
});

const selector = (expression: Record<string, unknown>) => ({
  addresses: ["198.51.100.0/24"],
  serviceAllocation: { namespaceSelectors: [{ matchExpressions: [expression] }] },
});

// [what is wrong, the spec, the field the refusal names, the reason of that cause]
const MALFORMED: readonly (readonly [string, Record<string, unknown>, string, string])[] = [
  ["a garbage address", { addresses: ["garbage"] }, "spec.addresses[0]", "FieldValueInvalid"],
  [
    "an IPv4 address with a leading zero",
    { addresses: ["198.51.100.07"] },
    "spec.addresses[0]",
    "FieldValueInvalid",
  ],
  [
    "a CIDR with host bits",
    { addresses: ["198.51.100.0/24", "198.51.100.1/24"] },
    "spec.addresses[1]",
    "FieldValueInvalid",
  ],
  [
    "an IPv6 CIDR with host bits",
    { addresses: ["2001:db8::1/64"] },
    "spec.addresses[0]",
    "FieldValueInvalid",
  ],
  [
    "a range of mixed families",
    { addresses: ["198.51.100.10-2001:db8::1"] },
    "spec.addresses[0]",
    "FieldValueInvalid",
  ],
  [
    "an IPv4 range that ends before it starts",
    { addresses: ["198.51.100.20-198.51.100.10"] },
    "spec.addresses[0]",
    "FieldValueInvalid",
  ],
  [
    "an IPv4 range one below its start",
    { addresses: ["198.51.100.128-198.51.100.127"] },
    "spec.addresses[0]",
    "FieldValueInvalid",
  ],
  [
    "an IPv6 range that ends before it starts",
    { addresses: ["2001:db8::1:0-2001:db8::ffff"] },
    "spec.addresses[0]",
    "FieldValueInvalid",
  ],
  [
    "a range of three parts",
    { addresses: ["198.51.100.1-198.51.100.2-198.51.100.3"] },
    "spec.addresses[0]",
    "FieldValueInvalid",
  ],
  [
    "a CIDR as a range end",
    { addresses: ["198.51.100.1-198.51.100.0/24"] },
    "spec.addresses[0]",
    "FieldValueInvalid",
  ],
  ["no addresses", { addresses: [] }, "spec.addresses", "FieldValueInvalid"],
  ["no addresses field", { autoAssign: true }, "spec.addresses", "FieldValueRequired"],
  [
    "the same entry twice",
    { addresses: ["198.51.100.1", "198.51.100.1"] },
    "spec.addresses[1]",
    "FieldValueDuplicate",
  ],
  [
    "an entry longer than any address",
    { addresses: [`198.51.100.1${"0".repeat(90)}`] },
    "spec.addresses[0]",
    "FieldValueTooLong",
  ],
  [
    "more entries than the cost budget allows",
    { addresses: Array.from({ length: MAX_POOL_ADDRESSES + 1 }, (_, i) => `198.51.100.${i}`) },
    "spec.addresses",
    "FieldValueTooMany",
  ],
  [
    "a selector operator that is not one",
    selector({ key: "team", operator: "Equals", values: ["a"] }),
    "spec.serviceAllocation.namespaceSelectors[0].matchExpressions[0].operator",
    "FieldValueNotSupported",
  ],
  [
    "In without values",
    selector({ key: "team", operator: "In" }),
    "spec.serviceAllocation.namespaceSelectors[0].matchExpressions[0]",
    "FieldValueInvalid",
  ],
  [
    "Exists with values",
    selector({ key: "team", operator: "Exists", values: ["a"] }),
    "spec.serviceAllocation.namespaceSelectors[0].matchExpressions[0]",
    "FieldValueInvalid",
  ],
  [
    "a matchLabels key that is not a label key",
    {
      addresses: ["198.51.100.0/24"],
      serviceAllocation: { serviceSelectors: [{ matchLabels: { "bad key": "x" } }] },
    },
    "spec.serviceAllocation.serviceSelectors[0].matchLabels",
    "FieldValueInvalid",
  ],
  [
    "a matchLabels value that is not a label value",
    {
      addresses: ["198.51.100.0/24"],
      serviceAllocation: { serviceSelectors: [{ matchLabels: { app: "a b" } }] },
    },
    "spec.serviceAllocation.serviceSelectors[0].matchLabels.app",
    "FieldValueInvalid",
  ],
  [
    "a namespace that is not a namespace name",
    { addresses: ["198.51.100.0/24"], serviceAllocation: { namespaces: ["Not_A_Namespace"] } },
    "spec.serviceAllocation.namespaces[0]",
    "FieldValueInvalid",
  ],
  [
    "a negative priority",
    { addresses: ["198.51.100.0/24"], serviceAllocation: { priority: -1 } },
    "spec.serviceAllocation.priority",
    "FieldValueInvalid",
  ],
  [
    "a priority beyond int32",
    { addresses: ["198.51.100.0/24"], serviceAllocation: { priority: 2 ** 31 } },
    "spec.serviceAllocation.priority",
    "FieldValueInvalid",
  ],
  [
    "a mode that is none of l2, bgp and ecmp",
    { addresses: ["198.51.100.0/24"], mode: "anycast" },
    "spec.mode",
    "FieldValueNotSupported",
  ],
  [
    "a community without its second half",
    { addresses: ["198.51.100.0/24"], bgp: { communities: ["65000"] } },
    "spec.bgp.communities[0]",
    "FieldValueInvalid",
  ],
  [
    "a negative local preference",
    { addresses: ["198.51.100.0/24"], bgp: { localPreference: -1 } },
    "spec.bgp.localPreference",
    "FieldValueInvalid",
  ],
  [
    "autoAssign that is not a boolean",
    { addresses: ["198.51.100.0/24"], autoAssign: "yes" },
    "spec.autoAssign",
    "FieldValueTypeInvalid",
  ],
];

for (const [index, [what, spec, field, reason]] of MALFORMED.entries()) {
  test.serial(`a VIPPool with ${what} is refused at admission, naming ${field}`, async (t) => {
    const created = await admin.send("POST", POOLS, { body: pool(`bad-${index}`, spec) });
    t.is(created.status, 422, JSON.stringify(created.body));
    t.true(
      causesOf(created).some((cause) => cause.field === field && cause.reason === reason),
      JSON.stringify(causesOf(created)),
    );
    t.is((await admin.send("GET", `${POOLS}/bad-${index}`)).status, 404);
  });
}

test.serial("each address rule's own message is the one a refusal carries", async (t) => {
  // One entry that breaks each rule in turn, in the order of ADDRESS_RULES.
  const entries = ["garbage", "198.51.100.1/24", "198.51.100.1-2001:db8::1", "198.51.100.2-198.51.100.1"];
  t.is(entries.length, ADDRESS_RULES.length);
  const created = await admin.send("POST", POOLS, { body: pool("each-rule", { addresses: entries }) });
  t.is(created.status, 422);
  for (const [index, rule] of ADDRESS_RULES.entries()) {
    const causes = causesOf(created).filter((cause) => cause.field === `spec.addresses[${index}]`);
    t.deepEqual(
      causes.map((cause) => cause.message?.endsWith(rule.message ?? "?")),
      [true],
      JSON.stringify(causes),
    );
  }
});

test.serial("an unknown field is refused with fieldValidation=Strict and pruned otherwise", async (t) => {
  const body = pool("unknown-field", { addresses: ["198.51.100.0/24"], bogus: 1 });
  const strict = await admin.send("POST", `${POOLS}?fieldValidation=Strict`, { body });
  t.is(strict.status, 400);
  t.regex(String(strict.body.message), /unknown field "spec\.bogus"/);
  const pruned = await admin.send("POST", `${POOLS}?fieldValidation=Ignore`, { body });
  t.is(pruned.status, 201);
  t.false("bogus" in (pruned.body.spec as Record<string, unknown>));
});

// [name, spec as written, what the server stores]
const VALID: readonly (readonly [string, Record<string, unknown>, Record<string, unknown>])[] = [
  [
    "mixed",
    {
      addresses: [
        "198.51.100.0/24",
        "2001:db8::/120",
        "203.0.113.10-203.0.113.20",
        "2001:db8:1::10-2001:db8:1::ff",
        "192.0.2.7",
        "2001:db8:2::1",
      ],
    },
    { autoAssign: true, avoidBuggyIPs: false, disabled: false },
  ],
  [
    "edge-ranges",
    {
      addresses: [
        "198.51.100.10-198.51.100.10",
        "198.51.100.127-198.51.100.128",
        "0.0.0.0-255.255.255.255",
        "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        "2001:db8::ffff-2001:db8::1:0",
        "0.0.0.0/0",
        "::/0",
        "198.51.100.1/32",
      ],
    },
    { autoAssign: true, avoidBuggyIPs: false, disabled: false },
  ],
  [
    "explicit",
    {
      addresses: ["198.51.100.0/24"],
      autoAssign: false,
      avoidBuggyIPs: true,
      disabled: true,
      mode: "bgp",
      bgp: { communities: ["65000:100", "4200000000:1:2"], localPreference: 4294967295 },
      serviceAllocation: {
        priority: 10,
        namespaces: ["web", "dns"],
        namespaceSelectors: [{ matchLabels: { "example.com/team": "edge" } }],
        serviceSelectors: [
          {
            matchExpressions: [
              { key: "app", operator: "In", values: ["web"] },
              { key: "canary", operator: "DoesNotExist" },
            ],
          },
        ],
      },
    },
    {},
  ],
];

for (const [name, spec, defaults] of VALID) {
  test.serial(`the VIPPool ${name} is accepted and stored with its defaults filled`, async (t) => {
    const created = await admin.send("POST", POOLS, { body: pool(name, spec) });
    t.is(created.status, 201, JSON.stringify(created.body));
    t.deepEqual(created.body.spec, { ...spec, ...defaults });
  });
}

test.serial("VIPAllocations: named after their address, which is canonical and cannot change", async (t) => {
  for (const address of ["198.51.100.7", "2001:db8::7"]) {
    const created = await admin.send("POST", ALLOCATIONS, { body: allocation(address) });
    t.is(created.status, 201, JSON.stringify(created.body));
    const path = `${ALLOCATIONS}/${allocationName(address)}`;
    const other = address.includes(":") ? "2001:db8::8" : "198.51.100.8";
    const moved = await admin.send("PATCH", path, {
      body: { spec: { address: other } },
      type: "application/merge-patch+json",
    });
    t.is(moved.status, 422);
    t.true(
      causesOf(moved).some((cause) => cause.field === "spec.address"),
      JSON.stringify(causesOf(moved)),
    );
    const released = await admin.send("PATCH", path, {
      body: { spec: { services: [], releasedAt: "2026-12-01T00:00:00Z" } },
      type: "application/merge-patch+json",
    });
    t.is(released.status, 200, JSON.stringify(released.body));
  }
  // [what is wrong, object, the field the refusal names]
  const refused: readonly (readonly [string, object, string])[] = [
    ["a name that is another address", allocation("198.51.100.9", {}, "198.51.100.10"), ROOT],
    ["an IPv6 name in short form", allocation("2001:db8::9", {}, "2001-db8-0-0-0-0-0-9"), ROOT],
    [
      "an IPv6 name in upper case",
      allocation("2001:db8::9", {}, "2001-0DB8-0000-0000-0000-0000-0000-0009"),
      "metadata.name",
    ],
    [
      "an address not in canonical form",
      allocation("2001:DB8::9", {}, allocationName("2001:db8::9")),
      "spec.address",
    ],
    ["an address that is none", allocation("garbage", {}, "garbage"), "spec.address"],
    [
      "a service without a uid",
      allocation("198.51.100.11", { services: [{ namespace: "a", name: "b" }] }),
      "spec.services[0].uid",
    ],
    [
      "a releasedAt that is no time",
      allocation("198.51.100.12", { releasedAt: "yesterday" }),
      "spec.releasedAt",
    ],
  ];
  for (const [what, body, field] of refused) {
    const created = await admin.send("POST", ALLOCATIONS, { body });
    t.is(created.status, 422, what);
    t.true(
      causesOf(created).some((cause) => cause.field === field),
      `${what}: ${JSON.stringify(causesOf(created))}`,
    );
  }
});

interface Table {
  readonly columnDefinitions: readonly { readonly name: string }[];
  readonly rows: readonly {
    readonly cells: readonly unknown[];
    readonly object: { metadata: { name: string } };
  }[];
}

function cellsByName(table: Table, name: string): Record<string, unknown> {
  const row = table.rows.find((each) => each.object.metadata.name === name);
  if (row === undefined) throw new Error(`no row ${name}`);
  return Object.fromEntries(table.columnDefinitions.map((column, index) => [column.name, row.cells[index]]));
}

test.serial("the server's Table shows a pool's usage and an allocation's Services", async (t) => {
  const status = {
    allocated: 3,
    ipv4: { total: "256", allocated: 2, free: "254" },
    ipv6: { total: "256", allocated: 1, free: "255" },
    conditions: [
      {
        type: "Conflicting",
        status: "True",
        reason: "Overlaps",
        message: "198.51.100.0/24 overlaps edge-ranges",
        lastTransitionTime: "2026-12-01T00:00:00Z",
      },
    ],
    observedGeneration: 1,
  };
  const written = await admin.send("PATCH", `${POOLS}/mixed/status`, {
    body: { status },
    type: "application/merge-patch+json",
  });
  t.is(written.status, 200, JSON.stringify(written.body));
  const pools = await admin.send("GET", POOLS, { accept: TABLE });
  t.is(pools.body.kind, "Table");
  const poolTable = pools.body as unknown as Table;
  t.deepEqual(
    poolTable.columnDefinitions.map((column) => column.name),
    ["Name", "Allocated", "IPv4 Free", "IPv6 Free", "Auto Assign", "Disabled", "Mode", "Conflicting", "Age"],
  );
  t.like(cellsByName(poolTable, "mixed"), {
    Allocated: 3,
    "IPv4 Free": "254",
    "IPv6 Free": "255",
    "Auto Assign": true,
    Disabled: false,
    Conflicting: "True",
  });
  t.like(cellsByName(poolTable, "explicit"), { "Auto Assign": false, Disabled: true, Mode: "bgp" });

  const shared = await admin.send("POST", ALLOCATIONS, {
    body: allocation("203.0.113.53", {
      pool: "mixed",
      sharingKey: "dns",
      services: [
        { namespace: "kube-system", name: "dns-tcp", uid: "u-2" },
        { namespace: "kube-system", name: "dns-udp", uid: "u-3" },
      ],
    }),
  });
  t.is(shared.status, 201, JSON.stringify(shared.body));
  const allocations = (await admin.send("GET", ALLOCATIONS, { accept: TABLE })).body as unknown as Table;
  t.deepEqual(
    allocations.columnDefinitions.map((column) => column.name),
    ["Name", "Address", "Pool", "Services", "Sharing Key", "Released", "Age"],
  );
  t.like(cellsByName(allocations, "203.0.113.53"), {
    Address: "203.0.113.53",
    Pool: "mixed",
    // The server prints the first match of a column's JSONPath only.
    Services: "dns-tcp",
    "Sharing Key": "dns",
  });
  t.like(cellsByName(allocations, allocationName("2001:db8::7")), { Address: "2001:db8::7", Pool: "lan" });
});

test.serial("the agent's own token: allocations and pool status yes, a pool's spec no", async (t) => {
  const created = await agent.send("POST", ALLOCATIONS, { body: allocation("198.51.100.77") });
  t.is(created.status, 201, JSON.stringify(created.body));
  const path = `${ALLOCATIONS}/198.51.100.77`;
  t.is((await agent.send("GET", path)).status, 200);
  t.is((await agent.send("GET", ALLOCATIONS)).status, 200);
  const updated = await agent.send("PUT", path, {
    body: { ...created.body, spec: { ...(created.body.spec as object), services: [] } },
  });
  t.is(updated.status, 200, JSON.stringify(updated.body));
  t.is((await agent.send("DELETE", path)).status, 200);
  t.is((await agent.send("GET", path)).status, 404);

  t.is((await agent.send("GET", POOLS)).status, 200);
  const current = await admin.send("GET", `${POOLS}/explicit`);
  const status = { allocated: 0, ipv4: { total: "256", allocated: 0, free: "256" } };
  const statusPatch = await agent.send("PATCH", `${POOLS}/explicit/status`, {
    body: { status },
    type: "application/merge-patch+json",
  });
  t.is(statusPatch.status, 200, JSON.stringify(statusPatch.body));
  const statusPut = await agent.send("PUT", `${POOLS}/explicit/status`, {
    body: { ...statusPatch.body, status: { ...status, allocated: 1 } },
  });
  t.is(statusPut.status, 200, JSON.stringify(statusPut.body));

  const specPatch = await agent.send("PATCH", `${POOLS}/explicit`, {
    body: { spec: { disabled: false } },
    type: "application/merge-patch+json",
  });
  t.is(specPatch.status, 403);
  t.is((await agent.send("PUT", `${POOLS}/explicit`, { body: current.body })).status, 403);
  t.is((await agent.send("DELETE", `${POOLS}/explicit`)).status, 403);
  t.is(
    (await agent.send("POST", POOLS, { body: pool("agents-own", { addresses: ["192.0.2.0/24"] }) })).status,
    403,
  );
  t.deepEqual((await admin.send("GET", `${POOLS}/explicit`)).body.spec, current.body.spec);

  t.is((await agent.send("GET", "/api/v1/namespaces")).status, 200);
});

test.serial(
  "the agent reads kube-system/kubevip by name, list and watch included, and no other ConfigMap",
  async (t) => {
    for (const name of ["kubevip", "kubeadm-config"]) {
      const made = await admin.send("POST", "/api/v1/namespaces/kube-system/configmaps", {
        body: {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name },
          data: { "cidr-global": "198.51.100.0/24" },
        },
      });
      t.is(made.status, 201, JSON.stringify(made.body));
    }
    const configMaps = "/api/v1/namespaces/kube-system/configmaps";
    const byName = "fieldSelector=metadata.name%3Dkubevip";
    t.is((await agent.send("GET", `${configMaps}/kubevip`)).status, 200);
    const listed = await agent.send("GET", `${configMaps}?${byName}`);
    t.is(listed.status, 200, JSON.stringify(listed.body));
    t.deepEqual(
      (listed.body.items as { metadata: { name: string } }[]).map((item) => item.metadata.name),
      ["kubevip"],
    );
    const watched = await agent.firstWatchEvent(`${configMaps}?watch=1&${byName}`);
    t.is(watched.status, 200);
    t.is(watched.event?.type, "ADDED");
    t.is((watched.event?.object.metadata as { name: string }).name, "kubevip");

    t.is((await agent.send("GET", `${configMaps}/kubeadm-config`)).status, 403);
    t.is((await agent.send("GET", configMaps)).status, 403);
    t.is((await agent.firstWatchEvent(`${configMaps}?watch=1`)).status, 403);
    t.is((await agent.send("GET", `${configMaps}?fieldSelector=metadata.name%3Dkubeadm-config`)).status, 403);
    t.is((await agent.send("GET", "/api/v1/configmaps")).status, 403);
    t.is((await agent.send("GET", "/api/v1/namespaces/default/configmaps/kubevip")).status, 403);
    const patched = await agent.send("PATCH", `${configMaps}/kubevip`, {
      body: { data: { "cidr-global": "0.0.0.0/0" } },
      type: "application/merge-patch+json",
    });
    t.is(patched.status, 403);
  },
);
