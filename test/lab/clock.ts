// One clock for every lab observation: CLOCK_MONOTONIC in nanoseconds. Node's hrtime reads it, and
// it is shared by all processes on the machine whatever their network namespace, so times recorded
// by the probe, the samplers and the test process compare directly. As a double it stays exact to
// the nanosecond for the first 104 days of uptime and loses only nanoseconds after that.
export function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

/**
 * Wall-clock time minus monotonic time, in ns, to move wall-clock stamps (tcpdump's) onto the
 * monotonic clock. Date.now() has only millisecond resolution, so this waits for it to tick over and
 * reads the monotonic clock at that instant: the offset is then good to a few microseconds. A bigint,
 * because epoch nanoseconds are beyond a double's exact integers.
 */
export function wallMinusMonotonicNs(): bigint {
  const start = Date.now();
  let wall = start;
  let monotonic = process.hrtime.bigint();
  while (wall === start) {
    monotonic = process.hrtime.bigint();
    wall = Date.now();
  }
  return BigInt(wall) * 1_000_000n - monotonic;
}
