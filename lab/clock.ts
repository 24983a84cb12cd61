// One clock for every lab observation: CLOCK_MONOTONIC in nanoseconds. Node's hrtime reads it, and
// it is shared by all processes on the machine whatever their network namespace, so times recorded
// by the probe, the samplers and the test process compare directly. As a double it stays exact to
// the nanosecond for the first 104 days of uptime and loses only nanoseconds after that.
export function monotonicNs(): number {
  return Number(process.hrtime.bigint());
}

const MAX_UNCERTAINTY_NS = 50_000n;

/**
 * Wall-clock time minus monotonic time, in ns, to move wall-clock stamps (tcpdump's) onto the
 * monotonic clock. Date.now() has only millisecond resolution, so this watches it tick over with
 * monotonic reads on both sides of each call: the tick lies between the last read before the old
 * value and the first read after the new one. A tick bracketed that tightly (the process was not
 * preempted meanwhile) gives the offset to a few microseconds. A bigint, because epoch nanoseconds
 * are beyond a double's exact integers.
 */
export function wallMinusMonotonicNs(): bigint {
  let before = process.hrtime.bigint();
  let wall = Date.now();
  let after = process.hrtime.bigint();
  for (;;) {
    const nextBefore = process.hrtime.bigint();
    const nextWall = Date.now();
    const nextAfter = process.hrtime.bigint();
    if (nextWall !== wall && nextAfter - before < MAX_UNCERTAINTY_NS)
      return BigInt(nextWall) * 1_000_000n - (after + nextBefore) / 2n;
    [before, wall, after] = [nextBefore, nextWall, nextAfter];
  }
}
