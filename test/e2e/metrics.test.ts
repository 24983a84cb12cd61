// What Prometheus reads from real agents in the lab, scraped only through /metrics (never /readyz,
// which used to be what moved the heartbeat's age): the holder alone exports its address, the
// allocating agent alone what is asked for; the API server stopped shows as refused watches and
// heartbeats counted and informers restarted; a holder cut off from the API server shows a
// heartbeat age that grows and its address in degraded hold.
import test from "ava";
import { agentMetric, prepareCluster, serveService, type Cluster } from "../../lab/agents.ts";
import { up, type Lab, type LabNode } from "../../lab/index.ts";
import { VERSION } from "../../src/version.ts";

let lab: Lab;
let cluster: Cluster;

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, apiServer: true });
  cluster = await prepareCluster(lab);
});

test.after.always(async () => {
  await lab.down();
});

/** The metric summed over every node's agent, with the given labels. */
async function everywhere(name: string, labels: Readonly<Record<string, string>> = {}): Promise<number[]> {
  return Promise.all(lab.nodes.map((node) => agentMetric(lab, node, name, labels)));
}

function others(holder: LabNode): LabNode[] {
  return lab.nodes.filter((node) => node.name !== holder.name);
}

test.serial(
  "the holder alone exports its address; the allocating agent alone what is asked for",
  async (t) => {
    const vip = "198.51.100.210";
    const scenario = await serveService(cluster, {
      service: "scraped",
      vip,
      teardown: (end) => {
        t.teardown(end);
      },
    });
    const announced = { address: vip, namespace: "default", service: "scraped" };
    t.is(
      await cluster.eventually(
        () =>
          agentMetric(lab, scenario.holder, "vipd_vip_announced", {
            ...announced,
            node: scenario.holder.name,
          }),
        (value) => value === 1,
        { what: "the holder's vipd_vip_announced" },
      ),
      1,
    );
    for (const node of others(scenario.holder))
      t.is(await agentMetric(lab, node, "vipd_vip_announced", announced), 0, `${node.name} exports none`);
    // Who allocates is known once the agents have run for a lease duration and seen each other.
    const desired = await cluster.eventually(
      () => everywhere("vipd_vip_desired", announced),
      (values) => values.reduce((sum, value) => sum + value, 0) === 1,
      { what: "vipd_vip_desired from one agent" },
    );
    t.is(desired.filter((value) => value === 1).length, 1);
    t.deepEqual(await everywhere("vipd_build_info", { version: VERSION }), [1, 1, 1]);
    t.deepEqual(
      await everywhere("vipd_informer_synced", { resource: "leases.coordination.k8s.io" }),
      [1, 1, 1],
      "every informer has synced",
    );
  },
);

test.serial(
  "the API server stopped: refused watches and heartbeats are counted, informers restarted",
  async (t) => {
    const scenario = await serveService(cluster, {
      service: "refused",
      vip: "198.51.100.211",
      teardown: (end) => {
        t.teardown(end);
      },
    });
    const node = scenario.holder;
    const watchesBefore = await agentMetric(lab, node, "vipd_api_errors_total", {
      operation: "watch",
      failure: "unreachable",
    });
    const renewalsBefore = await agentMetric(lab, node, "vipd_api_errors_total", {
      operation: "update",
      resource: "leases.coordination.k8s.io",
      failure: "unreachable",
    });
    const restartsBefore = await agentMetric(lab, node, "vipd_informer_restarts_total");
    await cluster.api.stopServer();
    let stopped = true;
    t.teardown(async () => {
      if (stopped) await cluster.api.startServer();
    });
    const counted = await cluster.eventually(
      async () => ({
        watches: await agentMetric(lab, node, "vipd_api_errors_total", {
          operation: "watch",
          failure: "unreachable",
        }),
        renewals: await agentMetric(lab, node, "vipd_api_errors_total", {
          operation: "update",
          resource: "leases.coordination.k8s.io",
          failure: "unreachable",
        }),
        restarts: await agentMetric(lab, node, "vipd_informer_restarts_total"),
      }),
      (now) => now.watches > watchesBefore && now.renewals > renewalsBefore && now.restarts > restartsBefore,
      { what: "refused watches, renewals and informer restarts counted" },
    );
    t.true(counted.watches > watchesBefore, "refused watches");
    t.true(counted.renewals > renewalsBefore, "refused heartbeat renewals");
    t.true(counted.restarts > restartsBefore, "informer restarts");
    await cluster.api.startServer();
    stopped = false;
  },
);

test.serial(
  "a holder cut off from the API server: its heartbeat age grows, its address in degraded hold",
  async (t) => {
    const vip = "198.51.100.212";
    const scenario = await serveService(cluster, {
      service: "cut",
      vip,
      teardown: (end) => {
        t.teardown(end);
      },
    });
    const holder = scenario.holder;
    const announced = { address: vip, node: holder.name, service: "cut" };
    await cluster.eventually(
      () => agentMetric(lab, holder, "vipd_vip_announced", { ...announced, mode: "confirmed" }),
      (value) => value === 1,
      { what: "the address announced, confirmed" },
    );
    await lab.cutApi(holder);
    t.teardown(() => lab.healApi(holder));
    // Past the renew deadline (R = 3 s at the lab's defaults) the holder keeps the address in degraded hold.
    await cluster.eventually(
      () => agentMetric(lab, holder, "vipd_vip_announced", { ...announced, mode: "degraded" }),
      (value) => value === 1,
      { what: "the address held in degraded hold" },
    );
    const first = await agentMetric(lab, holder, "vipd_heartbeat_age_seconds");
    const later = await cluster.eventually(
      () => agentMetric(lab, holder, "vipd_heartbeat_age_seconds"),
      (age) => age >= first + 2,
      { what: "the heartbeat age growing while cut off" },
    );
    t.true(first >= 3, `older than the renew deadline once in degraded hold: ${first}`);
    t.true(later > first);
    t.is(await agentMetric(lab, holder, "vipd_vips_held", { mode: "degraded" }), 1);
    await lab.healApi(holder);
    const healed = await cluster.eventually(
      () => agentMetric(lab, holder, "vipd_heartbeat_age_seconds"),
      (age) => age < 3,
      { what: "the heartbeat renewed again once healed" },
    );
    t.true(healed < first);
  },
);
