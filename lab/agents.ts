// vipd agents in the lab, as the e2e tests, the demo and the benchmarks run them: one `vipd run`
// process per node namespace against the lab's API server, plus the kubectl reads that say what
// the cluster believes (ownership Lease holders, Service status).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { V1Service } from "@kubernetes/client-node";
import { BUNDLE } from "../scripts/build.ts";
import { canonicalAddress } from "../src/agent/service-intent.ts";
import { eventually } from "./eventually.ts";
import { addressLeaseName } from "../src/election/lease-names.ts";
import { NODE_FLAGS } from "../src/cli/node-flags.ts";
import type { ApiServer } from "./apiserver.ts";
import type { Lab, LabNode, LabProcess, Probe, ProbeSample } from "./index.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/**
 * The program lab agents run: the bundle that ships (`npm run lab:setup` builds it). One older than
 * the sources it is built from would test yesterday's vipd, so that is an error.
 */
export function vipdProgram(): string {
  let built: number;
  try {
    built = statSync(BUNDLE).mtimeMs;
  } catch {
    throw new Error(`${BUNDLE} is missing: run npm run lab:setup (or npm run build)`);
  }
  const sources = ["cmd", "src"].flatMap((directory) =>
    readdirSync(join(ROOT, directory), { recursive: true, encoding: "utf8" })
      .filter((name) => name.endsWith(".ts"))
      .map((name) => join(ROOT, directory, name)),
  );
  const newer = sources.find((source) => statSync(source).mtimeMs > built);
  if (newer !== undefined) throw new Error(`${BUNDLE} is older than ${newer}: run npm run build`);
  return BUNDLE;
}

export const AGENT_NAMESPACE = "vipd-system";

/** The name of an address's ownership Lease, as the agents name it. */
export function ownershipLeaseOf(address: string): string {
  const reading = canonicalAddress(address);
  if (!reading.ok) throw new Error(reading.problem);
  return addressLeaseName(reading.vip);
}

// The addresses a lab Service asks for, in the order the agents read them (vipd's annotation first).
function requestedAddresses(service: V1Service): string[] {
  const annotations = service.metadata?.annotations ?? {};
  const text =
    annotations["vipd.io/loadBalancerIPs"] ??
    annotations["kube-vip.io/loadbalancerIPs"] ??
    annotations["metallb.io/loadBalancerIPs"] ??
    service.spec?.loadBalancerIP ??
    "";
  return text
    .split(",")
    .map((each) => each.trim())
    .filter((each) => each !== "");
}

/** Where lab agents serve /metrics, /healthz and /readyz, on each node's loopback. */
const AGENT_HTTP_PORT = 9559;

/** A GET of the node's agent endpoint: the HTTP status ("000" when nothing answers) and the body. */
export async function agentHttp(
  lab: Lab,
  node: LabNode,
  path: string,
): Promise<{ code: string; body: string }> {
  const result = await lab.exec(
    node.netns,
    ["curl", "-s", "-m", "2", "-w", "\n%{http_code}", `http://127.0.0.1:${AGENT_HTTP_PORT}${path}`],
    { allowFailure: true },
  );
  const cut = result.stdout.lastIndexOf("\n");
  return { code: result.stdout.slice(cut + 1), body: result.stdout.slice(0, Math.max(cut, 0)) };
}

// The lab's lease duration, vipd's default: the agents run without --lease-duration.
const LEASE_DURATION_MS = 5000;

/**
 * One agent per node, returned once each answers /readyz and a lease duration has passed: by then
 * each has seen the others' heartbeats and decides at once which of them records a Warning.
 */
export async function startSettledAgents(
  cluster: Cluster,
  extraArgs?: readonly string[],
): Promise<Map<string, LabProcess>> {
  const agents = cluster.startAgents(extraArgs);
  for (const node of cluster.lab.nodes) {
    await cluster.eventually(
      async () => (await agentHttp(cluster.lab, node, "/readyz")).code,
      (code) => code === "200",
      { what: `${node.name} /readyz` },
    );
  }
  await new Promise((resolve) => setTimeout(resolve, LEASE_DURATION_MS));
  return agents;
}

/**
 * A metric of the node's agent: the sum of its series whose labels include all of `labels` (every
 * series of it when none are given); 0 when it has none yet. Throws if the agent does not answer,
 * so that a dead agent never reads as one that counted nothing.
 */
export async function agentMetric(
  lab: Lab,
  node: LabNode,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Promise<number> {
  const { code, body } = await agentHttp(lab, node, "/metrics");
  if (code !== "200") throw new Error(`the agent on ${node.name} answered /metrics with ${code}`);
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  return body
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) => wanted.every((label) => line.includes(label)))
    .reduce((sum, line) => sum + Number(line.split(" ").at(-1)), 0);
}

export interface Cluster {
  readonly lab: Lab;
  readonly api: ApiServer;
  /** The kubeconfig agents use: it names the API server's address on the management network. */
  readonly agentKubeconfig: string;
  kubectl(args: readonly string[], input?: string): Promise<string>;
  /**
   * Starts `vipd run` on a node with the lab's defaults and extra flags; program: another build of
   * vipd (an older release, for upgrade tests) instead of this tree's bundle.
   */
  startAgent(node: LabNode, extraArgs?: readonly string[], options?: { program?: string }): LabProcess;
  /** One agent per node. */
  startAgents(extraArgs?: readonly string[]): Map<string, LabProcess>;
  /** SIGKILLs those of the agents still running and waits until every one has exited. */
  killAgents(agents: Iterable<LabProcess>): Promise<void>;
  /** SIGTERMs those of the agents still running (a polite stop) and waits until every one has exited. */
  stopAgents(agents: Iterable<LabProcess>): Promise<void>;
  /** Holder named by the ownership Lease of a Service's first address; "" when there is none. */
  leaseHolder(service: { namespace?: string; name: string }): Promise<string>;
  /** Holder named by an address's ownership Lease; "" when there is none or no Lease. */
  addressHolder(address: string): Promise<string>;
  /** The recent output of the given agents, for a failure message. */
  agentLogs(agents: Iterable<LabProcess>, characters?: number): string;
  /**
   * Reads until done(value) holds, every 100 ms; past the deadline (30 s unless told) the error
   * shows the last value and the recent output of every agent this cluster started.
   */
  eventually<T>(
    read: () => Promise<T>,
    done: (value: T) => boolean,
    options: { readonly what: string; readonly timeoutMs?: number },
  ): Promise<T>;
  node(name: string | null): LabNode;
}

/** `vipd run` on a lab node as every lab agent starts: text logs, metrics on the node's loopback. */
export function vipdRunArgv(options: {
  readonly node: LabNode;
  readonly kubeconfig: string;
  readonly namespace: string;
  readonly extraArgs?: readonly string[];
  readonly program?: string;
}): string[] {
  return [
    process.execPath,
    ...NODE_FLAGS,
    options.program ?? vipdProgram(),
    "run",
    `--node-name=${options.node.name}`,
    `--kubeconfig=${options.kubeconfig}`,
    `--namespace=${options.namespace}`,
    `--metrics-addr=127.0.0.1:${AGENT_HTTP_PORT}`,
    "--log-format=text",
    ...(options.extraArgs ?? []),
  ];
}

/**
 * The namespace of the agents' Leases, and one Node object per lab node with its addresses (as a
 * kubelet would publish them) and the given labels.
 */
export async function registerNodes(options: {
  readonly kubectl: (args: readonly string[], input?: string) => Promise<string>;
  readonly nodes: readonly LabNode[];
  readonly namespace: string;
  readonly labels?: Readonly<Record<string, string>>;
}): Promise<void> {
  const { kubectl } = options;
  const objects = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: options.namespace } },
    ...options.nodes.map((node) => ({
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: node.name, labels: { ...options.labels } },
    })),
  ];
  await kubectl(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }));
  for (const node of options.nodes) {
    const addresses = [
      { type: "InternalIP", address: node.ipv4 },
      { type: "InternalIP", address: node.ipv6 },
      { type: "Hostname", address: node.name },
    ];
    await kubectl([
      "patch",
      "node",
      node.name,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { addresses } }),
    ]);
  }
}

/**
 * vipd's CustomResourceDefinitions (manifests/crds.yaml), as an operator applies them before the
 * agents, so that their lists and watches of pools and allocations find them served.
 */
export async function installCrds(
  kubectl: (args: readonly string[], input?: string) => Promise<string>,
): Promise<void> {
  const crds = readFileSync(new URL("../manifests/crds.yaml", import.meta.url), "utf8");
  await kubectl(["apply", "-f", "-"], crds);
  await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", "-"], crds);
}

/**
 * Prepares the API server for agents: vipd's CRDs, their namespace, and one Node object per lab node
 * with its addresses (as a kubelet would publish them), so that a VIP equal to a node address is
 * refused.
 */
export async function prepareCluster(
  lab: Lab,
  options: { kubeconfig?: (api: ApiServer) => Promise<string> } = {},
): Promise<Cluster> {
  const api = lab.api;
  if (api === undefined) throw new Error("the lab came up without its API server");
  const kubectl = async (args: readonly string[], input?: string): Promise<string> => {
    const result = await api.kubectl(args, input === undefined ? undefined : { input });
    if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };
  await installCrds(kubectl);
  await registerNodes({ kubectl, nodes: lab.nodes, namespace: AGENT_NAMESPACE });
  const agentKubeconfig =
    options.kubeconfig === undefined
      ? await api.adminKubeconfig({ server: api.internalUrl, path: join(api.workDir, "agents.kubeconfig") })
      : await options.kubeconfig(api);

  const started: LabProcess[] = [];
  const startAgent = (
    node: LabNode,
    extraArgs: readonly string[] = [],
    options: { program?: string } = {},
  ): LabProcess => {
    const agent = lab.spawn(
      node.netns,
      vipdRunArgv({
        node,
        kubeconfig: agentKubeconfig,
        namespace: AGENT_NAMESPACE,
        extraArgs,
        ...(options.program === undefined ? {} : { program: options.program }),
      }),
      { name: `vipd ${node.name}` },
    );
    started.push(agent);
    return agent;
  };
  const agentLogs = (agents: Iterable<LabProcess>, characters = 6000): string =>
    [...agents].map((agent) => `--- ${agent.name}\n${agent.output().slice(-characters)}`).join("\n");
  const addressHolder = async (address: string): Promise<string> => {
    const result = await api.kubectl([
      ...["get", "lease", "-n", AGENT_NAMESPACE, ownershipLeaseOf(address)],
      ...["-o", "jsonpath={.spec.holderIdentity}", "--ignore-not-found"],
    ]);
    if (result.code !== 0) throw new Error(`kubectl get lease: ${result.stderr}`);
    return result.stdout.trim();
  };
  const signalAgents = async (agents: Iterable<LabProcess>, signal: "SIGKILL" | "SIGTERM") => {
    await Promise.all(
      [...agents].map(async (agent) => {
        try {
          lab.signal(agent, signal);
        } catch {
          // It had exited already.
        }
        await agent.exited;
      }),
    );
  };
  const node = (name: string | null): LabNode => {
    const found = lab.nodes.find((candidate) => candidate.name === name);
    if (found === undefined) throw new Error(`no lab node named ${String(name)}`);
    return found;
  };
  return {
    lab,
    api,
    agentKubeconfig,
    kubectl,
    startAgent,
    startAgents: (extraArgs) => new Map(lab.nodes.map((each) => [each.name, startAgent(each, extraArgs)])),
    killAgents: (agents) => signalAgents(agents, "SIGKILL"),
    stopAgents: (agents) => signalAgents(agents, "SIGTERM"),
    leaseHolder: async (service) => {
      const found = await kubectl([
        ...["get", "service", "-n", service.namespace ?? "default", service.name],
        ...["-o", "json", "--ignore-not-found"],
      ]);
      // A Service not created yet, or deleted already, has no address to hold.
      if (found.trim() === "") return "";
      const object = JSON.parse(found) as V1Service;
      // An address the agents refuse to read has no Lease.
      const [first] = requestedAddresses(object);
      return first === undefined || !canonicalAddress(first).ok ? "" : addressHolder(first);
    },
    addressHolder,
    agentLogs,
    eventually: (read, done, options) =>
      eventually(read, done, { ...options, context: () => agentLogs(started, 3000) }),
    node,
  };
}

/**
 * For prepareCluster: the agents run as the ServiceAccount of manifests/rbac.yaml, applied here, not
 * as admin, so a verb the manifests forgot fails a scenario.
 */
export async function manifestRbacKubeconfig(api: ApiServer): Promise<string> {
  const rbac = readFileSync(new URL("../manifests/rbac.yaml", import.meta.url), "utf8");
  const applied = await api.kubectl(["apply", "-f", "-"], { input: rbac });
  if (applied.code !== 0) throw new Error(`applying manifests/rbac.yaml: ${applied.stderr}`);
  return api.serviceAccountKubeconfig({ namespace: AGENT_NAMESPACE, name: "vipd", server: api.internalUrl });
}

/** A LoadBalancer Service manifest with a UDP port the lab's echo servers answer on. */
export function loadBalancerService(options: {
  readonly name: string;
  readonly namespace?: string;
  readonly loadBalancerIP?: string;
  readonly annotations?: Readonly<Record<string, string>>;
  readonly ipFamilyPolicy?: "SingleStack" | "PreferDualStack" | "RequireDualStack";
  readonly ipFamilies?: readonly ("IPv4" | "IPv6")[];
  readonly externalTrafficPolicy?: "Cluster" | "Local";
  readonly port?: number;
}): string {
  const spec: Record<string, unknown> = {
    type: "LoadBalancer",
    ports: [{ port: options.port ?? 8080, protocol: "UDP" }],
  };
  if (options.loadBalancerIP !== undefined) spec.loadBalancerIP = options.loadBalancerIP;
  if (options.ipFamilyPolicy !== undefined) spec.ipFamilyPolicy = options.ipFamilyPolicy;
  if (options.ipFamilies !== undefined) spec.ipFamilies = options.ipFamilies;
  if (options.externalTrafficPolicy !== undefined) spec.externalTrafficPolicy = options.externalTrafficPolicy;
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: options.name,
      namespace: options.namespace ?? "default",
      annotations: options.annotations ?? {},
    },
    spec,
  });
}

/** What serveService started, and who answered first. */
export interface ServedService {
  readonly agents: Map<string, LabProcess>;
  /** Probing the VIP every 10 ms; the caller stops it. */
  readonly probe: Probe;
  readonly first: ProbeSample;
  readonly holder: LabNode;
}

/**
 * A LoadBalancer Service with its own VIP, an agent per node, and a probe that has seen the VIP
 * answer. `teardown` is given, before anything can fail, what ends it all: the agents killed, then
 * the Service deleted (a test runner's teardown hook fits).
 */
export async function serveService(
  cluster: Cluster,
  options: {
    readonly service: string;
    readonly vip: string;
    readonly agentArgs?: readonly string[];
    readonly teardown: (end: () => Promise<void>) => void;
  },
): Promise<ServedService> {
  await cluster.kubectl(
    ["apply", "-f", "-"],
    loadBalancerService({ name: options.service, loadBalancerIP: options.vip }),
  );
  const agents = cluster.startAgents(options.agentArgs);
  options.teardown(async () => {
    await cluster.killAgents(agents.values());
    await cluster.kubectl(["delete", "service", options.service, "--wait=false"]);
  });
  const probe = await cluster.lab.probe({ target: options.vip, intervalMs: 10 });
  const first = await probe
    .waitFor((sample) => sample.node !== null, 30_000)
    .catch((error: unknown) => {
      throw new Error(`${(error as Error).message}\n${cluster.agentLogs(agents.values())}`, { cause: error });
    });
  return { agents, probe, first, holder: cluster.node(first.node) };
}

/** The nodes that have the address on an interface right now. */
export async function nodesHolding(lab: Lab, ip: string): Promise<string[]> {
  const held = await Promise.all(
    lab.nodes.map(async (node) => ((await lab.addressesOn(node)).has(ip) ? [node.name] : [])),
  );
  return held.flat();
}

/** The Events about a Service (default namespace unless told), each as "Reason: message". */
export async function serviceEvents(
  cluster: Cluster,
  service: string,
  options: { readonly namespace?: string; readonly withCount?: boolean } = {},
): Promise<string[]> {
  const count = options.withCount === true ? " ×{.count}" : "";
  const output = await cluster.kubectl([
    "get",
    "events",
    "-n",
    options.namespace ?? "default",
    "--field-selector",
    `involvedObject.name=${service}`,
    "-o",
    `jsonpath={range .items[*]}{.reason}${count}: {.message}{'\\n'}{end}`,
  ]);
  return output.split("\n").filter((line) => line !== "");
}
