// What a VIPPool's status says: its usage per family and its conditions, a pure function of the
// resolved pool and the allocations, and the loop that writes it. One agent writes (the
// allocator, allocator.ts), at most once per pass, and only what changed: a steady cluster sends
// no status writes at all, however many Services it has.
import { isDeepStrictEqual } from "node:util";
import type { CustomObjectsApi } from "@kubernetes/client-node";
import type { Cancel, Clock } from "../clock/clock.ts";
import { describeApiError } from "../kube/errors.ts";
import type { RequestLimiter } from "../kube/request-limiter.ts";
import { requestOptions } from "../kube/request-options.ts";
import type { Logger } from "../log/logger.ts";
import type { AllocationRecord } from "./allocation-index.ts";
import {
  VIP_POOL_PLURAL,
  VIPD_API_GROUP,
  VIPD_API_VERSION,
  type VipPool,
  type VipPoolCondition,
  type VipPoolStatus,
} from "./api.ts";
import { familyUsage, poolFamilies, type Pool } from "./pools.ts";

type ConditionFacts = Omit<VipPoolCondition, "lastTransitionTime" | "observedGeneration">;

function readiness(pool: Pool): ConditionFacts {
  if (pool.problems.length > 0)
    return { type: "Ready", status: "False", reason: "InvalidAddresses", message: pool.problems.join("; ") };
  if (pool.disabled)
    return {
      type: "Ready",
      status: "False",
      reason: "Disabled",
      message: "spec.disabled: hands out nothing new",
    };
  if (pool.ranges.length === 0)
    return {
      type: "Ready",
      status: "False",
      reason: "NoAddresses",
      message: "every address is kept by an older pool",
    };
  return { type: "Ready", status: "True", reason: "Ready", message: "hands out addresses" };
}

function conflicting(pool: Pool): ConditionFacts {
  if (pool.conflicts.length === 0)
    return { type: "Conflicting", status: "False", reason: "NoOverlap", message: "overlaps no other pool" };
  const overlaps = pool.conflicts.map((each) => `${each.range} (kept by ${each.pool})`).join(", ");
  return {
    type: "Conflicting",
    status: "True",
    reason: "Overlap",
    message: `these addresses are also in older pools, which keep them: ${overlaps}`,
  };
}

/** The status the pool should have; a condition keeps its transition time while its status holds. */
export function poolStatus(input: {
  readonly pool: Pool;
  /** The allocations given from it now. */
  readonly allocated: readonly AllocationRecord[];
  readonly previous: VipPoolStatus | undefined;
  readonly generation: number | undefined;
  /** RFC 3339, for conditions that change now. */
  readonly now: string;
}): VipPoolStatus {
  const { pool, allocated, previous, generation, now } = input;
  const count = (family: 4 | 6) => allocated.filter((record) => record.family === family).length;
  const families = poolFamilies(pool);
  const conditions = [readiness(pool), conflicting(pool)].map((facts): VipPoolCondition => {
    const before = previous?.conditions?.find((each) => each.type === facts.type);
    const since = before?.status === facts.status ? before.lastTransitionTime : now;
    return {
      ...facts,
      lastTransitionTime: since,
      ...(generation === undefined ? {} : { observedGeneration: generation }),
    };
  });
  return {
    allocated: allocated.length,
    ...(families.has(4) ? { ipv4: familyUsage(pool, 4, count(4)) } : {}),
    ...(families.has(6) ? { ipv6: familyUsage(pool, 6, count(6)) } : {}),
    conditions,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
}

export interface PoolStatusWriterOptions {
  readonly api: CustomObjectsApi;
  readonly limiter: RequestLimiter;
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly wallClock: () => number;
  readonly log: Logger;
  /** The VIPPool objects, as the informer has them. */
  readonly objects: () => readonly VipPool[];
  readonly pools: () => readonly Pool[];
  readonly allocations: () => readonly AllocationRecord[];
  /** Whether this agent writes (it is the allocator now). */
  readonly writes: () => boolean;
}

// Allocations come in bursts (300 Services created at once); one pass after the burst settles
// writes each pool once instead of once per allocation.
const PASS_DELAY_MS = 1000;
const IDLE_CHECK_MS = 5000;

export class PoolStatusWriter {
  readonly #options: PoolStatusWriterOptions;
  #cancel: Cancel | undefined;
  #running: Promise<void> = Promise.resolve();

  constructor(options: PoolStatusWriterOptions) {
    this.#options = options;
  }

  /** Something a status reads changed: a pass runs soon. */
  poke(delayMs = PASS_DELAY_MS): void {
    if (this.#cancel !== undefined) return;
    this.#cancel = this.#options.clock.after(delayMs, () => {
      this.#cancel = undefined;
      this.#running = this.#running.then(() => this.#pass());
    });
  }

  stop(): Promise<void> {
    this.#cancel?.();
    this.#cancel = undefined;
    return this.#running;
  }

  async #pass(): Promise<void> {
    const o = this.#options;
    // Which agent allocates changes as agents come and go; the one that takes over must find out
    // without waiting for the next allocation, and asking costs nothing but a timer.
    if (!o.writes()) {
      this.poke(IDLE_CHECK_MS);
      return;
    }
    const pools = new Map(o.pools().map((pool) => [pool.name, pool]));
    const given = o.allocations().filter((record) => record.releasedAt === undefined);
    const now = new Date(o.wallClock()).toISOString();
    for (const object of o.objects()) {
      const name = object.metadata?.name ?? "";
      const pool = pools.get(name);
      if (pool === undefined) continue;
      const status = poolStatus({
        pool,
        allocated: given.filter((record) => record.pool === name),
        previous: object.status,
        generation: object.metadata?.generation,
        now,
      });
      // Compared as values: the API server returns a custom object's fields in its own key order.
      if (isDeepStrictEqual(status, object.status ?? {})) continue;
      try {
        await o.api.patchClusterCustomObjectStatus(
          {
            group: VIPD_API_GROUP,
            version: VIPD_API_VERSION,
            plural: VIP_POOL_PLURAL,
            name,
            body: { status },
          },
          requestOptions({
            timeoutMs: o.timeoutMs,
            limiter: o.limiter,
            contentType: "application/merge-patch+json",
          }),
        );
      } catch (error) {
        // The next change pokes again; a status is advisory and never holds the allocator up.
        o.log.warn("could not write a VIPPool's status", { pool: name, error: describeApiError(error) });
        this.poke();
      }
    }
  }
}
