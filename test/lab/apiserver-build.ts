// Builds kube-apiserver, etcd and kubectl (one binary, vipd-testcluster) from the Go module in
// test/kube-apiserver, once per version of that module: the cache key hashes go.mod, go.sum and the
// Go sources, and the build lands in a temporary directory that is renamed into place only when
// complete, so an interrupted build is never mistaken for a finished one.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

export const MODULE_DIR = new URL("../kube-apiserver/", import.meta.url).pathname;
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
      // -mod=mod lets the build fetch modules missing from the local cache through the proxy. Go's
      // standard install location is a fallback for shells that never put it on PATH.
      env: { ...process.env, GOFLAGS: "-mod=mod", PATH: `${process.env.PATH ?? ""}:/usr/local/go/bin` },
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

export async function ensureKubeBinaries(options: BuildOptions = {}): Promise<KubeBinaries> {
  const log = options.log ?? (() => undefined);
  const { version, hash } = await moduleIdentity();
  const directory = join(homedir(), ".cache", "vipd", `kube-${version}-${hash}`);
  const binaries = {
    directory,
    kubernetesVersion: version,
    testcluster: join(directory, "vipd-testcluster"),
  };
  if (existsSync(binaries.testcluster)) return binaries;

  const staging = `${directory}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
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

if (import.meta.main) {
  const binaries = await ensureKubeBinaries({ log: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`${binaries.testcluster}\n`);
}
