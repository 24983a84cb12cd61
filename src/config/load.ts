// Builds the RunConfig once at start-up from flags, then VIPD_* variables, then defaults, and turns
// every problem into a message that names the flag and its variable.
import { runConfigSchema, type RunConfig, type RunConfigKey } from "./schema.ts";
import { ENV_PREFIX, envName, RUN_OPTIONS } from "./options.ts";

export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

export interface ConfigSources {
  /** Parsed flags keyed like RunConfig (commander's camelCase); switches arrive as booleans. */
  readonly flags: Readonly<Partial<Record<RunConfigKey, string | boolean>>>;
  readonly env: Readonly<Record<string, string | undefined>>;
}

// Kubernetes injects Docker-link variables for every Service in the pod's namespace, so a Service
// named "vipd-metrics" yields VIPD_METRICS_SERVICE_HOST and friends. They are not ours to reject.
const SERVICE_LINK_VARIABLE =
  /_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\d+_(TCP|UDP|SCTP)(_PROTO|_PORT|_ADDR)?)?)$/;

const KNOWN_VARIABLES = new Set(Object.values(RUN_OPTIONS).map((option) => envName(option.flag)));

function unknownVariables(env: ConfigSources["env"]): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith(ENV_PREFIX) && !KNOWN_VARIABLES.has(name))
    .filter((name) => !SERVICE_LINK_VARIABLE.test(name))
    .sort()
    .map((name) => `${name}: unknown variable (see vipd run --help for the VIPD_* variables)`);
}

function rawValues(sources: ConfigSources): Record<string, string | undefined> {
  const values: Record<string, string | undefined> = {};
  for (const [key, option] of Object.entries(RUN_OPTIONS) as [
    RunConfigKey,
    (typeof RUN_OPTIONS)[RunConfigKey],
  ][]) {
    const flag = sources.flags[key];
    values[key] = flag === undefined ? (sources.env[envName(option.flag)] ?? option.default) : String(flag);
  }
  return values;
}

export function loadRunConfig(sources: ConfigSources): RunConfig {
  const problems = unknownVariables(sources.env);
  const parsed = runConfigSchema.safeParse(rawValues(sources));
  if (parsed.success && problems.length === 0) return parsed.data;
  for (const issue of parsed.error?.issues ?? []) {
    const option = RUN_OPTIONS[issue.path[0] as RunConfigKey];
    problems.push(`--${option.flag} (${envName(option.flag)}): ${issue.message}`);
  }
  throw new ConfigError(problems);
}
