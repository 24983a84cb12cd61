// Prepares this machine for the integration tests, the end-to-end tests, the demo and the benchmarks:
// the Debian tools the lab drives, the kube-apiserver/etcd/kubectl binaries and the helm and promtool
// the tests drive, each built from its pinned Go module, and vipd's bundle, which the lab's agents
// run. It runs before every such command and is quick when everything is already there.
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { ensureKubeBinaries } from "../lab/apiserver-build.ts";
import { ensureHelm, ensurePromtool } from "../lab/go-tools.ts";
import { BUNDLE, buildBundle } from "./build.ts";

interface DebianTool {
  readonly command: string;
  readonly debianPackage: string;
  readonly why: string;
}

const DEBIAN_TOOLS: readonly DebianTool[] = [
  { command: "ip", debianPackage: "iproute2", why: "network namespaces, links and addresses of the lab" },
  {
    command: "tcpdump",
    debianPackage: "tcpdump",
    why: "the lab's wire observer (an oracle independent of vipd)",
  },
  {
    command: "arping",
    debianPackage: "iputils-arping",
    why: "announcing an address moved by hand in lab tests",
  },
  { command: "curl", debianPackage: "curl", why: "reaching the API server from inside lab namespaces" },
  { command: "bird", debianPackage: "bird2", why: "the lab's router and the nodes' BGP speaker (BIRD 2)" },
  { command: "birdc", debianPackage: "bird2", why: "querying and reconfiguring BIRD through its socket" },
];

function onPath(command: string): boolean {
  const directories = (process.env.PATH ?? "").split(delimiter).concat(["/usr/sbin", "/sbin"]);
  return directories.some((directory) => {
    try {
      accessSync(join(directory, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function fail(message: string): never {
  process.stderr.write(`setup: ${message}\n`);
  process.exit(1);
}

function installMissingDebianTools(): void {
  const missing = DEBIAN_TOOLS.filter((tool) => !onPath(tool.command));
  if (missing.length === 0) return;
  // bird and birdc come in one package, which is named once.
  const packages = [...new Set(missing.map((tool) => tool.debianPackage))];
  for (const tool of missing) {
    process.stdout.write(`setup: installing ${tool.debianPackage} (${tool.command}: ${tool.why})\n`);
  }
  if (!onPath("apt-get")) fail(`missing ${packages.join(", ")} and no apt-get to install them with`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...packages], {
    stdio: "inherit",
    env,
  });
}

function requireGo(): void {
  if (onPath("go")) return;
  const standardLocation = "/usr/local/go/bin";
  try {
    accessSync(join(standardLocation, "go"), constants.X_OK);
  } catch {
    fail(
      "the Go toolchain is needed to build kube-apiserver, etcd, helm and promtool for the tests; install Go ≥ 1.26",
    );
  }
  process.env.PATH = `${process.env.PATH ?? ""}${delimiter}${standardLocation}`;
}

if (process.getuid?.() !== 0) {
  fail("the lab creates network namespaces and needs root; run this as root");
}
installMissingDebianTools();
requireGo();
const started = performance.now();
const log = (line: string) => process.stdout.write(`setup: ${line}\n`);
const binaries = await ensureKubeBinaries({ log });
const seconds = ((performance.now() - started) / 1000).toFixed(1);
log(`kube binaries ready in ${seconds}s (${binaries.directory})`);
log(`helm ready: ${await ensureHelm({ log })}`);
log(`promtool ready: ${await ensurePromtool({ log })}`);
await buildBundle();
process.stdout.write(`setup: built ${BUNDLE}\n`);
