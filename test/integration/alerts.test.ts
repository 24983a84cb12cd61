// vipd's alert rules against the real promtool, built from Prometheus' Go module: both generated
// forms are valid rule files, and `promtool test rules` shows each alert firing when it should and
// staying quiet in the normal case beside it (test/integration/fixtures/alerts-test.yaml).
import test from "ava";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { dump, load } from "js-yaml";
import { ensurePromtool } from "../../lab/go-tools.ts";
import { ALERT_RULES, ruleGroups } from "../../src/metrics/alerts.ts";

const root = path.resolve(import.meta.dirname, "../..");
const FIXTURE = path.join(root, "test/integration/fixtures/alerts-test.yaml");

interface RuleTestFile {
  readonly rule_files: readonly string[];
  readonly tests: readonly {
    readonly alert_rule_test: readonly {
      readonly alertname: string;
      readonly exp_alerts: readonly unknown[];
    }[];
  }[];
}

let promtool: string;

test.before(async () => {
  promtool = await ensurePromtool({ log: (line) => process.stderr.write(`${line}\n`) });
});

function run(args: readonly string[], cwd = root): { status: number | null; output: string } {
  const result = spawnSync(promtool, args, { cwd, encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

function scratch(t: { teardown: (fn: () => void) => void }): string {
  const directory = mkdtempSync(path.join(tmpdir(), "vipd-alerts-"));
  t.teardown(() => {
    rmSync(directory, { recursive: true, force: true });
  });
  return directory;
}

test("the plain rule file passes promtool check rules", (t) => {
  const checked = run(["check", "rules", "manifests/prometheus-rules.yaml"]);
  t.is(checked.status, 0, checked.output);
  t.regex(checked.output, new RegExp(`SUCCESS: ${ALERT_RULES.length} rules found`));
});

test("the PrometheusRule's spec is the same rules and passes promtool check rules", (t) => {
  const rule = load(readFileSync(path.join(root, "manifests/prometheus-rule.yaml"), "utf8")) as {
    apiVersion: string;
    kind: string;
    spec: unknown;
  };
  t.is(rule.apiVersion, "monitoring.coreos.com/v1");
  t.is(rule.kind, "PrometheusRule");
  t.deepEqual(rule.spec, load(readFileSync(path.join(root, "manifests/prometheus-rules.yaml"), "utf8")));
  const file = path.join(scratch(t), "spec.yaml");
  writeFileSync(file, dump(rule.spec));
  const checked = run(["check", "rules", file]);
  t.is(checked.status, 0, checked.output);
});

test("promtool test rules: every alert fires when it should and stays quiet in the normal case", (t) => {
  const fixture = load(readFileSync(FIXTURE, "utf8")) as RuleTestFile;
  const cases = fixture.tests.flatMap((each) => each.alert_rule_test);
  for (const rule of ALERT_RULES) {
    const mine = cases.filter((each) => each.alertname === rule.alert);
    t.true(
      mine.some((each) => each.exp_alerts.length > 0),
      `${rule.alert}: a case where it fires`,
    );
    t.true(
      mine.some((each) => each.exp_alerts.length === 0),
      `${rule.alert}: a case where it does not`,
    );
  }
  const tested = run(["test", "rules", FIXTURE]);
  t.is(tested.status, 0, tested.output);
  t.regex(tested.output, /SUCCESS/);
});

test("without its `for`, VIP-not-held would fire during a 5 s failover, and the test would say so", (t) => {
  const directory = scratch(t);
  const hasty = {
    groups: ruleGroups().groups.map((group) => ({
      ...group,
      rules: group.rules.map((rule) => (rule.alert === "VipdVIPNotHeld" ? { ...rule, for: "0s" } : rule)),
    })),
  };
  writeFileSync(path.join(directory, "rules.yaml"), dump(hasty));
  const fixture = load(readFileSync(FIXTURE, "utf8")) as RuleTestFile;
  writeFileSync(path.join(directory, "test.yaml"), dump({ ...fixture, rule_files: ["rules.yaml"] }));
  const tested = run(["test", "rules", "test.yaml"], directory);
  t.not(tested.status, 0);
  const atFailover = tested.output
    .split("alertname: ")
    .find((each) => each.startsWith("VipdVIPNotHeld, time: 1m5s"));
  t.regex(atFailover ?? "", /address="198\.51\.100\.10"/, tested.output);
});
