// API load from the API server's own counters: parsing, deltas, writes versus reads.
import test from "ava";
import {
  isWrite,
  parseRequestCounts,
  requestRates,
  totalPerSecond,
} from "../../scripts/bench/api-requests.ts";

const metrics = (
  leasePuts: number,
  statusPatches: number,
) => `# HELP apiserver_request_total [STABLE] Counter of apiserver requests
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} ${leasePuts}
apiserver_request_total{code="409",component="apiserver",dry_run="",group="coordination.k8s.io",resource="leases",scope="resource",subresource="",verb="PUT",version="v1"} 2
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="services",scope="resource",subresource="status",verb="PATCH",version="v1"} ${statusPatches}
apiserver_request_total{code="200",component="apiserver",dry_run="",group="",resource="services",scope="cluster",subresource="",verb="WATCH",version="v1"} 3
apiserver_request_duration_seconds_bucket{verb="PUT",le="0.1"} 99
`;

test("counts are summed over codes and keyed by verb and resource/subresource", (t) => {
  t.deepEqual(
    [...parseRequestCounts(metrics(10, 4))],
    [
      ["PUT leases", 12],
      ["PATCH services/status", 4],
      ["WATCH services", 3],
    ],
  );
});

test("rates are the deltas over the window, busiest first; unchanged counters are left out", (t) => {
  const rates = requestRates(parseRequestCounts(metrics(10, 4)), parseRequestCounts(metrics(70, 10)), 20);
  t.deepEqual(
    rates.map((rate) => [rate.key, rate.perSecond]),
    [
      ["PUT leases", 3],
      ["PATCH services/status", 0.3],
    ],
  );
  t.true(rates.every(isWrite));
  t.is(totalPerSecond(rates, isWrite), 3.3);
  t.is(
    totalPerSecond(rates, (rate) => !isWrite(rate)),
    0,
  );
});

test("a counter that appears during the window counts from zero", (t) => {
  const rates = requestRates(new Map(), new Map([["DELETE leases", 5]]), 5);
  t.deepEqual(rates, [{ key: "DELETE leases", verb: "DELETE", resource: "leases", perSecond: 1 }]);
});
