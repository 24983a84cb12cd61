// The Helm chart's files against the code `vipd manifest` prints from: the generated ones are what
// npm run generate writes, and the hand-written values.yaml holds `vipd manifest daemonset`'s
// defaults. (test/integration/chart.test.ts renders the chart with the real helm and compares.)
import test from "ava";
import { readFileSync } from "node:fs";
import path from "node:path";
import { load } from "js-yaml";
import { chartFiles, CHART_DIR } from "../../scripts/chart-files.ts";
import { REPOSITORY_ROOT } from "../../scripts/generate.ts";
import { AGENT_RESOURCES, BIRD_RESOURCES } from "../../src/manifest/daemonset.ts";
import {
  DAEMONSET_AGENT_FLAGS,
  DEFAULT_IMAGE,
  DEFAULT_MANIFEST_OPTIONS,
} from "../../src/manifest/options.ts";
import { VERSION } from "../../src/version.ts";

function chartFile(relative: string): string {
  return readFileSync(path.join(REPOSITORY_ROOT, CHART_DIR, relative), "utf8");
}

interface Values {
  readonly image: { readonly repository: string; readonly tag: string; readonly pullPolicy: string };
  readonly agent: Readonly<Record<string, string | number | boolean>>;
  readonly priorityClassName: string;
  readonly controlPlaneNodes: boolean;
  readonly nodeSelector: Readonly<Record<string, string>>;
  readonly tolerations: readonly object[];
  readonly resources: object;
  readonly bgp: { readonly enabled: boolean; readonly resources: object };
  readonly monitoring: Readonly<Record<string, boolean>>;
}

const values = load(chartFile("values.yaml")) as Values;

for (const [relative, expected] of chartFiles()) {
  test(`${relative} is what npm run generate writes`, (t) => {
    t.is(
      readFileSync(path.join(REPOSITORY_ROOT, relative), "utf8"),
      expected,
      `${relative}: run npm run generate`,
    );
  });
}

test("Chart.yaml: the chart's version and appVersion are vipd's", (t) => {
  t.like(load(chartFile("Chart.yaml")), {
    apiVersion: "v2",
    name: "vipd",
    version: VERSION,
    appVersion: VERSION,
  });
});

test("values.yaml holds the defaults of vipd manifest daemonset", (t) => {
  t.is(`${values.image.repository}:${values.image.tag === "" ? VERSION : values.image.tag}`, DEFAULT_IMAGE);
  t.is(values.image.pullPolicy, "IfNotPresent");
  t.deepEqual(
    Object.fromEntries(Object.entries(values.agent).map(([flag, value]) => [flag, String(value)])),
    DEFAULT_MANIFEST_OPTIONS.agent,
  );
  t.is(values.priorityClassName, DEFAULT_MANIFEST_OPTIONS.priorityClassName);
  t.is(values.controlPlaneNodes, DEFAULT_MANIFEST_OPTIONS.controlPlaneNodes);
  t.deepEqual(values.nodeSelector, DEFAULT_MANIFEST_OPTIONS.nodeSelector);
  t.deepEqual(values.tolerations, DEFAULT_MANIFEST_OPTIONS.tolerations);
  t.deepEqual(values.resources, AGENT_RESOURCES);
  t.is(values.bgp.enabled, DEFAULT_MANIFEST_OPTIONS.bgp);
  t.deepEqual(values.bgp.resources, BIRD_RESOURCES);
});

test("values.schema.json: every value of values.yaml, and exactly the agent settings a DaemonSet may be given", (t) => {
  const schema = JSON.parse(chartFile("values.schema.json")) as {
    properties: Record<string, { properties?: Record<string, unknown>; required?: string[] }>;
  };
  t.deepEqual(Object.keys(schema.properties).sort(), Object.keys(values).sort());
  t.deepEqual(Object.keys(schema.properties["agent"]?.properties ?? {}), [...DAEMONSET_AGENT_FLAGS]);
  t.deepEqual(schema.properties["agent"]?.required, Object.keys(values.agent));
});

test("docs/helm.md names every value", (t) => {
  const page = readFileSync(path.join(REPOSITORY_ROOT, "docs/helm.md"), "utf8");
  const names = [
    ...Object.keys(values).filter((name) => !["image", "agent", "bgp", "monitoring"].includes(name)),
    ...Object.keys(values.image).map((name) => `image.${name}`),
    ...Object.keys(values.bgp).map((name) => `bgp.${name}`),
    ...Object.keys(values.monitoring).map((name) => `monitoring.${name}`),
    ...Object.keys(values.agent).map((flag) => `agent.${flag}`),
  ];
  for (const name of names) t.true(page.includes(`\`${name}\``), name);
});
