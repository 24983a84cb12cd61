// The results file, bench/results/<date>-<commit>.json: every raw measurement of a run and the
// environment it ran in, so that a report can be rendered again, or questioned, from it alone.
// Times are CLOCK_MONOTONIC nanoseconds as the lab records them, or milliseconds where a field
// says so.
import { execFileSync } from "node:child_process";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { cpus, release } from "node:os";
import { dirname, join } from "node:path";
import type { ClaimRun, DoubleAnswer, Holding, Overlap } from "../../lab/analysis.ts";
import type { RequestRate } from "./api-requests.ts";
import type { Isolation } from "./failover-analysis.ts";
import type { TimingProfile } from "./profiles.ts";
import type { RoutedFigures } from "./routed-analysis.ts";
import type { RoutedMode, RoutedScenarioName, RoutedTimers } from "./routed-catalogue.ts";
import type { ScenarioName } from "./scenario-catalogue.ts";

/** Consecutive probe requests with the same outcome: the probe's samples, run-length encoded. */
export interface ProbeRun {
  /** The node that answered, or null for requests that went unanswered. */
  readonly node: string | null;
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly fromNs: number;
  readonly toNs: number;
}

export interface Mark {
  readonly label: string;
  readonly atNs: number;
}

export interface FailoverRepetition {
  readonly scenario: ScenarioName;
  readonly profile: string;
  readonly repetition: number;
  readonly vip: string;
  readonly holderBefore: string;
  /** The node answering when the repetition ended. */
  readonly holderAfter: string | null;
  readonly faultNs: number;
  readonly endNs: number;
  /**
   * The longest time without an answer after the fault, in ms, from the arrival of the last
   * answer before a run of unanswered probes to the arrival of the first after it; 0 when no probe
   * went unanswered.
   */
  readonly outageMs: number;
  /** Probes sent after the fault that went unanswered. */
  readonly lostProbes: number;
  /** From the fault to the arrival of the first answer from another node; null when none came. */
  readonly faultToNewHolderMs: number | null;
  /** From the fault until status.loadBalancer.ingress and vipd.io/holder named the new holder. */
  readonly statusMs: number | null;
  /** Sum of the intervals in which two MACs answered one ARP/NDP question; must be 0. */
  readonly doubleAnswerMs: number;
  /**
   * Sum of the intervals in which two nodes' kernels held the VIP, less those in which one of them
   * had no LAN link (nobody could hear it); must be 0.
   */
  readonly overlapMs: number;
  /** When a node's LAN link was down during the repetition. */
  readonly isolations: readonly Isolation[];
  readonly marks: readonly Mark[];
  readonly probeIntervalMs: number;
  readonly probe: readonly ProbeRun[];
  readonly claims: readonly ClaimRun[];
  readonly doubleAnswers: readonly DoubleAnswer[];
  readonly holdings: readonly Holding[];
  readonly overlaps: readonly Overlap[];
  /** Said only when the repetition broke its scenario's promise: the agents' recent log lines. */
  readonly agentLogExcerpt?: string;
}

/**
 * One repetition of a routed scenario (issue 16 §4): a Service whose VIP is routed to the nodes by
 * the lab's router, many flows from the far client behind it, the router's route sampled, a fault
 * and its way back. The figures are RoutedFigures' (routed-analysis.ts).
 */
export interface RoutedRepetition extends RoutedFigures {
  readonly scenario: RoutedScenarioName;
  readonly mode: RoutedMode;
  readonly profile: string;
  readonly repetition: number;
  readonly vip: string;
  /** The node the fault was done to: the holder in bgp, one of the announcers in ecmp. */
  readonly faultNode: string;
  readonly bfd: boolean;
  readonly timers: RoutedTimers;
  readonly faultNs: number;
  /** When the way back began. */
  readonly backNs: number;
  readonly endNs: number;
  readonly intervalMs: number;
  readonly marks: readonly Mark[];
  /** Said only when the repetition broke its scenario's promise: the agents' recent log lines. */
  readonly agentLogExcerpt?: string;
}

export interface LatencySample {
  readonly vip: string;
  /** Service created (the create call returned) → first probe answer, ms. */
  readonly answeredMs: number;
  /** Service created → status.loadBalancer.ingress and vipd.io/holder written, ms. */
  readonly statusMs: number;
}

export interface AgentUsage {
  readonly node: string;
  readonly rssBytes: number;
  readonly cpuPercent: number;
  readonly eventLoopLagP99Ms: number | null;
  readonly eventLoopLagMaxMs: number | null;
}

export interface ScaleRun {
  readonly services: number;
  readonly nodes: number;
  /** 0 for the API server measured without agents. */
  readonly agents: number;
  /** From the first create call to the last one returning. */
  readonly createMs: number;
  /** From the first create to the last VIP answering ARP/NDP; null when some never answered. */
  readonly allAnsweredMs: number | null;
  readonly answered: number;
  /** From the first create to the last status written. */
  readonly allStatusMs: number | null;
  /** Each VIP's first answer, ms after the first create, in VIP order. */
  readonly answeredAtMs: readonly (number | null)[];
  /** When each VIP's create request returned, ms after the first create, in VIP order. */
  readonly createdAtMs?: readonly number[];
  readonly windowSeconds: number;
  readonly rates: readonly RequestRate[];
  readonly writesPerSecond: number;
  readonly readsPerSecond: number;
  readonly usage: readonly AgentUsage[];
  /** VIPs each node held at the end of the window. */
  readonly spread: Readonly<Record<string, number>>;
}

/** A steady-state window: what the API server counted over it, and what the agents used. */
export interface SteadyState {
  readonly windowSeconds: number;
  readonly rates: readonly RequestRate[];
  readonly writesPerSecond: number;
  readonly readsPerSecond: number;
  readonly usage: readonly AgentUsage[];
}

/**
 * The allocation suite (issue 15): Services that name no address created at once, each given one
 * from a VIPPool. Per-Service arrays are in Service order (alloc-0, alloc-1, …), in ms after the
 * first create request, rounded to 0.1 ms; null where it never happened within the run.
 */
export interface AllocationRun {
  readonly services: number;
  readonly nodes: number;
  /** The pool's one CIDR. */
  readonly pool: string;
  /** From the first create call to the last one returning. */
  readonly createMs: number;
  /** When each create request returned. */
  readonly createdAtMs: readonly number[];
  /** When the bench's watch first saw a VIPAllocation naming the Service. */
  readonly allocatedAtMs: readonly (number | null)[];
  /** The address of that first allocation. */
  readonly addresses: readonly (string | null)[];
  /** When that address first answered NDP from the client. */
  readonly answeredAtMs: readonly (number | null)[];
  /** When status.loadBalancer.ingress showed the address and vipd.io/holder a node. */
  readonly statusAtMs: readonly (number | null)[];
  /** An address given to two Services without a sharing key: must stay empty. */
  readonly sharedAddresses: readonly string[];
  /** A Service named by two unreleased allocations of one family at once (the allocator releases one). */
  readonly doubleAllocations: readonly string[];
  /** Pool addresses each node held at the end of the loaded window. */
  readonly spread: Readonly<Record<string, number>>;
  /** Idle agents and the pool, no Service. */
  readonly idle: SteadyState;
  /** The same agents with every Service allocated and served. */
  readonly loaded: SteadyState;
  /** The agents' WARN and ERROR lines over the run, each message once. */
  readonly agentWarnings: readonly string[];
}

export interface Environment {
  readonly date: string;
  readonly commit: string;
  /** Uncommitted changes in the tree the bench ran from. */
  readonly dirty: boolean;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly node: string;
  readonly kubernetes: string;
}

export interface RunRecord {
  readonly environment: Environment;
  readonly argv: readonly string[];
  readonly startedAt: string;
  readonly durationMs: number;
  readonly nodes: number;
}

/** A measurement that could not be made, and why: kept, so that a table never hides its gaps. */
export interface BenchError {
  readonly what: string;
  readonly message: string;
}

export interface BenchResults {
  readonly version: 1;
  readonly runs: RunRecord[];
  readonly profiles: TimingProfile[];
  readonly apiDownMs: number;
  readonly failover: FailoverRepetition[];
  readonly routed: RoutedRepetition[];
  readonly latency: LatencySample[];
  readonly scale: ScaleRun[];
  readonly allocation: AllocationRun[];
  readonly errors: BenchError[];
}

function git(args: readonly string[]): string {
  return execFileSync("git", args, { encoding: "utf8" }).trim();
}

export function environment(kubernetes: string): Environment {
  return {
    date: new Date().toISOString(),
    commit: git(["rev-parse", "--short=12", "HEAD"]),
    dirty: git(["status", "--porcelain", "--untracked-files=no"]) !== "",
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    kernel: release(),
    node: process.version,
    kubernetes,
  };
}

export function emptyResults(): BenchResults {
  return {
    version: 1,
    runs: [],
    profiles: [],
    apiDownMs: 0,
    failover: [],
    routed: [],
    latency: [],
    scale: [],
    allocation: [],
    errors: [],
  };
}

/** bench/results/2026-11-23-1a2b3c4d5e6f.json */
export function resultsPath(outDir: string, env: Environment): string {
  return join(outDir, `${env.date.slice(0, 10)}-${env.commit}.json`);
}

export async function readResults(path: string): Promise<BenchResults> {
  const parsed = JSON.parse(await readFile(path, "utf8")) as { version?: unknown };
  if (parsed.version !== 1) throw new Error(`${path}: not a version 1 results file`);
  return { ...emptyResults(), ...(parsed as Partial<BenchResults>) };
}

/** Written whole or not at all: the file is rewritten after every measurement of a long run. */
export async function writeResults(path: string, results: BenchResults): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const partial = `${path}.partial`;
  await writeFile(partial, `${JSON.stringify(results)}\n`);
  await rename(partial, path);
}
