// kube-apiserver, etcd and kubectl as one multi-call binary (vipd-testcluster), built from the Go
// module in lab/kube-apiserver and cached like every tool of the lab (lab/go-build.ts).
import { type BuildOptions, GoBinaryCache } from "./go-build.ts";

export interface KubeBinaries {
  readonly directory: string;
  readonly kubernetesVersion: string;
  /** The multi-call binary: `vipd-testcluster etcd|kube-apiserver|kubectl|pki|uds-proxy`. */
  readonly testcluster: string;
}

function versionFlags(version: string): string[] {
  const [major = "", minor = ""] = version.replace(/^v/, "").split(".");
  const values = { gitVersion: version, gitMajor: major, gitMinor: minor, gitTreeState: "clean" };
  return ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"].flatMap((pkg) =>
    Object.entries(values).map(([key, value]) => `-X ${pkg}.${key}=${value}`),
  );
}

const KUBE_BINARIES = {
  what: "kube-apiserver, etcd and kubectl",
  cacheName: "kube",
  moduleDir: new URL("./kube-apiserver/", import.meta.url).pathname,
  versionModule: "k8s.io/kubernetes",
  mainPackage: ".",
  binaryName: "vipd-testcluster",
  versionFlags,
};

const cache = new GoBinaryCache();

export async function ensureKubeBinaries(options: BuildOptions = {}): Promise<KubeBinaries> {
  const built = await cache.ensure(KUBE_BINARIES, options);
  return { directory: built.directory, kubernetesVersion: built.version, testcluster: built.path };
}

if (import.meta.main) {
  const binaries = await ensureKubeBinaries({ log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`${binaries.testcluster}\n`);
}
