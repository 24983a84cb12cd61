// Polling until the lab shows what a test waits for: the API server's objects and the nodes' kernels
// change on their own time, and a test reads them until they do or a deadline passes.

/**
 * Reads until done(value) or the deadline (30 s unless given), every 100 ms unless given; the error
 * says what was awaited, the last value read, and whatever context() adds (the agents' logs, say).
 */
export async function eventually<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  options: { what: string; timeoutMs?: number; intervalMs?: number; context?: () => string },
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`${options.what}: still ${JSON.stringify(value)}\n${options.context?.() ?? ""}`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
