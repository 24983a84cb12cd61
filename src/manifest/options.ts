// What `vipd manifest` lets a user vary, its defaults, and the checks that keep it from printing
// objects the API server or the agent would refuse. The agent's own settings are checked by the
// agent's own loader, so a DaemonSet that prints is a DaemonSet whose pods start.
import type { V1Toleration } from "@kubernetes/client-node";
import { ConfigError, loadRunConfig } from "../config/load.ts";
import { RUN_OPTIONS } from "../config/options.ts";
import type { RunConfig, RunConfigKey } from "../config/schema.ts";
import { VERSION } from "../version.ts";

export interface ManifestOptions {
  /** Namespace of the ServiceAccount, the DaemonSet and vipd's Leases. */
  readonly namespace: string;
  readonly image: string;
  /**
   * The agent's own settings by flag name ("lease-duration": "5s"), as `vipd run` spells them;
   * printed as its VIPD_* variables. Only the keys of DAEMONSET_AGENT_FLAGS: the DaemonSet sets the
   * others itself.
   */
  readonly agent: Readonly<Record<string, string>>;
  /** Empty: no priority class. */
  readonly priorityClassName: string;
  /** Tolerate the control-plane taints, so that control-plane nodes run an agent too. */
  readonly controlPlaneNodes: boolean;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly V1Toleration[];
  /**
   * Run BIRD beside the agent (docs/bgp.md#the-bird-sidecar): the agent writes its config and drives
   * it through its control socket, in a directory the two containers share.
   */
  readonly bgp: boolean;
}

export class ManifestOptionsError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid options:\n  ${problems.join("\n  ")}`);
    this.name = "ManifestOptionsError";
    this.problems = problems;
  }
}

/**
 * The agent's settings the DaemonSet sets itself (the node and namespace from the downward API) or
 * that belong to control-plane mode's static pod; every other setting of `vipd run` may be given.
 */
const SET_BY_THE_DAEMONSET: readonly RunConfigKey[] = [
  "nodeName",
  "namespace",
  "kubeconfig",
  "controlPlane",
  "vip",
  "healthUrl",
  "healthPeriod",
  "healthFailureThreshold",
];

/** The flags of `vipd run` a DaemonSet's agent may be given, in the option table's order. */
export const DAEMONSET_AGENT_FLAGS: readonly string[] = (Object.keys(RUN_OPTIONS) as RunConfigKey[])
  .filter((key) => !SET_BY_THE_DAEMONSET.includes(key))
  .map((key) => RUN_OPTIONS[key].flag);

const KEY_OF_FLAG: ReadonlyMap<string, RunConfigKey> = new Map(
  (Object.keys(RUN_OPTIONS) as RunConfigKey[]).map((key) => [RUN_OPTIONS[key].flag, key]),
);

function agentDefault(key: RunConfigKey): string {
  const value = RUN_OPTIONS[key].default;
  if (value === undefined) throw new Error(`--${RUN_OPTIONS[key].flag} has no default to print`);
  return value;
}

/** The image `docker build -t vipd:<version> .` produces; point --image at your registry's copy. */
export const DEFAULT_IMAGE = `vipd:${VERSION}`;

/**
 * The settings the DaemonSet prints even at their defaults, so that the file shows the timings a
 * reader wants to know; any other setting is printed only when given.
 */
const PRINTED_AGENT_DEFAULTS: readonly RunConfigKey[] = [
  "loadBalancerClass",
  "classOnly",
  "leaseDuration",
  "renewDeadline",
  "retryPeriod",
  "addressLifetime",
  "metricsAddr",
];

export const DEFAULT_MANIFEST_OPTIONS: ManifestOptions = {
  namespace: agentDefault("namespace"),
  image: DEFAULT_IMAGE,
  agent: Object.fromEntries(PRINTED_AGENT_DEFAULTS.map((key) => [RUN_OPTIONS[key].flag, agentDefault(key)])),
  // What kubeadm gives its own static pods: the last pods a node under memory pressure evicts, and
  // preempting others to be scheduled. A node without its agent cannot hold or take over a VIP.
  priorityClassName: "system-node-critical",
  controlPlaneNodes: true,
  nodeSelector: { "kubernetes.io/os": "linux" },
  tolerations: [],
  bgp: false,
};

/** The directory the agent and its BIRD sidecar share: BIRD's config and its control socket. */
export const BIRD_RUN_DIR = "/run/bird";
export const BIRD_CONFIG_FILE = `${BIRD_RUN_DIR}/bird.conf`;
export const BIRD_SOCKET_FILE = `${BIRD_RUN_DIR}/bird.ctl`;

/**
 * What the DaemonSet tells the agent when BIRD runs beside it (--bgp), by flag name: to render BIRD's
 * config into the shared directory and apply it through the socket there. Not given with --set-agent
 * then, since any other value would leave the sidecar without a config or the agent without BIRD.
 */
export const BIRD_SIDECAR_AGENT_SETTINGS: Readonly<Record<string, string>> = {
  "bgp-speaker": "bird",
  "bird-config": BIRD_CONFIG_FILE,
  "bird-socket": BIRD_SOCKET_FILE,
};

/** The agent's settings as its container gets them: those given, and the sidecar's with --bgp. */
export function agentSettingsOf(options: ManifestOptions): Readonly<Record<string, string>> {
  return options.bgp ? { ...options.agent, ...BIRD_SIDECAR_AGENT_SETTINGS } : options.agent;
}

/**
 * The control-plane static pod's metrics port, next to the DaemonSet's default: on a control-plane
 * node both agents share the host's network, so the two must never be the same.
 */
export const STATIC_POD_METRICS_PORT = 9560;

/** The port of the agent's default --metrics-addr, which the DaemonSet serves on. */
export const DAEMONSET_METRICS_PORT = Number(agentDefault("metricsAddr").split(":").pop());

/**
 * The taints kubeadm puts on control-plane nodes: node-role.kubernetes.io/control-plane, and the
 * legacy node-role.kubernetes.io/master that kubeadm stopped adding in Kubernetes 1.25 but that
 * nodes of clusters created before it, and some distributions, still carry.
 */
export const CONTROL_PLANE_TOLERATIONS: readonly V1Toleration[] = [
  { key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" },
  { key: "node-role.kubernetes.io/master", operator: "Exists", effect: "NoSchedule" },
];

// Label names and values as Kubernetes validates them (an optional DNS-subdomain prefix, then a
// name of at most 63 characters).
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf("/");
  const name = key.slice(slash + 1);
  const prefix = slash === -1 ? undefined : key.slice(0, slash);
  return LABEL_NAME.test(name) && (prefix === undefined || DNS_SUBDOMAIN.test(prefix));
}

function isLabelValue(value: string): boolean {
  return value === "" || LABEL_NAME.test(value);
}

/** `key=value`, as `kubectl label` writes it; the value may be empty. */
export function parseNodeSelector(texts: readonly string[]): Record<string, string> {
  const selector: Record<string, string> = {};
  const problems: string[] = [];
  for (const text of texts) {
    const equals = text.indexOf("=");
    const key = text.slice(0, equals);
    const value = text.slice(equals + 1);
    if (equals === -1 || !isLabelKey(key) || !isLabelValue(value)) {
      problems.push(`--node-selector ${JSON.stringify(text)}: expected label-key=label-value`);
    } else selector[key] = value;
  }
  if (problems.length > 0) throw new ManifestOptionsError(problems);
  return selector;
}

const TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"] as const;
const TOLERATION = /^(?<key>[^=:]+)(?:=(?<value>[^:]*))?(?::(?<effect>[^:]+))?$/;

/**
 * `key[=value][:effect]`, as `kubectl taint` writes a taint: with a value the toleration matches it
 * exactly (Equal), without one any value (Exists); without an effect, every effect. `*` tolerates
 * every taint.
 */
export function parseToleration(text: string): V1Toleration {
  if (text === "*") return { operator: "Exists" };
  const { key = "", value, effect } = TOLERATION.exec(text)?.groups ?? {};
  const problem = (why: string) => new ManifestOptionsError([`--toleration ${JSON.stringify(text)}: ${why}`]);
  if (!isLabelKey(key)) throw problem("expected key[=value][:effect] or *");
  if (value !== undefined && !isLabelValue(value)) throw problem(`"${value}" is not a taint value`);
  if (effect !== undefined && !(TAINT_EFFECTS as readonly string[]).includes(effect)) {
    throw problem(`the effect must be one of ${TAINT_EFFECTS.join(", ")}`);
  }
  return {
    key,
    operator: value === undefined ? "Exists" : "Equal",
    ...(value === undefined ? {} : { value }),
    ...(effect === undefined ? {} : { effect }),
  };
}

// The schema needs a node name, which only the downward API knows; any valid name stands in for it.
const STAND_IN_NODE_NAME = "node";

/** `flag=value`, as `--set-agent announce-count=5` writes an agent setting. */
export function parseAgentSettings(texts: readonly string[]): Record<string, string> {
  const settings: Record<string, string> = {};
  const problems: string[] = [];
  for (const text of texts) {
    const equals = text.indexOf("=");
    if (equals <= 0)
      problems.push(`--set-agent ${JSON.stringify(text)}: expected flag=value, e.g. announce-count=5`);
    else settings[text.slice(0, equals).replace(/^--/, "")] = text.slice(equals + 1);
  }
  if (problems.length > 0) throw new ManifestOptionsError(problems);
  return settings;
}

function agentFlagProblems(options: ManifestOptions): string[] {
  const problems = Object.keys(options.agent)
    .filter((flag) => !DAEMONSET_AGENT_FLAGS.includes(flag))
    .map((flag) =>
      KEY_OF_FLAG.has(flag)
        ? `--set-agent ${flag}: the DaemonSet sets it itself`
        : `--set-agent ${flag}: not a setting of vipd run (vipd run --help lists them)`,
    );
  if (options.bgp) {
    for (const flag of Object.keys(options.agent).filter((each) => each in BIRD_SIDECAR_AGENT_SETTINGS))
      problems.push(`--set-agent ${flag}: with --bgp the DaemonSet sets it itself`);
  }
  return problems;
}

/**
 * The agent's configuration as the printed pods will load it, or every reason it would refuse to
 * start, named by the flag that `vipd manifest` and `vipd run` share.
 */
export function agentConfigOf(options: ManifestOptions): RunConfig {
  const flags: Partial<Record<RunConfigKey, string>> = { namespace: options.namespace };
  for (const [flag, value] of Object.entries(agentSettingsOf(options))) {
    const key = KEY_OF_FLAG.get(flag);
    if (key !== undefined && DAEMONSET_AGENT_FLAGS.includes(flag)) flags[key] = value;
  }
  const config = checkedAgentConfig({ image: options.image, flags, problems: agentFlagProblems(options) });
  if (options.controlPlaneNodes && config.metricsAddr.port === STATIC_POD_METRICS_PORT) {
    throw new ManifestOptionsError([
      `--metrics-addr ${options.agent["metrics-addr"] ?? ""}: port ${STATIC_POD_METRICS_PORT} is the control-plane static pod's, on the same host network of a control-plane node`,
    ]);
  }
  return config;
}

/** The checks of agentConfigOf for any set of the agent's flags (the static pod has its own). */
export function checkedAgentConfig(options: {
  readonly image: string;
  readonly flags: Readonly<Partial<Record<RunConfigKey, string | boolean>>>;
  /** Problems found before the agent's loader runs, reported with its own. */
  readonly problems?: readonly string[];
}): RunConfig {
  const problems: string[] = [...(options.problems ?? [])];
  if (!/^\S+$/.test(options.image)) problems.push(`--image ${JSON.stringify(options.image)}: not an image`);
  try {
    const config = loadRunConfig({ flags: { nodeName: STAND_IN_NODE_NAME, ...options.flags }, env: {} });
    if (problems.length === 0) return config;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  throw new ManifestOptionsError(problems);
}
