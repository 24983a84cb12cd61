// The benchmark harness on a tiny configuration, so that it cannot rot: `npm run bench -- --quick`
// with two scenarios, the polite handovers of bgp and ecmp behind the router (the routed suite's
// cheapest: no hold timer to wait out), two latency Services, ten scale Services and five Services
// given addresses from a pool must produce its results file, summary and plots, and must have seen
// no double answer, no bgp address routed to two nodes and no address given twice. Correctness
// only; timings are the benchmark's business, not a test's.
import test from "ava";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchResults } from "../../scripts/bench/results.ts";

const MAIN = new URL("../../scripts/bench/main.ts", import.meta.url).pathname;

function runBench(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      resolve({ code, output });
    });
  });
}

test("npm run bench -- --quick writes results, summary and plots, with no double answer", async (t) => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  const out = await mkdtemp(join(tmpdir(), "vipd-bench-"));
  t.teardown(() => rm(out, { recursive: true, force: true }));
  const run = await runBench([
    "--quick",
    "--scenarios=polite-handover,agent-freeze-resume",
    "--routed-scenarios=bgp-polite-handover,ecmp-polite-handover",
    "--latency-services=2",
    "--scale=10",
    "--allocation-services=5",
    "--window=2",
    `--out=${out}`,
  ]);
  t.is(run.code, 0, run.output.slice(-4000));

  const files = await readdir(out);
  const json = files.find((file) => file.endsWith(".json"));
  if (json === undefined) throw new Error(`no results file in ${files.join(", ")}`);
  const stem = json.replace(/\.json$/, "");
  t.true(files.includes(`${stem}.md`), "the Markdown summary");
  t.deepEqual((await readdir(join(out, stem))).sort(), [
    "api-rates.svg",
    "outages.svg",
    "timeline-fast-agent-freeze-resume.svg",
    "timeline-fast-polite-handover.svg",
  ]);

  const results = JSON.parse(await readFile(join(out, json), "utf8")) as BenchResults;
  t.is(results.runs.length, 1);
  t.deepEqual(
    results.failover.map((repetition) => repetition.scenario),
    ["polite-handover", "agent-freeze-resume"],
  );
  for (const repetition of results.failover) {
    t.is(repetition.doubleAnswerMs, 0, `${repetition.scenario}: double-answer time`);
    t.deepEqual(
      repetition.doubleAnswers,
      [],
      `${repetition.scenario}: ARP/NDP questions answered by two MACs`,
    );
    t.deepEqual(repetition.overlaps, [], `${repetition.scenario}: the VIP on two nodes at once`);
  }
  const [polite, freeze] = results.failover;
  t.not(polite?.holderAfter, polite?.holderBefore, "a polite handover moves the VIP");
  t.is(freeze?.holderAfter, freeze?.holderBefore, "nobody takes over from a frozen agent whose VIP lives");
  t.deepEqual(
    results.routed.map((repetition) => repetition.scenario),
    ["bgp-polite-handover", "ecmp-polite-handover"],
  );
  for (const repetition of results.routed)
    t.not(repetition.faultToServedMs, null, `${repetition.scenario}: every flow served by another node`);
  const [bgp, ecmp] = results.routed;
  t.deepEqual(bgp?.multiHops, [], "a bgp address is never routed to two nodes at once");
  t.deepEqual(bgp?.doubleAnswers, [], "nor answered by two");
  t.is(Object.keys(ecmp?.flowsBefore ?? {}).length, 3, "ecmp flows reach every node");
  t.is(results.latency.length, 2);
  const loaded = results.scale.find((run) => run.services === 10);
  t.is(loaded?.answered, 10, "every scale VIP answered");
  t.true(
    results.scale.filter((run) => run.agents > 0).every((run) => run.rates.length > 0),
    "API request rates (the agents' heartbeats at least) were read from the API server",
  );
  const [allocation] = results.allocation;
  t.deepEqual(allocation?.sharedAddresses, [], "no address given to two Services");
  t.is(new Set(allocation?.addresses.filter((address) => address !== null)).size, 5, "five addresses");
  t.true(
    allocation?.answeredAtMs.every((answeredAt) => answeredAt !== null),
    "every allocated address answered",
  );
  const summary = await readFile(join(out, `${stem}.md`), "utf8");
  t.regex(summary, /\| Polite handover \| 1 \|/);
  t.regex(summary, /\| created → allocated \| 5 \|/);
  t.regex(summary, /### BGP and ECMP/);
});
