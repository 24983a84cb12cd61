// The real command-line tools the tests drive, each built from its pinned Go module (lab/helm,
// lab/promtool) and cached like the kube binaries: helm for the chart, promtool for the alert rules.
import { type BuildOptions, GoBinaryCache, type GoBinarySpec } from "./go-build.ts";

const HELM: GoBinarySpec = {
  what: "helm",
  cacheName: "helm",
  moduleDir: new URL("./helm/", import.meta.url).pathname,
  versionModule: "helm.sh/helm/v3",
  mainPackage: "helm.sh/helm/v3/cmd/helm",
  binaryName: "helm",
  // What `helm version` prints, and the Kubernetes version helm assumes when it renders offline.
  versionFlags: (version) => [
    `-X helm.sh/helm/v3/internal/version.version=${version}`,
    "-X helm.sh/helm/v3/internal/version.gitTreeState=clean",
  ],
};

// Prometheus' Go module is versioned v0.<major><minor two digits>.<patch>: v0.316.0 is Prometheus 3.16.0.
function prometheusRelease(moduleVersion: string): string {
  const match = /^v0\.(\d+)(\d\d)\.(\d+)$/.exec(moduleVersion);
  return match === null ? moduleVersion : `${match[1]}.${Number(match[2])}.${match[3]}`;
}

const PROMTOOL: GoBinarySpec = {
  what: "promtool",
  cacheName: "promtool",
  moduleDir: new URL("./promtool/", import.meta.url).pathname,
  versionModule: "github.com/prometheus/prometheus",
  mainPackage: "github.com/prometheus/prometheus/cmd/promtool",
  binaryName: "promtool",
  versionFlags: (version) => [
    `-X github.com/prometheus/common/version.Version=${prometheusRelease(version)}`,
  ],
};

const cache = new GoBinaryCache();

/** The path of the helm binary. */
export async function ensureHelm(options: BuildOptions = {}): Promise<string> {
  return (await cache.ensure(HELM, options)).path;
}

/** The path of the promtool binary. */
export async function ensurePromtool(options: BuildOptions = {}): Promise<string> {
  return (await cache.ensure(PROMTOOL, options)).path;
}

if (import.meta.main) {
  const log = (line: string) => process.stdout.write(`${line}\n`);
  process.stdout.write(`${await ensureHelm({ log })}\n${await ensurePromtool({ log })}\n`);
}
