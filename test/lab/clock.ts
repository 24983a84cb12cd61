// One clock for every lab observation: CLOCK_MONOTONIC in milliseconds. Node's hrtime reads it, and
// it is shared by all processes on the machine whatever their network namespace, so times recorded
// by the probe, the samplers and the test process compare directly.
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
