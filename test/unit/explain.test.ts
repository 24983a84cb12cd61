// `vipd explain`'s judgement (src/explain/explain.ts), one row per situation a person meets: which
// addresses, from where, which pool, which nodes may carry them and why the others may not, who
// holds them, and what to do next. The agents' own decision code does the judging; these rows pin
// what it is asked and how the answer is told.
import test from "ava";
import { explain, type ExplainReport, type Situation } from "../../src/explain/explain.ts";
import type { ExplainSnapshot } from "../../src/explain/snapshot.ts";
import {
  allocation,
  event,
  heartbeat,
  node,
  NODES,
  NOW,
  ownership,
  pool,
  service,
  SETTINGS,
  snapshot,
  UID,
} from "./fakes/explain-snapshot.ts";

const VIP = "198.51.100.210";
const LOCAL_NO_ENDPOINTS = "externalTrafficPolicy Local and no ready endpoint on this node";

interface Row {
  readonly name: string;
  readonly snapshot: ExplainSnapshot;
  readonly situation: Situation;
  /** Parts the verdict must contain. */
  readonly verdict: readonly string[];
  /** Parts some hint must contain, one hint each. */
  readonly hints: readonly string[];
  readonly check?: (report: ExplainReport) => void;
}

const requested = service({ spec: { loadBalancerIP: VIP } });

const rows: Row[] = [
  {
    name: "served by spec.loadBalancerIP outside every pool: the holder, its heartbeat, the Lease",
    snapshot: snapshot({
      services: [requested],
      leases: [...NODES.map((name) => heartbeat(name)), ownership(VIP, "node-b")],
    }),
    situation: "served",
    verdict: ["served", "node-b", VIP],
    hints: ["status does not show 198.51.100.210"],
  },
  {
    name: "served from a pool allocation: the pool and its free count, the status and condition read",
    snapshot: snapshot({
      services: [
        service({
          status: {
            loadBalancer: { ingress: [{ ip: "198.51.100.240", ipMode: "VIP" }] },
            conditions: [
              {
                type: "vipd.io/Announced",
                status: "True",
                reason: "Announced",
                message: "198.51.100.240 announced by node-a on eth0",
                lastTransitionTime: new Date(NOW - 60_000),
              },
            ],
          },
          annotations: { "vipd.io/holder": "node-a" },
        }),
      ],
      vipPools: [pool("lan", ["198.51.100.240-198.51.100.242"])],
      allocations: [allocation("198.51.100.240", [{ name: "web", uid: UID }])],
      leases: [...NODES.map((name) => heartbeat(name)), ownership("198.51.100.240", "node-a")],
    }),
    situation: "served",
    verdict: ["node-a holds 198.51.100.240"],
    hints: ["nothing to do"],
    check: (report) => {
      if (report.request.source !== "allocation") throw new Error(report.request.source);
      const [lan] = report.pools;
      if (lan?.ipv4?.free !== "2" || lan.ipv4.total !== "3") throw new Error(JSON.stringify(lan));
      if (report.status.condition?.reason !== "Announced") throw new Error("condition not read");
      if (report.status.holderAnnotation !== "node-a") throw new Error("holder annotation not read");
    },
  },
  {
    name: "an address outside every pool, once pools exist: refused, and how to fix it",
    snapshot: snapshot({ services: [requested], vipPools: [pool("lan", ["198.51.100.240-198.51.100.242"])] }),
    situation: "invalid",
    verdict: ["spec.loadBalancerIP is refused"],
    hints: ["use an address of a VIPPool", "kubectl edit service web"],
    check: (report) => {
      if (!report.request.problems.some((problem) => problem.includes(`${VIP} is in no VIPPool`)))
        throw new Error(report.request.problems.join("; "));
    },
  },
  {
    name: "an annotation that holds no address: the problem as the agents word it",
    snapshot: snapshot({ services: [service({ annotations: { "vipd.io/loadBalancerIPs": "not-an-ip" } })] }),
    situation: "invalid",
    verdict: ["vipd.io/loadBalancerIPs is refused"],
    hints: ["kubectl annotate service web --overwrite vipd.io/loadBalancerIPs=<address>"],
    check: (report) => {
      if (
        report.request.problems[0] !== 'vipd.io/loadBalancerIPs: "not-an-ip" is not an IPv4 or IPv6 address'
      )
        throw new Error(report.request.problems.join("; "));
    },
  },
  {
    name: "kube-vip's annotation is a source too",
    snapshot: snapshot({
      services: [service({ annotations: { "kube-vip.io/loadbalancerIPs": VIP } })],
      leases: [...NODES.map((name) => heartbeat(name)), ownership(VIP, "node-c")],
    }),
    situation: "served",
    verdict: ["node-c"],
    hints: [],
    check: (report) => {
      if (report.request.source !== "kube-vip.io/loadbalancerIPs" || report.request.value !== VIP)
        throw new Error(JSON.stringify(report.request));
    },
  },
  {
    name: "externalTrafficPolicy Local without endpoints: no eligible node, each one's reason",
    snapshot: snapshot({
      services: [service({ spec: { loadBalancerIP: VIP, externalTrafficPolicy: "Local" } })],
    }),
    situation: "no-eligible-node",
    verdict: ["no node may carry 198.51.100.210"],
    hints: ["kubectl get endpointslices -l kubernetes.io/service-name=web"],
    check: (report) => {
      for (const each of report.nodes)
        if (each.candidate || each.reasons[0] !== LOCAL_NO_ENDPOINTS) throw new Error(JSON.stringify(each));
    },
  },
  {
    name: "externalTrafficPolicy Local with a ready endpoint on one node: that node alone is a candidate",
    snapshot: snapshot({
      services: [service({ spec: { loadBalancerIP: VIP, externalTrafficPolicy: "Local" } })],
      endpointSlices: [
        {
          addressType: "IPv4",
          endpoints: [{ addresses: ["10.0.0.5"], nodeName: "node-c", conditions: { ready: true } }],
        },
      ],
    }),
    situation: "unclaimed",
    verdict: ["node-c claims first"],
    hints: ["probes the address on the wire"],
    check: (report) => {
      if (report.claimOrder.join() !== "node-c") throw new Error(report.claimOrder.join());
    },
  },
  {
    name: "an excluded node, one without an agent and one with a stale heartbeat: each named",
    snapshot: snapshot({
      services: [requested],
      nodes: [
        node("node-a", { labels: { "node.kubernetes.io/exclude-from-external-load-balancers": "" } }),
        node("node-b"),
        node("node-c"),
      ],
      leases: [heartbeat("node-a"), heartbeat("node-c", 42_000)],
    }),
    situation: "no-eligible-node",
    verdict: ["no node may carry"],
    hints: [
      "kubectl label node <node> node.kubernetes.io/exclude-from-external-load-balancers-",
      "start vipd",
    ],
    check: (report) => {
      const reasons = Object.fromEntries(report.nodes.map((each) => [each.name, each.reasons.join("; ")]));
      if (!reasons["node-a"]?.includes("labelled node.kubernetes.io/exclude-from-external-load-balancers"))
        throw new Error(reasons["node-a"]);
      if (!reasons["node-b"]?.includes("no heartbeat Lease vipd-node-node-b in vipd-system"))
        throw new Error(reasons["node-b"]);
      if (!reasons["node-c"]?.includes("heartbeat stale: renewed 42s ago, lease 5.0s"))
        throw new Error(reasons["node-c"]);
    },
  },
  {
    name: "the holder's heartbeat is stale: it may not answer, and what happens next",
    snapshot: snapshot({
      services: [requested],
      leases: [
        heartbeat("node-a"),
        heartbeat("node-b", 30_000),
        heartbeat("node-c"),
        ownership(VIP, "node-b"),
      ],
    }),
    situation: "holder-stale",
    verdict: ["held by node-b", "30s old"],
    hints: ["--field-selector spec.nodeName=node-b", "degraded hold"],
  },
  {
    name: "the pool is exhausted: the allocator's own reason, and where the addresses went",
    snapshot: snapshot({
      services: [service(), service({ name: "other", uid: "uid-other" })],
      vipPools: [pool("lan", ["198.51.100.240/32"])],
      allocations: [allocation("198.51.100.240", [{ name: "other", uid: "uid-other" }])],
    }),
    situation: "no-address",
    verdict: ["PoolExhausted", "VIPPool lan has no free IPv4 address"],
    hints: ["kubectl get vipallocations"],
    check: (report) => {
      if (report.pools[0]?.ipv4?.free !== "0") throw new Error(JSON.stringify(report.pools));
    },
  },
  {
    name: "no address named and no pool at all: NoAddress, create one",
    snapshot: snapshot(),
    situation: "no-address",
    verdict: ["NoAddress", "no VIPPool exists"],
    hints: ["create a VIPPool"],
  },
  {
    name: "no address named and vipd's CRDs missing: install them",
    snapshot: snapshot({ vipdApiServed: false }),
    situation: "no-address",
    verdict: ["NoAddress"],
    hints: ["vipd manifest crds | kubectl apply -f -"],
  },
  {
    name: "a pool with room and no allocation yet: what the allocator gives next",
    snapshot: snapshot({ vipPools: [pool("lan", ["198.51.100.240-198.51.100.241"])] }),
    situation: "no-address",
    verdict: ["no address yet"],
    hints: ["gives it 198.51.100.240 next"],
  },
  {
    name: "another load balancer's class",
    snapshot: snapshot({
      services: [service({ spec: { loadBalancerIP: VIP, loadBalancerClass: "example.com/lb" } })],
    }),
    situation: "other-class",
    verdict: ['"example.com/lb", not "vipd.io/l2"'],
    hints: ["--load-balancer-class"],
  },
  {
    name: "not a LoadBalancer",
    snapshot: snapshot({ services: [service({ spec: { type: "ClusterIP" } })] }),
    situation: "not-load-balancer",
    verdict: ["spec.type is ClusterIP"],
    hints: ['"type":"LoadBalancer"'],
  },
  {
    name: "an older Service keeps the address: VIPConflict naming it",
    snapshot: snapshot({
      services: [
        service({ spec: { loadBalancerIP: VIP }, createdAgoMs: 60_000 }),
        service({ name: "first", uid: "uid-first", spec: { loadBalancerIP: VIP }, createdAgoMs: 3_600_000 }),
      ],
    }),
    situation: "conflict",
    verdict: ["kept by the older Service default/first"],
    hints: ["vipd.io/allow-shared-ip"],
  },
  {
    name: "no agent anywhere: the DaemonSet, or another namespace",
    snapshot: snapshot({ services: [requested], leases: [] }),
    situation: "no-agent",
    verdict: ["no vipd agent has a live heartbeat in vipd-system"],
    hints: ["--vipd-namespace"],
  },
  {
    name: "the Leases could not be read: no guess about agents",
    snapshot: snapshot({
      services: [requested],
      leases: [],
      unread: ["Leases in vipd-system: HTTP 403: forbidden"],
    }),
    situation: "no-agent",
    verdict: ["cannot tell who serves it"],
    hints: ["may list Leases"],
  },
  {
    name: "the holder was labelled out of load balancing: it hands over, to whom",
    snapshot: snapshot({
      services: [requested],
      nodes: [
        node("node-a"),
        node("node-b", { labels: { "node.kubernetes.io/exclude-from-external-load-balancers": "" } }),
        node("node-c"),
      ],
      leases: [...NODES.map((name) => heartbeat(name)), ownership(VIP, "node-b")],
    }),
    situation: "served",
    verdict: ["node-b holds"],
    hints: ["node-b holds it but may not carry it (Node is labelled"],
    check: (report) => {
      if (!report.hints[0]?.endsWith(`hands over to ${report.claimOrder[0] ?? "?"}`))
        throw new Error(report.hints[0]);
    },
  },
  {
    name: "a host that is no agent answers for the address: the agents' VIPConflict Event, as the hint",
    snapshot: snapshot({
      services: [requested],
      events: [
        event({
          reason: "VIPConflict",
          message: `${VIP} is in use by MAC 02:00:00:00:00:99, which is no vipd agent of this cluster: node-c does not serve it while that host answers`,
          agoMs: 3_000,
          type: "Warning",
          host: "node-c",
        }),
      ],
    }),
    situation: "unclaimed",
    verdict: ["nobody holds"],
    hints: ["another host answers for the address (198.51.100.210 is in use by MAC 02:00:00:00:00:99"],
  },
  {
    name: "a cordoned node: a candidate that claims last",
    snapshot: snapshot({
      services: [requested],
      nodes: [node("node-a", { cordoned: true }), node("node-b"), node("node-c")],
    }),
    situation: "unclaimed",
    verdict: ["nobody holds"],
    hints: [],
    check: (report) => {
      if (report.claimOrder.at(-1) !== "node-a" || report.claimOrder.length !== 3)
        throw new Error(report.claimOrder.join());
      const cordoned = report.nodes.find((each) => each.name === "node-a");
      if (!cordoned?.candidate || !cordoned.notes[0]?.includes("claims last"))
        throw new Error(JSON.stringify(cordoned));
    },
  },
  {
    name: "a node whose agent refused the address (its interfaces): named from the agent's Event",
    snapshot: snapshot({
      services: [requested],
      events: [
        event({
          reason: "InvalidVIP",
          message: "node-b: no interface has a subnet containing 198.51.100.210",
          agoMs: 20_000,
          type: "Warning",
          host: "node-b",
        }),
        event({
          reason: "VIPAnnounced",
          message: "from an earlier Service of this name",
          agoMs: 10_000,
          uid: "uid-old",
        }),
      ],
    }),
    situation: "unclaimed",
    verdict: ["nobody holds"],
    hints: [],
    check: (report) => {
      const refused = report.nodes.find((each) => each.name === "node-b");
      if (
        refused?.candidate !== false ||
        !refused.reasons[0]?.includes("its agent refused it 20s ago: no interface")
      )
        throw new Error(JSON.stringify(refused));
      if (report.events.length !== 1 || report.events[0]?.from !== "node-b")
        throw new Error(JSON.stringify(report.events));
    },
  },
];

for (const row of rows) {
  test(row.name, (t) => {
    const report = explain(row.snapshot, SETTINGS, NOW);
    t.is(report.situation, row.situation, report.verdict);
    t.is(report.served, row.situation === "served");
    for (const part of row.verdict) t.true(report.verdict.includes(part), `${report.verdict} lacks ${part}`);
    for (const part of row.hints)
      t.true(
        report.hints.some((hint) => hint.includes(part)),
        `no hint has ${part}:\n${report.hints.join("\n")}`,
      );
    t.notThrows(() => row.check?.(report));
  });
}

test("the report is JSON as it is: what --output json prints", (t) => {
  const report = explain(
    snapshot({
      services: [requested],
      leases: [...NODES.map((name) => heartbeat(name)), ownership(VIP, "node-a")],
    }),
    SETTINGS,
    NOW,
  );
  // Sets, Maps and Dates would print as {} or lose their type: only plain values may be in it.
  const plain = (value: unknown): boolean =>
    value === null ||
    ["string", "number", "boolean", "undefined"].includes(typeof value) ||
    (Array.isArray(value) && value.every(plain)) ||
    (Object.getPrototypeOf(value) === Object.prototype && Object.values(value as object).every(plain));
  t.true(plain(report));
  const printed = JSON.parse(JSON.stringify(report)) as typeof report;
  t.is(printed.addresses[0]?.lease?.holder, "node-a");
});

test("the same snapshot gives the same report: nothing depends on the order objects were listed in", (t) => {
  const base = snapshot({
    services: [requested, service({ name: "other", uid: "uid-other" })],
    leases: [...NODES.map((name) => heartbeat(name)), ownership(VIP, "node-a")],
  });
  const reversed: ExplainSnapshot = {
    ...base,
    nodes: [...base.nodes].reverse(),
    leases: [...base.leases].reverse(),
    services: [...base.services].reverse(),
  };
  t.deepEqual(explain(reversed, SETTINGS, NOW), explain(base, SETTINGS, NOW));
});
