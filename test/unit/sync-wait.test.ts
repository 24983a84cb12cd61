import test from "ava";
import { describeRequest } from "../../src/kube/api-requests.ts";
import type { InformerFailing } from "../../src/kube/informer.ts";
import {
  describeUnsynced,
  refusedTooLong,
  SYNC_REPORT_PERIOD_MS,
  SyncTimeoutError,
  waitForSync,
  type SyncState,
} from "../../src/kube/sync-wait.ts";
import { FakeClock } from "./fakes/clock.ts";

const TIMEOUT_MS = 120_000;
const FORBIDDEN =
  'HTTP 403: vippools.vipd.io is forbidden: User "system:serviceaccount:vipd-system:vipd" cannot list resource "vippools"';

function failing(
  failure: InformerFailing["failure"],
  since: number,
  description = "HTTP 4xx",
): InformerFailing {
  return { failure, since, description };
}

function state(resource: string, failure: InformerFailing | null, synced = false): SyncState {
  return { resource, synced, failing: failure };
}

const paths: [string, string][] = [
  ["/api/v1/services", "services"],
  ["/api/v1/nodes", "nodes"],
  ["/apis/discovery.k8s.io/v1/endpointslices", "endpointslices.discovery.k8s.io"],
  ["/apis/coordination.k8s.io/v1/namespaces/vipd-system/leases", "leases.coordination.k8s.io"],
  ["/apis/vipd.io/v1alpha1/vippools", "vippools.vipd.io"],
  ["/api/v1/namespaces/kube-system/configmaps", "configmaps"],
];

for (const [path, resource] of paths) {
  test(`the resource of ${path} is ${resource}`, (t) => {
    t.is(describeRequest("GET", path).resource, resource);
  });
}

test("the informers not synced are named with their last error and what to do", (t) => {
  const waiting = describeUnsynced([
    state("services", null, true),
    state("vippools.vipd.io", failing("forbidden", 0, FORBIDDEN)),
    state("vipallocations.vipd.io", failing("not-found", 0, "HTTP 404: 404 page not found")),
    state("nodes", failing("unreachable", 0, "fetch failed (ECONNREFUSED)")),
    state("leases.coordination.k8s.io", null),
  ]);
  t.is(
    waiting,
    [
      `vippools.vipd.io: ${FORBIDDEN} (vipd's ServiceAccount may not read it: apply manifests/rbac.yaml (or \`vipd manifest rbac | kubectl apply -f -\`) and check the agent runs under that ServiceAccount)`,
      "vipallocations.vipd.io: HTTP 404: 404 page not found (vipd's CRDs are not installed: apply manifests/crds.yaml (or `vipd manifest crds | kubectl apply -f -`))",
      "nodes: fetch failed (ECONNREFUSED)",
      "leases.coordination.k8s.io: no answer yet",
    ].join("; "),
  );
  t.is(describeUnsynced([state("services", null, true)]), null);
});

// Whether an informer not synced ends the wait at time 120 s with a timeout of 120 s.
const verdicts: [string, InformerFailing | null, boolean][] = [
  ["refused (401, 403) since the start", failing("forbidden", 0), true],
  ["not found (404) since the start", failing("not-found", 0), true],
  ["refused only since 30 s", failing("forbidden", 30_000), false],
  ["unreachable since the start: an outage is waited out", failing("unreachable", 0), false],
  ["never answered", null, false],
];

for (const [what, failure, ends] of verdicts) {
  test(`the wait ${ends ? "ends" : "goes on"}: ${what}`, (t) => {
    t.is(refusedTooLong([state("vippools.vipd.io", failure)], TIMEOUT_MS, TIMEOUT_MS).length, ends ? 1 : 0);
  });
}

test("a synced informer never ends the wait, whatever it last saw", (t) => {
  t.deepEqual(refusedTooLong([state("services", failing("forbidden", 0), true)], TIMEOUT_MS, TIMEOUT_MS), []);
});

/** A wait over informers the test changes, with the reports it logged. */
function waiting(clock: FakeClock, states: SyncState[]) {
  const synced = Promise.withResolvers<undefined>();
  const reports: string[] = [];
  let outcome: "waiting" | "synced" | Error = "waiting";
  void waitForSync({
    synced: synced.promise,
    informers: () => states,
    timeoutMs: TIMEOUT_MS,
    clock,
    report: (text) => reports.push(text),
  }).then(
    () => {
      outcome = "synced";
    },
    (error: unknown) => {
      outcome = error as Error;
    },
  );
  return { synced, reports, outcome: () => outcome };
}

test("while it waits it reports what it waits for, every period, and ends once synced", async (t) => {
  const clock = new FakeClock();
  const states = [state("services", failing("unreachable", 0, "fetch failed (ECONNREFUSED)"))];
  const wait = waiting(clock, states);
  await clock.tick(SYNC_REPORT_PERIOD_MS - 1);
  t.deepEqual(wait.reports, []);
  await clock.tick(1);
  t.deepEqual(wait.reports, ["services: fetch failed (ECONNREFUSED)"]);
  await clock.tick(10 * SYNC_REPORT_PERIOD_MS);
  t.is(wait.reports.length, 11);
  t.is(wait.outcome(), "waiting", "an API server that does not answer is waited for");
  wait.synced.resolve(undefined);
  await clock.tick(0);
  t.is(wait.outcome(), "synced");
  t.deepEqual(clock.pending(), [], "no timer left behind");
});

test("a refusal that lasts the timeout ends the wait with the informer and the remedy", async (t) => {
  const clock = new FakeClock();
  const states = [
    state("services", null, true),
    state("vippools.vipd.io", failing("unreachable", 0, "fetch failed (ECONNREFUSED)")),
  ];
  const wait = waiting(clock, states);
  await clock.tick(30_000);
  // The API server comes up and refuses: the timeout counts from there.
  states[1] = state("vippools.vipd.io", failing("forbidden", 30_000, FORBIDDEN));
  await clock.tick(TIMEOUT_MS - 1000);
  t.is(wait.outcome(), "waiting");
  await clock.tick(1000);
  const outcome = wait.outcome();
  t.true(outcome instanceof SyncTimeoutError);
  t.regex(
    (outcome as Error).message,
    /refused vipd for 120s \(--sync-timeout\).*vippools\.vipd\.io: HTTP 403/,
  );
  t.regex((outcome as Error).message, /apply manifests\/rbac\.yaml/);
  t.deepEqual(clock.pending(), [], "no timer left behind");
});

test("a start that fails ends the wait with its error", async (t) => {
  const clock = new FakeClock();
  const wait = waiting(clock, [state("services", null)]);
  wait.synced.reject(new Error("informer start failed"));
  await clock.tick(0);
  t.is((wait.outcome() as Error).message, "informer start failed");
  t.deepEqual(clock.pending(), []);
});
