import test from "ava";
import {
  addressLeaseName,
  CONTROL_PLANE_REF,
  heartbeatLeaseName,
  labelValue,
  legacyServiceLeaseName,
} from "../../src/election/lease-names.ts";
import { parseServiceKey, serviceKey } from "../../src/kube/service-ref.ts";

test("lease names follow docs/design.md", (t) => {
  t.is(heartbeatLeaseName("worker-1"), "vipd-node-worker-1");
  t.is(legacyServiceLeaseName({ namespace: "default", name: "web" }), "vipd-svc-default.web");
  t.is(legacyServiceLeaseName(CONTROL_PLANE_REF), "vipd-control-plane");
});

test("an address's Lease name is valid, one-to-one, and never ends in a dash", (t) => {
  t.is(addressLeaseName({ address: "198.51.100.10", family: 4 }), "vipd-ip-198.51.100.10");
  t.is(
    addressLeaseName({ address: "2001:db8::", family: 6 }),
    "vipd-ip-2001-0db8-0000-0000-0000-0000-0000-0000",
  );
  t.is(
    addressLeaseName({ address: "2001:db8:1::10", family: 6 }),
    "vipd-ip-2001-0db8-0001-0000-0000-0000-0000-0010",
  );
  t.is(
    addressLeaseName({ address: "::ffff:1", family: 6 }),
    "vipd-ip-0000-0000-0000-0000-0000-0000-ffff-0001",
  );
  t.not(
    addressLeaseName({ address: "2001:db8:1::10", family: 6 }),
    addressLeaseName({ address: "2001:db8:1:0:10::", family: 6 }),
  );
});

test("the control-plane key survives the work queue's round trip and is no Service's", (t) => {
  t.deepEqual(parseServiceKey(serviceKey(CONTROL_PLANE_REF)), CONTROL_PLANE_REF);
  t.not(
    legacyServiceLeaseName({ namespace: "control", name: "plane" }),
    legacyServiceLeaseName(CONTROL_PLANE_REF),
  );
});

test("dashes in namespace and name cannot make two Services share a Lease", (t) => {
  t.not(
    legacyServiceLeaseName({ namespace: "a-b", name: "c" }),
    legacyServiceLeaseName({ namespace: "a", name: "b-c" }),
  );
});

test("long names are shortened with a hash and stay distinct and valid", (t) => {
  const namespace = "n".repeat(63);
  const one = legacyServiceLeaseName({ namespace, name: "x".repeat(200) });
  const two = legacyServiceLeaseName({ namespace, name: `${"x".repeat(199)}y` });
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
