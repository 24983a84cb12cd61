// Runs inside a node's namespace: reads the node's addresses every few milliseconds (getifaddrs,
// no process spawned per sample) and prints a JSON line whenever the watched IP appears or goes.
// It sees addresses on interfaces that are up and running — exactly those the node can answer on.
import { networkInterfaces } from "node:os";
import { parseArgs } from "node:util";
import { monotonicMs } from "./clock.ts";

const { values } = parseArgs({ options: { ip: { type: "string" }, interval: { type: "string" } } });
const ip = values.ip ?? "";
const intervalMs = Number(values.interval ?? "5");

function present(): boolean {
  return Object.values(networkInterfaces()).some((addresses) =>
    addresses?.some((entry) => entry.address === ip),
  );
}

let last: boolean | undefined;
let samples = 0;
const sample = () => {
  const now = present();
  samples += 1;
  if (now !== last) {
    last = now;
    process.stdout.write(`${JSON.stringify({ timeMs: monotonicMs(), present: now, samples })}\n`);
  }
};
sample();
process.stdout.write("sampler started\n");
setInterval(sample, intervalMs);
