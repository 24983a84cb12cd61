import test from "ava";
import type { V1Lease, V1Service } from "@kubernetes/client-node";
import { renewedHeartbeats, serviceCleanup } from "../../src/cli/cleanup-command.ts";

const CONDITION = {
  type: "vipd.io/Announced",
  status: "True",
  reason: "Announced",
  message: "192.0.2.10 announced by node a on eth0",
  lastTransitionTime: new Date(0),
};

function service(annotations: Record<string, string>, conditions: (typeof CONDITION)[]): V1Service {
  return {
    metadata: { namespace: "default", name: "web", annotations },
    status: { loadBalancer: { ingress: [{ ip: "192.0.2.10" }] }, conditions },
  };
}

test("cleanup: a Service vipd published loses ingress, condition and annotation", (t) => {
  const plan = serviceCleanup(service({ "vipd.io/holder": "a" }, [CONDITION]));
  t.deepEqual(plan?.publication, { ips: [], holder: null, condition: null });
  t.deepEqual(plan?.removed, [
    "EXTERNAL-IP 192.0.2.10",
    "condition vipd.io/Announced",
    "annotation vipd.io/holder=a",
  ]);
});

test("cleanup: with only vipd's condition, the ingress is another load balancer's and stays", (t) => {
  const plan = serviceCleanup(service({}, [CONDITION]));
  t.deepEqual(plan?.publication, { ips: null, holder: null, condition: null });
  t.deepEqual(plan?.removed, ["condition vipd.io/Announced"]);
});

test("cleanup: another controller's Service is not vipd's", (t) => {
  t.is(
    serviceCleanup(service({ "example.com/owner": "x" }, [{ ...CONDITION, type: "example.com/Ready" }])),
    null,
  );
});

function lease(name: string, resourceVersion: string): V1Lease {
  return { metadata: { name, resourceVersion } };
}

test("cleanup: a heartbeat renewed between two readings is a live agent; one left unchanged or gone is not", (t) => {
  const before = [lease("vipd-node-a", "1"), lease("vipd-node-b", "5"), lease("vipd-node-c", "9")];
  const after = [lease("vipd-node-a", "3"), lease("vipd-node-b", "5"), lease("vipd-node-d", "10")];
  t.deepEqual(renewedHeartbeats(before, after), ["vipd-node-a"]);
});
