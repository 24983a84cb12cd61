// vipd's Prometheus metrics, on a registry of its own (no global state), with Node's process
// metrics beside them. Every name starts with vipd_. What is a reading of the agent's state rather
// than a count of events (the heartbeat's age, the informers, the addresses held and asked for) is
// read when Prometheus scrapes, from the sources the agent hands over (readFrom), so that it cannot
// go stale between scrapes.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** An address this node puts on its interface and announces, once per Service it serves. */
export interface AnnouncedVip {
  readonly namespace: string;
  readonly service: string;
  readonly address: string;
  readonly interfaceName: string;
  /** confirmed, degraded (rule 1), or all-active (ecmp mode, every eligible node). */
  readonly mode: "confirmed" | "degraded" | "all-active";
}

/** An address a Service asks for and vipd would serve, whoever holds it. */
export interface DesiredVip {
  readonly namespace: string;
  readonly service: string;
  readonly address: string;
}

/** Where the state read at each scrape comes from; the agent supplies it once it is composed. */
export interface MetricSources {
  /** Seconds since this node's last successful heartbeat renewal started (or the agent started). */
  readonly heartbeatAgeSeconds: () => number;
  /** The informers the agent runs, by resource (services, leases, …), and whether each has synced. */
  readonly informers: () => readonly { readonly resource: string; readonly synced: boolean }[];
  readonly announced: () => readonly AnnouncedVip[];
  /**
   * The addresses asked for, as one agent of the cluster sees them (the allocating one; empty on the
   * others; in control-plane mode every agent's VIP), so that an alert can compare them with what
   * the nodes announce.
   */
  readonly desired: () => readonly DesiredVip[];
}

export interface AgentMetricsOptions {
  readonly node: string;
  readonly version: string;
}

// Label values that exist from the start, so that the first event of a kind is an increase that
// rate() and increase() see, not the appearance of a series.
const CONFLICT_CLAIMANTS = ["agent", "foreign-host"] as const;
const FENCE_RESULTS = ["quiet", "agent", "foreign-host", "interface-gone"] as const;

export class AgentMetrics {
  readonly registry = new Registry();
  #sources: MetricSources | undefined;

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
    help: "Failed API requests (every request, the informers' lists and watches too) by operation (get, list, watch, create, update, patch, delete, discovery), resource (leases, services, …) and failure class (unreachable, forbidden, conflict, not-found, invalid)",
    labelNames: ["operation", "resource", "failure"] as const,
    registers: [this.registry],
  });

  readonly informerRestarts = new Counter({
    name: "vipd_informer_restarts_total",
    help: "Informers started again (list, then watch) after a failed list or watch, by resource",
    labelNames: ["resource"] as const,
    registers: [this.registry],
  });

  readonly reconcileErrors = new Counter({
    name: "vipd_reconcile_errors_total",
    help: "Runs of a reconcile loop that failed and are retried (an API request or the data plane failed)",
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

  readonly heartbeatAge: Gauge = new Gauge({
    name: "vipd_heartbeat_age_seconds",
    help: "Seconds since the start of this node's last successful heartbeat renewal (since the agent started, before the first one)",
    registers: [this.registry],
    collect: () => {
      if (this.#sources !== undefined) this.heartbeatAge.set(this.#sources.heartbeatAgeSeconds());
    },
  });

  readonly informerSynced: Gauge<"resource"> = new Gauge({
    name: "vipd_informer_synced",
    help: "1 once the informer of this resource has filled its cache, 0 until then",
    labelNames: ["resource"] as const,
    registers: [this.registry],
    collect: () => {
      this.informerSynced.reset();
      for (const { resource, synced } of this.#sources?.informers() ?? [])
        this.informerSynced.set({ resource }, synced ? 1 : 0);
    },
  });

  readonly vipAnnounced: Gauge<"namespace" | "service" | "address" | "node" | "interface" | "mode"> =
    new Gauge({
      name: "vipd_vip_announced",
      help: "1 for each address this node holds and announces, per Service it serves, with its interface and mode (confirmed; degraded: held while the API server is unreachable; all-active: ecmp mode, announced by every eligible node)",
      labelNames: ["namespace", "service", "address", "node", "interface", "mode"] as const,
      registers: [this.registry],
      collect: () => {
        this.vipAnnounced.reset();
        for (const vip of this.#sources?.announced() ?? [])
          this.vipAnnounced.set(
            {
              namespace: vip.namespace,
              service: vip.service,
              address: vip.address,
              node: this.#node,
              interface: vip.interfaceName,
              mode: vip.mode,
            },
            1,
          );
      },
    });

  readonly vipDesired: Gauge<"namespace" | "service" | "address"> = new Gauge({
    name: "vipd_vip_desired",
    help: "1 for each address a Service asks for and vipd would serve, exported by the allocating agent only (in control-plane mode by every agent): compared with vipd_vip_announced, it shows an address nobody holds",
    labelNames: ["namespace", "service", "address"] as const,
    registers: [this.registry],
    collect: () => {
      this.vipDesired.reset();
      for (const vip of this.#sources?.desired() ?? [])
        this.vipDesired.set({ namespace: vip.namespace, service: vip.service, address: vip.address }, 1);
    },
  });

  readonly buildInfo = new Gauge({
    name: "vipd_build_info",
    help: "1, labelled with the version of vipd and of Node.js it runs on",
    labelNames: ["version", "node_version"] as const,
    registers: [this.registry],
  });

  readonly #node: string;

  constructor(options: AgentMetricsOptions) {
    this.#node = options.node;
    this.buildInfo.set({ version: options.version, node_version: process.versions.node }, 1);
    for (const claimant of CONFLICT_CLAIMANTS) this.conflictsSeen.inc({ claimant }, 0);
    for (const result of FENCE_RESULTS) this.fences.inc({ result }, 0);
    collectDefaultMetrics({ register: this.registry });
  }

  /** The agent's state that the scrape-time metrics read; until it is given they have no series. */
  readFrom(sources: MetricSources): void {
    this.#sources = sources;
  }
}
