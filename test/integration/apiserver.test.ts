// The test API server is the real thing: it allocates ClusterIPs, serves watches and the /status
// subresource, enforces optimistic concurrency on Leases and RBAC on ServiceAccounts.
import test from "ava";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { constants } from "node:os";
import { createInterface } from "node:readline";
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  RbacAuthorizationV1Api,
  Watch,
  setHeaderOptions,
  type V1Service,
} from "@kubernetes/client-node";
import { ensureKubeBinaries } from "../../lab/apiserver-build.ts";
import { startApiServer, type ApiServer } from "../../lab/apiserver.ts";

function clients(kubeconfigPath: string) {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  return {
    kubeConfig,
    core: kubeConfig.makeApiClient(CoreV1Api),
    coordination: kubeConfig.makeApiClient(CoordinationV1Api),
    rbac: kubeConfig.makeApiClient(RbacAuthorizationV1Api),
  };
}

function statusOf(error: unknown): number | undefined {
  return error instanceof ApiException ? (error as ApiException<unknown>).code : undefined;
}

// A zombie counts as gone: it no longer runs, and whoever inherited it may never reap it.
function processAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function waitUntilGone(pids: readonly number[]): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  while (pids.some(processAlive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return pids.filter(processAlive);
}

interface Started {
  readonly pid: number;
  readonly etcdPid: number;
  readonly workDir: string;
}

/** Starts an API server in a separate Node process, which the test then kills. */
async function startInChildProcess(): Promise<{ owner: ReturnType<typeof spawn>; started: Started }> {
  const launcher = new URL("../../lab/apiserver.ts", import.meta.url).href;
  const script = [
    `const { startApiServer } = await import(${JSON.stringify(launcher)});`,
    "const api = await startApiServer();",
    "console.log(JSON.stringify({ pid: api.pid, etcdPid: api.etcdPid, workDir: api.workDir }));",
    "setInterval(() => undefined, 60_000);",
  ].join("\n");
  const owner = spawn(process.execPath, ["--input-type=module", "-e", script], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: owner.stdout });
  for await (const line of lines) {
    lines.close();
    return { owner, started: JSON.parse(line) as Started };
  }
  throw new Error("the child process exited before its API server was ready");
}

let api: ApiServer;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("these tests start network namespaces and need root");
  api = await startApiServer();
});

test.after.always(async () => {
  // Unset when test.before failed; its error is the one worth reading.
  await (api as ApiServer | undefined)?.stop();
});

test.serial("kubectl works against it with the admin kubeconfig", async (t) => {
  const result = await api.kubectl(["get", "ns", "-o", "name"]);
  t.is(result.code, 0, result.stderr);
  t.regex(result.stdout, /namespace\/default/);
  const version = await api.kubectl(["version", "-o", "json"]);
  t.is(version.code, 0, version.stderr);
  const versions = JSON.parse(version.stdout) as Record<
    "clientVersion" | "serverVersion",
    { gitVersion: string }
  >;
  t.is(versions.serverVersion.gitVersion, api.kubernetesVersion);
  t.is(versions.clientVersion.gitVersion, api.kubernetesVersion);
  t.regex(api.kubernetesVersion, /^v1\.\d+\.\d+$/);
});

test.serial(
  "a LoadBalancer Service gets a ClusterIP, is watched, and takes status through /status",
  async (t) => {
    const { kubeConfig, core } = clients(api.kubeconfigPath);
    const events: string[] = [];
    const watch = await new Watch(kubeConfig).watch(
      "/api/v1/namespaces/default/services",
      {},
      (phase: string, service: V1Service) => events.push(`${phase} ${service.metadata?.name ?? ""}`),
      () => undefined,
    );
    t.teardown(() => {
      watch.abort();
    });
    const created = await core.createNamespacedService({
      namespace: "default",
      body: {
        metadata: { name: "web" },
        spec: { type: "LoadBalancer", loadBalancerIP: "198.51.100.200", ports: [{ port: 80 }] },
      },
    });
    t.regex(created.spec?.clusterIP ?? "", /^192\.0\.2\.\d+$/);
    t.true((created.spec?.ports?.[0]?.nodePort ?? 0) > 0);
    const dual = await core.createNamespacedService({
      namespace: "default",
      body: {
        metadata: { name: "web-dual" },
        spec: { type: "LoadBalancer", ipFamilyPolicy: "RequireDualStack", ports: [{ port: 80 }] },
      },
    });
    t.is(dual.spec?.clusterIPs?.length, 2);
    t.regex(dual.spec?.clusterIPs?.[1] ?? "", /^2001:db8:ffff::[\da-f]+$/);

    await core.patchNamespacedServiceStatus(
      {
        namespace: "default",
        name: "web",
        body: { status: { loadBalancer: { ingress: [{ ip: "198.51.100.200", ipMode: "VIP" }] } } },
      },
      setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
    );
    const read = await core.readNamespacedService({ namespace: "default", name: "web" });
    t.deepEqual(
      read.status?.loadBalancer?.ingress?.map(({ ip, ipMode }) => ({ ip, ipMode })),
      [{ ip: "198.51.100.200", ipMode: "VIP" }],
    );

    const deadline = Date.now() + 10_000;
    while (!events.includes("MODIFIED web") && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    t.deepEqual(events.filter((event) => event.endsWith(" web")).slice(0, 2), ["ADDED web", "MODIFIED web"]);
  },
);

test.serial("a Lease update with a stale resourceVersion gets 409 Conflict", async (t) => {
  const { coordination } = clients(api.kubeconfigPath);
  const created = await coordination.createNamespacedLease({
    namespace: "default",
    body: { metadata: { name: "cas" }, spec: { holderIdentity: "node1" } },
  });
  await coordination.replaceNamespacedLease({
    namespace: "default",
    name: "cas",
    body: { ...created, spec: { holderIdentity: "node2" } },
  });
  const error = await t.throwsAsync(
    coordination.replaceNamespacedLease({
      namespace: "default",
      name: "cas",
      body: { ...created, spec: { holderIdentity: "node3" } },
    }),
  );
  t.is(statusOf(error), 409);
});

test.serial("a ServiceAccount gets exactly what RBAC grants it: 403 for the rest", async (t) => {
  const admin = clients(api.kubeconfigPath);
  const path = await api.serviceAccountKubeconfig({ namespace: "vipd-system", name: "reader" });
  await admin.rbac.createNamespacedRole({
    namespace: "vipd-system",
    body: {
      metadata: { name: "lease-reader" },
      rules: [{ apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["get"] }],
    },
  });
  await admin.rbac.createNamespacedRoleBinding({
    namespace: "vipd-system",
    body: {
      metadata: { name: "lease-reader" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "lease-reader" },
      subjects: [{ kind: "ServiceAccount", name: "reader", namespace: "vipd-system" }],
    },
  });
  await admin.coordination.createNamespacedLease({
    namespace: "vipd-system",
    body: { metadata: { name: "seen" } },
  });
  const account = clients(path);
  const lease = await account.coordination.readNamespacedLease({ namespace: "vipd-system", name: "seen" });
  t.is(lease.metadata?.name, "seen");
  const create = await t.throwsAsync(
    account.coordination.createNamespacedLease({
      namespace: "vipd-system",
      body: { metadata: { name: "mine" } },
    }),
  );
  t.is(statusOf(create), 403);
  const list = await t.throwsAsync(account.core.listServiceForAllNamespaces());
  t.is(statusOf(list), 403);
  const canI = await api.kubectl(["auth", "can-i", "create", "leases", "-n", "vipd-system"], {
    kubeconfig: path,
  });
  t.is(canI.stdout.trim(), "no");
});

test.serial("restart keeps what etcd holds", async (t) => {
  const before = api.pid;
  await api.restart();
  t.not(api.pid, before);
  const { core } = clients(api.kubeconfigPath);
  const service = await core.readNamespacedService({ namespace: "default", name: "web" });
  t.is(service.spec?.loadBalancerIP, "198.51.100.200");
});

test.serial("a kube-apiserver killed by fault injection comes back with restart()", async (t) => {
  const killed = api.pid;
  api.kill("SIGKILL");
  t.deepEqual(await waitUntilGone([killed]), []);
  t.not((await api.kubectl(["get", "--raw", "/readyz"])).code, 0);
  await api.restart();
  t.not(api.pid, killed);
  const { coordination } = clients(api.kubeconfigPath);
  const lease = await coordination.readNamespacedLease({ namespace: "default", name: "cas" });
  t.is(lease.spec?.holderIdentity, "node2");
});

test.serial(
  "inside a network namespace: reached through the Unix-socket bridge, restarts keep data, stop leaves nothing",
  async (t) => {
    const netns = `vipdapi${process.pid}`;
    const ip = (...args: string[]) => execFileSync("ip", args, { stdio: "pipe" });
    ip("netns", "add", netns);
    t.teardown(() => {
      ip("netns", "delete", netns);
    });
    ip("-n", netns, "link", "set", "lo", "up");
    // A veth pair with both ends inside the namespace gives it an address of its own (this kernel
    // has no dummy interfaces).
    ip("-n", netns, "link", "add", "d0", "type", "veth", "peer", "name", "d1");
    ip("-n", netns, "addr", "add", "203.0.113.1/24", "dev", "d0");
    ip("-n", netns, "link", "set", "d1", "up");
    ip("-n", netns, "link", "set", "d0", "up");
    const inside = await startApiServer({
      netns,
      bindAddress: "203.0.113.1",
      port: 6443,
      etcdListen: "203.0.113.1:2379",
    });
    const pids = [inside.pid, inside.etcdPid];
    try {
      t.is(inside.internalUrl, "https://203.0.113.1:6443");
      t.regex(inside.url, /^https:\/\/127\.0\.0\.1:\d+$/);
      const { core } = clients(inside.kubeconfigPath);
      await core.createNamespacedService({
        namespace: "default",
        body: { metadata: { name: "kept" }, spec: { type: "LoadBalancer", ports: [{ port: 80 }] } },
      });

      // What a process inside the lab sees: the internal URL, with no bridge in between.
      const internal = await inside.adminKubeconfig({ server: inside.internalUrl });
      const { testcluster } = await ensureKubeBinaries();
      const readyz = execFileSync("ip", [
        "netns",
        "exec",
        netns,
        testcluster,
        "kubectl",
        `--kubeconfig=${internal}`,
        "get",
        "--raw",
        "/readyz",
      ]).toString();
      t.is(readyz, "ok");

      await inside.restart();
      pids.push(inside.pid);
      const kept = await core.readNamespacedService({ namespace: "default", name: "kept" });
      t.regex(kept.spec?.clusterIP ?? "", /^192\.0\.2\.\d+$/);
    } finally {
      await inside.stop();
    }
    t.deepEqual(pids.filter(processAlive), []);
    t.false(existsSync(inside.workDir));
  },
);

test.serial("a kube-apiserver that cannot start fails with its log and leaves nothing behind", async (t) => {
  // No interface in the root namespace has this address, so kube-apiserver cannot bind it.
  const { message } = await t.throwsAsync(startApiServer({ bindAddress: "203.0.113.77" }));
  t.regex(message, /^kube-apiserver exited \(1\) before it was ready/);
  t.regex(message, /cannot assign requested address/);
  const workDir = /all in (\S+)\/apiserver\.log/.exec(message)?.[1];
  if (workDir === undefined) return t.fail("the error names no log file");
  t.false(existsSync(workDir));
  const users = readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(workDir);
      } catch {
        return false;
      }
    });
  t.deepEqual(users, []);
});

test.serial("stop leaves no process and no work directory behind", async (t) => {
  const pids = [api.pid, api.etcdPid];
  await api.stop();
  t.deepEqual(pids.filter(processAlive), []);
  t.false(existsSync(api.workDir));
  await api.stop();
  t.pass("stop is idempotent");
});

test.serial("its processes die with the process that started them, even one SIGKILLed", async (t) => {
  for (const signal of ["SIGTERM", "SIGKILL"] as const) {
    const { owner, started } = await startInChildProcess();
    t.teardown(() => {
      // If the assertions below fail, the survivors are ours to kill.
      for (const pid of [started.pid, started.etcdPid].filter(processAlive)) process.kill(pid, "SIGKILL");
      rmSync(started.workDir, { recursive: true, force: true });
    });
    t.true(processAlive(started.pid) && processAlive(started.etcdPid));
    const exited = new Promise((resolve) => {
      owner.once("exit", (code, how) => {
        resolve(how ?? code);
      });
    });
    owner.kill(signal);
    // A SIGTERM runs the lab's exit hooks (teardown.ts), which exit with 128 + 15 as a shell would.
    t.is(await exited, signal === "SIGTERM" ? 128 + constants.signals.SIGTERM : signal);
    t.deepEqual(await waitUntilGone([started.pid, started.etcdPid]), [], `after ${signal}`);
    // With SIGTERM the launcher cleans up itself; a SIGKILLed one gets no chance to.
    if (signal === "SIGTERM") t.false(existsSync(started.workDir));
  }
});
