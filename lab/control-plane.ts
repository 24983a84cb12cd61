// A control plane in the lab for control-plane mode: one etcd in the API namespace, on the
// management network, and a kube-apiserver in each node's namespace against it, as on a kubeadm
// cluster with external etcd. Each API server listens on every address of its node, so once a node
// holds the VIP its API server answers there. The serving certificate names the VIP, the nodes'
// addresses and 127.0.0.1. The lab's own single API server is not used (up({ apiServer: false })).
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ownershipLeaseOf, registerNodes, vipdRunArgv } from "./agents.ts";
import { ensureKubeBinaries } from "./apiserver-build.ts";
import { etcdArgs, kubeApiserverArgs, kubeconfig, writePki } from "./apiserver.ts";
import type { CommandResult, Lab, LabNode, LabProcess } from "./index.ts";
import { API_ADDRESS } from "./topology.ts";

const LEASE_NAMESPACE = "kube-system";
const API_PORT = 6443;
const READY_TIMEOUT_MS = 120_000;

export interface ControlPlane {
  readonly vip: string;
  /** Each node's kube-apiserver, by node name. */
  readonly apiservers: ReadonlyMap<string, LabProcess>;
  /** kubectl in the node's namespace against its own API server (https://127.0.0.1:6443). */
  kubectl(node: LabNode, args: readonly string[], input?: string): Promise<CommandResult>;
  /**
   * kubectl with --server https://<VIP>:6443, in the LAN client's namespace unless another is
   * given (a routed VIP is reached from the far client, through the router).
   */
  kubectlViaVip(args: readonly string[], options?: { readonly netns?: string }): Promise<CommandResult>;
  /** `vipd run --control-plane` on the node with the node's admin kubeconfig. */
  startAgent(node: LabNode, extraArgs?: readonly string[]): LabProcess;
  /** Holder of the control-plane ownership Lease, read through the node's own API server. */
  leaseHolder(via: LabNode): Promise<string>;
  /** Removes the PKI and kubeconfigs; the processes end with the lab. */
  cleanUp(): Promise<void>;
}

async function waitUntil(what: string, attempt: () => Promise<CommandResult>): Promise<void> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  let last: CommandResult | undefined;
  while (performance.now() < deadline) {
    last = await attempt();
    if (last.code === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${what} not ready within ${READY_TIMEOUT_MS / 1000}s: ${last?.stderr ?? ""}`);
}

export async function startControlPlane(
  lab: Lab,
  options: { readonly vip: string; readonly log?: (line: string) => void },
): Promise<ControlPlane> {
  const { vip } = options;
  const { testcluster } = await ensureKubeBinaries({ log: options.log });
  const workDir = await mkdtemp(join(tmpdir(), "vipd-cp-"));
  const pki = await writePki({
    testcluster,
    dir: join(workDir, "pki"),
    sans: [vip, ...lab.nodes.flatMap((node) => [node.ipv4, node.mgmtIpv4])],
  });
  const etcdListen = `${API_ADDRESS}:2379`;
  const etcd = lab.spawn(
    lab.apiNetns,
    [testcluster, ...etcdArgs({ dataDir: join(workDir, "etcd"), listen: etcdListen })],
    { name: "etcd" },
  );
  await etcd.waitForLine(/etcd: ready/, READY_TIMEOUT_MS);

  // Two kubeconfigs with the same admin credentials: the one on the nodes names the VIP, as kubeadm's
  // admin.conf names the control-plane endpoint; the test's own reaches the node's API server.
  const user = { "client-certificate": pki.cert, "client-key": pki.key };
  const nodeKubeconfig = join(workDir, "admin.conf");
  const localKubeconfig = join(workDir, "local.kubeconfig");
  const vipServer = `https://${vip}:${API_PORT}`;
  await writeFile(nodeKubeconfig, kubeconfig({ server: vipServer, caPath: pki.ca, user }), { mode: 0o600 });
  await writeFile(
    localKubeconfig,
    kubeconfig({ server: `https://127.0.0.1:${API_PORT}`, caPath: pki.ca, user }),
    { mode: 0o600 },
  );

  const startApiserver = async (node: LabNode): Promise<LabProcess> => {
    const certDir = join(workDir, node.name);
    await mkdir(certDir, { recursive: true });
    const args = kubeApiserverArgs({
      bindAddress: "0.0.0.0",
      advertiseAddress: node.ipv4,
      port: API_PORT,
      etcdServers: `http://${etcdListen}`,
      certDir,
      pki,
    });
    return lab.spawn(node.netns, [testcluster, ...args], { name: `kube-apiserver ${node.name}` });
  };
  const kubectl = (node: LabNode, args: readonly string[], input?: string) =>
    lab.exec(node.netns, [testcluster, "kubectl", `--kubeconfig=${localKubeconfig}`, ...args], {
      allowFailure: true,
      ...(input === undefined ? {} : { input }),
    });
  const readyz = (node: LabNode) => kubectl(node, ["get", "--raw", "/readyz", "--request-timeout=5s"]);

  // The first one alone bootstraps the shared etcd (RBAC roles, system namespaces); then the others.
  const [first, ...others] = lab.nodes;
  if (first === undefined) throw new Error("a control plane needs a node");
  const apiservers = new Map<string, LabProcess>([[first.name, await startApiserver(first)]]);
  await waitUntil(`kube-apiserver on ${first.name}`, () => readyz(first));
  for (const node of others) apiservers.set(node.name, await startApiserver(node));
  await Promise.all(others.map((node) => waitUntil(`kube-apiserver on ${node.name}`, () => readyz(node))));

  await registerNodes({
    kubectl: async (args, input) => {
      const result = await kubectl(first, args, input);
      if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${result.stderr}`);
      return result.stdout;
    },
    nodes: lab.nodes,
    namespace: LEASE_NAMESPACE,
    labels: { "node-role.kubernetes.io/control-plane": "" },
  });

  return {
    vip,
    apiservers,
    kubectl,
    kubectlViaVip: (args, viaOptions) =>
      lab.exec(
        viaOptions?.netns ?? lab.client.netns,
        [testcluster, "kubectl", `--kubeconfig=${localKubeconfig}`, `--server=${vipServer}`, ...args],
        { allowFailure: true },
      ),
    startAgent: (node, extraArgs = []) =>
      lab.spawn(
        node.netns,
        vipdRunArgv({
          node,
          kubeconfig: nodeKubeconfig,
          namespace: LEASE_NAMESPACE,
          extraArgs: ["--control-plane", `--vip=${vip}`, ...extraArgs],
        }),
        { name: `vipd ${node.name}` },
      ),
    leaseHolder: async (via) => {
      const result = await kubectl(via, [
        ...["get", "lease", "-n", LEASE_NAMESPACE, ownershipLeaseOf(vip)],
        ...["-o", "jsonpath={.spec.holderIdentity}", "--ignore-not-found"],
      ]);
      if (result.code !== 0) throw new Error(`kubectl get lease on ${via.name}: ${result.stderr}`);
      return result.stdout.trim();
    },
    cleanUp: () => rm(workDir, { recursive: true, force: true }),
  };
}
