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
  /** Unset: the agent's own default (the interface of the default route). */
  readonly interface?: string;
  readonly leaseDuration: string;
  readonly renewDeadline: string;
  readonly retryPeriod: string;
  readonly addressLifetime: string;
  readonly loadBalancerClass: string;
  readonly classOnly: boolean;
  readonly metricsAddr: string;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly V1Toleration[];
}

export class ManifestOptionsError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid options:\n  ${problems.join("\n  ")}`);
    this.name = "ManifestOptionsError";
    this.problems = problems;
  }
}

function agentDefault(key: RunConfigKey): string {
  const value = RUN_OPTIONS[key].default;
  if (value === undefined) throw new Error(`--${RUN_OPTIONS[key].flag} has no default to print`);
  return value;
}

/** The image `docker build -t vipd:<version> .` produces; point --image at your registry's copy. */
export const DEFAULT_IMAGE = `vipd:${VERSION}`;

export const DEFAULT_MANIFEST_OPTIONS: ManifestOptions = {
  namespace: agentDefault("namespace"),
  image: DEFAULT_IMAGE,
  leaseDuration: agentDefault("leaseDuration"),
  renewDeadline: agentDefault("renewDeadline"),
  retryPeriod: agentDefault("retryPeriod"),
  addressLifetime: agentDefault("addressLifetime"),
  loadBalancerClass: agentDefault("loadBalancerClass"),
  classOnly: agentDefault("classOnly") === "true",
  metricsAddr: agentDefault("metricsAddr"),
  nodeSelector: { "kubernetes.io/os": "linux" },
  tolerations: [],
};

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

/**
 * The agent's configuration as the printed pods will load it, or every reason it would refuse to
 * start, named by the flag that `vipd manifest` and `vipd run` share.
 */
export function agentConfigOf(options: ManifestOptions): RunConfig {
  return checkedAgentConfig({
    image: options.image,
    flags: {
      namespace: options.namespace,
      ...(options.interface === undefined ? {} : { interface: options.interface }),
      leaseDuration: options.leaseDuration,
      renewDeadline: options.renewDeadline,
      retryPeriod: options.retryPeriod,
      addressLifetime: options.addressLifetime,
      loadBalancerClass: options.loadBalancerClass,
      classOnly: options.classOnly,
      metricsAddr: options.metricsAddr,
    },
  });
}

/** The checks of agentConfigOf for any set of the agent's flags (the static pod has its own). */
export function checkedAgentConfig(options: {
  readonly image: string;
  readonly flags: Readonly<Partial<Record<RunConfigKey, string | boolean>>>;
}): RunConfig {
  const problems: string[] = [];
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
