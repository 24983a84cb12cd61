// Long-running processes inside lab namespaces, tracked by PID so that teardown (including the
// synchronous one on exit or a signal) ends exactly the processes the lab started.
import { spawn, type ChildProcess } from "node:child_process";
import { inNamespace, killNow } from "./netns.ts";

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: string | null;
}

export interface LabProcess {
  readonly pid: number;
  readonly name: string;
  /** The last OUTPUT_LIMIT characters of stdout and stderr, interleaved as they arrived. */
  output(): string;
  readonly exited: Promise<ProcessExit>;
  /** Called with every complete line of stdout and stderr from now on. */
  onLine(listener: (line: string) => void): void;
  /** The first line, already seen or still to come, matching pattern: how a process says it is ready. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<string>;
  write(text: string): void;
  endInput(): void;
}

const OUTPUT_LIMIT = 256 * 1024;

/** Keeps the tail of a stream without copying it on every chunk. */
class OutputTail {
  readonly #chunks: string[] = [];
  #length = 0;

  add(text: string): void {
    this.#chunks.push(text);
    this.#length += text.length;
    while (this.#chunks.length > 1 && this.#length - (this.#chunks[0]?.length ?? 0) >= OUTPUT_LIMIT)
      this.#length -= this.#chunks.shift()?.length ?? 0;
  }

  text(): string {
    return this.#chunks.join("").slice(-OUTPUT_LIMIT);
  }
}

export class ProcessGroup {
  readonly #children = new Map<number, ChildProcess>();

  spawn(
    netns: string,
    argv: readonly string[],
    options: { env?: Record<string, string>; name?: string } = {},
  ): LabProcess {
    const [command = "", ...args] = inNamespace(netns, argv);
    const name = options.name ?? argv.join(" ");
    const child = spawn(command, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...options.env },
    });
    const pid = child.pid;
    if (pid === undefined) throw new Error(`could not start ${name} in ${netns}`);
    this.#children.set(pid, child);
    // The process may exit without reading its input; writes to it then fail, harmlessly.
    child.stdin.on("error", () => undefined);
    const tail = new OutputTail();
    const listeners: ((line: string) => void)[] = [];
    const seenLines: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      let partial = "";
      stream.setEncoding("utf8");
      stream.on("data", (text: string) => {
        tail.add(text);
        const lines = (partial + text).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) for (const listener of listeners) listener(line);
      });
    }
    // Forgotten on "exit", so that no signal goes to a PID the kernel may hand out again.
    child.once("exit", () => this.#children.delete(pid));
    const exited = new Promise<ProcessExit>((resolve) => {
      // "close", not "exit": the last lines may still be in the pipes when the process has exited.
      child.once("close", (code, signal) => {
        resolve({ code, signal });
      });
    });
    const onLine = (listener: (line: string) => void) => listeners.push(listener);
    onLine((line) => {
      if (seenLines.length < 1000) seenLines.push(line);
    });
    return {
      pid,
      name,
      output: () => tail.text(),
      exited,
      onLine,
      waitForLine: (pattern, timeoutMs) =>
        new Promise((resolve, reject) => {
          const already = seenLines.find((line) => pattern.test(line));
          if (already !== undefined) {
            resolve(already);
            return;
          }
          const timer = setTimeout(() => {
            reject(new Error(`${name}: no line matching ${pattern} in ${timeoutMs}ms:\n${tail.text()}`));
          }, timeoutMs);
          onLine((line) => {
            if (!pattern.test(line)) return;
            clearTimeout(timer);
            resolve(line);
          });
          void exited.then(({ code, signal }) => {
            clearTimeout(timer);
            reject(new Error(`${name} exited (${code ?? signal ?? ""}) before ${pattern}:\n${tail.text()}`));
          });
        }),
      write: (text) => {
        child.stdin.write(text);
      },
      endInput: () => {
        child.stdin.end();
      },
    };
  }

  pids(): number[] {
    return [...this.#children.keys()];
  }

  /**
   * Only to a process of this group that has not exited: once it has, the kernel may have given its
   * PID to a process that is none of the lab's business.
   */
  signal(target: LabProcess, signal: NodeJS.Signals): void {
    if (!this.#children.has(target.pid)) throw new Error(`${target.name} (${target.pid}) is not running`);
    process.kill(target.pid, signal);
  }

  /** Synchronous, for exit and signal handlers. */
  killAll(): void {
    for (const pid of this.#children.keys()) killNow(pid);
  }

  async stopAll(): Promise<void> {
    const running = [...this.#children.values()];
    const exits = running.map((child) => new Promise((resolve) => child.once("exit", resolve)));
    this.killAll();
    await Promise.all(exits);
  }
}
