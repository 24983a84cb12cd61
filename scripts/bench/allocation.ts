// The allocation suite (issue 15): a VIPPool, then N Services that name no address created at
// once, and for each Service the way from created (its create returned) to allocated (the bench's
// watch sees a VIPAllocation naming it) to answering (its address answers NDP on the LAN, asked by
// the client's sweep as in the scale suite, because one probe per address would overflow the
// kernel's neighbour table) and to its status written. Then the steady state with every Service
// allocated against the same agents with the pool and no Service: allocation must add no write
// (a pool's status is written only when it changes, an allocation only when its Service does).
import { KubeConfig } from "@kubernetes/client-node";
import { setTimeout as sleep } from "node:timers/promises";
import { agentWarnings, allocationPool, POOL_PREFIX } from "./allocation-analysis.ts";
import { watchAllocations } from "./allocation-watch.ts";
import { isWrite, totalPerSecond } from "./api-requests.ts";
import { BENCH_NAMESPACE, type BenchLab } from "./bench-lab.ts";
import type { Progress } from "./progress.ts";
import type { TimingProfile } from "./profiles.ts";
import type { AllocationRun, SteadyState } from "./results.ts";
import {
  createServices,
  deleteAllServices,
  measureWindow,
  SETTLE_MS,
  untilRequestQueuesEmpty,
  vipsHeld,
  type Window,
} from "./scale.ts";
import { startVipSweep } from "./vip-sweep.ts";

const POOL_NAME = "bench";
const POOL_READY_TIMEOUT_MS = 60_000;

function steadyState(window: Window): SteadyState {
  return {
    windowSeconds: window.seconds,
    rates: window.rates,
    writesPerSecond: totalPerSecond(window.rates, isWrite),
    readsPerSecond: totalPerSecond(window.rates, (rate) => !isWrite(rate)),
    usage: window.usage,
  };
}

async function untilPoolCounted(bench: BenchLab, progress: Progress): Promise<void> {
  const deadline = Date.now() + POOL_READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const total = await bench.cluster.kubectl([
      ...["get", "vippool", POOL_NAME, "-o", "jsonpath={.status.ipv6.total}"],
    ]);
    if (total !== "") return;
    progress.step("waiting for the pool's status");
    await sleep(500);
  }
  progress.log(`no agent wrote the status of VIPPool ${POOL_NAME} within ${POOL_READY_TIMEOUT_MS / 1000} s`);
}

const serviceName = (index: number) => `alloc-${index}`;

export async function runAllocationSuite(
  bench: BenchLab,
  options: {
    readonly services: number;
    readonly profile: TimingProfile;
    readonly windowMs: number;
    readonly progress: Progress;
  },
): Promise<AllocationRun> {
  const { services: count, progress } = options;
  const pool = allocationPool(count);
  progress.phase(`allocation: ${count} Services from VIPPool ${pool.cidr}`);
  progress.step("starting fresh agents");
  await bench.startAgents(options.profile);
  // The agents' warnings from their start on; their output() keeps only its tail.
  const warnings: string[] = [];
  const keep = (line: string) => {
    if (/ (WARN|ERROR) /.test(line)) warnings.push(line);
  };
  for (const agent of bench.agents.values()) {
    agent.output().split("\n").forEach(keep);
    agent.onLine(keep);
  }
  const poolObject = {
    apiVersion: "vipd.io/v1alpha1",
    kind: "VIPPool",
    metadata: { name: POOL_NAME },
    spec: { addresses: [pool.cidr], autoAssign: false },
  };
  await bench.cluster.kubectl(["apply", "-f", "-"], JSON.stringify(poolObject));
  await untilPoolCounted(bench, progress);
  await untilRequestQueuesEmpty(bench, progress);
  await sleep(SETTLE_MS);
  const idle = steadyState(await measureWindow(bench, options.windowMs, progress));

  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(bench.cluster.api.kubeconfigPath);
  const watch = await watchAllocations(kubeConfig);
  const sweep = await startVipSweep(bench.lab, { vips: pool.addresses, workDir: bench.cluster.api.workDir });
  let sweeping = true;
  const stopSweep = async () => {
    if (sweeping) await sweep.stop();
    sweeping = false;
  };
  try {
    const { createdNs, createdAtNs, createMs } = await createServices(bench, {
      count,
      progress,
      service: (index) => ({ name: serviceName(index), annotations: { "vipd.io/pool": POOL_NAME } }),
    });
    const firstOf = (index: number) => watch.ledger.first(`${BENCH_NAMESPACE}/${serviceName(index)}`);
    const answeredNs = (index: number) => {
      const address = firstOf(index)?.address;
      return address === undefined ? undefined : sweep.answers().get(address);
    };
    const answerDeadline = Date.now() + 120_000 + count * 100;
    for (;;) {
      let allocated = 0;
      let answered = 0;
      for (let index = 0; index < count; index++) {
        if (firstOf(index) !== undefined) allocated += 1;
        if (answeredNs(index) !== undefined) answered += 1;
      }
      if (answered === count || Date.now() > answerDeadline) break;
      progress.step(`${allocated}/${count} allocated, ${answered}/${count} answering`);
      await sleep(100);
    }
    await stopSweep();
    progress.step("waiting for every status");
    const statusNs: (number | null)[] = [];
    for (let index = 0; index < count; index++) {
      const address = firstOf(index)?.address;
      const written =
        address === undefined
          ? undefined
          : await bench.status.waitFor(serviceName(index), {
              fromNs: createdNs,
              // Past the deadline only what has arrived counts: a thousand missing statuses must not
              // each be waited for.
              timeoutMs: Math.max(1, answerDeadline - Date.now()),
              done: (change) => change.holder !== undefined && change.ingress.includes(address),
            });
      statusNs.push(written?.atNs ?? null);
    }
    await untilRequestQueuesEmpty(bench, progress);
    await sleep(SETTLE_MS);
    const loaded = steadyState(await measureWindow(bench, options.windowMs, progress));
    const spread = await vipsHeld(bench, POOL_PREFIX);
    const since = (atNs: number | null | undefined) =>
      atNs === null || atNs === undefined ? null : Math.round((atNs - createdNs) / 1e5) / 10;
    const indices = Array.from({ length: count }, (_, index) => index);
    const run: AllocationRun = {
      services: count,
      nodes: bench.lab.nodes.length,
      pool: pool.cidr,
      createMs,
      createdAtMs: createdAtNs.map((atNs) => since(atNs) ?? 0),
      allocatedAtMs: indices.map((index) => since(firstOf(index)?.atNs)),
      addresses: indices.map((index) => firstOf(index)?.address ?? null),
      answeredAtMs: indices.map((index) => since(answeredNs(index))),
      statusAtMs: statusNs.map(since),
      sharedAddresses: watch.ledger.sharedAddresses(),
      doubleAllocations: watch.ledger.doubleAllocations(),
      spread,
      idle,
      loaded,
      agentWarnings: agentWarnings(warnings.join("\n")),
    };
    for (let index = 0; index < count; index++) bench.status.forget(serviceName(index));
    return run;
  } finally {
    watch.stop();
    await stopSweep();
    await deleteAllServices(bench, progress, POOL_PREFIX);
    await bench.cluster.kubectl(["delete", "vippool", POOL_NAME, "--ignore-not-found"]);
  }
}
