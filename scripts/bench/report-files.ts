// Writes a results file's report next to it: bench/results/<run>.md and the plots under
// bench/results/<run>/, and, when asked, docs/benchmarks.md pointing at the same plots.
import { mkdir, writeFile } from "node:fs/promises";
import { basename, dirname, join, relative } from "node:path";
import { format, resolveConfig } from "prettier";
import { apiRatesSvg, outageDistributionSvg, timelineSvg, typicalRepetition } from "./plots.ts";
import { renderSummary, type PlotLinks } from "./report-markdown.ts";
import type { BenchResults } from "./results.ts";
import { SCENARIO_NAMES } from "./scenario-catalogue.ts";
import { benchmarksPage } from "./docs-page.ts";

const timelineFile = (scenario: string, profile: string) => `timeline-${profile}-${scenario}.svg`;

function links(fromDir: string, plotsDir: string): PlotLinks {
  const link = (file: string) => relative(fromDir, join(plotsDir, file));
  return {
    timeline: (scenario, profile) => link(timelineFile(scenario, profile)),
    outages: link("outages.svg"),
    apiRates: link("api-rates.svg"),
  };
}

export async function writeReport(
  results: BenchResults,
  options: { resultsPath: string; docsPath: string | undefined },
): Promise<string[]> {
  const stem = options.resultsPath.replace(/\.json$/, "");
  const plotsDir = stem;
  await mkdir(plotsDir, { recursive: true });
  const written: string[] = [];
  const write = async (path: string, content: string) => {
    await writeFile(path, content);
    written.push(path);
  };
  const nodes = [
    ...new Set(
      results.failover.flatMap((r) => r.probe.flatMap((run) => (run.node === null ? [] : [run.node]))),
    ),
  ].sort();
  for (const key of new Set(results.failover.map((r) => `${r.profile}\n${r.scenario}`))) {
    const [profile = "", scenario = ""] = key.split("\n");
    const typical = typicalRepetition(
      results.failover.filter((r) => r.profile === profile && r.scenario === scenario),
    );
    if (typical !== undefined)
      await write(join(plotsDir, timelineFile(scenario, profile)), timelineSvg(typical, nodes));
  }
  if (results.failover.length > 0)
    await write(join(plotsDir, "outages.svg"), outageDistributionSvg(results.failover, SCENARIO_NAMES));
  if (results.scale.length > 0) await write(join(plotsDir, "api-rates.svg"), apiRatesSvg(results.scale));
  await write(
    `${stem}.md`,
    `# vipd benchmark ${basename(stem)}\n\n${renderSummary(results, links(dirname(stem), plotsDir))}`,
  );
  if (options.docsPath !== undefined) {
    await mkdir(dirname(options.docsPath), { recursive: true });
    const summary = renderSummary(results, links(dirname(options.docsPath), plotsDir));
    const page = benchmarksPage({
      results,
      summary,
      resultsPath: relative(dirname(options.docsPath), options.resultsPath),
    });
    // docs/ is checked by `prettier --check` in npm test; the page is written the way Prettier would.
    const prettierOptions = (await resolveConfig(options.docsPath)) ?? {};
    await write(options.docsPath, await format(page, { ...prettierOptions, filepath: options.docsPath }));
  }
  return written;
}
