// Builds kube-apiserver, etcd and kubectl (one binary, vipd-testcluster) from the Go module in
// lab/kube-apiserver, once per version of that module: the cache key hashes go.mod, go.sum and the
// Go sources, and the build lands in a temporary directory that is renamed into place only when
// complete, so an interrupted build is never mistaken for a finished one.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

const MODULE_DIR = new URL("./kube-apiserver/", import.meta.url).pathname;
const PROGRESS_INTERVAL_MS = 10_000;

export interface KubeBinaries {
  readonly directory: string;
  readonly kubernetesVersion: string;
  /** The multi-call binary: `vipd-testcluster etcd|kube-apiserver|kubectl|pki|uds-proxy`. */
  readonly testcluster: string;
}

export interface BuildOptions {
  readonly log?: (line: string) => void;
}

async function moduleIdentity(): Promise<{ version: string; hash: string }> {
  const goMod = await readFile(join(MODULE_DIR, "go.mod"), "utf8");
  const version = /^\s*k8s\.io\/kubernetes (v\S+)/m.exec(goMod)?.[1];
  if (version === undefined) throw new Error(`no k8s.io/kubernetes requirement in ${MODULE_DIR}go.mod`);
  const hash = createHash("sha256");
  const files = (await readdir(MODULE_DIR)).filter((file) => /\.go$|^go\.(mod|sum)$/.test(file)).sort();
  for (const file of files) hash.update(file).update(await readFile(join(MODULE_DIR, file)));
  return { version, hash: hash.digest("hex").slice(0, 12) };
}

function versionFlags(version: string): string {
  const [major = "", minor = ""] = version.replace(/^v/, "").split(".");
  const values = { gitVersion: version, gitMajor: major, gitMinor: minor, gitTreeState: "clean" };
  return ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"]
    .flatMap((pkg) => Object.entries(values).map(([key, value]) => `-X ${pkg}.${key}=${value}`))
    .join(" ");
}

function run(command: string, args: string[], onStderrLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: MODULE_DIR,
      // Modules missing from the local cache are fetched through the proxy even with -mod=readonly;
      // readonly only guarantees that the committed go.mod and go.sum are used as they are. The
      // repository's VCS state must not leak into the binary, or every commit would change it. Go's
      // standard install location is a fallback for shells that never put it on PATH.
      env: {
        ...process.env,
        GOFLAGS: "-mod=readonly -buildvcs=false",
        PATH: `${process.env.PATH ?? ""}:/usr/local/go/bin`,
      },
      stdio: ["ignore", "inherit", "pipe"],
    });
    let pending = "";
    const tail: string[] = [];
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        tail.push(line);
        if (tail.length > 40) tail.shift();
        onStderrLine(line);
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0) resolve();
      else {
        const how = signal === null ? `exit ${code ?? "?"}` : `killed by ${signal}`;
        reject(new Error(`${command} ${args.join(" ")} failed (${how}):\n${tail.join("\n")}`));
      }
    });
  });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

// A build killed half-way leaves its staging directory (a few hundred MB) behind; nothing else will
// ever remove it.
async function removeAbandonedBuilds(cacheDir: string): Promise<void> {
  for (const entry of await readdir(cacheDir)) {
    const owner = /\.partial-(\d+)$/.exec(entry)?.[1];
    if (owner !== undefined && !processAlive(Number(owner))) {
      await rm(join(cacheDir, entry), { recursive: true, force: true });
    }
  }
}

async function build(log: (line: string) => void): Promise<KubeBinaries> {
  const { version, hash } = await moduleIdentity();
  const cacheDir = join(homedir(), ".cache", "vipd");
  const directory = join(cacheDir, `kube-${version}-${hash}`);
  const binaries = {
    directory,
    kubernetesVersion: version,
    testcluster: join(directory, "vipd-testcluster"),
  };
  if (existsSync(binaries.testcluster)) return binaries;

  await mkdir(cacheDir, { recursive: true });
  await removeAbandonedBuilds(cacheDir);
  const staging = `${directory}.partial-${process.pid}`;
  await mkdir(staging, { recursive: true });
  const started = performance.now();
  log(`building kube-apiserver, etcd and kubectl ${version} (first run only; several minutes on 2 cores)`);
  let compiled = 0;
  const progress = setInterval(() => {
    const elapsed = Math.round((performance.now() - started) / 1000);
    log(
      `building kube-apiserver: ${compiled} packages compiled, ${Math.floor(elapsed / 60)}m${elapsed % 60}s`,
    );
  }, PROGRESS_INTERVAL_MS);
  try {
    const ldflags = `-s -w ${versionFlags(version)}`;
    const output = join(staging, "vipd-testcluster");
    await run("go", ["build", "-v", "-trimpath", "-ldflags", ldflags, "-o", output, "."], (line) => {
      // `go build -v` names each package as it is compiled; download lines start with "go:".
      if (line !== "" && !line.startsWith("go:")) compiled += 1;
      else if (line.startsWith("go: downloading")) log(line);
    });
    try {
      await rename(staging, directory);
    } catch (error) {
      // Another process finished the same build first; its result is as good as ours.
      if (!existsSync(binaries.testcluster)) throw error;
    }
  } finally {
    clearInterval(progress);
    await rm(staging, { recursive: true, force: true });
  }
  log(`built in ${Math.round((performance.now() - started) / 1000)}s: ${directory}`);
  return binaries;
}

// Callers in one process (the lab, a test, setup) share one build instead of racing to start their
// own; a failed build is forgotten so that the next call tries again.
let inProcess: Promise<KubeBinaries> | undefined;

export function ensureKubeBinaries(options: BuildOptions = {}): Promise<KubeBinaries> {
  inProcess ??= build(options.log ?? (() => undefined)).catch((error: unknown) => {
    inProcess = undefined;
    throw error;
  });
  return inProcess;
}

if (import.meta.main) {
  const binaries = await ensureKubeBinaries({ log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`${binaries.testcluster}\n`);
}
