import test from "ava";
import { ApiException, type V1Lease, type V1Service } from "@kubernetes/client-node";
import { LastAgent, publishedBy } from "../../src/agent/last-agent.ts";
import type { Publication, WriteOptions } from "../../src/kube/service-status.ts";
import { silentLogger } from "./fakes/agent-world.ts";

const REF = { namespace: "default", name: "web" };

function service(holder: string | undefined, resourceVersion = "7"): V1Service {
  return {
    metadata: {
      ...REF,
      resourceVersion,
      annotations: holder === undefined ? {} : { "vipd.io/holder": holder },
    },
    status: { loadBalancer: { ingress: [{ ip: "192.0.2.10", ipMode: "VIP" }] } },
  };
}

interface World {
  cached?: V1Service;
  fresh?: V1Service | null;
  leaseHolder?: string;
  liveNodes?: string[];
  conflict?: boolean;
}

async function stop(world: World): Promise<{ writes: [Publication, WriteOptions | undefined][] }> {
  const writes: [Publication, WriteOptions | undefined][] = [];
  await new LastAgent({
    node: "a",
    liveNodes: () => world.liveNodes ?? [],
    services: () => [world.cached ?? service("a")],
    leaseNamesOf: () => ["vipd-ip-192.0.2.10"],
    readService: () => Promise.resolve(world.fresh === undefined ? service("a") : world.fresh),
    leases: {
      get: (): Promise<V1Lease | null> =>
        Promise.resolve({ spec: { holderIdentity: world.leaseHolder ?? "" } }),
    },
    status: {
      write: (_ref, publication, options) => {
        if (world.conflict === true) return Promise.reject(new ApiException(409, "conflict", {}, {}));
        writes.push([publication, options]);
        return Promise.resolve();
      },
    },
    log: silentLogger,
  }).run();
  return { writes };
}

test("last agent: clears ingress, condition and annotation at the resourceVersion it read", async (t) => {
  const { writes } = await stop({});
  t.is(writes.length, 1);
  t.deepEqual(writes[0]?.[0], { ips: [], holder: null, condition: null });
  t.is(writes[0]?.[1]?.resourceVersion, "7");
});

const LEFT_ALONE: [string, World][] = [
  ["another agent is live: it takes over", { liveNodes: ["b"] }],
  ["the Lease names another node (a candidate claimed meanwhile)", { leaseHolder: "b" }],
  ["the fresh read names another holder", { fresh: service("b") }],
  ["the Service is gone", { fresh: null }],
  ["this node never wrote the status", { cached: service(undefined) }],
];

for (const [name, world] of LEFT_ALONE)
  test(`last agent: nothing written when ${name}`, async (t) => {
    t.deepEqual((await stop(world)).writes, []);
  });

test("last agent: a 409 (another writer came first) is no failure", async (t) => {
  await t.notThrowsAsync(stop({ conflict: true }));
});

test("published by: only the Services whose annotation names the node", (t) => {
  t.deepEqual(publishedBy([service("a"), service("b"), service(undefined)], "a"), [REF]);
});
