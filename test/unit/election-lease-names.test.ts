import test from "ava";
import {
  CONTROL_PLANE_REF,
  heartbeatLeaseName,
  labelValue,
  ownershipLeaseName,
} from "../../src/election/lease-names.ts";
import { parseServiceKey, serviceKey } from "../../src/kube/service-ref.ts";

test("lease names follow DESIGN.md", (t) => {
  t.is(heartbeatLeaseName("worker-1"), "vipd-node-worker-1");
  t.is(ownershipLeaseName({ namespace: "default", name: "web" }), "vipd-svc-default.web");
  t.is(ownershipLeaseName(CONTROL_PLANE_REF), "vipd-control-plane");
});

test("the control-plane key survives the work queue's round trip and is no Service's", (t) => {
  t.deepEqual(parseServiceKey(serviceKey(CONTROL_PLANE_REF)), CONTROL_PLANE_REF);
  t.not(ownershipLeaseName({ namespace: "control", name: "plane" }), ownershipLeaseName(CONTROL_PLANE_REF));
});

test("dashes in namespace and name cannot make two Services share a Lease", (t) => {
  t.not(
    ownershipLeaseName({ namespace: "a-b", name: "c" }),
    ownershipLeaseName({ namespace: "a", name: "b-c" }),
  );
});

test("long names are shortened with a hash and stay distinct and valid", (t) => {
  const namespace = "n".repeat(63);
  const one = ownershipLeaseName({ namespace, name: "x".repeat(200) });
  const two = ownershipLeaseName({ namespace, name: `${"x".repeat(199)}y` });
  t.true(one.length <= 253);
  t.not(one, two);
  t.regex(one, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
});

test("label values longer than 63 characters are hashed", (t) => {
  t.is(labelValue("web"), "web");
  const long = labelValue("s".repeat(63) + "-extra");
  t.is(long.length, 63);
  t.not(long, labelValue("s".repeat(63) + "-other"));
});
