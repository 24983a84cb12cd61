// The user guide names things the code defines: links must lead somewhere, and every metric, Event
// reason, Lease label and Service annotation users can see must be explained.
import test from "ava";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { REPOSITORY_ROOT } from "../../scripts/generate.ts";
import { addressingOf } from "./fakes/addressing.ts";
import {
  HEARTBEAT_COMPONENT,
  LEASE_LABEL_COMPONENT,
  LEASE_LABEL_NODE,
  LEASE_LABEL_SERVICE_NAME,
  LEASE_LABEL_SERVICE_NAMESPACE,
  OWNERSHIP_COMPONENT,
} from "../../src/election/lease-names.ts";
import {
  ANNOTATION_HOLDER,
  ANNOTATION_IGNORE,
  ANNOTATION_INTERFACE,
  ANNOTATION_KUBE_VIP_IPS,
  ANNOTATION_LOAD_BALANCER_IPS,
  ANNOTATION_METALLB_IPS,
  EVENT_REASONS,
} from "../../src/kube/names.ts";
import { AgentMetrics } from "../../src/metrics/metrics.ts";
import { serviceIntent } from "../../src/agent/service-intent.ts";

const docs = path.join(REPOSITORY_ROOT, "docs");
const pages = [
  path.join(REPOSITORY_ROOT, "README.md"),
  ...readdirSync(docs)
    .filter((name) => name.endsWith(".md"))
    .map((name) => path.join(docs, name)),
];

function read(relative: string): string {
  return readFileSync(path.join(REPOSITORY_ROOT, relative), "utf8");
}

// GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes.
function anchors(markdown: string): Set<string> {
  const headings = markdown.split("\n").filter((line) => /^#{1,6} /.test(line));
  return new Set(
    headings.map((line) =>
      line
        .replace(/^#+ /, "")
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, "")
        .replaceAll(" ", "-"),
    ),
  );
}

for (const page of pages) {
  test(`links in ${path.relative(REPOSITORY_ROOT, page)} lead to files and headings that exist`, (t) => {
    const text = readFileSync(page, "utf8");
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1] ?? "");
    const local = links.filter((link) => !/^[a-z]+:/.test(link));
    for (const link of local) {
      const [file = "", anchor] = link.split("#");
      const target = file === "" ? page : path.resolve(path.dirname(page), file);
      t.true(existsSync(target), `${link}: no such file`);
      if (anchor !== undefined) {
        t.true(anchors(readFileSync(target, "utf8")).has(anchor), `${link}: no such heading`);
      }
    }
    t.pass();
  });
}

test("every page of docs/ is linked from the README", (t) => {
  const readme = read("README.md");
  const names = readdirSync(docs).filter((name) => name.endsWith(".md"));
  t.true(names.length > 0);
  for (const name of names) t.true(readme.includes(`(docs/${name})`), name);
});

test("troubleshooting explains every metric, Event reason and Lease label", async (t) => {
  const page = read("docs/troubleshooting.md");
  const metrics = (await new AgentMetrics({ node: "node-a", version: "0.0.0" }).registry.getMetricsAsJSON())
    .map((metric) => metric.name)
    .filter((name) => name.startsWith("vipd_"));
  t.true(metrics.length > 0);
  for (const metric of metrics) t.true(page.includes(`\`${metric}`), metric);
  for (const reason of Object.values(EVENT_REASONS)) t.true(page.includes(`\`${reason}\``), reason);
  for (const component of [HEARTBEAT_COMPONENT, OWNERSHIP_COMPONENT]) {
    t.true(page.includes(`${LEASE_LABEL_COMPONENT}=${component}`), component);
  }
  for (const label of [LEASE_LABEL_NODE, LEASE_LABEL_SERVICE_NAMESPACE, LEASE_LABEL_SERVICE_NAME]) {
    t.true(page.includes(label), label);
  }
  t.true(page.includes(ANNOTATION_INTERFACE));
  t.true(page.includes(ANNOTATION_HOLDER.replace(".", "\\.")), "the custom-columns query escapes the dot");
});

// The agent's own order, found by asking it: with every source set, the one it reads is the first;
// without that one, the next.
function sourceOrder(): string[] {
  const annotations = new Map([
    [ANNOTATION_LOAD_BALANCER_IPS, "198.51.100.1"],
    [ANNOTATION_KUBE_VIP_IPS, "198.51.100.2"],
    [ANNOTATION_METALLB_IPS, "198.51.100.3"],
  ]);
  const spec = { type: "LoadBalancer", loadBalancerIP: "198.51.100.4" };
  const order: string[] = [];
  for (;;) {
    const intent = serviceIntent(
      { metadata: { annotations: Object.fromEntries(annotations) }, spec },
      {
        loadBalancerClass: "vipd.io/l2",
        classOnly: false,
        nodeAddresses: new Set(),
        apiServerAddresses: new Map(),
        serviceCidrs: [],
        addressing: addressingOf(),
        externalIpCidrs: [],
      },
    );
    if (!intent.serve) return order;
    order.push(intent.source);
    if (intent.source === "spec.loadBalancerIP") return order;
    annotations.delete(intent.source);
  }
}

test("the migration guide lists the address sources in the order the agent reads them", (t) => {
  const page = read("docs/migrating-from-kube-vip.md");
  // The precedence table: rows that start with their rank.
  const ranked = page
    .split("\n")
    .filter((line) => /^\| \d+ +\|/.test(line))
    .map((line) => /`([^`]+)`/.exec(line)?.[1]);
  t.deepEqual(ranked, sourceOrder());
  t.is(ranked.length, 4);
  t.true(page.includes(`\`${ANNOTATION_IGNORE}: "true"\``));
});
