// `npm run bench` flags: quick defaults, explicit flags winning over them, and errors for
// anything unknown.
import test from "ava";
import { parseBenchOptions, UsageError } from "../../scripts/bench/options.ts";

test("the full run by default: 20 repetitions, both profiles, every scenario, 100/1000/5000, 1000 allocated", (t) => {
  const options = parseBenchOptions([]);
  t.false(options.quick);
  t.is(options.repetitions, 20);
  t.deepEqual(
    options.profiles.map((profile) => profile.name),
    ["default", "fast"],
  );
  t.is(options.scenarios.length, 9);
  t.deepEqual(options.scale, [100, 1000, 5000]);
  t.deepEqual(options.suites, ["failover", "routed", "latency", "scale", "allocation"]);
  t.is(options.routedScenarios.length, 6);
  t.is(options.allocationServices, 1000);
  t.is(options.windowMs, 60_000);
  t.is(options.apiDownMs, 20_000);
  t.is(options.nodes, 3);
  t.true(options.updateDocs);
});

test("--quick shortens every default and never touches the docs", (t) => {
  const options = parseBenchOptions(["--quick"]);
  t.is(options.repetitions, 1);
  t.deepEqual(
    options.profiles.map((profile) => profile.name),
    ["fast"],
  );
  t.deepEqual(options.scale, [100]);
  t.is(options.windowMs, 10_000);
  t.is(options.apiDownMs, 5000);
  t.false(options.updateDocs);
});

test("explicit flags win over the quick defaults", (t) => {
  const options = parseBenchOptions([
    "--quick",
    "--repetitions=3",
    "--profiles=default",
    "--scenarios",
    "node-death,polite-handover",
    "--scale=10,20",
    "--window=2.5",
    "--nodes=10",
  ]);
  t.is(options.repetitions, 3);
  t.deepEqual(
    options.profiles.map((profile) => profile.name),
    ["default"],
  );
  t.deepEqual(options.scenarios, ["node-death", "polite-handover"]);
  t.deepEqual(options.scale, [10, 20]);
  t.is(options.windowMs, 2500);
  t.is(options.nodes, 10);
});

test("--routed-scenarios picks bgp and ecmp scenarios by name", (t) => {
  const options = parseBenchOptions([
    "--suites=routed",
    "--routed-scenarios=ecmp-node-death-hold,bgp-polite-handover",
  ]);
  t.deepEqual(options.suites, ["routed"]);
  t.deepEqual(options.routedScenarios, ["ecmp-node-death-hold", "bgp-polite-handover"]);
});

test("unknown flags, names and bad numbers are errors", (t) => {
  for (const argv of [
    ["--fast"],
    ["--profiles=slow"],
    ["--scenarios=meteor-strike"],
    ["--routed-scenarios=polite-handover"],
    ["--suites=soak"],
    ["--repetitions=0"],
    ["--repetitions=two"],
    ["--scale=100,x"],
    ["--window=-1"],
    ["extra"],
  ])
    t.throws(() => parseBenchOptions(argv), { instanceOf: UsageError }, argv.join(" "));
});

test("--no-docs and --append are passed on", (t) => {
  const options = parseBenchOptions(["--no-docs", "--append", "bench/results/x.json"]);
  t.false(options.updateDocs);
  t.is(options.append, "bench/results/x.json");
});
