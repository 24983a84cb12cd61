// The failover scenarios of issue 5 §1 by name, with what each one promises. The drivers that
// inject the faults live in scenarios.ts; this table is what options, reports and plots read.

export type ScenarioName =
  | "polite-handover"
  | "node-death"
  | "agent-crash-restart"
  | "agent-crash-expire"
  | "agent-freeze-resume"
  | "agent-freeze-expire"
  | "api-partition"
  | "api-server-down"
  | "lan-carrier-loss";

export interface ScenarioInfo {
  readonly name: ScenarioName;
  readonly title: string;
  /** What was done to the holder. */
  readonly fault: string;
  /**
   * takeover: another node must serve, and the outage is the figure; hold: the holder must keep
   * serving with no outage at all (issue 3's targets for scenarios 4–6).
   */
  readonly expectation: "takeover" | "hold";
}

export const SCENARIOS: readonly ScenarioInfo[] = [
  {
    name: "polite-handover",
    title: "Polite handover",
    fault: "SIGTERM of the holder's agent",
    expectation: "takeover",
  },
  {
    name: "node-death",
    title: "Node death",
    fault: "SIGKILL of the holder's agent, its LAN and management links down",
    expectation: "takeover",
  },
  {
    name: "agent-crash-restart",
    title: "Agent crash, restarted in time",
    fault: "SIGKILL of the holder's agent, restarted after D + 2P, before the address lifetime ends",
    expectation: "hold",
  },
  {
    name: "agent-crash-expire",
    title: "Agent crash, not restarted",
    fault: "SIGKILL of the holder's agent, left dead until its VIP's lifetime runs out",
    expectation: "takeover",
  },
  {
    name: "agent-freeze-resume",
    title: "Agent freeze, resumed in time",
    fault: "SIGSTOP of the holder's agent, SIGCONT after D + 2P, before the address lifetime ends",
    expectation: "hold",
  },
  {
    name: "agent-freeze-expire",
    title: "Agent freeze, resumed late",
    fault: "SIGSTOP of the holder's agent until another node serves, then SIGCONT",
    expectation: "takeover",
  },
  {
    name: "api-partition",
    title: "API partition of the holder",
    fault: "the holder's management link down for D + 4P, then healed",
    expectation: "hold",
  },
  {
    name: "api-server-down",
    title: "API server down",
    fault: "kube-apiserver killed (SIGKILL) for the configured time, then started again",
    expectation: "hold",
  },
  {
    name: "lan-carrier-loss",
    title: "LAN carrier loss",
    fault: "the holder's LAN link loses carrier until another node serves",
    expectation: "takeover",
  },
];

export const SCENARIO_NAMES: readonly ScenarioName[] = SCENARIOS.map((scenario) => scenario.name);

export function scenarioInfo(name: ScenarioName): ScenarioInfo {
  const found = SCENARIOS.find((scenario) => scenario.name === name);
  if (found === undefined) throw new Error(`no scenario named ${name}`);
  return found;
}
