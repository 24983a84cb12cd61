// Services sharing one address (issue 15), against three agents: the sharing matrix (same key,
// another key, a port clash, TCP and UDP on one port, externalTrafficPolicy Local with other pods),
// and failovers of a shared address (the holder's agent killed, then stopped politely), in which
// every Service on the address must move together: one node at a time answers for it, and each
// Service's status names the address.
import test from "ava";
import { overlaps } from "../../lab/analysis.ts";
import {
  manifestRbacKubeconfig,
  nodesHolding,
  prepareCluster,
  serviceEvents,
  type Cluster,
} from "../../lab/agents.ts";
import { up, type Lab, type LabProcess } from "../../lab/index.ts";

let lab: Lab;
let cluster: Cluster;
let agents = new Map<string, LabProcess>();

const POOL = "198.51.100.160-198.51.100.169";

function kubectl(args: string[], input?: string): Promise<string> {
  return cluster.kubectl(args, input);
}

function service(options: {
  readonly name: string;
  readonly key?: string;
  readonly ports: readonly [number, "TCP" | "UDP"][];
  readonly local?: { readonly selector: Readonly<Record<string, string>> };
  readonly loadBalancerIP?: string;
}): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: options.name,
      namespace: "default",
      annotations: options.key === undefined ? {} : { "vipd.io/allow-shared-ip": options.key },
    },
    spec: {
      type: "LoadBalancer",
      ipFamilyPolicy: "SingleStack",
      ipFamilies: ["IPv4"],
      ports: options.ports.map(([port, protocol]) => ({
        name: `${protocol.toLowerCase()}-${port}`,
        port,
        protocol,
      })),
      ...(options.loadBalancerIP === undefined ? {} : { loadBalancerIP: options.loadBalancerIP }),
      ...(options.local === undefined
        ? {}
        : { externalTrafficPolicy: "Local", selector: options.local.selector }),
    },
  });
}

interface ServiceObject {
  readonly metadata?: { readonly name?: string; readonly annotations?: Readonly<Record<string, string>> };
  readonly status?: { readonly loadBalancer?: { readonly ingress?: readonly { readonly ip?: string }[] } };
}

/** Each Service's status addresses and vipd.io/holder, by name. */
async function statuses(): Promise<Map<string, { ips: string; holder: string }>> {
  const list = JSON.parse(await kubectl(["get", "service", "-n", "default", "-o", "json"])) as {
    items: ServiceObject[];
  };
  return new Map(
    list.items.map((each) => [
      each.metadata?.name ?? "",
      {
        ips: (each.status?.loadBalancer?.ingress ?? []).flatMap((entry) => entry.ip ?? []).join(","),
        holder: each.metadata?.annotations?.["vipd.io/holder"] ?? "",
      },
    ]),
  );
}

function eventsOf(name: string): Promise<string[]> {
  return serviceEvents(cluster, name);
}

function onNodes(ip: string): Promise<string[]> {
  return nodesHolding(lab, ip);
}

/** Both Services show the address, written by one holder, who has it on its interface alone. */
async function servedTogether(names: readonly string[], ip: string): Promise<string> {
  const all = await statuses();
  const seen = names.map((name) => all.get(name));
  const holders = new Set(seen.map((each) => each?.holder ?? ""));
  const [holder = ""] = holders;
  if (seen.some((each) => each?.ips !== ip) || holders.size !== 1 || holder === "") return "";
  const on = await onNodes(ip);
  return on.length === 1 && on[0] === holder ? holder : "";
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
  cluster = await prepareCluster(lab, { kubeconfig: manifestRbacKubeconfig });
  await kubectl(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "vipd.io/v1alpha1",
      kind: "VIPPool",
      metadata: { name: "lan" },
      spec: { addresses: [POOL] },
    }),
  );
  agents = cluster.startAgents(["--allocation-cooldown=2s"]);
});

test.after.always(async () => {
  if (agents.size > 0) await cluster.killAgents(agents.values());
  await lab.down();
});

test.serial("the sharing matrix", async (t) => {
  // DNS: TCP and UDP 53 with one key share the pool's first address.
  await kubectl(["apply", "-f", "-"], service({ name: "dns-tcp", key: "dns", ports: [[53, "TCP"]] }));
  const first = await cluster.eventually(
    () => statuses(),
    (each) => each.get("dns-tcp")?.ips !== "",
    { what: "dns-tcp served" },
  );
  const shared = first.get("dns-tcp")?.ips ?? "";
  t.is(shared, "198.51.100.160");
  await kubectl(["apply", "-f", "-"], service({ name: "dns-udp", key: "dns", ports: [[53, "UDP"]] }));
  // Another key, a port clash and ETP Local with other pods each get an address of their own.
  await kubectl(["apply", "-f", "-"], service({ name: "other-key", key: "web", ports: [[80, "TCP"]] }));
  await kubectl(
    ["apply", "-f", "-"],
    service({
      name: "clash",
      key: "dns",
      ports: [
        [53, "UDP"],
        [853, "TCP"],
      ],
    }),
  );
  await kubectl(
    ["apply", "-f", "-"],
    service({ name: "local", key: "dns", ports: [[5353, "UDP"]], local: { selector: { app: "mdns" } } }),
  );
  const holder = await cluster.eventually(
    () => servedTogether(["dns-tcp", "dns-udp"], shared),
    (each) => each !== "",
    {
      what: "dns-tcp and dns-udp on one address, one holder",
    },
  );
  t.not(holder, "");
  const all = await cluster.eventually(
    () => statuses(),
    (each) => ["other-key", "clash"].every((name) => (each.get(name)?.ips ?? "") !== ""),
    { what: "other-key and clash served on addresses of their own" },
  );
  const addresses = ["dns-tcp", "other-key", "clash"].map((name) => all.get(name)?.ips ?? "");
  t.is(new Set(addresses).size, 3, addresses.join(" "));
  // The Local one has no endpoint in the lab, so no node may serve it; what matters is that its
  // address is its own: its allocation names it alone.
  const local = await cluster.eventually(
    async () =>
      (
        JSON.parse(await kubectl(["get", "vipallocations", "-o", "json"])) as {
          items: { spec?: { address?: string; services?: { name?: string }[] } }[];
        }
      ).items.find((each) => each.spec?.services?.some((ref) => ref.name === "local")),
    (each) => each !== undefined,
    { what: "an allocation for local" },
  );
  t.not(local?.spec?.address, shared);
  t.deepEqual(
    local?.spec?.services?.map((ref) => ref.name),
    ["local"],
  );
  // A Service that names the shared address gets VIPConflict naming the Service and the port.
  await kubectl(
    ["apply", "-f", "-"],
    service({ name: "named-clash", key: "dns", ports: [[53, "TCP"]], loadBalancerIP: shared }),
  );
  const events = await cluster.eventually(
    () => eventsOf("named-clash"),
    (each) => each.some((line) => line.startsWith("VIPConflict")),
    { what: "named-clash told about the port" },
  );
  t.regex(events.join("\n"), /Service default\/dns-tcp, which uses TCP port 53 too/);
  t.is((await statuses()).get("named-clash")?.ips, "");
});

test.serial(
  "a shared address moves with all its Services, never on two nodes: holder killed, then stopped politely",
  async (t) => {
    const shared = "198.51.100.160";
    const names = ["dns-tcp", "dns-udp"];
    for (const how of ["SIGKILL", "SIGTERM"] as const) {
      const holder = await cluster.eventually(
        () => servedTogether(names, shared),
        (each) => each !== "",
        {
          what: `${names.join(" and ")} together before ${how}`,
        },
      );
      const sampler = await lab.sampleAddressSet({ ips: [shared], intervalMs: 20 });
      const agent = agents.get(holder);
      if (agent === undefined) throw new Error(`no agent on ${holder}`);
      if (how === "SIGKILL") {
        // A dead node: its agent killed and its address gone with it (the lab's node death).
        await cluster.killAgents([agent]);
        await lab
          .exec(cluster.node(holder).netns, ["ip", "addr", "del", `${shared}/32`, "dev", "eth0"])
          .catch(() => undefined);
      } else await cluster.stopAgents([agent]);
      const next = await cluster.eventually(
        () => servedTogether(names, shared),
        (each) => each !== "" && each !== holder,
        {
          what: `${names.join(" and ")} together on another node after ${how}`,
          timeoutMs: 30_000,
        },
      );
      const samples = await sampler.stop();
      t.deepEqual(overlaps(samples.get(shared) ?? []), [], `${shared} on two nodes after ${how}`);
      t.not(next, holder);
      agents.set(holder, cluster.startAgent(cluster.node(holder), ["--allocation-cooldown=2s"]));
    }
  },
);
