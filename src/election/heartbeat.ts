// This node's heartbeat Lease (`vipd-node-<node>`): renewed every retry period with one write, so
// the API load of liveness grows with nodes, not Services. It also keeps the facts rule 1 needs —
// when the last successful renewal *started*, and whether the API server has been unreachable ever
// since — and reports when they change what this node may do. It carries the MACs of the node's
// VIP-capable interfaces too, so that every agent can tell another agent on the wire from a foreign
// host (foreign-hosts.ts): they ride on the renewal's one write, with no write of their own.
import { V1MicroTime, type V1Lease } from "@kubernetes/client-node";
import type { Cancel, Clock } from "../clock/clock.ts";
import { classifyApiError, describeApiError, type ApiFailure } from "../kube/errors.ts";
import { leaseVersionOf, type LeaseApi } from "../kube/leases.ts";
import type { OwnHeartbeat } from "./decide.ts";
import {
  ELECTION_PER_ADDRESS,
  HEARTBEAT_ANNOTATION_ELECTION,
  HEARTBEAT_COMPONENT,
  heartbeatLeaseName,
  LEASE_LABEL_COMPONENT,
  LEASE_LABEL_NODE,
  labelValue,
} from "./lease-names.ts";

/** The heartbeat Lease's annotation with the node's MACs, comma-separated; 0.1.0 agents write none. */
export const HEARTBEAT_ANNOTATION_MACS = "vipd.io/macs";

/** The MACs a heartbeat Lease publishes, lower case; null when it publishes none (a 0.1.0 agent). */
export function publishedMacs(lease: V1Lease): string[] | null {
  const value = lease.metadata?.annotations?.[HEARTBEAT_ANNOTATION_MACS];
  if (value === undefined) return null;
  return value
    .split(",")
    .map((mac) => mac.trim().toLowerCase())
    .filter((mac) => mac !== "");
}

export interface HeartbeatTimings {
  readonly leaseDuration: number;
  readonly renewDeadline: number;
  readonly retryPeriod: number;
}

export interface HeartbeatOptions {
  readonly leases: LeaseApi;
  readonly node: string;
  readonly timings: HeartbeatTimings;
  /** Times the renewals and the lapse of confirmation; renewTime stays wall-clock, for people. */
  readonly clock: Clock;
  /** Called when the node becomes or stops being confirmed, or the API server's reachability flips. */
  readonly onChange: (state: OwnHeartbeat) => void;
  /**
   * A renewal failed; it is tried again next retry period. `repeated`: the attempt before failed the
   * same way (a 403 while RBAC propagates comes back every period, and is worth one log line).
   */
  readonly onFailure?: (failure: ApiFailure, error: unknown, repeated: boolean) => void;
  /** The MACs of this node's VIP-capable interfaces, as of now; read for each write. */
  readonly macs: () => readonly string[];
}

/**
 * What stop() did with the Lease. `released`: this node's Lease is gone (deleted, or found gone at
 * the delete); `gone`: there was none to delete; `held-by-other`: it names another node now, and is
 * that node's; `kept`: no release was asked for; `failed`: the API server refused or did not answer,
 * and the Lease lapses after the lease duration instead.
 */
export type HeartbeatRelease =
  | { readonly outcome: "released" | "gone" | "kept" }
  | { readonly outcome: "held-by-other"; readonly holder: string | null }
  | { readonly outcome: "failed"; readonly failure: ApiFailure; readonly error: string };

interface Reported {
  readonly confirmed: boolean;
  readonly apiUnreachable: boolean;
}

/**
 * How long one renewal request may take. A renewal counts from when it started, so a slow one that
 * succeeds within R still confirms the node; cutting it at P instead turned a busy API server into
 * lapses and withdrawn VIPs (and an aborted HTTP/1.1 request takes its connection with it). It ends
 * P before R so that a holder waiting on it (rule 1's wait for a renewal in flight, up to R after
 * its start) learns in time that the API server is unreachable and keeps its VIPs in degraded hold.
 */
export function renewalTimeout(timings: HeartbeatTimings): number {
  return timings.renewDeadline - timings.retryPeriod;
}

export class Heartbeat {
  readonly name: string;
  readonly #options: HeartbeatOptions;
  #lease: V1Lease | null = null;
  #lastRenewalStartedAt: number | null = null;
  #renewalInFlightSince: number | null = null;
  #failuresSinceSuccess = 0;
  #allFailuresUnreachable = true;
  /** How the last attempt failed; null after a success. */
  #lastFailure: string | null = null;
  #reported: Reported = { confirmed: false, apiUnreachable: false };
  #cancelLapse: Cancel | undefined;
  #cancelLoop: Cancel | undefined;
  /** The renewal under way, if any: a release waits for it, or its write would race the delete. */
  #renewal: Promise<ApiFailure | null> | undefined;
  #running = false;

  constructor(options: HeartbeatOptions) {
    this.#options = options;
    this.name = heartbeatLeaseName(options.node);
  }

  state(): OwnHeartbeat {
    return {
      lastRenewalStartedAt: this.#lastRenewalStartedAt,
      apiUnreachable: this.#failuresSinceSuccess > 0 && this.#allFailuresUnreachable,
      renewalInFlightSince: this.#renewalInFlightSince,
    };
  }

  /** One renewal (create if missing); on a conflict it re-reads once and tries again. */
  renewOnce(): Promise<ApiFailure | null> {
    const renewal = this.#renew();
    this.#renewal = renewal;
    return renewal;
  }

  async #renew(): Promise<ApiFailure | null> {
    const startedAt = this.#options.clock.now();
    this.#renewalInFlightSince = startedAt;
    for (let attempt = 0; ; attempt++) {
      try {
        const current = this.#lease ?? (await this.#options.leases.get(this.name));
        this.#lease =
          current === null
            ? await this.#options.leases.create(this.#fresh())
            : await this.#options.leases.replace(this.#renewed(current));
        this.#forgetUnseenLapse();
        this.#lastRenewalStartedAt = startedAt;
        this.#renewalInFlightSince = null;
        this.#failuresSinceSuccess = 0;
        this.#allFailuresUnreachable = true;
        this.#lastFailure = null;
        this.#report();
        return null;
      } catch (error) {
        const failure = classifyApiError(error);
        if (failure === "conflict" || failure === "not-found") this.#lease = null;
        if (failure === "conflict" && attempt === 0) continue;
        this.#renewalInFlightSince = null;
        this.#failuresSinceSuccess += 1;
        this.#allFailuresUnreachable &&= failure === "unreachable";
        const described = describeApiError(error);
        this.#options.onFailure?.(failure, error, described === this.#lastFailure);
        this.#lastFailure = described;
        this.#report();
        return failure;
      }
    }
  }

  /** Renews every retry period until stop(); a slow attempt delays the next, never overlaps it. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const loop = async (): Promise<void> => {
      const { clock, timings } = this.#options;
      const startedAt = clock.now();
      await this.renewOnce();
      if (!this.#running) return;
      this.#cancelLoop = clock.after(startedAt + timings.retryPeriod - clock.now(), () => void loop());
    };
    void loop();
  }

  /**
   * Stops renewing; with release, deletes this node's Lease so that others need not wait a lease
   * duration for it. The renewal in flight settles first: a delete at the version it started from
   * gets 409 Conflict once the renewal lands, and the Lease would outlive the agent by that wait.
   */
  async stop(options: { release: boolean }): Promise<HeartbeatRelease> {
    this.#running = false;
    this.#cancelLoop?.();
    await this.#renewal;
    // Only now: the renewal that settles reports, which arms the lapse timer again.
    this.#cancelLapse?.();
    if (!options.release) return { outcome: "kept" };
    return this.#release().catch((error: unknown) => ({
      outcome: "failed",
      failure: classifyApiError(error),
      error: describeApiError(error),
    }));
  }

  // A compare-and-swap delete at the version last written or read. On a conflict another writer
  // changed the Lease (a new agent of this node, an operator): it is read once more, and deleted at
  // its fresh version only while it still names this node, as client-go's release re-reads. With no
  // version to start from (nothing written yet, or the last renewal found the Lease changed or
  // gone) that read comes first.
  async #release(): Promise<HeartbeatRelease> {
    const { leases, node } = this.#options;
    if (this.#lease !== null) {
      try {
        await leases.delete(leaseVersionOf(this.#lease));
        return { outcome: "released" };
      } catch (error) {
        if (classifyApiError(error) !== "conflict") throw error;
      }
    }
    const current = await leases.get(this.name);
    if (current === null) return { outcome: "gone" };
    const holder = current.spec?.holderIdentity ?? null;
    if (holder !== node) return { outcome: "held-by-other", holder };
    await leases.delete(leaseVersionOf(current));
    return { outcome: "released" };
  }

  // A busy event loop can run the success of a late renewal before the lapse timer: confirmation
  // then lapsed by the clock, and reconciles that read the clock meanwhile decided this node may not
  // hold or claim, but no change was reported, so nothing would wake them when it is back. Counting
  // the lapse as reported makes this renewal report the return.
  #forgetUnseenLapse(): void {
    const { clock, timings } = this.#options;
    const previous = this.#lastRenewalStartedAt;
    if (previous === null || clock.now() < previous + timings.renewDeadline) return;
    this.#reported = { ...this.#reported, confirmed: false };
  }

  #report(): void {
    const { clock, timings } = this.#options;
    const now = clock.now();
    const { lastRenewalStartedAt, apiUnreachable } = this.state();
    const confirmed = lastRenewalStartedAt !== null && now - lastRenewalStartedAt < timings.renewDeadline;
    this.#cancelLapse?.();
    if (confirmed) {
      // Rule 1 ends confirmation at start + R even if no attempt finishes by then (a hung request).
      this.#cancelLapse = clock.after(lastRenewalStartedAt + timings.renewDeadline - now, () => {
        this.#report();
      });
    }
    if (confirmed === this.#reported.confirmed && apiUnreachable === this.#reported.apiUnreachable) return;
    this.#reported = { confirmed, apiUnreachable };
    this.#options.onChange(this.state());
  }

  #macAnnotation(): Record<string, string> {
    const macs = this.#options.macs();
    const published = [...new Set(macs.map((mac) => mac.toLowerCase()))].sort();
    return { [HEARTBEAT_ANNOTATION_MACS]: published.join(",") };
  }

  #fresh(): V1Lease {
    const now = new V1MicroTime();
    return {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: {
        name: this.name,
        labels: {
          [LEASE_LABEL_COMPONENT]: HEARTBEAT_COMPONENT,
          [LEASE_LABEL_NODE]: labelValue(this.#options.node),
        },
        annotations: { [HEARTBEAT_ANNOTATION_ELECTION]: ELECTION_PER_ADDRESS, ...this.#macAnnotation() },
      },
      spec: {
        holderIdentity: this.#options.node,
        leaseDurationSeconds: Math.ceil(this.#options.timings.leaseDuration / 1000),
        acquireTime: now,
        renewTime: now,
      },
    };
  }

  // renewTime is written for people reading `kubectl get lease`; no agent trusts it (rule 2). The
  // marker goes on a Lease an older agent of this node left, so nobody takes this one for 0.1.0.
  #renewed(current: V1Lease): V1Lease {
    return {
      ...current,
      metadata: {
        ...current.metadata,
        annotations: {
          ...current.metadata?.annotations,
          [HEARTBEAT_ANNOTATION_ELECTION]: ELECTION_PER_ADDRESS,
          ...this.#macAnnotation(),
        },
      },
      spec: {
        ...current.spec,
        holderIdentity: this.#options.node,
        leaseDurationSeconds: Math.ceil(this.#options.timings.leaseDuration / 1000),
        renewTime: new V1MicroTime(),
      },
    };
  }
}
