// The failover scenarios of issue 16 §4 by name: bgp and ecmp behind the lab's router, with what
// each one does and the BGP timers it runs with. The drivers live in routed.ts; this table is what
// options and reports read.

export type RoutedMode = "bgp" | "ecmp";

export type RoutedScenarioName =
  | "bgp-polite-handover"
  | "bgp-node-death-bfd"
  | "bgp-node-death-hold"
  | "ecmp-polite-handover"
  | "ecmp-node-death-bfd"
  | "ecmp-node-death-hold";

export type RoutedFault = "polite-handover" | "node-death";

export interface RoutedScenarioInfo {
  readonly name: RoutedScenarioName;
  readonly mode: RoutedMode;
  readonly fault: RoutedFault;
  /** BFD between the nodes' BIRDs and the router; without it only the hold timer notices a dead peer. */
  readonly bfd: boolean;
  readonly title: string;
  /** What was done to the node. */
  readonly what: string;
}

/**
 * The BGP timers every routed scenario runs with, as vipd flags: a hold time far below BGP's usual
 * 90 s (or BIRD's 240 s), so that a dead node without BFD is noticed within a repetition, and the
 * BFD timers that are vipd's defaults. The router's side (lab/bird.ts) asks for 100 ms × 3.
 */
export const ROUTED_TIMERS = {
  holdTimeS: 9,
  keepaliveS: 3,
  bfdIntervalMs: 300,
  bfdMultiplier: 3,
} as const;

export type RoutedTimers = typeof ROUTED_TIMERS;

const DEATH = "the node's LAN link down, then SIGKILL of its agent and its BIRD, its management link down";

export const ROUTED_SCENARIOS: readonly RoutedScenarioInfo[] = [
  {
    name: "bgp-polite-handover",
    mode: "bgp",
    fault: "polite-handover",
    bfd: true,
    title: "bgp: polite handover",
    what: "SIGTERM of the holder's agent",
  },
  {
    name: "bgp-node-death-bfd",
    mode: "bgp",
    fault: "node-death",
    bfd: true,
    title: "bgp: node death, BFD on",
    what: `holder node: ${DEATH}`,
  },
  {
    name: "bgp-node-death-hold",
    mode: "bgp",
    fault: "node-death",
    bfd: false,
    title: "bgp: node death, BFD off (hold timer)",
    what: `holder node: ${DEATH}`,
  },
  {
    name: "ecmp-polite-handover",
    mode: "ecmp",
    fault: "polite-handover",
    bfd: true,
    title: "ecmp: polite stop of one node",
    what: "SIGTERM of one node's agent",
  },
  {
    name: "ecmp-node-death-bfd",
    mode: "ecmp",
    fault: "node-death",
    bfd: true,
    title: "ecmp: node death, BFD on",
    what: `one node: ${DEATH}`,
  },
  {
    name: "ecmp-node-death-hold",
    mode: "ecmp",
    fault: "node-death",
    bfd: false,
    title: "ecmp: node death, BFD off (hold timer)",
    what: `one node: ${DEATH}`,
  },
];

export const ROUTED_SCENARIO_NAMES: readonly RoutedScenarioName[] = ROUTED_SCENARIOS.map(
  (scenario) => scenario.name,
);

export function routedScenarioInfo(name: RoutedScenarioName): RoutedScenarioInfo {
  const found = ROUTED_SCENARIOS.find((scenario) => scenario.name === name);
  if (found === undefined) throw new Error(`no routed scenario named ${name}`);
  return found;
}

/** The `vipd run` flags of a scenario's mode and BFD choice, for a node whose BIRD is at birdPaths. */
export function routedAgentArgs(options: {
  readonly mode: RoutedMode;
  readonly bfd: boolean;
  readonly timers: RoutedTimers;
  readonly routerAddress: string;
  readonly routerAsn: number;
  readonly nodeAsn: number;
  readonly bird: { readonly socketPath: string; readonly configPath: string };
}): string[] {
  const { timers } = options;
  return [
    `--announce-mode=${options.mode}`,
    "--bgp-speaker=bird",
    `--bird-socket=${options.bird.socketPath}`,
    `--bird-config=${options.bird.configPath}`,
    `--bgp-local-asn=${options.nodeAsn}`,
    `--bgp-peers=${options.routerAddress}:${options.routerAsn}`,
    `--bgp-hold-time=${timers.holdTimeS}s`,
    `--bgp-keepalive-time=${timers.keepaliveS}s`,
    `--bgp-bfd=${options.bfd}`,
    `--bgp-bfd-interval=${timers.bfdIntervalMs}ms`,
    `--bgp-bfd-multiplier=${timers.bfdMultiplier}`,
  ];
}
