// Puts a rendered bird.conf into effect in a running BIRD. The candidate is written beside the
// config file and checked by BIRD first (`configure check`); only a config BIRD accepts replaces the
// file (by rename, so BIRD never reads half a file, not even on a restart) and is loaded with
// `configure`. A refused config leaves both the running config and the file as they were.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";

// One birdc invocation against BIRD's control socket: the CLI words, and whether BIRD answered
// with success, with its reply text either way.
export interface Birdc {
  run(words: readonly string[]): Promise<BirdcReply>;
}

export interface BirdcReply {
  readonly ok: boolean;
  readonly output: string;
  /** birdc never reached BIRD: no socket, nobody listening on it, no answer in time, or no birdc. */
  readonly unreachable?: boolean;
}

// unreachable: BIRD did not answer at all (not started yet, or gone), so nothing was decided;
// rejected: BIRD read the config and refused it; failed: it accepted it and then did not load it.
export type ApplyStatus =
  | { readonly outcome: "applied" }
  | { readonly outcome: "unchanged" }
  | { readonly outcome: "rejected" | "failed" | "unreachable"; readonly message: string };

export type CheckStatus =
  | { readonly outcome: "accepted" }
  | { readonly outcome: "rejected" | "unreachable"; readonly message: string };

export interface BirdControlOptions {
  // The file BIRD runs with; the candidate goes next to it, so the rename stays on one filesystem.
  readonly configFile: string;
  readonly birdc: Birdc;
}

// birdc -v prints BIRD's reply codes; 8xxx and 9xxx are errors, the rest progress or success.
function birdMessage(output: string): string {
  const lines = output.split("\n").map((line) => line.trimEnd());
  const errors = lines.filter((line) => /^[89]\d{3}[ -]/.test(line));
  const text = errors.length > 0 ? errors : lines.filter((line) => line !== "" && !line.startsWith("0001"));
  return text.map((line) => line.replace(/^\d{4}[ -]/, "")).join("; ") || "birdc gave no reason";
}

// BIRD's CLI takes the file name as a quoted string, which has no escapes.
function cliString(text: string): string {
  if (/["\n]/.test(text))
    throw new Error(`the BIRD config path ${JSON.stringify(text)} cannot be quoted for birdc`);
  return `"${text}"`;
}

export class BirdControl {
  readonly #options: BirdControlOptions;
  readonly #candidate: string;
  #applied: string | undefined;
  #status: ApplyStatus | undefined;
  // Applies run one at a time, so a later text is never overtaken by an earlier one.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: BirdControlOptions) {
    this.#options = options;
    this.#candidate = `${options.configFile}.candidate`;
    cliString(options.configFile);
  }

  // The outcome of the last apply, undefined before the first.
  status(): ApplyStatus | undefined {
    return this.#status;
  }

  apply(text: string): Promise<ApplyStatus> {
    return this.#queued(() => this.#apply(text));
  }

  /** Whether BIRD would take the config, without loading it; the running config and file stay. */
  check(text: string): Promise<CheckStatus> {
    return this.#queued(async () => {
      const status = await this.#check(text);
      await rm(this.#candidate, { force: true });
      return status;
    });
  }

  #queued<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #check(text: string): Promise<CheckStatus> {
    await writeFile(this.#candidate, text, { mode: 0o600 });
    const check = await this.#options.birdc.run(["configure", "check", cliString(this.#candidate)]);
    if (check.ok) return { outcome: "accepted" };
    if (check.unreachable === true)
      return { outcome: "unreachable", message: `BIRD did not answer: ${birdMessage(check.output)}` };
    return { outcome: "rejected", message: `BIRD refused the new config: ${birdMessage(check.output)}` };
  }

  async #apply(text: string): Promise<ApplyStatus> {
    this.#status = await this.#attempt(text);
    if (this.#status.outcome === "applied") this.#applied = text;
    return this.#status;
  }

  async #attempt(text: string): Promise<ApplyStatus> {
    if (text === this.#applied) return { outcome: "unchanged" };
    const { configFile, birdc } = this.#options;
    const check = await this.#check(text);
    if (check.outcome !== "accepted") {
      await rm(this.#candidate, { force: true });
      return check;
    }
    await rename(this.#candidate, configFile);
    const configure = await birdc.run(["configure", cliString(configFile)]);
    if (!configure.ok)
      return {
        outcome: configure.unreachable === true ? "unreachable" : "failed",
        message: `BIRD did not load the checked config: ${birdMessage(configure.output)}`,
      };
    return { outcome: "applied" };
  }
}

export interface ExecBirdcOptions {
  readonly socket: string;
  readonly birdcPath?: string;
  readonly timeoutMs?: number;
}

// What birdc prints when it cannot open BIRD's socket (BIRD 2's client/client.c).
const UNREACHABLE = /^Unable to connect to server control socket/m;

// The real birdc. It exits non-zero when BIRD answers with an error, or when it cannot reach BIRD.
export function execBirdc(options: ExecBirdcOptions): Birdc {
  const file = options.birdcPath ?? (existsSync("/usr/sbin/birdc") ? "/usr/sbin/birdc" : "birdc");
  const timeout = options.timeoutMs ?? 30_000;
  return {
    run: (words) =>
      new Promise((resolve) => {
        execFile(
          file,
          ["-v", "-s", options.socket, ...words],
          { timeout, encoding: "utf8" },
          (error, stdout, stderr) => {
            const reason =
              error === null
                ? ""
                : error.killed
                  ? `birdc did not answer within ${timeout} ms`
                  : error.message;
            const output = [stdout, stderr, stdout + stderr === "" || error?.killed === true ? reason : ""]
              .filter((part) => part !== "")
              .join("\n");
            const unreachable =
              error !== null &&
              (error.killed === true ||
                (error as { code?: unknown }).code === "ENOENT" ||
                UNREACHABLE.test(output));
            resolve({ ok: error === null, output, unreachable });
          },
        );
      }),
  };
}
