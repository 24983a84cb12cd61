// vipd 0.1.0, for the rolling-upgrade test: the agent as it was released (commit 24da8b3, per-Service
// Leases), built from this repository's own history with its own lock file, once, and cached next to
// the kube binaries. A run of its agents in the lab is then exactly what a cluster being upgraded
// runs. A clone without that commit (a shallow one) cannot run the test, and says so.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

const LEGACY_COMMIT = "24da8b359281b3f4724fd99a73e5ecda16f6c6b9";
const CACHE_NAME = `vipd-0.1.0-${LEGACY_COMMIT.slice(0, 7)}`;
const ROOT = new URL("..", import.meta.url).pathname;

function run(
  command: string,
  args: readonly string[],
  cwd: string,
  log: (line: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString()).slice(-4000);
    };
    child.stdout.on("data", keep);
    child.stderr.on("data", keep);
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code === 0) resolve();
      else reject(new Error(`${command} ${args.join(" ")} in ${cwd} exited ${String(code)}:\n${tail}`));
    });
    log(`${command} ${args.join(" ")}`);
  });
}

// A shallow clone lacks the commit; its origin may still have it.
async function haveLegacyCommit(log: (line: string) => void): Promise<void> {
  const present = () => run("git", ["cat-file", "-e", `${LEGACY_COMMIT}^{commit}`], ROOT, log);
  try {
    await present();
    return;
  } catch {
    log(`commit ${LEGACY_COMMIT} is not in this clone; fetching it from origin`);
  }
  try {
    await run("git", ["fetch", "--quiet", "origin", LEGACY_COMMIT], ROOT, log);
    await present();
  } catch (error) {
    throw new Error(
      `the rolling-upgrade test builds vipd 0.1.0 from commit ${LEGACY_COMMIT} of this repository, which this clone lacks and its origin did not give: clone with full history`,
      { cause: error },
    );
  }
}

/** The path of vipd 0.1.0's bundle, building it first if this machine has not yet. */
export async function legacyVipdProgram(options: { log?: (line: string) => void } = {}): Promise<string> {
  const log = options.log ?? (() => undefined);
  const directory = join(homedir(), ".cache", "vipd", CACHE_NAME);
  const bundle = join(directory, "dist", "vipd.js");
  if (existsSync(bundle)) return bundle;
  await haveLegacyCommit(log);
  const building = `${directory}.building-${process.pid}`;
  await rm(building, { recursive: true, force: true });
  await mkdir(building, { recursive: true });
  try {
    await run("sh", ["-c", `git archive ${LEGACY_COMMIT} | tar -x -C "${building}"`], ROOT, log);
    await run("npm", ["ci", "--no-audit", "--no-fund"], building, log);
    await run("npm", ["run", "build"], building, log);
    await rm(directory, { recursive: true, force: true });
    await rename(building, directory);
  } catch (error) {
    await rm(building, { recursive: true, force: true });
    throw error;
  }
  return bundle;
}
