// `npm test`: every check in order, stopping at the first failure, then one line per layer so a
// CI log shows at a glance what passed, what failed, what never ran, and how long each took.
import { spawnSync } from "node:child_process";

const LAYERS = ["typecheck", "lint", "format:check", "test:unit", "test:integration", "test:e2e"] as const;

interface LayerResult {
  readonly layer: string;
  readonly outcome: "passed" | "FAILED" | "not run";
  readonly seconds: number;
}

const results: LayerResult[] = [];
let failed = false;
for (const layer of LAYERS) {
  if (failed) {
    results.push({ layer, outcome: "not run", seconds: 0 });
    continue;
  }
  process.stdout.write(`\n=== npm run ${layer}\n`);
  const started = performance.now();
  const run = spawnSync("npm", ["run", "--silent", layer], { stdio: "inherit" });
  const seconds = (performance.now() - started) / 1000;
  failed = run.status !== 0;
  results.push({ layer, outcome: failed ? "FAILED" : "passed", seconds });
}

process.stdout.write("\n=== results\n");
for (const { layer, outcome, seconds } of results) {
  const time = outcome === "not run" ? "" : `${seconds.toFixed(1)}s`;
  process.stdout.write(`${layer.padEnd(18)} ${outcome.padEnd(8)} ${time}\n`);
}
const total = results.reduce((sum, result) => sum + result.seconds, 0);
process.stdout.write(`${"total".padEnd(18)} ${failed ? "FAILED" : "passed"}   ${total.toFixed(1)}s\n`);
process.exitCode = failed ? 1 : 0;
