// Labs still up when the process ends, however it ends, are torn down: on exit, on SIGINT, SIGTERM
// and SIGHUP, and on an uncaught exception. The handlers are installed once per process and are
// synchronous, because on exit there is no event loop left to await in.
import { constants } from "node:os";

const live = new Set<() => void>();
let installed = false;

function tearDownAll(): void {
  for (const tearDown of [...live]) tearDown();
  live.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once("exit", tearDownAll);
  // The monitor leaves the exception's usual handling (a test runner's, or a crash) as it was.
  process.on("uncaughtExceptionMonitor", tearDownAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      tearDownAll();
      process.exit(128 + constants.signals[signal]);
    });
  }
}

/** Registers a lab's synchronous teardown; the returned function unregisters it. */
export function tearDownOnExit(tearDown: () => void): () => void {
  install();
  live.add(tearDown);
  return () => live.delete(tearDown);
}
