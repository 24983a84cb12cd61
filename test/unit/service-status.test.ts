import test from "ava";
import {
  NOTHING_PUBLISHED,
  statusPatch,
  statusShows,
  type AnnouncedCondition,
  type Publication,
} from "../../src/kube/service-status.ts";

const NOW = Date.UTC(2026, 11, 2, 6, 0, 0, 250);
const condition: AnnouncedCondition = {
  status: "True",
  reason: "Announced",
  message: "192.0.2.10 announced by node a on eth0",
  observedGeneration: 2,
};
const announced: Publication = { ips: ["192.0.2.10"], holder: "a", condition };
const shown = {
  metadata: { annotations: { "vipd.io/holder": "a" }, generation: 2 },
  status: {
    loadBalancer: { ingress: [{ ip: "192.0.2.10", ipMode: "VIP" }] },
    conditions: [
      { type: "example.com/Other", status: "True" },
      {
        type: "vipd.io/Announced",
        status: "True",
        reason: "Announced",
        message: "192.0.2.10 announced by node a on eth0",
        observedGeneration: 2,
      },
    ],
  },
};

test("status patch: a new condition gets the time of the write, in whole seconds", (t) => {
  t.deepEqual(statusPatch(announced, undefined, NOW), {
    status: {
      loadBalancer: { ingress: [{ ip: "192.0.2.10", ipMode: "VIP" }] },
      conditions: [
        {
          type: "vipd.io/Announced",
          status: "True",
          reason: "Announced",
          message: "192.0.2.10 announced by node a on eth0",
          observedGeneration: 2,
          lastTransitionTime: "2026-12-02T06:00:00Z",
        },
      ],
    },
  });
});

test("status patch: a condition whose status stays keeps its transition time", (t) => {
  const moved = { ...announced, condition: { ...condition, message: "on eth1" } };
  const patch = statusPatch(moved, shown, NOW) as { status: { conditions: Record<string, unknown>[] } };
  t.false("lastTransitionTime" in (patch.status.conditions[0] ?? {}));
});

test("status patch: cleared, vipd's entry alone is deleted and the ingress removed", (t) => {
  t.deepEqual(statusPatch(NOTHING_PUBLISHED, shown, NOW), {
    status: {
      loadBalancer: { ingress: null },
      conditions: [{ type: "vipd.io/Announced", $patch: "delete" }],
    },
  });
  t.deepEqual(statusPatch({ ...NOTHING_PUBLISHED, ips: null }, shown, NOW), {
    status: { conditions: [{ type: "vipd.io/Announced", $patch: "delete" }] },
  });
});

test("status shows: the ingress, the annotation and the condition must all match", (t) => {
  t.true(statusShows(shown, announced));
  t.false(statusShows(shown, { ...announced, holder: "b" }));
  t.false(statusShows(shown, { ...announced, ips: ["192.0.2.11"] }));
  t.false(statusShows(shown, { ...announced, condition: { ...condition, observedGeneration: 3 } }));
  t.false(statusShows(shown, NOTHING_PUBLISHED));
  t.true(statusShows({}, NOTHING_PUBLISHED));
  t.true(
    statusShows(
      { status: { loadBalancer: { ingress: [{ ip: "192.0.2.99" }] } } },
      { ...NOTHING_PUBLISHED, ips: null },
    ),
  );
});
