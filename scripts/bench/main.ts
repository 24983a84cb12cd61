// `npm run bench`: the failover, latency and scale suites of issue 5, the routed (bgp and ecmp)
// failover suite of issue 16 and the allocation suite of issue 15 in one lab, their raw results in bench/results/<date>-<commit>.json (saved after every
// measurement, so a run stopped early keeps what it measured), then the Markdown summary, the
// plots and docs/benchmarks.md.
import { runAllocationSuite } from "./allocation.ts";
import { benchLab } from "./bench-lab.ts";
import { failoverVip, runFailoverSuite } from "./failover.ts";
import { runLatencySuite } from "./latency.ts";
import { parseBenchOptions, UsageError, type BenchOptions } from "./options.ts";
import { DEFAULT_PROFILE, type TimingProfile } from "./profiles.ts";
import { createProgress, type Progress } from "./progress.ts";
import { runRoutedSuite } from "./routed.ts";
import { writeReport } from "./report-files.ts";
import {
  emptyResults,
  environment,
  readResults,
  resultsPath,
  writeResults,
  type BenchResults,
} from "./results.ts";
import { runScaleSuite } from "./scale.ts";

const DOCS_PATH = "docs/benchmarks.md";
// The API server's own log lines; the progress line carries what the lab says.
const SERVER_LOG = /^(kube-apiserver|etcd|uds-proxy): /;

function mergeProfiles(results: BenchResults, profiles: readonly TimingProfile[]): void {
  for (const profile of profiles)
    if (!results.profiles.some((known) => known.name === profile.name)) results.profiles.push(profile);
}

async function runSuites(
  options: BenchOptions,
  progress: Progress,
): Promise<{ path: string; results: BenchResults }> {
  const results = options.append === undefined ? emptyResults() : await readResults(options.append);
  const startedAt = new Date();
  progress.phase("bringing the lab up");
  const bench = await benchLab({
    nodes: options.nodes,
    router: options.suites.includes("routed"),
    log: (line) => {
      if (!SERVER_LOG.test(line)) progress.log(line);
    },
  });
  const env = environment(bench.cluster.api.kubernetesVersion);
  const path = options.append ?? resultsPath(options.out, env);
  const save = () => writeResults(path, results);
  let failure: unknown;
  try {
    if (options.suites.includes("failover")) {
      mergeProfiles(results, options.profiles);
      Object.assign(results, { apiDownMs: options.apiDownMs });
      await runFailoverSuite(bench, {
        profiles: options.profiles,
        scenarios: options.scenarios,
        repetitions: options.repetitions,
        apiDownMs: options.apiDownMs,
        progress,
        record: async (repetition) => {
          results.failover.push(repetition);
          await save();
        },
        recordError: async (error) => {
          results.errors.push(error);
          await save();
        },
      });
    }
    if (options.suites.includes("routed")) {
      mergeProfiles(results, options.profiles);
      await runRoutedSuite(bench, {
        profiles: options.profiles,
        scenarios: options.routedScenarios,
        repetitions: options.repetitions,
        progress,
        record: async (repetition) => {
          results.routed.push(repetition);
          await save();
        },
        recordError: async (error) => {
          results.errors.push(error);
          await save();
        },
      });
    }
    if (options.suites.includes("latency")) {
      results.latency.push(
        ...(await runLatencySuite(bench, {
          services: options.latencyServices,
          profile: DEFAULT_PROFILE,
          vip: failoverVip,
          progress,
        })),
      );
      await save();
    }
    if (options.suites.includes("scale")) {
      await runScaleSuite(bench, {
        counts: options.scale,
        profile: DEFAULT_PROFILE,
        windowMs: options.windowMs,
        baselinesKnown: results.scale.some((run) => run.services === 0 && run.nodes === options.nodes),
        progress,
        record: async (run) => {
          results.scale.push(run);
          await save();
        },
      });
    }
    // Last: while its VIPPool exists, named addresses outside it are refused, and the suites above
    // name theirs.
    if (options.suites.includes("allocation")) {
      results.allocation.push(
        await runAllocationSuite(bench, {
          services: options.allocationServices,
          profile: DEFAULT_PROFILE,
          windowMs: options.windowMs,
          progress,
        }),
      );
      await save();
    }
  } catch (error) {
    failure = error;
    results.errors.push({ what: "bench run", message: (error as Error).message });
  } finally {
    progress.phase("tearing the lab down");
    await bench.down();
  }
  results.runs.push({
    environment: env,
    argv: process.argv.slice(2),
    startedAt: startedAt.toISOString(),
    durationMs: Date.now() - startedAt.getTime(),
    nodes: options.nodes,
  });
  await save();
  if (failure !== undefined) throw failure instanceof Error ? failure : new Error(JSON.stringify(failure));
  return { path, results };
}

async function main(): Promise<void> {
  let options: BenchOptions;
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  const progress = createProgress();
  try {
    const { path, results } =
      options.render === undefined
        ? await runSuites(options, progress)
        : { path: options.render, results: await readResults(options.render) };
    progress.phase("writing the report");
    const written = await writeReport(results, {
      resultsPath: path,
      docsPath: options.updateDocs ? DOCS_PATH : undefined,
    });
    progress.stop();
    process.stdout.write(
      `bench: results in ${path}\n${written.map((file) => `bench: wrote ${file}\n`).join("")}`,
    );
  } finally {
    progress.stop();
  }
}

await main();
