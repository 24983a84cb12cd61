// Long-running processes inside lab namespaces: tracked by PID so that teardown (including the
// synchronous one on exit or a signal) ends exactly the processes the lab started, and no others.
import { spawn, type ChildProcess } from "node:child_process";
import { inNamespace } from "./command.ts";

export interface LabProcess {
  readonly pid: number;
  readonly name: string;
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  /** Resolves with the first line of output matching pattern (the process announcing it is ready). */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  onLine(listener: (line: string) => void): void;
}

const OUTPUT_LIMIT = 256 * 1024;

export class ProcessGroup {
  readonly #children = new Map<number, ChildProcess>();

  spawn(
    netns: string,
    argv: readonly string[],
    options: { env?: Record<string, string>; name?: string } = {},
  ): LabProcess {
    const [command = "", ...args] = inNamespace(netns, argv);
    const child = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...options.env },
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${argv.join(" ")} in ${netns}`);
    this.#children.set(pid, child);
    let output = "";
    let partial = "";
    const listeners: ((line: string) => void)[] = [];
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      output = (output + text).slice(-OUTPUT_LIMIT);
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) for (const listener of listeners) listener(line);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.once("exit", (code, signal) => {
        this.#children.delete(pid);
        resolve({ code, signal });
      });
    });
    return {
      pid,
      name: options.name ?? argv.join(" "),
      output: () => output,
      exited,
      onLine: (listener) => listeners.push(listener),
      waitForLine: (pattern, timeoutMs) =>
        new Promise((resolve, reject) => {
          const already = output.split("\n").find((line) => pattern.test(line));
          if (already !== undefined) {
            resolve(already);
            return;
          }
          const timer = setTimeout(() => {
            reject(
              new Error(
                `${options.name ?? argv[0] ?? ""}: no line matching ${pattern} in ${timeoutMs}ms:\n${output}`,
              ),
            );
          }, timeoutMs);
          listeners.push((line) => {
            if (!pattern.test(line)) return;
            clearTimeout(timer);
            resolve(line);
          });
          void exited.then(({ code, signal }) => {
            clearTimeout(timer);
            reject(
              new Error(`${options.name ?? argv[0] ?? ""} exited (${code ?? signal ?? ""}):\n${output}`),
            );
          });
        }),
    };
  }

  pids(): number[] {
    return [...this.#children.keys()];
  }

  /** Ends every process still running: SIGCONT first, so a stopped one can die. */
  killAll(): void {
    for (const child of this.#children.values()) {
      child.kill("SIGCONT");
      child.kill("SIGKILL");
    }
  }

  async stopAll(): Promise<void> {
    const running = [...this.#children.values()];
    const exits = running.map((child) => new Promise((resolve) => child.once("exit", resolve)));
    this.killAll();
    await Promise.all(exits);
  }
}
