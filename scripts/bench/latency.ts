// Service created → VIP answering, and → status written (issue 5 §2), one Service at a time so
// that each figure is the agents' reaction to one event, not a queue: the probe is running before
// the Service is created, and the clock starts when the create request is sent.
import { setTimeout as sleep } from "node:timers/promises";
import { monotonicNs } from "../../lab/index.ts";
import { BENCH_NAMESPACE, serviceBody, type BenchLab } from "./bench-lab.ts";
import { PROBE_INTERVAL_MS } from "./failover.ts";
import type { Progress } from "./progress.ts";
import type { TimingProfile } from "./profiles.ts";
import type { LatencySample } from "./results.ts";

const ANSWER_TIMEOUT_MS = 30_000;

export async function runLatencySuite(
  bench: BenchLab,
  options: {
    readonly services: number;
    readonly profile: TimingProfile;
    readonly vip: (index: number) => string;
    readonly progress: Progress;
  },
): Promise<LatencySample[]> {
  const { lab, status } = bench;
  options.progress.phase(`latency: starting agents (${options.profile.name})`);
  await bench.startAgents(options.profile);
  const samples: LatencySample[] = [];
  for (let index = 0; index < options.services; index++) {
    options.progress.phase(`latency ${index + 1}/${options.services}`);
    const vip = options.vip(index);
    const name = `latency-${index}`;
    // A neighbour entry left from an earlier use of the VIP would point at its old holder.
    await lab.exec(lab.client.netns, ["ip", "neigh", "del", vip, "dev", lab.client.ifname], {
      allowFailure: true,
    });
    const probe = await lab.probe({ target: vip, intervalMs: PROBE_INTERVAL_MS });
    const createdNs = monotonicNs();
    await bench.core.createNamespacedService({
      namespace: BENCH_NAMESPACE,
      body: serviceBody({ name, namespace: BENCH_NAMESPACE, loadBalancerIP: vip }),
    });
    const first = await probe.waitFor((sample) => sample.node !== null, ANSWER_TIMEOUT_MS);
    const written = await status.waitFor(name, {
      fromNs: createdNs,
      timeoutMs: ANSWER_TIMEOUT_MS,
      done: (change) => change.holder !== undefined && change.ingress.includes(vip),
    });
    await probe.stop();
    if (written === undefined) throw new Error(`the status of ${name} was never written`);
    samples.push({
      vip,
      // Arrival, not send time: early requests wait in the client's neighbour queue until the VIP
      // is announced, and are answered then.
      answeredMs: (first.sentNs + (first.rttUs ?? 0) * 1000 - createdNs) / 1e6,
      statusMs: (written.atNs - createdNs) / 1e6,
    });
    await bench.core.deleteNamespacedService({ name, namespace: BENCH_NAMESPACE });
    status.forget(name);
    while ((await bench.holdersOf(vip)).length > 0) await sleep(50);
  }
  return samples;
}
