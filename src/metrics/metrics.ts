// vipd's Prometheus metrics, on a registry of its own (no global state), with Node's process
// metrics beside them. Every name starts with vipd_.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

export class AgentMetrics {
  readonly registry = new Registry();

  readonly vipsHeld = new Gauge({
    name: "vipd_vips_held",
    help: "VIPs this node currently holds and announces",
    labelNames: ["mode"] as const,
    registers: [this.registry],
  });

  readonly elections = new Counter({
    name: "vipd_elections_total",
    help: "Ownership changes made by this node: won (claimed), lost (409 on the claim), handed_over, withdrawn",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  readonly withdrawals = new Counter({
    name: "vipd_withdrawals_total",
    help: "VIPs this node took off its interface, by the election's reason (carrier-lost, not-eligible, cordoned, renewal-expired, …)",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  readonly allocationWrites = new Counter({
    name: "vipd_allocation_writes_total",
    help: "VIPAllocation writes of the allocator, by step (create, take-back, release, delete) and outcome (done; taken: the address had an allocation already; stale: it changed since it was read)",
    labelNames: ["step", "outcome"] as const,
    registers: [this.registry],
  });

  readonly claimLatency = new Histogram({
    name: "vipd_claim_latency_seconds",
    help: "From the decision to claim a Service to the Lease write that made this node its holder",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly announcementsSent = new Counter({
    name: "vipd_announcements_sent_total",
    help: "Gratuitous ARP and unsolicited neighbour advertisement frames sent",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  readonly conflictsSeen = new Counter({
    name: "vipd_conflicts_seen_total",
    help: "Frames from another machine announcing or answering for a VIP this node holds, by claimant: agent (another vipd agent), foreign-host (none)",
    labelNames: ["claimant"] as const,
    registers: [this.registry],
  });

  readonly fences = new Counter({
    name: "vipd_fences_total",
    help: "Probes of the wire before a claim, by result: quiet, agent (another vipd agent answered: wait), foreign-host (quarantine), interface-gone (not probed: retried)",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });

  readonly apiErrors = new Counter({
    name: "vipd_api_errors_total",
    help: "Failed API requests by operation and failure class",
    labelNames: ["operation", "failure"] as const,
    registers: [this.registry],
  });

  readonly heartbeatAge = new Gauge({
    name: "vipd_heartbeat_age_seconds",
    help: "Seconds since the start of this node's last successful heartbeat renewal",
    registers: [this.registry],
  });

  readonly apiRequestsWaiting = new Gauge({
    name: "vipd_api_requests_waiting",
    help: "API requests held back by the client-side limit (--kube-api-qps, --kube-api-burst)",
    registers: [this.registry],
  });

  readonly eventsDropped = new Counter({
    name: "vipd_events_dropped_total",
    help: "Events not sent because too many were already waiting (the API server is slow or the limit is low)",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
