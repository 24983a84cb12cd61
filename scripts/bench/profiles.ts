// Timing profiles the failover suite runs under, as `vipd run` flags. D, R and P follow docs/design.md's
// election; every profile must pass the agent's own validation (src/config/schema.ts): D > R >
// 1.2 × P and an address lifetime of at least 3 × P.

export interface TimingProfile {
  readonly name: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  /** The VIP's valid lifetime: how long a dead agent's node keeps answering (the dead-man switch). */
  readonly addressLifetimeMs: number;
}

// The agent's defaults, which are also what most kube-vip manifests use; the address lifetime is
// the agent's default too. Latency and scale are measured with it.
export const DEFAULT_PROFILE: TimingProfile = {
  name: "default",
  leaseDurationMs: 5000,
  renewDeadlineMs: 3000,
  retryPeriodMs: 1000,
  addressLifetimeMs: 30_000,
};

export const PROFILES: Readonly<Record<string, TimingProfile>> = {
  default: DEFAULT_PROFILE,
  // For operators who trade API writes for speed. The lifetime stays a few seconds above D, so an
  // agent restarted after D can still re-adopt its VIP before it expires.
  fast: {
    name: "fast",
    leaseDurationMs: 2000,
    renewDeadlineMs: 1200,
    retryPeriodMs: 400,
    addressLifetimeMs: 6000,
  },
};

export function agentArgs(profile: TimingProfile): string[] {
  return [
    `--lease-duration=${profile.leaseDurationMs}ms`,
    `--renew-deadline=${profile.renewDeadlineMs}ms`,
    `--retry-period=${profile.retryPeriodMs}ms`,
    `--address-lifetime=${profile.addressLifetimeMs}ms`,
  ];
}

export function describeProfile(profile: TimingProfile): string {
  const seconds = (ms: number) => `${ms / 1000}s`;
  return (
    `D=${seconds(profile.leaseDurationMs)} R=${seconds(profile.renewDeadlineMs)} ` +
    `P=${seconds(profile.retryPeriodMs)} lifetime=${seconds(profile.addressLifetimeMs)}`
  );
}
