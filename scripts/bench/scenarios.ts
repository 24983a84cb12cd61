// The faults of the failover suite, each with its way back: every driver leaves the lab as it
// found it (all agents running, all links up, the API server serving), and does so while the
// observers still watch, because a node or an agent coming back is a moment of risk too.
import { setTimeout as sleep } from "node:timers/promises";
import type { LabNode, LabProcess } from "../../lab/index.ts";
import type { BenchLab } from "./bench-lab.ts";
import type { TimingProfile } from "./profiles.ts";
import type { ScenarioName } from "./scenario-catalogue.ts";

export interface ScenarioContext {
  readonly bench: BenchLab;
  readonly holder: LabNode;
  readonly agent: LabProcess;
  readonly profile: TimingProfile;
  readonly apiDownMs: number;
  /** Records a moment of the scenario (the fault, a recovery step) for the timeline. */
  mark(label: string): void;
  /** The node's LAN link loses carrier; recorded, because a node nobody can hear may hold the VIP. */
  lanDown(node: LabNode): Promise<void>;
  lanUp(node: LabNode): Promise<void>;
  /** The first node other than the holder to answer the probe after the fault; null on timeout. */
  waitForAnotherNode(timeoutMs: number): Promise<string | null>;
  /** Says what the scenario is doing, for the progress line. */
  step(what: string): void;
}

type Driver = (context: ScenarioContext) => Promise<void>;

// How long a takeover may take before the repetition is recorded as one that never happened: the
// slowest promised path (the VIP's lifetime, then D, then fencing) with room for a busy machine.
function takeoverTimeoutMs(profile: TimingProfile): number {
  return profile.addressLifetimeMs + profile.leaseDurationMs + 30_000;
}

// Long enough that every candidate has seen the holder's heartbeat dead (D) and has fenced a few
// times: a takeover that the wire fence failed to stop would happen inside it.
function pastLeaseMs(profile: TimingProfile): number {
  return profile.leaseDurationMs + 2 * profile.retryPeriodMs;
}

async function bringBack(context: ScenarioContext): Promise<void> {
  context.bench.restartAgent(context.holder);
  context.mark("agent restarted");
  context.step("waiting for the restarted agent to be ready");
  await context.bench.waitReady();
}

async function takeover(context: ScenarioContext): Promise<void> {
  context.step("waiting for another node to answer");
  await context.waitForAnotherNode(takeoverTimeoutMs(context.profile));
}

const DRIVERS: Readonly<Record<ScenarioName, Driver>> = {
  "polite-handover": async (context) => {
    context.bench.lab.signal(context.agent, "SIGTERM");
    await takeover(context);
    await context.agent.exited;
    await bringBack(context);
  },
  "node-death": async (context) => {
    const { lab } = context.bench;
    lab.signal(context.agent, "SIGKILL");
    await Promise.all([context.lanDown(context.holder), lab.cutApi(context.holder)]);
    await takeover(context);
    // The node comes back as after a reboot: its agent first (which sweeps the VIP it no longer
    // owns), then its LAN link.
    await lab.healApi(context.holder);
    context.mark("management link up");
    await bringBack(context);
    await context.lanUp(context.holder);
  },
  "agent-crash-restart": async (context) => {
    context.bench.lab.signal(context.agent, "SIGKILL");
    context.step("agent dead, waiting past the lease");
    await sleep(pastLeaseMs(context.profile));
    await bringBack(context);
  },
  "agent-crash-expire": async (context) => {
    context.bench.lab.signal(context.agent, "SIGKILL");
    await takeover(context);
    await bringBack(context);
  },
  "agent-freeze-resume": async (context) => {
    context.bench.lab.signal(context.agent, "SIGSTOP");
    context.step("agent frozen, waiting past the lease");
    await sleep(pastLeaseMs(context.profile));
    context.bench.lab.signal(context.agent, "SIGCONT");
    context.mark("SIGCONT");
  },
  "agent-freeze-expire": async (context) => {
    context.bench.lab.signal(context.agent, "SIGSTOP");
    await takeover(context);
    context.bench.lab.signal(context.agent, "SIGCONT");
    context.mark("SIGCONT");
  },
  "api-partition": async (context) => {
    const { lab } = context.bench;
    await lab.cutApi(context.holder);
    context.step("holder cut off from the API server");
    await sleep(context.profile.leaseDurationMs + 4 * context.profile.retryPeriodMs);
    await lab.healApi(context.holder);
    context.mark("management link up");
  },
  "api-server-down": async (context) => {
    const { api } = context.bench.cluster;
    api.kill("SIGKILL");
    context.step("API server down");
    await sleep(context.apiDownMs);
    context.mark("API server starting");
    context.step("API server starting");
    await api.restart();
    context.mark("API server ready");
  },
  "lan-carrier-loss": async (context) => {
    await context.lanDown(context.holder);
    await takeover(context);
    await context.lanUp(context.holder);
  },
};

export function injectFault(name: ScenarioName, context: ScenarioContext): Promise<void> {
  return DRIVERS[name](context);
}
