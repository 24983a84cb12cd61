// vipd's Grafana dashboard, rendered by `npm run generate` into manifests/grafana-dashboard.json
// (import it, or ship it in a ConfigMap for Grafana's dashboard sidecar). Every query reads only
// metrics AgentMetrics exports, Node.js's process metrics among them (a unit test checks), and can
// be narrowed to some agents with the instance variable.

/** A PromQL query of one panel, and the legend of its series. */
interface Query {
  readonly expr: string;
  readonly legend?: string;
  /** A table of the series as they are now, rather than a range over time. */
  readonly instant?: boolean;
}

interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly type: "stat" | "timeseries" | "table";
  readonly queries: readonly Query[];
  readonly unit?: string;
  /** Width in Grafana's 24 columns; panels fill rows left to right. */
  readonly width: number;
  readonly height: number;
}

const AGENTS = 'instance=~"$instance"';
const RATE = "[$__rate_interval]";

const DESIRED_UNHELD = `max by (namespace, service, address) (vipd_vip_desired{${AGENTS}}) unless on (namespace, service, address) max by (namespace, service, address) (vipd_vip_announced)`;

const PANELS: readonly PanelSpec[] = [
  {
    title: "VIPs held",
    description: "Addresses the agents announce (vipd_vips_held), confirmed and in degraded hold.",
    type: "stat",
    queries: [{ expr: `sum(vipd_vips_held{${AGENTS}})` }],
    width: 6,
    height: 4,
  },
  {
    title: "Held in degraded hold",
    description: "VIPs held by agents that cannot reach the API server (degraded hold).",
    type: "stat",
    queries: [{ expr: `sum(vipd_vips_held{mode="degraded",${AGENTS}})` }],
    width: 6,
    height: 4,
  },
  {
    title: "Addresses nobody announces",
    description:
      "Addresses Services ask for (vipd_vip_desired) that no agent announces: the VipdVIPNotHeld alert.",
    type: "stat",
    queries: [{ expr: `count(${DESIRED_UNHELD}) or vector(0)` }],
    width: 6,
    height: 4,
  },
  {
    title: "Agents",
    description: "Agents scraped, by vipd_build_info.",
    type: "stat",
    queries: [{ expr: `count(vipd_build_info{${AGENTS}})` }],
    width: 6,
    height: 4,
  },
  {
    title: "Who holds what",
    description: "Each address announced, the Service it serves, the node, its interface and mode.",
    type: "table",
    queries: [{ expr: `vipd_vip_announced{${AGENTS}}`, instant: true }],
    width: 14,
    height: 8,
  },
  {
    title: "Asked for, announced by nobody",
    description: "Addresses of Services that no agent announces now; `vipd explain` says why.",
    type: "table",
    queries: [{ expr: DESIRED_UNHELD, instant: true }],
    width: 10,
    height: 8,
  },
  {
    title: "Heartbeat age",
    description:
      "Seconds since each agent's last successful heartbeat renewal started; above R it no longer counts as a confirmed holder.",
    type: "timeseries",
    queries: [{ expr: `vipd_heartbeat_age_seconds{${AGENTS}}`, legend: "{{instance}}" }],
    unit: "s",
    width: 12,
    height: 8,
  },
  {
    title: "Failed API requests",
    description: "vipd_api_errors_total: every failed request, by verb, resource and failure class.",
    type: "timeseries",
    queries: [
      {
        expr: `sum by (instance, operation, resource, failure) (rate(vipd_api_errors_total{${AGENTS}}${RATE}))`,
        legend: "{{instance}} {{operation}} {{resource}} {{failure}}",
      },
    ],
    unit: "reqps",
    width: 12,
    height: 8,
  },
  {
    title: "Elections",
    description: "Ownership changes: won, lost (409 on a claim), handed over, withdrawn.",
    type: "timeseries",
    queries: [
      {
        expr: `sum by (instance, outcome) (increase(vipd_elections_total{${AGENTS}}${RATE}))`,
        legend: "{{instance}} {{outcome}}",
      },
    ],
    width: 12,
    height: 8,
  },
  {
    title: "Withdrawals by reason",
    description: "VIPs taken off an interface, by the election's reason.",
    type: "timeseries",
    queries: [
      {
        expr: `sum by (instance, reason) (increase(vipd_withdrawals_total{${AGENTS}}${RATE}))`,
        legend: "{{instance}} {{reason}}",
      },
    ],
    width: 12,
    height: 8,
  },
  {
    title: "Claim latency",
    description: "From deciding to claim to the Lease write that made the node the holder.",
    type: "timeseries",
    queries: [
      {
        expr: `histogram_quantile(0.5, sum by (le) (rate(vipd_claim_latency_seconds_bucket{${AGENTS}}${RATE})))`,
        legend: "p50",
      },
      {
        expr: `histogram_quantile(0.99, sum by (le) (rate(vipd_claim_latency_seconds_bucket{${AGENTS}}${RATE})))`,
        legend: "p99",
      },
    ],
    unit: "s",
    width: 12,
    height: 8,
  },
  {
    title: "Conflicts and fences",
    description:
      "Frames from other machines for held VIPs (by claimant), and the probes before claims (by result); foreign-host is the VipdVIPConflict alert.",
    type: "timeseries",
    queries: [
      {
        expr: `sum by (instance, claimant) (increase(vipd_conflicts_seen_total{${AGENTS}}${RATE}))`,
        legend: "{{instance}} conflict {{claimant}}",
      },
      {
        expr: `sum by (instance, result) (increase(vipd_fences_total{${AGENTS}}${RATE}))`,
        legend: "{{instance}} fence {{result}}",
      },
    ],
    width: 12,
    height: 8,
  },
  {
    title: "Informers",
    description:
      "Whether each informer has filled its cache, and its restarts after failed lists and watches.",
    type: "timeseries",
    queries: [
      { expr: `min by (resource) (vipd_informer_synced{${AGENTS}})`, legend: "synced {{resource}}" },
      {
        expr: `sum by (instance, resource) (increase(vipd_informer_restarts_total{${AGENTS}}${RATE}))`,
        legend: "{{instance}} restarts {{resource}}",
      },
    ],
    width: 12,
    height: 8,
  },
  {
    title: "Client-side limit and Events",
    description:
      "Requests waiting for --kube-api-qps, Events dropped, reconcile runs that failed and are retried.",
    type: "timeseries",
    queries: [
      { expr: `vipd_api_requests_waiting{${AGENTS}}`, legend: "{{instance}} waiting" },
      {
        expr: `increase(vipd_events_dropped_total{${AGENTS}}${RATE})`,
        legend: "{{instance}} Events dropped",
      },
      {
        expr: `increase(vipd_reconcile_errors_total{${AGENTS}}${RATE})`,
        legend: "{{instance}} reconcile errors",
      },
    ],
    width: 12,
    height: 8,
  },
  {
    title: "Announcements sent",
    description: "Gratuitous ARP and unsolicited neighbour advertisements, per second.",
    type: "timeseries",
    queries: [
      {
        expr: `sum by (instance, kind) (rate(vipd_announcements_sent_total{${AGENTS}}${RATE}))`,
        legend: "{{instance}} {{kind}}",
      },
    ],
    unit: "pps",
    width: 12,
    height: 8,
  },
  {
    title: "Allocation writes",
    description: "The allocator's VIPAllocation writes, by step and outcome.",
    type: "timeseries",
    queries: [
      {
        expr: `sum by (step, outcome) (increase(vipd_allocation_writes_total{${AGENTS}}${RATE}))`,
        legend: "{{step}} {{outcome}}",
      },
    ],
    width: 12,
    height: 8,
  },
  {
    title: "Resident memory",
    description: "Each agent's resident set size.",
    type: "timeseries",
    queries: [{ expr: `process_resident_memory_bytes{${AGENTS}}`, legend: "{{instance}}" }],
    unit: "bytes",
    width: 8,
    height: 8,
  },
  {
    title: "CPU",
    description: "Each agent's CPU time per second.",
    type: "timeseries",
    queries: [{ expr: `rate(process_cpu_seconds_total{${AGENTS}}${RATE})`, legend: "{{instance}}" }],
    unit: "percentunit",
    width: 8,
    height: 8,
  },
  {
    title: "Event loop lag (p99)",
    description: "A busy or stalled event loop delays renewals and announcements.",
    type: "timeseries",
    queries: [{ expr: `nodejs_eventloop_lag_p99_seconds{${AGENTS}}`, legend: "{{instance}}" }],
    unit: "s",
    width: 8,
    height: 8,
  },
  {
    title: "Versions",
    description: "vipd and Node.js versions the agents run.",
    type: "table",
    queries: [{ expr: `vipd_build_info{${AGENTS}}`, instant: true }],
    width: 24,
    height: 5,
  },
];

// The data source the person importing the dashboard picks (the datasource variable).
const DATASOURCE = { type: "prometheus", uid: `\${datasource}` };

function panelJson(spec: PanelSpec, id: number, position: { x: number; y: number }): object {
  return {
    id,
    type: spec.type,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos: { h: spec.height, w: spec.width, x: position.x, y: position.y },
    fieldConfig: { defaults: spec.unit === undefined ? {} : { unit: spec.unit }, overrides: [] },
    options: {},
    targets: spec.queries.map((query, index) => ({
      datasource: DATASOURCE,
      refId: String.fromCharCode(65 + index),
      expr: query.expr,
      ...(query.legend === undefined ? {} : { legendFormat: query.legend }),
      ...(query.instant === true ? { instant: true, range: false, format: "table" } : {}),
    })),
  };
}

/** The panels placed left to right in rows of Grafana's 24 columns. */
function placed(): object[] {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return PANELS.map((spec, index) => {
    if (x + spec.width > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const panel = panelJson(spec, index + 1, { x, y });
    x += spec.width;
    rowHeight = Math.max(rowHeight, spec.height);
    return panel;
  });
}

export function grafanaDashboard(): object {
  return {
    uid: "vipd",
    title: "vipd",
    description: "VIPs held and asked for, elections, heartbeats and the API path of vipd's agents.",
    tags: ["vipd"],
    editable: true,
    schemaVersion: 39,
    time: { from: "now-6h", to: "now" },
    refresh: "30s",
    templating: {
      list: [
        { name: "datasource", label: "Data source", type: "datasource", query: "prometheus" },
        {
          name: "instance",
          label: "Agent",
          type: "query",
          datasource: DATASOURCE,
          query: { query: "label_values(vipd_build_info, instance)", refId: "instances" },
          definition: "label_values(vipd_build_info, instance)",
          includeAll: true,
          multi: true,
          allValue: ".*",
          current: { text: "All", value: "$__all" },
          refresh: 2,
        },
      ],
    },
    panels: placed(),
  };
}
