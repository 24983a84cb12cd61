// Waiting at start-up until every informer has filled its cache, and saying why it takes long. The
// agent takes no decision before that (lifecycle.ts), so a cache that never fills would leave it
// waiting forever with nothing to show for it; instead it logs which informers are not synced and
// each one's last error while it waits, /readyz names them, and a refusal that lasts
// --sync-timeout ends the agent (SyncTimeoutError; `vipd run` exits with EXIT_SYNC_TIMEOUT) with a
// message saying what to apply.
//
// Which waits end, and which do not:
// - The API server answers, and refuses (401, 403: the ServiceAccount or its RBAC; 404: vipd's CRDs
//   not installed; 400/422): nothing on the node fixes that. After --sync-timeout of nothing but
//   that one refusal, the agent exits, and the pod's restarts (CrashLoopBackOff) and its last log
//   line show why. Refusals that go away sooner (RBAC applied after the DaemonSet, as a chart or a
//   `kubectl apply -f` of several files does) are waited out.
// - The API server does not answer (connection refused, timeouts, 429, 5xx): an outage, which ends
//   by itself. That is waited for without end. Exiting would gain nothing, since the agent holds
//   nothing yet — it has refreshed no address, renewed no heartbeat and claimed no Lease (the
//   restart sweep and the heartbeat come only after the caches are filled) — and it would cost the
//   node CrashLoopBackOff's growing delay (up to 5 minutes) after the API server is back, before it
//   serves again. Addresses a previous run left keep whatever lifetime they had, whether this
//   agent waits or exits; degraded hold (DESIGN.md rule 1(b)) is for an agent that was serving.
import type { Clock } from "../clock/clock.ts";
import type { InformerFailing } from "./informer.ts";

// How often the wait says what it waits for: often enough to be seen in `kubectl logs` at once, and
// once per change of reason the informers log already.
export const SYNC_REPORT_PERIOD_MS = 10_000;
// How often the wait looks at the informers: the deadline is kept to within this.
const SYNC_CHECK_PERIOD_MS = 1000;

export interface SyncState {
  readonly resource: string;
  readonly synced: boolean;
  readonly failing: InformerFailing | null;
}

const VIPD_GROUP_SUFFIX = ".vipd.io";

/** What to do about a refusal that lasts, or "" when there is nothing to say. */
export function remedyOf(state: SyncState): string {
  const failure = state.failing?.failure;
  if (failure === "not-found" && state.resource.endsWith(VIPD_GROUP_SUFFIX))
    return "vipd's CRDs are not installed: apply manifests/crds.yaml (or `vipd manifest crds | kubectl apply -f -`)";
  if (failure === "not-found") return "this API server does not serve it";
  if (failure === "forbidden")
    return "vipd's ServiceAccount may not read it: apply manifests/rbac.yaml (or `vipd manifest rbac | kubectl apply -f -`) and check the agent runs under that ServiceAccount";
  return "";
}

function describeOne(state: SyncState): string {
  if (state.failing === null) return `${state.resource}: no answer yet`;
  const remedy = remedyOf(state);
  return `${state.resource}: ${state.failing.description}${remedy === "" ? "" : ` (${remedy})`}`;
}

/** The informers not synced yet and why, or null when every one is: for logs and /readyz. */
export function describeUnsynced(states: readonly SyncState[]): string | null {
  const waiting = states.filter((state) => !state.synced);
  return waiting.length === 0 ? null : waiting.map(describeOne).join("; ");
}

function refused(state: SyncState): boolean {
  const failure = state.failing?.failure;
  return failure !== undefined && failure !== "unreachable";
}

/** The informers refused by the API server, every attempt, for at least timeoutMs: the wait ends. */
export function refusedTooLong(
  states: readonly SyncState[],
  now: number,
  timeoutMs: number,
): readonly SyncState[] {
  return states.filter(
    (state) => !state.synced && refused(state) && now - (state.failing?.since ?? now) >= timeoutMs,
  );
}

export class SyncTimeoutError extends Error {
  constructor(stuck: readonly SyncState[], timeoutMs: number) {
    super(
      `the API server refused vipd for ${timeoutMs / 1000}s (--sync-timeout), so its caches cannot be filled: ${stuck.map(describeOne).join("; ")}`,
    );
    this.name = "SyncTimeoutError";
  }
}

export interface SyncWaitOptions {
  /** Settles when every informer has synced (the mode's start). */
  readonly synced: Promise<void>;
  /** The informers waited for now: services mode adds some once discovery has answered. */
  readonly informers: () => readonly SyncState[];
  readonly timeoutMs: number;
  readonly clock: Clock;
  /** Called every SYNC_REPORT_PERIOD_MS while some informer is not synced. */
  readonly report: (waiting: string) => void;
}

/**
 * Resolves with `synced`; rejects with SyncTimeoutError once an informer has been refused for
 * timeoutMs, and with whatever `synced` rejects with.
 */
export function waitForSync(options: SyncWaitOptions): Promise<void> {
  const { clock } = options;
  return new Promise((resolve, reject) => {
    let lastReport = clock.now();
    let done = false;
    let cancel = (): void => undefined;
    const finish = (): void => {
      done = true;
      cancel();
    };
    const check = (): void => {
      if (done) return;
      const states = options.informers();
      const now = clock.now();
      const stuck = refusedTooLong(states, now, options.timeoutMs);
      if (stuck.length > 0) {
        finish();
        reject(new SyncTimeoutError(stuck, options.timeoutMs));
        return;
      }
      const waiting = describeUnsynced(states);
      if (waiting !== null && now - lastReport >= SYNC_REPORT_PERIOD_MS) {
        lastReport = now;
        options.report(waiting);
      }
      cancel = clock.after(SYNC_CHECK_PERIOD_MS, check);
    };
    cancel = clock.after(SYNC_CHECK_PERIOD_MS, check);
    options.synced.then(
      () => {
        finish();
        resolve();
      },
      (error: unknown) => {
        finish();
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
