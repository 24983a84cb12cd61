// A live one-line status, so that a person watching a run of an hour knows it is alive and where
// it is. On a terminal the line is rewritten in place; in a log (CI, a pipe) each new status is a
// line of its own.

export interface Progress {
  /** What the run is doing now, e.g. "failover default node-death 3/20". */
  phase(text: string): void;
  /** The step inside the phase, e.g. "waiting for another node to answer". */
  step(text: string): void;
  /** A line that stays, printed above the status line. */
  log(line: string): void;
  stop(): void;
}

export function formatElapsed(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  const two = (n: number) => String(n).padStart(2, "0");
  return minutes >= 60
    ? `${Math.floor(minutes / 60)}h${two(minutes % 60)}m${two(seconds % 60)}s`
    : `${two(minutes)}:${two(seconds % 60)}`;
}

export function statusLine(options: {
  elapsedMs: number;
  phase: string;
  step: string;
  width: number;
}): string {
  const line = `bench ${formatElapsed(options.elapsedMs)} · ${options.phase}${options.step === "" ? "" : ` · ${options.step}`}`;
  return line.length > options.width ? `${line.slice(0, Math.max(0, options.width - 1))}…` : line;
}

export function createProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const startedAt = performance.now();
  const interactive = stream.isTTY;
  let phase = "starting";
  let step = "";
  const render = () =>
    statusLine({
      elapsedMs: performance.now() - startedAt,
      phase,
      step,
      width: interactive ? (stream.columns || 120) - 1 : 400,
    });
  const show = () => {
    if (interactive) stream.write(`\r\x1b[K${render()}`);
    else stream.write(`${render()}\n`);
  };
  // The clock in the line keeps moving while a step waits, which is what says "alive".
  const ticker = interactive ? setInterval(show, 1000) : undefined;
  ticker?.unref();
  return {
    phase: (text) => {
      phase = text;
      step = "";
      show();
    },
    step: (text) => {
      step = text;
      show();
    },
    log: (line) => {
      stream.write(interactive ? `\r\x1b[K${line}\n` : `${line}\n`);
      if (interactive) show();
    },
    stop: () => {
      clearInterval(ticker);
      if (interactive) stream.write("\r\x1b[K");
    },
  };
}
