// Builds an address loop (reconciler and executor) for unit tests from one object of fakes, so
// that each test file states only what its world differs in.
import { AddressExecutor } from "../../../src/agent/address-executor.ts";
import {
  AddressReconciler,
  type LeaseView,
  type ServingTarget,
} from "../../../src/agent/address-reconciler.ts";
import type { DataPlane } from "../../../src/agent/data-plane.ts";
import type { FreshLeases } from "../../../src/agent/fresh-leases.ts";
import type { Clock } from "../../../src/clock/clock.ts";
import type { ElectionTimings, OwnHeartbeat } from "../../../src/election/decide.ts";
import type { HeartbeatTracker } from "../../../src/election/heartbeat-tracker.ts";
import type { Ownership } from "../../../src/election/ownership.ts";
import type { EventRecorder } from "../../../src/kube/events.ts";
import type { LeaseApi } from "../../../src/kube/leases.ts";
import type { ServiceRef } from "../../../src/kube/service-ref.ts";
import type { Logger } from "../../../src/log/logger.ts";
import type { AgentMetrics } from "../../../src/metrics/metrics.ts";

export interface AddressLoopFakes {
  readonly node: string;
  readonly timings: ElectionTimings & { readonly retryPeriod: number };
  readonly cordonHandsOver: boolean;
  /** The time the loop reads; these loops set no timers of their own. */
  readonly now: () => number;
  readonly view: LeaseView;
  readonly target: ServingTarget;
  readonly heartbeat: () => OwnHeartbeat;
  readonly tracker: HeartbeatTracker;
  readonly leases: LeaseApi;
  readonly ownership: Ownership;
  readonly fresh: FreshLeases;
  readonly events: EventRecorder;
  readonly dataPlane: DataPlane;
  readonly metrics: AgentMetrics;
  readonly log: Logger;
  readonly requeue: (key: string, delayMs: number) => void;
  readonly wakeWhenSilent: (node: string, key: string) => void;
  readonly serviceTouched: (service: ServiceRef) => void;
}

export function readOnlyClock(now: () => number): Clock {
  const noTimers = (): never => {
    throw new Error("the address loop sets no timers");
  };
  return { now, after: noTimers, sleep: noTimers };
}

export function addressLoop(fakes: AddressLoopFakes): AddressReconciler {
  const clock = readOnlyClock(fakes.now);
  const { node, tracker, fresh, dataPlane } = fakes;
  return new AddressReconciler({
    settings: { self: node, timings: fakes.timings, cordonHandsOver: fakes.cordonHandsOver },
    clock,
    view: fakes.view,
    target: fakes.target,
    sources: { heartbeat: fakes.heartbeat, tracker, fresh, dataPlane },
    executor: new AddressExecutor({
      node,
      retryPeriod: fakes.timings.retryPeriod,
      clock,
      leases: fakes.leases,
      ownership: fakes.ownership,
      fresh,
      tracker,
      dataPlane,
      events: fakes.events,
      eventSubject: (service) => fakes.target.eventSubject(service),
      queue: {
        requeue: fakes.requeue,
        wakeWhenSilent: fakes.wakeWhenSilent,
        touch: fakes.serviceTouched,
      },
      metrics: fakes.metrics,
      log: fakes.log,
    }),
    log: fakes.log,
  });
}
