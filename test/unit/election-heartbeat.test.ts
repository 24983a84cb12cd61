import test from "ava";
import { FakeClock } from "./fakes/clock.ts";
import type { V1Lease } from "@kubernetes/client-node";
import type { OwnHeartbeat } from "../../src/election/decide.ts";
import {
  Heartbeat,
  publishedMacs,
  renewalTimeout,
  type HeartbeatRelease,
} from "../../src/election/heartbeat.ts";
import { FakeLeaseApi } from "./fakes/lease-api.ts";

const timings = { leaseDuration: 5000, renewDeadline: 3000, retryPeriod: 1000 };
const NAME = "vipd-node-node1";

function setup(leases = new FakeLeaseApi()) {
  const clock = new FakeClock(1000);
  const changes: OwnHeartbeat[] = [];
  const macs = { now: ["02:00:00:00:00:0B", "02:00:00:00:00:0a"] };
  const heartbeat = new Heartbeat({
    leases,
    node: "node1",
    timings,
    clock,
    macs: () => macs.now,
    onChange: (state) => changes.push(state),
  });
  return { leases, clock, changes, heartbeat, macs };
}

test("creates the Lease when missing, then renews it with one write and no read", async (t) => {
  const { leases, heartbeat } = setup();
  t.is(await heartbeat.renewOnce(), null);
  t.is(await heartbeat.renewOnce(), null);
  t.deepEqual(leases.calls, ["get vipd-node-node1", "create vipd-node-node1", "replace vipd-node-node1"]);
  const lease = leases.leases.get("vipd-node-node1");
  t.is(lease?.spec?.holderIdentity, "node1");
  t.is(lease?.spec?.leaseDurationSeconds, 5);
  t.deepEqual(lease?.metadata?.labels, { "vipd.io/component": "heartbeat", "vipd.io/node": "node1" });
  await heartbeat.stop({ release: false });
});

test("the node's MACs ride on the heartbeat's writes: on create, and changed by the next renewal alone", async (t) => {
  const { leases, heartbeat, macs } = setup();
  await heartbeat.renewOnce();
  const created = leases.leases.get("vipd-node-node1");
  t.is(created?.metadata?.annotations?.["vipd.io/macs"], "02:00:00:00:00:0a,02:00:00:00:00:0b");
  macs.now = ["02:00:00:00:00:0c"];
  leases.calls.length = 0;
  await heartbeat.renewOnce();
  t.deepEqual(leases.calls, ["replace vipd-node-node1"], "no write of its own");
  const renewed = leases.leases.get("vipd-node-node1");
  if (renewed === undefined) return t.fail("no heartbeat Lease");
  t.deepEqual(publishedMacs(renewed), ["02:00:00:00:00:0c"]);
  macs.now = [];
  await heartbeat.renewOnce();
  const none = leases.leases.get("vipd-node-node1");
  if (none === undefined) return t.fail("no heartbeat Lease");
  t.deepEqual(publishedMacs(none), [], "no VIP-capable interface is a list, and an empty one");
  t.is(publishedMacs({ metadata: { name: "vipd-node-old" } }), null, "a 0.1.0 heartbeat publishes none");
  await heartbeat.stop({ release: false });
});

test("a renewal counts from when it started, not when it finished, and is in flight till then", async (t) => {
  const { clock, heartbeat } = setup();
  const renewal = heartbeat.renewOnce();
  t.is(heartbeat.state().renewalInFlightSince, 1000);
  clock.skipTo(1800);
  await renewal;
  t.is(heartbeat.state().lastRenewalStartedAt, 1000);
  t.is(heartbeat.state().renewalInFlightSince, null);
  await heartbeat.stop({ release: false });
});

test("a conflict re-reads the Lease and tries once more", async (t) => {
  const { leases, heartbeat } = setup();
  await heartbeat.renewOnce();
  leases.touch("vipd-node-node1");
  leases.calls.length = 0;
  t.is(await heartbeat.renewOnce(), null);
  t.deepEqual(leases.calls, ["replace vipd-node-node1", "get vipd-node-node1", "replace vipd-node-node1"]);
  await heartbeat.stop({ release: false });
});

test("the API server counts as unreachable only while every failure since the last success was", async (t) => {
  const { leases, clock, heartbeat } = setup();
  await heartbeat.renewOnce();
  leases.failNext(FakeLeaseApi.unreachable());
  clock.skipTo(2000);
  t.is(await heartbeat.renewOnce(), "unreachable");
  t.deepEqual(heartbeat.state(), {
    lastRenewalStartedAt: 1000,
    apiUnreachable: true,
    renewalInFlightSince: null,
  });
  leases.failNext(FakeLeaseApi.status(503));
  t.is(await heartbeat.renewOnce(), "unreachable");
  t.true(heartbeat.state().apiUnreachable);
  leases.failNext(FakeLeaseApi.status(403));
  t.is(await heartbeat.renewOnce(), "forbidden");
  t.false(heartbeat.state().apiUnreachable, "an API server that answers is reachable, if unhelpful");
  leases.failNext(FakeLeaseApi.unreachable());
  await heartbeat.renewOnce();
  t.false(heartbeat.state().apiUnreachable, "the refusal since the last success still counts");
  clock.skipTo(9000);
  t.is(await heartbeat.renewOnce(), null);
  t.deepEqual(heartbeat.state(), {
    lastRenewalStartedAt: 9000,
    apiUnreachable: false,
    renewalInFlightSince: null,
  });
  await heartbeat.stop({ release: false });
});

test("reports only changes of what the node may do", async (t) => {
  const { leases, clock, changes, heartbeat } = setup();
  await heartbeat.renewOnce();
  clock.skipTo(1500);
  await heartbeat.renewOnce();
  t.is(changes.length, 1, "confirmed once; a second renewal changes nothing");
  clock.skipTo(5000);
  leases.failNext(FakeLeaseApi.unreachable());
  await heartbeat.renewOnce();
  t.deepEqual(changes.at(-1), {
    lastRenewalStartedAt: 1500,
    apiUnreachable: true,
    renewalInFlightSince: null,
  });
  t.is(changes.length, 2);
  await heartbeat.stop({ release: false });
});

test("a renewal that ends a lapse its timer has not reported yet still reports the return", async (t) => {
  const { clock, changes, heartbeat } = setup();
  await heartbeat.renewOnce();
  t.is(changes.length, 1);
  clock.skipTo(1000 + timings.renewDeadline);
  await heartbeat.renewOnce();
  t.is(changes.length, 2, "reconciles that saw the lapse by the clock must be woken");
  t.deepEqual(changes.at(-1), {
    lastRenewalStartedAt: 4000,
    apiUnreachable: false,
    renewalInFlightSince: null,
  });
  clock.skipTo(4000 + timings.renewDeadline - 1);
  await heartbeat.renewOnce();
  t.is(changes.length, 2, "a renewal before the lapse changes nothing");
  await heartbeat.stop({ release: false });
});

interface ReleaseCase {
  readonly name: string;
  /** What happens to the Lease between the heartbeat's last renewal and its stop. */
  readonly meanwhile: (leases: FakeLeaseApi, heartbeat: Heartbeat) => unknown;
  readonly release?: boolean;
  readonly outcome: HeartbeatRelease;
  readonly calls: readonly string[];
  readonly holder: string | null;
}

function rewrite(leases: FakeLeaseApi, change: (lease: V1Lease) => V1Lease): Promise<V1Lease> {
  const lease = leases.leases.get(NAME);
  if (lease === undefined) throw new Error("no heartbeat Lease");
  return leases.replace(change(lease));
}

const releases: readonly ReleaseCase[] = [
  {
    name: "untouched since its renewal: deleted at the version it wrote",
    meanwhile: () => undefined,
    outcome: { outcome: "released" },
    calls: ["delete"],
    holder: null,
  },
  {
    name: "changed by another writer, still naming this node: read once more and deleted",
    meanwhile: (leases) => {
      leases.touch(NAME);
    },
    outcome: { outcome: "released" },
    calls: ["delete", "get", "delete"],
    holder: null,
  },
  {
    name: "now naming another node: left to that node",
    meanwhile: (leases) =>
      rewrite(leases, (lease) => ({ ...lease, spec: { ...lease.spec, holderIdentity: "node2" } })),
    outcome: { outcome: "held-by-other", holder: "node2" },
    calls: ["delete", "get"],
    holder: "node2",
  },
  {
    name: "deleted by someone else after a change: nothing to do",
    meanwhile: (leases) => {
      leases.touch(NAME);
      leases.leases.delete(NAME);
    },
    outcome: { outcome: "released" },
    calls: ["delete"],
    holder: null,
  },
  {
    name: "found deleted by the last renewal: the one read finds it gone",
    meanwhile: async (leases, heartbeat) => {
      leases.leases.delete(NAME);
      await heartbeat.renewOnce();
    },
    outcome: { outcome: "gone" },
    calls: ["get"],
    holder: null,
  },
  {
    name: "the API server does not answer the delete: a typed failure, and the Lease lapses",
    meanwhile: (leases) => {
      leases.failNext(FakeLeaseApi.unreachable());
    },
    outcome: { outcome: "failed", failure: "unreachable", error: "fetch failed" },
    calls: ["delete"],
    holder: "node1",
  },
  {
    name: "the re-read after a conflict is refused: a typed failure",
    meanwhile: (leases) => {
      leases.touch(NAME);
      leases.failNext(FakeLeaseApi.status(403));
    },
    outcome: { outcome: "failed", failure: "forbidden", error: "HTTP 403: status 403" },
    calls: ["delete"],
    holder: "node1",
  },
  {
    name: "no release asked for: the Lease stays",
    meanwhile: () => undefined,
    release: false,
    outcome: { outcome: "kept" },
    calls: [],
    holder: "node1",
  },
];

for (const each of releases) {
  test(`release: ${each.name}`, async (t) => {
    const { leases, heartbeat } = setup();
    await heartbeat.renewOnce();
    await each.meanwhile(leases, heartbeat);
    leases.calls.length = 0;
    t.deepEqual(await heartbeat.stop({ release: each.release ?? true }), each.outcome);
    t.deepEqual(
      leases.calls,
      each.calls.map((call) => `${call} ${NAME}`),
    );
    t.is(leases.leases.get(NAME)?.spec?.holderIdentity ?? null, each.holder);
  });
}

test("release: with nothing written yet, a Lease of this node from an earlier run is read and deleted", async (t) => {
  const earlier = setup();
  await earlier.heartbeat.renewOnce();
  const { leases, heartbeat } = setup(earlier.leases);
  leases.calls.length = 0;
  t.deepEqual(await heartbeat.stop({ release: true }), { outcome: "released" });
  t.deepEqual(leases.calls, [`get ${NAME}`, `delete ${NAME}`]);
  t.false(leases.leases.has(NAME));
});

/** Writes a renewal at once but answers it only when let go: a renewal in flight, as the heartbeat sees it. */
class AnswerHeldLeaseApi extends FakeLeaseApi {
  #held: Promise<void> | null = null;
  #letGo: () => void = () => undefined;
  #wrote: () => void = () => undefined;
  /** Resolves once the held replace is written. */
  written: Promise<void> = Promise.resolve();

  holdNextReplace(): void {
    this.#held = new Promise((resolve) => {
      this.#letGo = resolve;
    });
    this.written = new Promise((resolve) => {
      this.#wrote = resolve;
    });
  }

  letGo(): void {
    this.#letGo();
  }

  override async replace(lease: V1Lease): Promise<V1Lease> {
    const written = await super.replace(lease);
    const held = this.#held;
    this.#held = null;
    this.#wrote();
    await held;
    return written;
  }
}

test("release waits for the renewal in flight and deletes at the version that renewal wrote", async (t) => {
  const leases = new AnswerHeldLeaseApi();
  const { clock, heartbeat } = setup(leases);
  await heartbeat.renewOnce();
  leases.holdNextReplace();
  heartbeat.start();
  await leases.written;
  const stopped = heartbeat.stop({ release: true });
  leases.letGo();
  t.deepEqual(await stopped, { outcome: "released" });
  t.false(leases.leases.has(NAME), "a delete at the version before the renewal would have met a 409");
  clock.advance(10 * timings.retryPeriod);
  t.is(clock.pending().length, 0, "no renewal and no lapse timer are left after stop");
});

test("a renewal may take until P before R: slow ones still count, and a holder waiting on one hears of its failure in time", (t) => {
  t.is(renewalTimeout(timings), 2000);
  t.is(renewalTimeout({ leaseDuration: 2000, renewDeadline: 1200, retryPeriod: 400 }), 800);
});

test("a failure repeated with no success in between is reported as repeated", async (t) => {
  const leases = new FakeLeaseApi();
  const failures: [string, boolean][] = [];
  const heartbeat = new Heartbeat({
    leases,
    node: "node1",
    timings,
    clock: new FakeClock(1000),
    macs: () => [],
    onChange: () => undefined,
    onFailure: (failure, _error, repeated) => failures.push([failure, repeated]),
  });
  leases.failNext(FakeLeaseApi.status(403), FakeLeaseApi.status(403), FakeLeaseApi.unreachable());
  for (let attempt = 0; attempt < 3; attempt++) await heartbeat.renewOnce();
  t.is(await heartbeat.renewOnce(), null);
  leases.failNext(FakeLeaseApi.unreachable());
  await heartbeat.renewOnce();
  t.deepEqual(failures, [
    ["forbidden", false],
    ["forbidden", true],
    ["unreachable", false],
    ["unreachable", false],
  ]);
  await heartbeat.stop({ release: false });
});
