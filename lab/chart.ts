// The Helm chart charts/vipd as an operator installs it, with the real helm (lab/go-tools.ts): for the
// chart's tests, and for prepareCluster, whose agents can run as the ServiceAccount the chart made.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { AGENT_NAMESPACE } from "./agents.ts";
import type { ApiServer } from "./apiserver.ts";
import { ensureHelm } from "./go-tools.ts";
import { run, type CommandResult } from "./netns.ts";

export const CHART_PATH = new URL("../charts/vipd/", import.meta.url).pathname;

/** The Pod Security labels `vipd manifest rbac` puts on its Namespace, which Helm cannot own. */
export const PRIVILEGED_NAMESPACE_LABELS = ["enforce", "warn", "audit"].map(
  (mode) => `pod-security.kubernetes.io/${mode}=privileged`,
);

export type Helm = (args: readonly string[]) => Promise<CommandResult>;

/**
 * helm against this API server (or, without one, for lint and template), with its cache, config and
 * data under `home` rather than the user's.
 */
export async function helmCommand(options: {
  readonly home: string;
  readonly api?: ApiServer;
}): Promise<Helm> {
  const binary = await ensureHelm();
  await mkdir(options.home, { recursive: true });
  const env = {
    PATH: process.env["PATH"] ?? "",
    HOME: options.home,
    HELM_CACHE_HOME: join(options.home, "cache"),
    HELM_CONFIG_HOME: join(options.home, "config"),
    HELM_DATA_HOME: join(options.home, "data"),
  };
  const kubeconfig = options.api === undefined ? [] : [`--kubeconfig=${options.api.kubeconfigPath}`];
  return (args) => run([binary, ...args, ...kubeconfig], { env, allowFailure: true });
}

/**
 * Creates the release's namespace labelled as docs/helm.md says (unless it exists), then installs
 * the chart into it.
 */
export async function installChart(options: {
  readonly api: ApiServer;
  readonly helm: Helm;
  readonly namespace: string;
  readonly release?: string;
  readonly set?: readonly string[];
}): Promise<CommandResult> {
  const { api, namespace } = options;
  const exists = await api.kubectl(["get", "namespace", namespace, "-o", "name", "--ignore-not-found"]);
  if (exists.stdout.trim() === "") {
    const created = await api.kubectl(["create", "namespace", namespace]);
    if (created.code !== 0) throw new Error(`kubectl create namespace ${namespace}: ${created.stderr}`);
  }
  const labelled = await api.kubectl([
    "label",
    "--overwrite",
    "namespace",
    namespace,
    ...PRIVILEGED_NAMESPACE_LABELS,
  ]);
  if (labelled.code !== 0) throw new Error(`kubectl label namespace ${namespace}: ${labelled.stderr}`);
  return options.helm([
    "install",
    options.release ?? "vipd",
    CHART_PATH,
    "--namespace",
    namespace,
    ...(options.set ?? []).flatMap((each) => ["--set", each]),
  ]);
}

/**
 * For prepareCluster: the agents run as the ServiceAccount of the chart, installed here with helm
 * (its CRDs, RBAC and DaemonSet), not as admin, so a verb the chart forgot fails a scenario.
 */
export async function chartRbacKubeconfig(api: ApiServer): Promise<string> {
  const helm = await helmCommand({ home: join(api.workDir, "helm"), api });
  const installed = await installChart({ api, helm, namespace: AGENT_NAMESPACE });
  if (installed.code !== 0) throw new Error(`helm install: ${installed.stderr}`);
  return api.serviceAccountKubeconfig({ namespace: AGENT_NAMESPACE, name: "vipd", server: api.internalUrl });
}
