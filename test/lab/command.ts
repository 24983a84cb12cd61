// Running commands, in the root namespace or inside a lab namespace (`ip netns exec` execs the
// command, so a spawned child's PID is the real process).
import { execFile } from "node:child_process";

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number;
}

export function run(
  argv: readonly string[],
  options: { input?: string; allowFailure?: boolean } = {},
): Promise<CommandResult> {
  const [command = "", ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
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

export function inNamespace(netns: string, argv: readonly string[]): string[] {
  return ["ip", "netns", "exec", netns, ...argv];
}

export function ip(...args: string[]): Promise<CommandResult> {
  return run(["ip", ...args]);
}
