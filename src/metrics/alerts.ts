// vipd's Prometheus alert rules, in one place: `npm run generate` renders them as a plain rule file
// (manifests/prometheus-rules.yaml, for rule_files) and as a PrometheusRule for the Prometheus
// Operator (manifests/prometheus-rule.yaml). Every expression reads only metrics AgentMetrics
// exports (a unit test checks), and promtool tests each alert firing and staying quiet
// (test/integration/fixtures/alerts-test.yaml).
//
// The durations are chosen against the election's timings at their defaults (D = 5 s, R = 3 s,
// P = 1 s) and well beyond them: a failover, a polite handover or an API server restart is over
// within seconds, and none of them may page anybody.
import { APP_NAME, commonLabels } from "../manifest/identity.ts";

export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: "critical" | "warning" };
  readonly annotations: { readonly summary: string; readonly description: string };
}

export interface RuleGroup {
  readonly name: string;
  readonly rules: readonly AlertRule[];
}

const BY_ADDRESS = "(namespace, service, address)";

export const ALERT_RULES: readonly AlertRule[] = [
  {
    // The allocating agent says what is asked for, the holders what they announce; an address
    // asked for that no node announces for a minute is down. A failover leaves it unannounced for
    // about one lease duration, far shorter.
    alert: "VipdVIPNotHeld",
    expr: `max by ${BY_ADDRESS} (vipd_vip_desired) unless on ${BY_ADDRESS} max by ${BY_ADDRESS} (vipd_vip_announced)`,
    for: "1m",
    labels: { severity: "critical" },
    annotations: {
      summary:
        "No node announces {{ $labels.address }} of Service {{ $labels.namespace }}/{{ $labels.service }}",
      description:
        "The Service asks for {{ $labels.address }} and no vipd agent has announced it for a minute: it does not answer. `vipd explain {{ $labels.namespace }}/{{ $labels.service }}` says why (no eligible node, a foreign host answering, the address refused).",
    },
  },
  {
    // Another agent answering is the election's business; a machine that is none is not.
    alert: "VipdVIPConflict",
    expr: 'sum without (claimant) (increase(vipd_conflicts_seen_total{claimant="foreign-host"}[5m])) > 0 or sum without (result) (increase(vipd_fences_total{result="foreign-host"}[5m])) > 0',
    for: "0m",
    labels: { severity: "critical" },
    annotations: {
      summary: "A machine that is no vipd agent answers for a VIP ({{ $labels.instance }})",
      description:
        "The agent at {{ $labels.instance }} saw ARP or neighbour answers for a VIP from a MAC that belongs to no vipd agent of the cluster: the address is configured on another host as well. vipd does not serve it while that host answers; the VIPConflict Event on the Service names the MAC.",
    },
  },
  {
    alert: "VipdHeartbeatStale",
    expr: "vipd_heartbeat_age_seconds > 15",
    for: "30s",
    labels: { severity: "warning" },
    annotations: {
      summary:
        "The vipd agent at {{ $labels.instance }} has not renewed its heartbeat for {{ $value | humanizeDuration }}",
      description:
        "Its heartbeat Lease is not being renewed: the node cannot reach the API server, or the API server is down. Other nodes may take its VIPs over once the wire is quiet; until then it keeps them in degraded hold.",
    },
  },
  {
    // Degraded hold (DESIGN.md rule 1(b)) is how VIPs survive an API server outage; held for long,
    // nobody can move them if this node fails on the LAN too.
    alert: "VipdDegradedHold",
    expr: 'vipd_vips_held{mode="degraded"} > 0',
    for: "2m",
    labels: { severity: "warning" },
    annotations: {
      summary: "{{ $value }} VIPs held without the API server on {{ $labels.instance }}",
      description:
        "The agent keeps announcing VIPs it cannot confirm through the API server (degraded hold): they still answer, but no failover can be coordinated for them until the node reaches the API server again.",
    },
  },
  {
    alert: "VipdAPIErrors",
    expr: 'sum without (operation, resource, failure) (rate(vipd_api_errors_total{failure=~"unreachable|forbidden|invalid"}[5m])) > 0.1',
    for: "5m",
    labels: { severity: "warning" },
    annotations: {
      summary: "The vipd agent at {{ $labels.instance }} fails {{ $value | humanize }} API requests a second",
      description:
        "Requests to the API server keep failing (unreachable, forbidden or refused as invalid); vipd_api_errors_total by operation, resource and failure says which. 409 conflicts and 404s are the election's normal answers and are not counted here.",
    },
  },
  {
    alert: "VipdInformerNotSynced",
    expr: "vipd_informer_synced == 0",
    for: "5m",
    labels: { severity: "warning" },
    annotations: {
      summary: "The vipd agent at {{ $labels.instance }} has not read its {{ $labels.resource }} yet",
      description:
        "The informer has not filled its cache for five minutes; the agent takes no decision until it has. Its log names the list's error (RBAC not applied, the API server unreachable).",
    },
  },
];

export function ruleGroups(): { readonly groups: readonly RuleGroup[] } {
  return { groups: [{ name: APP_NAME, rules: ALERT_RULES }] };
}

/** The same rules as a Prometheus Operator PrometheusRule in the agents' namespace. */
export function prometheusRule(namespace: string): object {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: { name: APP_NAME, namespace, labels: commonLabels() },
    spec: ruleGroups(),
  };
}
