// Primitives over network namespaces: running a command in one, listing them, and removing one with
// every process still inside it. The synchronous ones also serve exit and signal handlers, where
// there is no event loop left to await in.
import { execFile, execFileSync } from "node:child_process";

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export function run(
  argv: readonly string[],
  options: { input?: string; allowFailure?: boolean; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  const [command = "", ...args] = argv;
  return new Promise((resolve, reject) => {
    const settings = { maxBuffer: 64 * 1024 * 1024, env: options.env ?? process.env };
    const child = execFile(command, args, settings, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
      if (code !== 0 && options.allowFailure !== true) {
        reject(new Error(`${argv.join(" ")} failed (${code}): ${stderr.trim()}`));
        return;
      }
      resolve({ stdout, stderr, code });
    });
    // A command may exit without reading its input; that is its business, not an error here.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(options.input);
  });
}

/** `ip netns exec` execs the command, so the PID of what it starts is the command's own. */
export function inNamespace(netns: string, argv: readonly string[]): string[] {
  return ["ip", "netns", "exec", netns, ...argv];
}

export function ip(...args: string[]): Promise<CommandResult> {
  return run(["ip", ...args]);
}

export function listNamespaces(): string[] {
  return execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name !== "");
}

export function namespacePids(netns: string): number[] {
  const listed = execFileSync("ip", ["netns", "pids", netns], { encoding: "utf8" });
  return listed
    .split("\n")
    .filter((line) => line !== "")
    .map(Number);
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGCONT before SIGKILL, so that a process stopped by a fault is not left for later. */
export function killNow(pid: number): void {
  for (const signal of ["SIGCONT", "SIGKILL"] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      // Already gone.
    }
  }
}

/**
 * Deleting a namespace only unmounts its name: processes inside keep it, and their sockets and
 * addresses, alive. Everything in a lab namespace was started for the lab, so it all goes first.
 */
export function deleteNamespace(netns: string): void {
  for (const pid of namespacePids(netns)) killNow(pid);
  execFileSync("ip", ["netns", "delete", netns], { stdio: "ignore" });
}
