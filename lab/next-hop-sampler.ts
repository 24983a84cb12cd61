// The router's view of a routed VIP over time: the next hops its kernel sends the VIP's packets to,
// read every few milliseconds from one long-lived `ip -json -batch -` in the router's namespace, so a
// test can tell whether a single-holder VIP ever had two next hops, and when they changed.
import { sampleNode } from "./address-sampler.ts";
import { canonicalIp } from "./ip-address.ts";
import type { ProcessGroup } from "./process.ts";
import { gatewaysOf } from "./router.ts";

export interface NextHopSample {
  /** CLOCK_MONOTONIC ns halfway between asking the kernel and hearing back. */
  readonly timeNs: number;
  /** The node addresses the route's next hops name, sorted; none without a route. */
  readonly hops: readonly string[];
}

export interface NextHopSampler {
  /** The next hops at the latest sample. */
  latest(): readonly string[];
  /** The samples at which the next hops changed (the first one included), by time. */
  changes(): readonly NextHopSample[];
  /** Every sample, by time. */
  stop(): Promise<NextHopSample[]>;
}

export async function startNextHopSampler(
  group: ProcessGroup,
  options: { readonly netns: string; readonly vip: string; readonly intervalMs?: number },
): Promise<NextHopSampler> {
  const vip = canonicalIp(options.vip);
  const family = vip.includes(":") ? "-6" : "-4";
  const child = group.spawn(options.netns, ["ip", family, "-json", "-batch", "-"], {
    name: `next hops of ${vip}`,
  });
  const samples: NextHopSample[] = [];
  const sampler = sampleNode({
    child,
    command: `route show ${vip}`,
    intervalNs: (options.intervalMs ?? 5) * 1e6,
    record: (line, timeNs) => samples.push({ timeNs, hops: gatewaysOf(line) }),
  });
  await sampler.first;
  let stopping: Promise<NextHopSample[]> | undefined;
  const stop = async () => {
    sampler.stop();
    const exit = await child.exited;
    if (exit.code !== 0)
      throw new Error(`${child.name} failed (${exit.code ?? exit.signal ?? ""}):\n${child.output()}`);
    return [...samples];
  };
  return {
    latest: () => samples.at(-1)?.hops ?? [],
    changes: () =>
      samples.filter(
        (sample, index) => index === 0 || sample.hops.join(" ") !== samples[index - 1]?.hops.join(" "),
      ),
    stop: () => (stopping ??= stop()),
  };
}
