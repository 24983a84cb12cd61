// The dashboard and the alert rules read only metrics vipd exports: every metric name in every
// query is one the agent's registry holds (its own and Node.js's process metrics), so a renamed
// metric cannot leave a panel or an alert silently empty. docs/monitoring.md lists every metric.
import test from "ava";
import { readFileSync } from "node:fs";
import path from "node:path";
import { REPOSITORY_ROOT } from "../../scripts/generate.ts";
import { renderJson } from "../../src/manifest/render.ts";
import { ALERT_RULES } from "../../src/metrics/alerts.ts";
import { AgentMetrics } from "../../src/metrics/metrics.ts";

const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset"]);

/** The metric names a PromQL expression reads: identifiers that are no function, label or keyword. */
function metricNamesIn(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const names = [...stripped.matchAll(/\b[a-zA-Z_:][a-zA-Z0-9_:]*\b(?!\s*\()/g)].map((match) => match[0]);
  return [...new Set(names.filter((name) => !KEYWORDS.has(name)))];
}

for (const [expr, names] of [
  ['sum by (instance) (rate(vipd_api_errors_total{failure=~"a|b"}[5m])) > 0.1', ["vipd_api_errors_total"]],
  ["max by (a, b) (x_total) unless on (a, b) max by (a) (y)", ["x_total", "y"]],
  ['histogram_quantile(0.99, sum by (le) (rate(h_bucket{i=~"$i"}[$__rate_interval])))', ["h_bucket"]],
  ["count(a) or vector(0)", ["a"]],
  ['sum without (claimant) (increase(c{claimant="x(y)"}[5m])) > 0 or d == bool 1', ["c", "d"]],
] as const) {
  test(`metric names of ${expr}`, (t) => {
    t.deepEqual(metricNamesIn(expr), names);
  });
}

async function exported(): Promise<Set<string>> {
  const metrics = await new AgentMetrics({ node: "node-a", version: "0.0.0" }).registry.getMetricsAsJSON();
  return new Set(
    metrics.flatMap(({ name, type }) =>
      String(type) === "histogram" ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
    ),
  );
}

interface Dashboard {
  readonly panels: readonly {
    readonly title: string;
    readonly targets: readonly { readonly expr: string }[];
  }[];
  readonly templating: { readonly list: readonly { readonly definition?: string }[] };
}

function dashboard(): Dashboard {
  return JSON.parse(
    readFileSync(path.join(REPOSITORY_ROOT, "manifests/grafana-dashboard.json"), "utf8"),
  ) as Dashboard;
}

test("every dashboard query reads only metrics vipd exports", async (t) => {
  const known = await exported();
  const { panels, templating } = dashboard();
  const queries = [
    ...panels.flatMap((panel) => panel.targets.map((target) => ({ where: panel.title, expr: target.expr }))),
    // Grafana's label_values(metric, label): its first argument is the metric.
    ...templating.list.flatMap((variable) => {
      const metric = /^label_values\(([^,]+),/.exec(variable.definition ?? "")?.[1];
      return metric === undefined ? [] : [{ where: "variables", expr: metric }];
    }),
  ];
  t.true(queries.length > panels.length, "panels have queries, variables too");
  for (const { where, expr } of queries) {
    const names = metricNamesIn(expr);
    t.true(names.length > 0, `${where}: ${expr}`);
    for (const name of names) t.true(known.has(name), `${where}: ${name} is not exported`);
  }
});

test("every alert reads only metrics vipd exports", async (t) => {
  const known = await exported();
  for (const rule of ALERT_RULES) {
    const names = metricNamesIn(rule.expr);
    t.true(names.length > 0, rule.alert);
    for (const name of names) t.true(known.has(name), `${rule.alert}: ${name} is not exported`);
  }
});

test("the dashboard shows every vipd metric somewhere", async (t) => {
  const shown = new Set(
    dashboard().panels.flatMap((panel) => panel.targets.flatMap((target) => metricNamesIn(target.expr))),
  );
  for (const name of await exported())
    if (name.startsWith("vipd_") && !name.endsWith("_sum") && !name.endsWith("_count"))
      t.true(shown.has(name), name);
});

test("docs/monitoring.md lists every vipd metric and every alert", async (t) => {
  const page = readFileSync(path.join(REPOSITORY_ROOT, "docs/monitoring.md"), "utf8");
  const metrics = (await new AgentMetrics({ node: "node-a", version: "0.0.0" }).registry.getMetricsAsJSON())
    .map((metric) => metric.name)
    .filter((name) => name.startsWith("vipd_"));
  for (const metric of metrics) t.true(page.includes(`| \`${metric}`), metric);
  for (const rule of ALERT_RULES) t.true(page.includes(`| \`${rule.alert}\``), rule.alert);
});

test("renderJson writes what Prettier would: scalar arrays on one line while they fit", (t) => {
  t.is(renderJson({ a: [1, "b"], c: {}, d: [] }), '{\n  "a": [1, "b"],\n  "c": {},\n  "d": []\n}\n');
  const long = Array.from({ length: 30 }, (_, index) => `item${index}`);
  t.true(renderJson({ long }).startsWith('{\n  "long": [\n    "item0",\n'));
  t.is(renderJson([{ e: 1 }]), '[\n  {\n    "e": 1\n  }\n]\n');
});
