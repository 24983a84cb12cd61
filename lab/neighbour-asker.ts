// A client that keeps asking who has each of a set of IPs (neighbour-asker-main.ts): the questions
// that let the wire observer see two nodes answering for one address, whoever else is talking.
import { canonicalIp } from "./ip-address.ts";
import type { LabProcess, ProcessGroup } from "./process.ts";

const ASKER_MAIN = new URL("neighbour-asker-main.ts", import.meta.url).pathname;
const READY_TIMEOUT_MS = 10_000;

export interface NeighbourAsker {
  readonly process: LabProcess;
  stop(): Promise<void>;
}

export async function startNeighbourAsker(
  group: ProcessGroup,
  options: { netns: string; ifname: string; ips: readonly string[]; intervalMs?: number },
): Promise<NeighbourAsker> {
  const child = group.spawn(
    options.netns,
    [
      process.execPath,
      ASKER_MAIN,
      `--targets=${options.ips.map(canonicalIp).join(",")}`,
      `--ifname=${options.ifname}`,
      `--interval=${options.intervalMs ?? 250}`,
    ],
    { name: `asker ${options.netns}` },
  );
  await child.waitForLine(/^asker started$/, READY_TIMEOUT_MS);
  let stopping: Promise<void> | undefined;
  const stop = async () => {
    child.endInput();
    const exit = await child.exited;
    if (exit.code !== 0)
      throw new Error(`${child.name} failed (${exit.code ?? exit.signal ?? ""}):\n${child.output()}`);
  };
  return { process: child, stop: () => (stopping ??= stop()) };
}
