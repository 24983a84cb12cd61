// Builds a binary of the lab's real tools (kube-apiserver, helm, promtool) from a pinned Go module
// in lab/, once per version of that module: the cache key hashes the module's go.mod, go.sum and Go
// sources, and the build lands in a temporary directory that is renamed into place only when
// complete, so an interrupted build is never mistaken for a finished one.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

const PROGRESS_INTERVAL_MS = 10_000;

export interface GoBinarySpec {
  /** What is built, for the log ("kube-apiserver, etcd and kubectl"). */
  readonly what: string;
  /** Names the cache directory, with the version and the module's hash. */
  readonly cacheName: string;
  /** A directory of lab/ holding go.mod and go.sum (and any Go sources of its own). */
  readonly moduleDir: string;
  /** The required module whose version the build is named after. */
  readonly versionModule: string;
  /** The package to build: "." for the module's own main, else a `tool` of its go.mod. */
  readonly mainPackage: string;
  readonly binaryName: string;
  /** Linker flags beyond -s -w, given the version of versionModule. */
  readonly versionFlags: (version: string) => readonly string[];
}

export interface GoBinary {
  readonly directory: string;
  readonly version: string;
  readonly path: string;
}

export interface BuildOptions {
  readonly log?: (line: string) => void;
}

async function moduleIdentity(spec: GoBinarySpec): Promise<{ version: string; hash: string }> {
  const goMod = await readFile(join(spec.moduleDir, "go.mod"), "utf8");
  const escaped = spec.versionModule.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const version = new RegExp(`^\\s*(?:require\\s+)?${escaped} (v\\S+)`, "m").exec(goMod)?.[1];
  if (version === undefined)
    throw new Error(`no ${spec.versionModule} requirement in ${spec.moduleDir}go.mod`);
  const hash = createHash("sha256");
  const files = (await readdir(spec.moduleDir)).filter((file) => /\.go$|^go\.(mod|sum)$/.test(file)).sort();
  for (const file of files) hash.update(file).update(await readFile(join(spec.moduleDir, file)));
  return { version, hash: hash.digest("hex").slice(0, 12) };
}

function run(
  options: { readonly cwd: string; readonly args: readonly string[] },
  onStderrLine: (line: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("go", options.args, {
      cwd: options.cwd,
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
        reject(new Error(`go ${options.args.join(" ")} failed (${how}):\n${tail.join("\n")}`));
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

// A build killed half-way leaves its staging directory (up to a few hundred MB) behind; nothing else
// will ever remove it.
async function removeAbandonedBuilds(cacheDir: string): Promise<void> {
  for (const entry of await readdir(cacheDir)) {
    const owner = /\.partial-(\d+)$/.exec(entry)?.[1];
    if (owner !== undefined && !processAlive(Number(owner))) {
      await rm(join(cacheDir, entry), { recursive: true, force: true });
    }
  }
}

async function build(spec: GoBinarySpec, log: (line: string) => void): Promise<GoBinary> {
  const { version, hash } = await moduleIdentity(spec);
  const cacheDir = join(homedir(), ".cache", "vipd");
  const directory = join(cacheDir, `${spec.cacheName}-${version}-${hash}`);
  const binary = { directory, version, path: join(directory, spec.binaryName) };
  if (existsSync(binary.path)) return binary;

  await mkdir(cacheDir, { recursive: true });
  await removeAbandonedBuilds(cacheDir);
  const staging = `${directory}.partial-${process.pid}`;
  await mkdir(staging, { recursive: true });
  const started = performance.now();
  log(`building ${spec.what} ${version} (first run only; minutes on 2 cores)`);
  let compiled = 0;
  const progress = setInterval(() => {
    const elapsed = Math.round((performance.now() - started) / 1000);
    log(
      `building ${spec.binaryName}: ${compiled} packages compiled, ${Math.floor(elapsed / 60)}m${elapsed % 60}s`,
    );
  }, PROGRESS_INTERVAL_MS);
  try {
    const ldflags = ["-s", "-w", ...spec.versionFlags(version)].join(" ");
    const output = join(staging, spec.binaryName);
    const args = ["build", "-v", "-trimpath", "-ldflags", ldflags, "-o", output, spec.mainPackage];
    await run({ cwd: spec.moduleDir, args }, (line) => {
      // `go build -v` names each package as it is compiled; download lines start with "go:".
      if (line !== "" && !line.startsWith("go:")) compiled += 1;
      else if (line.startsWith("go: downloading")) log(line);
    });
    try {
      await rename(staging, directory);
    } catch (error) {
      // Another process finished the same build first; its result is as good as ours.
      if (!existsSync(binary.path)) throw error;
    }
  } finally {
    clearInterval(progress);
    await rm(staging, { recursive: true, force: true });
  }
  log(`built in ${Math.round((performance.now() - started) / 1000)}s: ${directory}`);
  return binary;
}

/**
 * Callers in one process (the lab, a test, setup) share one build of each binary instead of racing
 * to start their own; a failed build is forgotten so that the next call tries again.
 */
export class GoBinaryCache {
  readonly #builds = new Map<string, Promise<GoBinary>>();

  ensure(spec: GoBinarySpec, options: BuildOptions = {}): Promise<GoBinary> {
    const known = this.#builds.get(spec.cacheName);
    if (known !== undefined) return known;
    const building = build(spec, options.log ?? (() => undefined)).catch((error: unknown) => {
      this.#builds.delete(spec.cacheName);
      throw error;
    });
    this.#builds.set(spec.cacheName, building);
    return building;
  }
}
