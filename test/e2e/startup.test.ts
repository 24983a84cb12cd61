// Start-up does not end the agent for a reason the cluster may fix soon: its ServiceAccount's RBAC not
// applied yet (403), a token the API server does not accept (401), an API server that is not there yet
// (connection refused). The agent stays up and not ready, retrying with backoff, counts each failure
// in vipd_api_errors_total, logs each reason once rather than on every retry (and, every 10 s, which
// informers it still waits for), and serves once the cause is gone. A refusal that lasts
// --sync-timeout ends it with exit status 3 and a message naming the resource and what to apply; an
// API server that does not answer never does. A reason that does not go away by itself (the metrics
// address taken) ends it with exit status 1, and its last line is the error saying why, as a
// structured log line.
import test, { type ExecutionContext } from "ava";
// Waits, as a scenario's length: how long the client waited at most is a benchmark figure.
import { setTimeout as hold } from "node:timers/promises";
import { readFileSync } from "node:fs";
import { loadAll } from "js-yaml";
import {
  AGENT_NAMESPACE,
  agentHttp,
  agentMetric,
  loadBalancerService,
  prepareCluster,
  vipdRunArgv,
  type Cluster,
} from "../../lab/agents.ts";
import { up, type Lab, type LabNode, type LabProcess, type ProcessExit } from "../../lab/index.ts";

let lab: Lab;
let cluster: Cluster;

// Past the ~4 s after which the reported exit happened, and long enough for every informer to be
// refused and retried several times; the scenario's length, not a timing assertion.
const REFUSED_FOR_MS = 8000;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
  // The agents' ServiceAccount and its token exist; its RBAC (manifests/rbac.yaml) does not yet.
  cluster = await prepareCluster(lab, {
    kubeconfig: (api) =>
      api.serviceAccountKubeconfig({ namespace: AGENT_NAMESPACE, name: "vipd", server: api.internalUrl }),
  });
});

test.after.always(async () => {
  await lab.down();
});

/** The agent's JSON log lines (it runs with --log-format=json); other output is left out. */
function logLines(
  agent: LabProcess,
): { level?: string; message?: string; error?: string; waiting?: string }[] {
  return agent
    .output()
    .split("\n")
    .flatMap((line) => {
      try {
        const parsed: unknown = JSON.parse(line);
        return typeof parsed === "object" && parsed !== null ? [parsed] : [];
      } catch {
        return [];
      }
    });
}

// The wait's report of what it waits for, every 10 s: repeated by design, unlike a retry's warning.
const WAIT_REPORT = "waiting for the caches to fill before serving";

/** Warnings logged more than once for the same reason: there should be none. */
function repeatedWarnings(agent: LabProcess): string[] {
  const seen = new Map<string, number>();
  for (const line of logLines(agent).filter(
    (each) => each.level === "warn" && each.message !== WAIT_REPORT,
  )) {
    const key = `${line.message ?? ""} (${line.error ?? ""})`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  return [...seen].filter(([, count]) => count > 1).map(([key, count]) => `${count}× ${key}`);
}

/** How many failed API requests of this operation and failure class the node's agent counts. */
function apiErrors(node: LabNode, operation: string, failure: string): Promise<number> {
  return agentMetric(lab, node, "vipd_api_errors_total", { operation, failure });
}

/** While the cause lasts: every agent is still running, not ready, counting, logging each reason once. */
async function waitingOut(
  t: ExecutionContext,
  agents: Map<string, LabProcess>,
  expected: { readonly failure: string; readonly exits: () => Map<string, ProcessExit | null> },
): Promise<void> {
  await hold(REFUSED_FOR_MS);
  t.deepEqual(
    [...expected.exits().values()],
    [...agents.keys()].map(() => null),
    `no agent exited\n${cluster.agentLogs(agents.values())}`,
  );
  for (const node of lab.nodes.filter((each) => agents.has(each.name))) {
    t.is(await readyz(node), "503", `${node.name} is not ready meanwhile`);
    t.true(
      (await apiErrors(node, "list", expected.failure)) >= 2,
      `${node.name} counts the failed lists as ${expected.failure}`,
    );
  }
  for (const agent of agents.values())
    t.deepEqual(repeatedWarnings(agent), [], `${agent.name} logs each reason once, not on every retry`);
}

/** Each agent's exit, or null while it runs, as seen now. */
function watchExits(agents: Iterable<LabProcess>): () => Map<string, ProcessExit | null> {
  const exits = new Map<string, ProcessExit | null>();
  for (const agent of agents) {
    exits.set(agent.name, null);
    void agent.exited.then((exit) => exits.set(agent.name, exit));
  }
  return () => new Map(exits);
}

/** Ends the agents when the test ends, and waits until they have, so the next test has their ports. */
function endWithTest(t: ExecutionContext, agents: Iterable<LabProcess>): void {
  t.teardown(() => cluster.killAgents(agents));
}

async function applyRbac(): Promise<void> {
  await cluster.kubectl(
    ["apply", "-f", "-"],
    readFileSync(new URL("../../manifests/rbac.yaml", import.meta.url), "utf8"),
  );
}

async function readyz(node: LabNode): Promise<string> {
  return (await agentHttp(lab, node, "/readyz")).code;
}

async function eventuallyReady(node: LabNode, agents: Iterable<LabProcess>): Promise<string> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const code = await readyz(node);
    if (code === "200") return code;
    await hold(100);
  }
  throw new Error(`${node.name} never became ready\n${cluster.agentLogs(agents)}`);
}

/** The node that answers for the VIP first, once something does. */
async function firstAnswer(vip: string, agents: Iterable<LabProcess>): Promise<string> {
  const probe = await lab.probe({ target: vip, intervalMs: 20 });
  try {
    const sample = await probe.waitFor((each) => each.node !== null, 60_000);
    return sample.node ?? "";
  } catch (error) {
    throw new Error(`${(error as Error).message}\n${cluster.agentLogs(agents)}`, { cause: error });
  } finally {
    await probe.stop();
  }
}

test.serial(
  "agents started before their RBAC exists (403) wait, not ready, and serve once it is applied",
  async (t) => {
    const vip = "198.51.100.220";
    await cluster.kubectl(
      ["apply", "-f", "-"],
      loadBalancerService({ name: "before-rbac", loadBalancerIP: vip }),
    );
    const agents = cluster.startAgents(["--log-format=json"]);
    endWithTest(t, agents.values());
    const exits = watchExits(agents.values());
    await waitingOut(t, agents, { failure: "forbidden", exits });

    await applyRbac();
    const holder = await firstAnswer(vip, agents.values());
    t.is(await cluster.leaseHolder({ name: "before-rbac" }), holder);
    for (const node of lab.nodes) t.is(await eventuallyReady(node, agents.values()), "200");
    t.deepEqual([...exits().values()], [null, null, null]);
  },
);

test.serial("an agent whose token the API server rejects (401) keeps running, not ready", async (t) => {
  const api = cluster.api;
  const kubeconfig = await api.serviceAccountKubeconfig({
    namespace: AGENT_NAMESPACE,
    name: "deleted",
    server: api.internalUrl,
  });
  // A token bound to a ServiceAccount that no longer exists is refused at authentication.
  await cluster.kubectl(["delete", "serviceaccount", "-n", AGENT_NAMESPACE, "deleted"]);
  const [node] = lab.nodes;
  if (node === undefined) throw new Error("the lab has no nodes");
  const agent = lab.spawn(
    node.netns,
    vipdRunArgv({ node, kubeconfig, namespace: AGENT_NAMESPACE, extraArgs: ["--log-format=json"] }),
    { name: `vipd ${node.name} (401)` },
  );
  endWithTest(t, [agent]);
  const agents = new Map([[node.name, agent]]);
  await waitingOut(t, agents, { failure: "forbidden", exits: watchExits([agent]) });
});

test.serial(
  "agents started while the API server is down wait, not ready, and serve once it is up",
  async (t) => {
    await applyRbac();
    const vip = "198.51.100.221";
    await cluster.kubectl(
      ["apply", "-f", "-"],
      loadBalancerService({ name: "api-late", loadBalancerIP: vip }),
    );
    const api = cluster.api;
    await api.stopServer();
    let serving = false;
    t.teardown(async () => {
      if (!serving) await api.startServer();
    });
    const agents = cluster.startAgents(["--log-format=json"]);
    endWithTest(t, agents.values());
    const exits = watchExits(agents.values());
    await waitingOut(t, agents, { failure: "unreachable", exits });

    await api.startServer();
    serving = true;
    const holder = await firstAnswer(vip, agents.values());
    t.is(await cluster.leaseHolder({ name: "api-late" }), holder);
    for (const node of lab.nodes) t.is(await eventuallyReady(node, agents.values()), "200");
    t.deepEqual([...exits().values()], [null, null, null]);
  },
);

test.serial(
  "the metrics address taken: exit status 1, and the last line is the error saying why",
  async (t) => {
    const [node] = lab.nodes;
    if (node === undefined) throw new Error("the lab has no nodes");
    const squatter = lab.spawn(
      node.netns,
      [
        process.execPath,
        "-e",
        "require('node:net').createServer().listen(9559, '127.0.0.1', () => console.log('listening'))",
      ],
      { name: "port squatter" },
    );
    endWithTest(t, [squatter]);
    await squatter.waitForLine(/listening/, 10_000);
    const agent = cluster.startAgent(node, ["--log-format=json"]);
    endWithTest(t, [agent]);
    t.deepEqual(await agent.exited, { code: 1, signal: null });
    const last = logLines(agent).at(-1);
    t.is(last?.level, "error", `the last line is an error log line:\n${agent.output().slice(-3000)}`);
    t.regex(last?.error ?? "", /EADDRINUSE/);
  },
);

/**
 * manifests/rbac.yaml for another ServiceAccount of vipd's namespace, without one resource: the
 * same objects, each renamed after the account, the resource struck from every rule.
 */
function rbacWithout(resource: string, account: string): string {
  const documents = loadAll(
    readFileSync(new URL("../../manifests/rbac.yaml", import.meta.url), "utf8"),
  ) as Record<string, unknown>[];
  type Named = { name: string; namespace?: string };
  const renamed = documents
    .filter((document) => document.kind !== "Namespace")
    .map((document) => {
      const object = structuredClone(document) as {
        metadata: Named;
        rules?: { resources?: string[] }[];
        roleRef?: Named;
        subjects?: Named[];
      };
      object.metadata.name = `${object.metadata.name}-${account}`;
      if (object.roleRef !== undefined) object.roleRef.name = `${object.roleRef.name}-${account}`;
      for (const subject of object.subjects ?? []) subject.name = account;
      object.rules = object.rules
        ?.map((rule) => ({ ...rule, resources: rule.resources?.filter((each) => each !== resource) }))
        .filter((rule) => rule.resources === undefined || rule.resources.length > 0);
      if (object.rules === undefined) delete object.rules;
      return object;
    });
  const serviceAccount = renamed.find((object) => (object as { kind?: string }).kind === "ServiceAccount");
  if (serviceAccount !== undefined) serviceAccount.metadata.name = account;
  return JSON.stringify({ apiVersion: "v1", kind: "List", items: renamed });
}

// Short, so that the test ends soon; past one report of what the agent waits for (every 10 s).
const SYNC_TIMEOUT_S = 12;

test.serial(
  "an agent whose ServiceAccount may not read vippools says so, and exits at --sync-timeout with status 3",
  async (t) => {
    await applyRbac();
    await cluster.kubectl(["apply", "-f", "-"], rbacWithout("vippools", "no-pools"));
    const api = cluster.api;
    const kubeconfig = await api.serviceAccountKubeconfig({
      namespace: AGENT_NAMESPACE,
      name: "no-pools",
      server: api.internalUrl,
    });
    const [node] = lab.nodes;
    if (node === undefined) throw new Error("the lab has no nodes");
    const agent = lab.spawn(
      node.netns,
      vipdRunArgv({
        node,
        kubeconfig,
        namespace: AGENT_NAMESPACE,
        extraArgs: ["--log-format=json", `--sync-timeout=${SYNC_TIMEOUT_S}s`],
      }),
      { name: `vipd ${node.name} (no vippools)` },
    );
    endWithTest(t, [agent]);
    const exited = watchExits([agent]);
    // While it waits, /readyz names the informer and its error.
    let readyzBody = "";
    while (exited().get(agent.name) === null && !readyzBody.includes("vippools.vipd.io")) {
      readyzBody = (await agentHttp(lab, node, "/readyz")).body;
      await hold(200);
    }
    t.regex(readyzBody, /not synced: vippools\.vipd\.io: HTTP 403: .*vippools/, agent.output().slice(-3000));
    t.deepEqual(await agent.exited, { code: 3, signal: null }, agent.output().slice(-3000));
    const lines = logLines(agent);
    t.true(
      lines.some((line) => line.level === "warn" && /vippools\.vipd\.io is forbidden/.test(line.error ?? "")),
      "the first refusal is logged with the API server's words",
    );
    const reports = lines.filter((line) => line.message === WAIT_REPORT);
    t.true(reports.length >= 1, "what it waits for is reported while it waits");
    t.regex(reports[0]?.waiting ?? "", /^vippools\.vipd\.io: HTTP 403: /);
    t.true(
      reports.every((line) =>
        (line.waiting ?? "").split("; ").every((each) => each.startsWith("vippools.vipd.io: ")),
      ),
      "only the informer that is refused: the others have synced",
    );
    const last = lines.at(-1);
    t.is(last?.level, "error", `the last line is an error log line:\n${agent.output().slice(-3000)}`);
    t.regex(
      last?.message ?? "",
      new RegExp(
        `refused vipd for ${SYNC_TIMEOUT_S}s \\(--sync-timeout\\).*vippools\\.vipd\\.io: HTTP 403: .*apply manifests/rbac\\.yaml`,
      ),
    );
  },
);
