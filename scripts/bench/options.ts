// `npm run bench` flags. --quick changes the defaults of the other flags to a smoke run of a few
// minutes; a flag given explicitly always wins over them. Unknown flags and bad values are errors.
import { Command, CommanderError, InvalidArgumentError } from "commander";
import { MAX_ALLOCATION_SERVICES } from "./allocation-analysis.ts";
import { PROFILES, type TimingProfile } from "./profiles.ts";
import { ROUTED_SCENARIO_NAMES, type RoutedScenarioName } from "./routed-catalogue.ts";
import { SCENARIO_NAMES, type ScenarioName } from "./scenario-catalogue.ts";

export type SuiteName = "failover" | "routed" | "latency" | "scale" | "allocation";
const SUITE_NAMES: readonly SuiteName[] = ["failover", "routed", "latency", "scale", "allocation"];

export interface BenchOptions {
  readonly quick: boolean;
  readonly suites: readonly SuiteName[];
  readonly repetitions: number;
  readonly profiles: readonly TimingProfile[];
  readonly scenarios: readonly ScenarioName[];
  /** Scenarios of the routed suite: bgp and ecmp behind the lab's router. */
  readonly routedScenarios: readonly RoutedScenarioName[];
  /** Nodes of the lab, for every suite. */
  readonly nodes: number;
  /** Services created one by one for the created → answering / status latency. */
  readonly latencyServices: number;
  /** Service counts of the scale suite. */
  readonly scale: readonly number[];
  /** Services created at once for the allocation suite, each given an address from a VIPPool. */
  readonly allocationServices: number;
  /** Steady-state window over which API request rates and agent CPU are measured. */
  readonly windowMs: number;
  /** How long kube-apiserver stays down in the api-server-down scenario. */
  readonly apiDownMs: number;
  /** Directory of results files. */
  readonly out: string;
  /** A results file to add this run's measurements to, instead of starting a new one. */
  readonly append: string | undefined;
  /** Rewrite docs/benchmarks.md from the results. */
  readonly updateDocs: boolean;
  /** Only render the report of this results file; run nothing. */
  readonly render: string | undefined;
}

const FULL_DEFAULTS = {
  repetitions: 20,
  profiles: "default,fast",
  latencyServices: 100,
  scale: "100,1000,5000",
  allocationServices: 1000,
  windowSeconds: 60,
  apiDownSeconds: 20,
};

const QUICK_DEFAULTS: typeof FULL_DEFAULTS = {
  repetitions: 1,
  profiles: "fast",
  latencyServices: 5,
  scale: "100",
  allocationServices: 20,
  windowSeconds: 10,
  apiDownSeconds: 5,
};

function positiveInteger(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new InvalidArgumentError("must be a whole number ≥ 1");
  return Number(text);
}

function positiveSeconds(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError("must be seconds > 0");
  return value;
}

function listOf<T extends string>(what: string, allowed: readonly T[]): (text: string) => T[] {
  return (text) => {
    const items = text.split(",").filter((item) => item !== "");
    const unknown = items.filter((item) => !allowed.includes(item as T));
    if (items.length === 0 || unknown.length > 0)
      throw new InvalidArgumentError(
        `unknown ${what} "${unknown.join(",")}"; choose from ${allowed.join(",")}`,
      );
    return [...new Set(items as T[])];
  };
}

function counts(text: string): number[] {
  return text.split(",").map(positiveInteger);
}

const profileNames = listOf("profile", Object.keys(PROFILES));

function program(): Command {
  return new Command("bench")
    .description(
      "vipd benchmarks in the lab: failover (Layer 2, then bgp and ecmp behind a router), Service latency, scale and allocation",
    )
    .option("--quick", "smoke run of a few minutes: defaults below become their quick values")
    .option("--suites <list>", `suites to run (${SUITE_NAMES.join(",")})`, listOf("suite", SUITE_NAMES))
    .option(
      "--repetitions <n>",
      `per scenario and profile (${FULL_DEFAULTS.repetitions}; quick 1)`,
      positiveInteger,
    )
    .option("--profiles <list>", `timing profiles (${FULL_DEFAULTS.profiles}; quick fast)`, profileNames)
    .option("--scenarios <list>", "failover scenarios (all)", listOf("scenario", SCENARIO_NAMES))
    .option(
      "--routed-scenarios <list>",
      "scenarios of the routed suite, bgp and ecmp behind the lab's router (all)",
      listOf("routed scenario", ROUTED_SCENARIO_NAMES),
    )
    .option("--nodes <n>", "lab nodes (3)", positiveInteger)
    .option("--latency-services <n>", "Services for the latency suite (100; quick 5)", positiveInteger)
    .option(
      "--scale <counts>",
      `Service counts of the scale suite (${FULL_DEFAULTS.scale}; quick 100)`,
      counts,
    )
    .option(
      "--allocation-services <n>",
      `Services of the allocation suite, given addresses from a VIPPool (${FULL_DEFAULTS.allocationServices}; quick ${QUICK_DEFAULTS.allocationServices})`,
      positiveInteger,
    )
    .option("--window <seconds>", "steady-state measuring window (60; quick 10)", positiveSeconds)
    .option("--api-down <seconds>", "how long the API server stays down (20; quick 5)", positiveSeconds)
    .option("--out <dir>", "directory of results files (bench/results)")
    .option("--append <file>", "add this run's measurements to an existing results file")
    .option("--render <file>", "only render the report and plots of a results file; run nothing")
    .option("--no-docs", "leave docs/benchmarks.md alone (always so with --quick)")
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, writeOut: (text) => process.stdout.write(text) });
}

interface RawOptions {
  quick?: true;
  suites?: SuiteName[];
  repetitions?: number;
  profiles?: string[];
  scenarios?: ScenarioName[];
  routedScenarios?: RoutedScenarioName[];
  nodes?: number;
  latencyServices?: number;
  scale?: number[];
  allocationServices?: number;
  window?: number;
  apiDown?: number;
  out?: string;
  append?: string;
  render?: string;
  docs: boolean;
}

export class UsageError extends Error {}

/** argv without node and the script; throws UsageError on bad flags, or exits 0 after --help. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const command = program();
  try {
    command.parse([...argv], { from: "user" });
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) process.exit(0);
    throw new UsageError((error as Error).message);
  }
  const raw = command.opts<RawOptions>();
  if ((raw.allocationServices ?? 0) > MAX_ALLOCATION_SERVICES)
    throw new UsageError(`--allocation-services: at most ${MAX_ALLOCATION_SERVICES} fit the allocation pool`);
  const quick = raw.quick === true;
  const defaults = quick ? QUICK_DEFAULTS : FULL_DEFAULTS;
  return {
    quick,
    suites: raw.suites ?? SUITE_NAMES,
    repetitions: raw.repetitions ?? defaults.repetitions,
    profiles: (raw.profiles ?? profileNames(defaults.profiles)).map(
      (name) => PROFILES[name] as TimingProfile,
    ),
    scenarios: raw.scenarios ?? SCENARIO_NAMES,
    routedScenarios: raw.routedScenarios ?? ROUTED_SCENARIO_NAMES,
    nodes: raw.nodes ?? 3,
    latencyServices: raw.latencyServices ?? defaults.latencyServices,
    scale: raw.scale ?? counts(defaults.scale),
    allocationServices: raw.allocationServices ?? defaults.allocationServices,
    windowMs: (raw.window ?? defaults.windowSeconds) * 1000,
    apiDownMs: (raw.apiDown ?? defaults.apiDownSeconds) * 1000,
    out: raw.out ?? "bench/results",
    append: raw.append,
    updateDocs: raw.docs && !quick,
    render: raw.render,
  };
}
