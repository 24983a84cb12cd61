// A real kube-apiserver with etcd for tests, the demo and the benchmarks: a throwaway PKI, TLS only,
// RBAC, a service-account signing key, an admin kubeconfig, and kubeconfigs minted for
// ServiceAccounts. It can run inside a network namespace (the lab's API namespace); the test process
// then reaches it through a Unix-socket bridge, because nothing may be added to the root namespace.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createWriteStream, readFileSync, rmSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { connect, createServer, isIPv6, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { ensureKubeBinaries } from "./apiserver-build.ts";
import { inNamespace, run as runCommand, type CommandResult } from "./netns.ts";
import { tearDownOnExit } from "./teardown.ts";

type LogSink = (line: string) => void;

export interface ApiServerOptions {
  readonly bindAddress?: string;
  readonly port?: number;
  /** Run etcd and kube-apiserver inside this network namespace. */
  readonly netns?: string;
  /** host:port of etcd's plain-HTTP client listener, an IPv6 host in brackets. */
  readonly etcdListen?: string;
  readonly workDir?: string;
  readonly extraSans?: readonly string[];
  /** Receives progress lines and every line etcd and kube-apiserver log (also kept in workDir). */
  readonly log?: LogSink;
}

export type { CommandResult };

export interface ApiServer {
  /** Reachable from the test process (root namespace). */
  readonly url: string;
  /** What processes inside the lab's namespaces use. */
  readonly internalUrl: string;
  readonly kubeconfigPath: string;
  readonly caPath: string;
  readonly workDir: string;
  readonly kubernetesVersion: string;
  readonly pid: number;
  readonly etcdPid: number;
  adminKubeconfig(options: { server: string; path?: string }): Promise<string>;
  serviceAccountKubeconfig(options: { namespace: string; name: string; server?: string }): Promise<string>;
  kubectl(args: readonly string[], options?: { kubeconfig?: string; input?: string }): Promise<CommandResult>;
  /** The same kubectl as a command line a person can paste: binary, subcommand, admin kubeconfig. */
  readonly kubectlCommand: readonly string[];
  restart(): Promise<void>;
  /** Stops kube-apiserver (etcd keeps running): connections to it are refused until startServer(). */
  stopServer(): Promise<void>;
  /** Starts the kube-apiserver stopServer() stopped, and waits until it is ready. */
  startServer(): Promise<void>;
  kill(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const SERVICE_CLUSTER_IP_RANGE = "192.0.2.0/24,2001:db8:ffff::/112";

// Children must not outlive the test process, whatever way it ends: on a normal exit or a signal
// the lab's exit hooks (teardown.ts) kill them and remove the work directory we created, and if we
// are SIGKILLed the binary kills itself (PR_SET_PDEATHSIG, armed by the environment variable below).
const childEnv = { ...process.env, VIPD_TESTCLUSTER_PARENT_PID: String(process.pid) };

function where(netns: string | undefined, argv: readonly string[]): string[] {
  return netns === undefined ? [...argv] : inNamespace(netns, argv);
}

function run(argv: readonly string[], input?: string): Promise<CommandResult> {
  return runCommand(argv, { input: input ?? "", allowFailure: true, env: childEnv });
}

function startProcess(
  argv: readonly string[],
  options: { logPath: string; log: LogSink; live: Set<ChildProcess> },
): ChildProcess {
  const [command = "", ...args] = argv;
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: childEnv });
  options.live.add(child);
  child.once("exit", () => options.live.delete(child));
  const file = createWriteStream(options.logPath, { flags: "a" });
  for (const stream of [child.stdout, child.stderr]) {
    stream.pipe(file, { end: false });
    createInterface({ input: stream, crlfDelay: Infinity }).on("line", options.log);
  }
  // "close", not "exit": output can still be in the pipes when the process has exited.
  child.once("close", () => file.end());
  return child;
}

async function stopProcess(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  // A process stopped by fault injection only acts on SIGTERM once it runs again.
  child.kill("SIGCONT");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

function waitForOutput(
  child: ChildProcess,
  expected: { pattern: RegExp; timeoutMs: number; what: string },
): Promise<void> {
  const { pattern, timeoutMs, what } = expected;
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => {
      reject(new Error(`${what} did not start within ${timeoutMs / 1000}s:\n${seen.slice(-4000)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.stderr?.off("data", onData);
        resolve();
      }
    };
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${seen.slice(-4000)}`));
    });
  });
}

function hostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface Bridge {
  readonly port: number;
  close(): Promise<void>;
}

/** A TCP listener on 127.0.0.1 that forwards every connection to a Unix socket. */
async function unixBridge(socketPath: string): Promise<Bridge> {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(socketPath);
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.once("close", () => open.delete(socket));
    }
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      // Keep-alive and watch connections would hold server.close() open indefinitely.
      for (const socket of open) socket.destroy();
      await closed;
    },
  };
}

interface Pki {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

/** The files `vipd-testcluster pki` writes: the CA, the admin client pair, serving and SA keys. */
export interface PkiFiles extends Pki {
  readonly dir: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly serviceAccountPublicKey: string;
  readonly serviceAccountSigningKey: string;
}

/** A throwaway PKI whose serving certificate names these IPs and DNS names besides the usual ones. */
export async function writePki(options: {
  readonly testcluster: string;
  readonly dir: string;
  readonly sans: readonly string[];
}): Promise<PkiFiles> {
  const { dir } = options;
  await mkdir(dir, { recursive: true });
  const sans = new Set(["127.0.0.1", ...options.sans]);
  const ips = [...sans].filter((san) => /^[\d.]+$|:/.test(san));
  const names = [...sans].filter((san) => !ips.includes(san));
  const pki = await run([
    options.testcluster,
    "pki",
    "--dir",
    dir,
    "--ips",
    ips.join(","),
    "--dns",
    ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", ...names].join(","),
  ]);
  if (pki.code !== 0) throw new Error(`pki failed: ${pki.stderr}`);
  return {
    dir,
    ca: join(dir, "ca.crt"),
    cert: join(dir, "admin.crt"),
    key: join(dir, "admin.key"),
    servingCert: join(dir, "apiserver.crt"),
    servingKey: join(dir, "apiserver.key"),
    serviceAccountPublicKey: join(dir, "sa.pub"),
    serviceAccountSigningKey: join(dir, "sa.key"),
  };
}

/** kube-apiserver's flags as the lab runs it: TLS only, RBAC, the PKI's keys, etcd over plain HTTP. */
export function kubeApiserverArgs(options: {
  readonly bindAddress: string;
  readonly advertiseAddress: string;
  readonly port: number;
  readonly etcdServers: string;
  readonly certDir: string;
  readonly pki: PkiFiles;
}): string[] {
  const { pki } = options;
  return [
    "kube-apiserver",
    `--bind-address=${options.bindAddress}`,
    `--advertise-address=${options.advertiseAddress}`,
    `--secure-port=${options.port}`,
    `--etcd-servers=${options.etcdServers}`,
    `--cert-dir=${options.certDir}`,
    `--client-ca-file=${pki.ca}`,
    `--tls-cert-file=${pki.servingCert}`,
    `--tls-private-key-file=${pki.servingKey}`,
    "--authorization-mode=RBAC",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki.serviceAccountPublicKey}`,
    `--service-account-signing-key-file=${pki.serviceAccountSigningKey}`,
    `--service-cluster-ip-range=${SERVICE_CLUSTER_IP_RANGE}`,
    // No kube-proxy or pods consume the kubernetes Service here; its endpoint writes would only add
    // noise to the API request rates the benchmarks measure.
    "--endpoint-reconciler-type=none",
    "--allow-privileged=true",
    "--profiling=false",
  ];
}

/** `vipd-testcluster etcd` serving plain-HTTP clients on listen (host:port). */
export function etcdArgs(options: { readonly dataDir: string; readonly listen: string }): string[] {
  return ["etcd", "--data-dir", options.dataDir, "--listen-client", options.listen];
}

function readyz(url: string, pki: Pki): Promise<number> {
  return new Promise((resolve) => {
    const req = request(`${url}/readyz`, {
      ca: readFileSync(pki.ca),
      cert: readFileSync(pki.cert),
      key: readFileSync(pki.key),
      timeout: 2000,
    });
    req.on("response", (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => {
      resolve(0);
    });
    req.end();
  });
}

// JSON is YAML too, and needs no quoting rules for paths or tokens.
export function kubeconfig(options: {
  server: string;
  caPath: string;
  user: Record<string, string>;
}): string {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: "vipd-lab", cluster: { server: options.server, "certificate-authority": options.caPath } },
    ],
    users: [{ name: "user", user: options.user }],
    contexts: [{ name: "vipd-lab", context: { cluster: "vipd-lab", user: "user" } }],
    "current-context": "vipd-lab",
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

export async function startApiServer(options: ApiServerOptions = {}): Promise<ApiServer> {
  const log = options.log ?? (() => undefined);
  const binaries = await ensureKubeBinaries({ log });
  const workDir = options.workDir ?? (await mkdtemp(join(tmpdir(), "vipd-api-")));
  // etcd, kube-apiserver (each start of it) and the proxy, while they run.
  const live = new Set<ChildProcess>();
  const forget = tearDownOnExit(() => {
    for (const survivor of live) survivor.kill("SIGKILL");
    if (options.workDir === undefined) rmSync(workDir, { recursive: true, force: true, maxRetries: 3 });
  });
  const { netns } = options;
  const bindAddress = options.bindAddress ?? "127.0.0.1";
  const port = options.port ?? (netns === undefined ? await freePort() : 6443);
  const etcdListen = options.etcdListen ?? `127.0.0.1:${netns === undefined ? await freePort() : 2379}`;
  const internalUrl = `https://${hostPort(bindAddress, port)}`;
  const pkiDir = join(workDir, "pki");
  const files: Pki = {
    ca: join(pkiDir, "ca.crt"),
    cert: join(pkiDir, "admin.crt"),
    key: join(pkiDir, "admin.key"),
  };
  const apiserverLog = join(workDir, "apiserver.log");
  let apiserverArgv: string[] = [];
  // What a failed start reports; kept in memory because the log file may lag behind the pipes.
  const apiserverTail: string[] = [];
  // Settles once the running kube-apiserver has exited and the last line of its output has been read.
  let apiserverClosed: Promise<void> = Promise.resolve();
  const startApiserverProcess = (): ChildProcess => {
    const child = startProcess(apiserverArgv, {
      live,
      logPath: apiserverLog,
      log: (line) => {
        apiserverTail.push(line);
        if (apiserverTail.length > 50) apiserverTail.shift();
        log(`kube-apiserver: ${line}`);
      },
    });
    apiserverClosed = new Promise((resolve) => {
      child.once("close", () => {
        resolve();
      });
    });
    return child;
  };

  let etcd: ChildProcess | undefined;
  let apiserver: ChildProcess | undefined;
  let proxy: ChildProcess | undefined;
  let bridge: Bridge | undefined;
  let url = internalUrl;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await stopProcess(apiserver);
    await stopProcess(etcd);
    await stopProcess(proxy);
    await bridge?.close();
    if (options.workDir === undefined) await rm(workDir, { recursive: true, force: true });
    forget();
  };

  const running = (child: ChildProcess | undefined): ChildProcess => {
    if (child === undefined) throw new Error("kube-apiserver was never started");
    return child;
  };

  const waitReady = async (): Promise<void> => {
    const deadline = performance.now() + READY_TIMEOUT_MS;
    const child = running(apiserver);
    const closed = apiserverClosed;
    const output = { closed: false };
    void closed.then(() => {
      output.closed = true;
    });
    while (!output.closed && performance.now() < deadline) {
      if ((await readyz(url, files)) === 200) return;
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 250))]);
    }
    const why = output.closed
      ? `exited (${child.exitCode ?? child.signalCode ?? "?"}) before it was ready at ${url}`
      : `not ready at ${url} within ${READY_TIMEOUT_MS / 1000}s`;
    throw new Error(
      `kube-apiserver ${why}; its last log lines (all in ${apiserverLog}):\n${apiserverTail.join("\n")}`,
    );
  };

  const started = performance.now();
  try {
    const pki = await writePki({
      testcluster: binaries.testcluster,
      dir: pkiDir,
      sans: [bindAddress, ...(options.extraSans ?? [])],
    });
    apiserverArgv = where(netns, [
      binaries.testcluster,
      ...kubeApiserverArgs({
        bindAddress,
        advertiseAddress: bindAddress,
        port,
        etcdServers: `http://${etcdListen}`,
        certDir: workDir,
        pki,
      }),
    ]);
    const etcdArgv = etcdArgs({ dataDir: join(workDir, "etcd"), listen: etcdListen });
    etcd = startProcess(where(netns, [binaries.testcluster, ...etcdArgv]), {
      live,
      logPath: join(workDir, "etcd.log"),
      log: (line) => {
        log(`etcd: ${line}`);
      },
    });
    await waitForOutput(etcd, { pattern: /etcd: ready/, timeoutMs: READY_TIMEOUT_MS, what: "etcd" });
    apiserver = startApiserverProcess();

    if (netns !== undefined) {
      const socketPath = join(workDir, "apiserver.sock");
      proxy = startProcess(
        where(netns, [
          binaries.testcluster,
          "uds-proxy",
          "--listen",
          socketPath,
          "--target",
          hostPort(bindAddress, port),
        ]),
        { live, logPath: join(workDir, "uds-proxy.log"), log },
      );
      await waitForOutput(proxy, { pattern: /uds-proxy: /, timeoutMs: 10_000, what: "uds-proxy" });
      bridge = await unixBridge(socketPath);
      url = `https://127.0.0.1:${bridge.port}`;
    }
    await waitReady();
  } catch (error) {
    await stop();
    throw error;
  }
  log(
    `kube-apiserver ${binaries.kubernetesVersion} ready at ${internalUrl} in ${Math.round(performance.now() - started)}ms`,
  );

  const adminKubeconfig = async (target: { server: string; path?: string }): Promise<string> => {
    const path =
      target.path ??
      join(
        workDir,
        `admin-${createHash("sha256").update(target.server).digest("hex").slice(0, 12)}.kubeconfig`,
      );
    const user = { "client-certificate": files.cert, "client-key": files.key };
    await writeFile(path, kubeconfig({ server: target.server, caPath: files.ca, user }), { mode: 0o600 });
    return path;
  };
  const stopServer = async (): Promise<void> => {
    if (stopped) throw new Error("the API server was stopped for good (stop())");
    await stopProcess(apiserver);
  };
  const startServer = async (): Promise<void> => {
    if (stopped) throw new Error("the API server was stopped for good (stop())");
    const current = running(apiserver);
    if (current.exitCode === null && current.signalCode === null)
      throw new Error("kube-apiserver is running");
    apiserver = startApiserverProcess();
    await waitReady();
  };
  const kubeconfigPath = await adminKubeconfig({ server: url, path: join(workDir, "admin.kubeconfig") });

  return {
    url,
    internalUrl,
    kubeconfigPath,
    caPath: files.ca,
    workDir,
    kubernetesVersion: binaries.kubernetesVersion,
    get pid() {
      return running(apiserver).pid ?? -1;
    },
    etcdPid: etcd.pid ?? -1,
    adminKubeconfig,
    serviceAccountKubeconfig: (account) =>
      serviceAccountKubeconfig({
        ...account,
        server: account.server ?? url,
        adminKubeconfigPath: kubeconfigPath,
        workDir,
        caPath: files.ca,
      }),
    kubectlCommand: [binaries.testcluster, "kubectl", `--kubeconfig=${kubeconfigPath}`],
    kubectl: (args, kubectlOptions) =>
      run(
        [
          binaries.testcluster,
          "kubectl",
          `--kubeconfig=${kubectlOptions?.kubeconfig ?? kubeconfigPath}`,
          ...args,
        ],
        kubectlOptions?.input,
      ),
    restart: async () => {
      await stopServer();
      await startServer();
    },
    stopServer,
    startServer,
    kill: (signal) => {
      running(apiserver).kill(signal);
    },
    stop,
  };
}

async function serviceAccountKubeconfig(options: {
  namespace: string;
  name: string;
  server: string;
  adminKubeconfigPath: string;
  workDir: string;
  caPath: string;
}): Promise<string> {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(options.adminKubeconfigPath);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const ignoreExisting = (error: unknown) => {
    if ((error as { code?: number }).code !== 409) throw error;
  };
  await core.createNamespace({ body: { metadata: { name: options.namespace } } }).catch(ignoreExisting);
  await core
    .createNamespacedServiceAccount({
      namespace: options.namespace,
      body: { metadata: { name: options.name } },
    })
    .catch(ignoreExisting);
  const request = await core.createNamespacedServiceAccountToken({
    namespace: options.namespace,
    name: options.name,
    body: { spec: { audiences: [], expirationSeconds: 24 * 3600 } },
  });
  const token = request.status?.token;
  if (token === undefined) throw new Error(`no token issued for ${options.namespace}/${options.name}`);
  const path = join(options.workDir, `sa-${options.namespace}-${options.name}.kubeconfig`);
  await writeFile(path, kubeconfig({ server: options.server, caPath: options.caPath, user: { token } }), {
    mode: 0o600,
  });
  return path;
}
