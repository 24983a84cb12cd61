// `vipd explain`'s decision: a pure function of a snapshot (snapshot.ts), the agents' settings and
// the time, returning what a person needs when a VIP does not answer. Every judgement is the
// agents' own code, called the way the agents call it: which addresses the Service asks for and why
// any are refused (service-intent.ts), what the allocator would do (allocate.ts, over the same
// AddressingView the agents build), which older Service keeps an address (vip-claims.ts), which
// nodes may carry it (eligibility.ts) and in which order they claim (ranking.ts). So explain cannot
// disagree with the agents about any of it. What it adds is time read from the Leases: the agents
// never trust a Lease's timestamps across nodes (decide.ts), and neither is a person told to —
// ages are by this machine's clock, and say when a heartbeat looks stale, not that it is dead.
import type { V1EndpointSlice, V1Lease, V1Node, V1Service } from "@kubernetes/client-node";
import { AddressingView } from "../addresses/addressing-view.ts";
import { planAllocation, type AllocationProblem } from "../addresses/allocate.ts";
import { familyUsage, poolOf, poolsToAllocateFrom, type Pool } from "../addresses/pools.ts";
import { sharingKeyOf } from "../addresses/sharing.ts";
import { isCordoned, serviceEligibility } from "../agent/eligibility.ts";
import {
  canonicalAddress,
  intentOptions,
  readRequest,
  requestedVips,
  serviceFacts,
  serviceIntent,
  type IntentOptions,
  type ServiceIntent,
  type Vip,
} from "../agent/service-intent.ts";
import { VipClaims, type VipConflict } from "../agent/vip-claims.ts";
import {
  addressLeaseName,
  HEARTBEAT_COMPONENT,
  heartbeatLeaseName,
  LEASE_LABEL_COMPONENT,
} from "../election/lease-names.ts";
import { rankCandidates } from "../election/ranking.ts";
import { apiServerAddresses, KUBERNETES_SERVICE, serviceCidrs } from "../kube/cluster-addresses.ts";
import { ANNOTATION_HOLDER, EVENT_REASONS, LABEL_EXCLUDE_FROM_LOAD_BALANCERS } from "../kube/names.ts";
import { serviceKey, type ServiceRef } from "../kube/service-ref.ts";
import { timestampMs } from "../kube/timestamps.ts";
import type { ExplainSettings, ExplainSnapshot } from "./snapshot.ts";

/** The Service condition vipd writes (DESIGN.md section 5); read by type, whoever wrote it. */
export const ANNOUNCED_CONDITION = "vipd.io/Announced";

/** How the gatherer names the Leases of vipd's namespace in `unread` when it cannot list them. */
export const LEASES_UNREAD = "Leases in ";

/** How many of the Service's Events the report keeps: the newest. */
export const EVENTS_SHOWN = 8;

/** Why the Service is not served, most fundamental first; "served" when it is. */
export type Situation =
  | "served"
  | "not-load-balancer"
  | "other-class"
  | "no-class"
  | "ignored"
  | "invalid"
  | "no-address"
  | "conflict"
  | "no-agent"
  | "no-eligible-node"
  | "unclaimed"
  | "holder-stale";

export interface HeartbeatReport {
  /** The heartbeat Lease's renewTime, this long ago by this machine's clock; null when it has none. */
  readonly renewedAgoMs: number | null;
  /** Its leaseDurationSeconds, in ms: D, as the agent that writes it runs. */
  readonly durationMs: number;
  /** Not renewed within D (or never): the agent stopped, froze or lost the API server. */
  readonly stale: boolean;
}

export interface PoolReport {
  readonly name: string;
  /** "VIPPool", or "kube-vip" for a pool of kube-system/kubevip. */
  readonly origin: string;
  readonly ipv4?: { readonly total: string; readonly free: string };
  readonly ipv6?: { readonly total: string; readonly free: string };
  readonly disabled: boolean;
  readonly autoAssign: boolean;
}

export interface AddressReport {
  readonly address: string;
  readonly family: 4 | 6;
  /** A spec.externalIPs address: announced, never in the status. */
  readonly external: boolean;
  /** The pool it lies in; undefined outside every pool. */
  readonly pool: string | undefined;
  /** Its VIPAllocation, if any. */
  readonly allocation:
    | {
        readonly name: string;
        /** The Services it is given to, "namespace/name", this one included. */
        readonly services: readonly string[];
        readonly sharingKey: string | undefined;
        readonly released: boolean;
      }
    | undefined;
  /** Its ownership Lease in vipd's namespace; undefined when nobody has claimed it yet. */
  readonly lease:
    | {
        readonly name: string;
        readonly holder: string | null;
        readonly acquiredAgoMs: number | null;
        /** renewTime: agents write the ownership Lease only when ownership changes. */
        readonly changedAgoMs: number | null;
        readonly transitions: number;
      }
    | undefined;
  /** The holder's heartbeat; undefined when there is no holder, null when it has no heartbeat Lease. */
  readonly holderHeartbeat: HeartbeatReport | null | undefined;
}

export interface NodeReport {
  readonly name: string;
  /** It may claim the addresses now: eligible by rule 7, live, and not refusing them. */
  readonly candidate: boolean;
  /** Why it is no candidate; empty for a candidate. */
  readonly reasons: readonly string[];
  /** What does not stop it but a person should know (cordoned). */
  readonly notes: readonly string[];
  readonly cordoned: boolean;
  readonly heartbeat: HeartbeatReport | null;
  /** It holds the first address's ownership Lease. */
  readonly holder: boolean;
}

export interface EventReport {
  readonly type: string;
  readonly reason: string;
  readonly message: string;
  readonly count: number;
  /** Its last occurrence, this long ago; null when the Event carries no time. */
  readonly agoMs: number | null;
  /** The node (or component) that reported it. */
  readonly from: string;
}

export interface ExplainReport {
  readonly service: string;
  readonly uid: string | undefined;
  readonly served: boolean;
  readonly situation: Situation;
  /** One sentence: what is going on. */
  readonly verdict: string;
  readonly request: {
    /** An annotation key, spec.loadBalancerIP, spec.externalIPs, "allocation" or "none". */
    readonly source: string;
    /** The text the source holds, for an annotation or spec.loadBalancerIP. */
    readonly value: string | undefined;
    /** The pool the Service names (vipd.io/pool, metallb.io/address-pool). */
    readonly pool: string | undefined;
    /** The sharing key (vipd.io/allow-shared-ip, metallb.io/allow-shared-ip). */
    readonly sharingKey: string | undefined;
    /** Why the Service asks vipd for nothing, or what of its request is refused (sentences). */
    readonly problems: readonly string[];
  };
  readonly addresses: readonly AddressReport[];
  /** The pools its addresses lie in, or, while it waits for one, those it may take one from. */
  readonly pools: readonly PoolReport[];
  readonly nodes: readonly NodeReport[];
  /** The candidates in the order they claim a free address (rule 6, cordoned ones last). */
  readonly claimOrder: readonly string[];
  readonly status: {
    readonly ingress: readonly string[];
    readonly holderAnnotation: string | undefined;
    readonly condition:
      | {
          readonly status: string;
          readonly reason: string;
          readonly message: string;
          readonly changedAgoMs: number | null;
        }
      | undefined;
  };
  /** The newest Events about the Service, oldest first. */
  readonly events: readonly EventReport[];
  /** What to do next, most useful first. */
  readonly hints: readonly string[];
  /** What could not be read, so a person knows what the report is missing. */
  readonly unread: readonly string[];
}

function refOf(service: V1Service): ServiceRef {
  return { namespace: service.metadata?.namespace ?? "", name: service.metadata?.name ?? "" };
}

function agoMs(stamp: unknown, now: number): number | null {
  const time = timestampMs(stamp);
  return time === undefined ? null : Math.max(0, now - time);
}

function heartbeatOf(lease: V1Lease | undefined, now: number): HeartbeatReport | null {
  if (lease === undefined) return null;
  const renewedAgoMs = agoMs(lease.spec?.renewTime, now);
  const durationMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
  return { renewedAgoMs, durationMs, stale: renewedAgoMs === null || renewedAgoMs > durationMs };
}

export function formatAge(ms: number | null): string {
  if (ms === null) return "never";
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)}s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m`;
  return `${Math.round(ms / 3_600_000)}h`;
}

/** The agents' view of the cluster's pools, allocations and addresses, built from the snapshot. */
function agentReadings(snapshot: ExplainSnapshot, settings: ExplainSettings, liveNodes: readonly string[]) {
  const byKey = new Map(snapshot.services.map((service) => [serviceKey(refOf(service)), service]));
  const namespace = snapshot.namespace;
  const addressing: AddressingView = new AddressingView({
    vipPools: { list: () => snapshot.vipPools },
    namespaces: { get: (name) => (namespace?.metadata?.name === name ? namespace : undefined) },
    kubeVipConfig: { list: () => (snapshot.kubeVipConfig === undefined ? [] : [snapshot.kubeVipConfig]) },
    poolAddressesOnly: settings.poolAddressesOnly,
    vipdApiServed: () => snapshot.vipdApiServed,
    service: (ref) => byKey.get(serviceKey(ref)),
    requestOf: (service) => readRequest(service, options),
    liveNodes: () => liveNodes,
  });
  const nodeAddresses = new Set(
    snapshot.nodes
      .flatMap((node) => node.status?.addresses ?? [])
      .map((address) => canonicalAddress(address.address))
      .flatMap((reading) => (reading.ok ? [reading.vip.address] : [])),
  );
  // The agents add their own kubeconfig's server, which this machine's kubeconfig does not name;
  // every API server's address is in default/kubernetes anyway (cluster-addresses.ts).
  const apiServer = apiServerAddresses({
    kubeconfigServer: undefined,
    kubernetesSlices: snapshot.kubernetesSlices,
    kubernetesService: byKey.get(serviceKey(KUBERNETES_SERVICE)),
  });
  const cidrs = serviceCidrs(snapshot.serviceCidrs);
  const options: IntentOptions = intentOptions(settings, {
    nodeAddresses: () => nodeAddresses,
    apiServerAddresses: () => apiServer,
    serviceCidrs: () => cidrs,
    addressing: () => addressing,
  });
  for (const allocation of snapshot.allocations) addressing.allocations.set(allocation, false);
  for (const service of snapshot.services)
    addressing.requestChanged(refOf(service), readRequest(service, options));
  const claims = new VipClaims((address) => poolOf(addressing.pools, address) !== undefined);
  for (const service of snapshot.services) {
    const intent = serviceIntent(service, options);
    if (!intent.serve) continue;
    const key = serviceKey(refOf(service));
    claims.set(key, {
      serviceKey: key,
      createdAt: timestampMs(service.metadata?.creationTimestamp) ?? 0,
      addresses: intent.vips.map((vip) => vip.address),
    });
  }
  return { addressing, options, claims };
}

function allocationProblem(
  addressing: AddressingView,
  ref: ServiceRef,
  settings: ExplainSettings,
  now: number,
): { problem: AllocationProblem | null; next: string | undefined } {
  const situation = addressing.situation(ref);
  if (situation === null || situation.request === "none" || situation.request === "unreadable")
    return { problem: null, next: undefined };
  const unavailable = addressing.unavailable();
  if (unavailable !== null)
    return { problem: { reason: EVENT_REASONS.noAddress, message: unavailable }, next: undefined };
  const taken = new Set(addressing.requestedAddresses());
  for (const record of addressing.allocations.all()) taken.add(record.address);
  const plan = planAllocation({ ...situation, taken, now, cooldownMs: settings.allocationCooldown });
  const next = plan.steps.flatMap((step) =>
    step.kind === "create"
      ? [step.address]
      : step.kind === "join" || step.kind === "take-back"
        ? [step.record.address]
        : [],
  );
  return { problem: plan.problem, next: next.length === 0 ? undefined : next.join(", ") };
}

function poolReport(pool: Pool, addressing: AddressingView): PoolReport {
  const given = addressing.allocations
    .all()
    .filter((record) => record.pool === pool.name && record.releasedAt === undefined);
  const usage = (family: 4 | 6) => {
    if (!pool.ranges.some((range) => range.family === family)) return undefined;
    const { total, free } = familyUsage(pool, family, given.filter((each) => each.family === family).length);
    return { total, free };
  };
  const ipv4 = usage(4);
  const ipv6 = usage(6);
  return {
    name: pool.name,
    origin: pool.origin,
    ...(ipv4 === undefined ? {} : { ipv4 }),
    ...(ipv6 === undefined ? {} : { ipv6 }),
    disabled: pool.disabled,
    autoAssign: pool.autoAssign,
  };
}

function addressReport(
  vip: Vip,
  intent: ServiceIntent,
  addressing: AddressingView,
  leases: ReadonlyMap<string, V1Lease>,
  now: number,
): AddressReport {
  const record = addressing.allocations.at(vip.address);
  const lease = leases.get(addressLeaseName(vip));
  const holder = lease?.spec?.holderIdentity ?? null;
  return {
    address: vip.address,
    family: vip.family,
    external: intent.serve && intent.external?.has(vip.address) === true,
    pool: poolOf(addressing.pools, vip.address)?.name,
    allocation:
      record === undefined
        ? undefined
        : {
            name: record.name,
            services: record.services.map(serviceKey),
            sharingKey: record.sharingKey,
            released: record.releasedAt !== undefined,
          },
    lease:
      lease === undefined
        ? undefined
        : {
            name: lease.metadata?.name ?? "",
            holder,
            acquiredAgoMs: agoMs(lease.spec?.acquireTime, now),
            changedAgoMs: agoMs(lease.spec?.renewTime, now),
            transitions: lease.spec?.leaseTransitions ?? 0,
          },
    holderHeartbeat: holder === null ? undefined : heartbeatOf(leases.get(heartbeatLeaseName(holder)), now),
  };
}

/** The addresses the report is about: those served, else those asked for or allocated so far. */
function addressesOf(
  service: V1Service,
  intent: ServiceIntent,
  options: IntentOptions,
  addressing: AddressingView,
): Vip[] {
  if (intent.serve) return [...intent.vips];
  const request = readRequest(service, options);
  if (request.kind === "requested") return [...request.vips];
  return addressing.allocations
    .addressesOf(refOf(service), service.metadata?.uid ?? "")
    .map((record) => ({ address: record.address, family: record.family }));
}

// A refusal an agent reached from its own node's interfaces names that node first (refusals.ts).
function nodeRefusals(snapshot: ExplainSnapshot, now: number): Map<string, string> {
  const refusals = new Map<string, string>();
  const names = new Set(snapshot.nodes.map((node) => node.metadata?.name ?? ""));
  for (const event of sortedEvents(snapshot)) {
    if (event.reason !== EVENT_REASONS.invalid && event.reason !== EVENT_REASONS.conflict) continue;
    const colon = (event.message ?? "").indexOf(": ");
    const node = (event.message ?? "").slice(0, colon);
    if (colon > 0 && names.has(node))
      refusals.set(
        node,
        `its agent refused it ${formatAge(lastSeen(event, now))} ago: ${event.message?.slice(colon + 2) ?? ""}`,
      );
  }
  return refusals;
}

function lastSeenStamp(event: ExplainSnapshot["events"][number]): unknown {
  return (
    event.series?.lastObservedTime ??
    event.lastTimestamp ??
    event.eventTime ??
    event.firstTimestamp ??
    event.metadata.creationTimestamp
  );
}

function lastSeen(event: ExplainSnapshot["events"][number], now: number): number | null {
  return agoMs(lastSeenStamp(event), now);
}

/** The Service's Events, oldest first: those of an earlier Service of the same name are left out. */
function sortedEvents(snapshot: ExplainSnapshot): ExplainSnapshot["events"] {
  const uid = snapshot.service.metadata?.uid;
  return snapshot.events
    .filter((event) => {
      const about = event.involvedObject;
      return (
        about.kind === "Service" &&
        about.name === snapshot.service.metadata?.name &&
        (about.uid === undefined || about.uid === "" || uid === undefined || about.uid === uid)
      );
    })
    .map((event) => ({ event, at: timestampMs(lastSeenStamp(event)) ?? 0 }))
    .sort((a, b) => a.at - b.at)
    .map(({ event }) => event);
}

function nodeReports(input: {
  readonly snapshot: ExplainSnapshot;
  readonly settings: ExplainSettings;
  readonly leases: ReadonlyMap<string, V1Lease>;
  readonly holder: string | null;
  readonly now: number;
}): NodeReport[] {
  const { snapshot, settings, leases, holder, now } = input;
  const refusals = nodeRefusals(snapshot, now);
  const slices: readonly V1EndpointSlice[] = snapshot.endpointSlices;
  return snapshot.nodes
    .map((node: V1Node): NodeReport => {
      const name = node.metadata?.name ?? "";
      const reasons: string[] = [];
      const notes: string[] = [];
      const eligibility = serviceEligibility({
        nodeName: name,
        node,
        externalTrafficPolicy: snapshot.service.spec?.externalTrafficPolicy,
        endpointSlices: slices,
      });
      if (!eligibility.eligible) reasons.push(eligibility.reason);
      const heartbeat = heartbeatOf(leases.get(heartbeatLeaseName(name)), now);
      if (heartbeat === null)
        reasons.push(
          `no heartbeat Lease ${heartbeatLeaseName(name)} in ${settings.vipdNamespace}: no vipd agent runs there`,
        );
      else if (heartbeat.stale)
        reasons.push(
          `heartbeat stale: renewed ${formatAge(heartbeat.renewedAgoMs)} ago, lease ${formatAge(heartbeat.durationMs)}`,
        );
      const refusal = refusals.get(name);
      if (refusal !== undefined && name !== holder) reasons.push(refusal);
      const cordoned = isCordoned(node);
      if (cordoned)
        notes.push(
          settings.cordonHandsOver
            ? "cordoned: claims last and hands over to a live uncordoned candidate"
            : "cordoned (ignored: --cordon-hands-over=false)",
        );
      return {
        name,
        candidate: reasons.length === 0,
        reasons,
        notes,
        cordoned,
        heartbeat,
        holder: name === holder,
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function requestReport(
  service: V1Service,
  intent: ServiceIntent,
  options: IntentOptions,
  conflict: VipConflict | null,
): ExplainReport["request"] {
  const request = readRequest(service, options);
  const named = requestedVips(service);
  const source = intent.serve
    ? intent.source === "allocated"
      ? "allocation"
      : intent.source
    : (named?.source ?? (request.kind === "not-served" ? "none" : "allocation"));
  const value =
    source === "spec.externalIPs"
      ? service.spec?.externalIPs?.join(",")
      : named?.source === source
        ? named.text
        : undefined;
  const problems = [
    ...(intent.serve ? (intent.refused ?? []) : intent.reason === "invalid" ? intent.problems : []),
    ...(conflict === null
      ? []
      : [`${conflict.address} is already used by the older Service ${conflict.heldBy}`]),
  ];
  return {
    source,
    value,
    pool: request.kind === "allocate" ? request.pool?.name : undefined,
    sharingKey: sharingKeyOf(service, undefined),
    problems,
  };
}

interface Judgement {
  readonly situation: Situation;
  readonly verdict: string;
  readonly hints: readonly string[];
}

function notServedJudgement(service: V1Service, settings: ExplainSettings, reason: string): Judgement {
  const name = refOf(service).name;
  switch (reason) {
    case "not-load-balancer":
      return {
        situation: "not-load-balancer",
        verdict: `not served: spec.type is ${service.spec?.type ?? "ClusterIP"}, and vipd serves type LoadBalancer`,
        hints: [
          `make it a LoadBalancer: kubectl patch service ${name} -p '{"spec":{"type":"LoadBalancer"}}'`,
        ],
      };
    case "other-class":
      return {
        situation: "other-class",
        verdict: `not served: spec.loadBalancerClass is "${service.spec?.loadBalancerClass ?? ""}", not "${settings.loadBalancerClass}"`,
        hints: [
          "another load balancer serves this class; the class cannot be changed: recreate the Service without it or with vipd's",
          "if the agents run with another --load-balancer-class, pass the same to vipd explain",
        ],
      };
    case "no-class":
      return {
        situation: "no-class",
        verdict: "not served: it has no spec.loadBalancerClass, and the agents run with --class-only",
        hints: [
          `recreate it with spec.loadBalancerClass: ${settings.loadBalancerClass} (the class is set only at creation)`,
        ],
      };
    default:
      return {
        situation: "ignored",
        verdict: "not served: it carries vipd.io/ignore: true",
        hints: [`remove the annotation: kubectl annotate service ${name} vipd.io/ignore-`],
      };
  }
}

function invalidHints(name: string, source: string, problems: readonly string[]): string[] {
  const hints = new Set<string>();
  for (const problem of problems) {
    if (problem.includes("is in no VIPPool"))
      hints.add(
        "use an address of a VIPPool (kubectl get vippools), add this one to a pool's spec.addresses, or run the agents with --pool-addresses-only=false",
      );
    else if (problem.includes("may not use"))
      hints.add("the pool's spec.serviceAllocation leaves this namespace out: use another pool or widen it");
    else if (/node address|API server|Service CIDR/.test(problem))
      hints.add("the cluster itself uses that address: pick a free one on the nodes' segment");
    else if (problem.includes("spec.ipFamilies"))
      hints.add("ask for an address of the Service's own IP family, or change spec.ipFamilyPolicy");
    else if (problem.startsWith("spec.externalIPs"))
      hints.add(
        "spec.externalIPs are announced only inside the agents' --external-ip-cidrs and outside every pool",
      );
  }
  const fix =
    source === "spec.loadBalancerIP" || source === "none" || source === "allocation"
      ? `kubectl edit service ${name}`
      : `kubectl annotate service ${name} --overwrite ${source}=<address>`;
  hints.add(`fix it: ${fix}; the agents read the change at once`);
  return [...hints];
}

function addressHints(
  problem: AllocationProblem | null,
  name: string,
  next: string | undefined,
  live: number,
): string[] {
  if (problem === null) {
    if (next !== undefined && live === 0)
      return [`the allocator would give it ${next}, but no vipd agent is live to write it`];
    if (next !== undefined)
      return [
        `the allocator (one live agent) gives it ${next} next: run again in a moment; if it stays, read the agents' logs`,
      ];
    return ["no allocation yet: run again in a moment; if it stays, read the agents' logs"];
  }
  if (problem.reason === EVENT_REASONS.poolExhausted)
    return [
      "add addresses to the pool's spec.addresses, or free some: kubectl get vipallocations shows who has them",
      `or name another pool: kubectl annotate service ${name} vipd.io/pool=<pool>`,
    ];
  if (problem.message.includes("CRDs"))
    return ["install vipd's CRDs: vipd manifest crds | kubectl apply -f -, then create a VIPPool"];
  if (problem.reason === EVENT_REASONS.conflict)
    return ["to share one address, give every Service on it the same vipd.io/allow-shared-ip key"];
  return [
    "create a VIPPool it may use (docs/addresses.md), fix vipd.io/pool, or name an address: vipd.io/loadBalancerIPs",
  ];
}

function electionJudgement(
  report: Pick<ExplainReport, "addresses" | "nodes" | "claimOrder" | "events">,
  settings: ExplainSettings,
  service: V1Service,
  leasesUnread: boolean,
): Judgement {
  const { addresses, nodes, claimOrder, events } = report;
  const ns = settings.vipdNamespace;
  const live = nodes.filter((node) => node.heartbeat !== null && !node.heartbeat.stale);
  const list = addresses.map((each) => each.address).join(", ");
  const stale = addresses.find((each) => each.lease?.holder != null && (each.holderHeartbeat?.stale ?? true));
  if (stale?.lease?.holder != null) {
    const holder = stale.lease.holder;
    return {
      situation: "holder-stale",
      verdict: `held by ${holder}, whose heartbeat is ${stale.holderHeartbeat === null ? "gone" : `${formatAge(stale.holderHeartbeat?.renewedAgoMs ?? null)} old`}: it may not answer`,
      hints: [
        `the agent on ${holder} stopped, froze or lost the API server: kubectl -n ${ns} get pods -o wide --field-selector spec.nodeName=${holder}`,
        "a candidate takes over once the heartbeat is silent for a lease and nobody answers the address on the wire; a holder only cut off from the API server keeps answering (degraded hold)",
        ...(claimOrder.length === 0 ? ["no node could take over: see the reasons above"] : []),
      ],
    };
  }
  const unheld = addresses.filter((each) => each.lease?.holder == null);
  if (unheld.length === 0) {
    const holders = [...new Set(addresses.map((each) => each.lease?.holder ?? ""))].join(", ");
    const ingress = new Set((service.status?.loadBalancer?.ingress ?? []).map((entry) => entry.ip));
    const missing = addresses.filter((each) => !each.external && !ingress.has(each.address));
    // Rule 7 in the holder's own loop: it withdraws and clears the Lease, and a candidate claims.
    const leaving = nodes.filter((node) => node.holder && node.reasons.length > 0);
    return {
      situation: "served",
      verdict: `served: ${holders} holds ${list}`,
      hints: [
        ...leaving.map(
          (node) =>
            `${node.name} holds it but may not carry it (${node.reasons.join("; ")}): it hands over to ${claimOrder[0] ?? "nobody: no candidate"}`,
        ),
        ...(missing.length > 0
          ? [
              `the status does not show ${missing.map((each) => each.address).join(", ")} yet: the holder writes it once it announces; run again in a moment`,
            ]
          : leaving.length > 0
            ? []
            : [
                `nothing to do; if ${list} does not answer, check from a host on the nodes' segment (arping) and the holder's interface`,
              ]),
      ],
    };
  }
  if (leasesUnread)
    return {
      situation: "no-agent",
      verdict: `cannot tell who serves it: the Leases in ${ns} could not be read`,
      hints: ["read with a kubeconfig that may list Leases in vipd's namespace, or pass --vipd-namespace"],
    };
  if (live.length === 0)
    return {
      situation: "no-agent",
      verdict: `not served: no vipd agent has a live heartbeat in ${ns}`,
      hints: [
        `is the DaemonSet running? kubectl -n ${ns} get daemonset,pods -o wide`,
        "if vipd runs in another namespace, pass it with --vipd-namespace",
      ],
    };
  if (claimOrder.length === 0) {
    const reasons = new Set(nodes.flatMap((node) => node.reasons));
    const hints: string[] = [];
    if ([...reasons].some((reason) => reason.includes("no ready endpoint")))
      hints.push(
        `externalTrafficPolicy Local needs a ready pod on the node: kubectl get endpointslices -l kubernetes.io/service-name=${refOf(service).name}, or set externalTrafficPolicy: Cluster`,
      );
    if ([...reasons].some((reason) => reason.includes(LABEL_EXCLUDE_FROM_LOAD_BALANCERS)))
      hints.push(
        `remove the label from a node: kubectl label node <node> ${LABEL_EXCLUDE_FROM_LOAD_BALANCERS}-`,
      );
    if ([...reasons].some((reason) => reason.includes("heartbeat") || reason.includes("no vipd agent")))
      hints.push(`start vipd on the nodes: kubectl -n ${ns} get pods -o wide`);
    if ([...reasons].some((reason) => reason.includes("refused")))
      hints.push(
        "a node's agent refused the address (its interfaces): see vipd.io/interface, --interface, and the node's subnets",
      );
    if ([...reasons].some((reason) => reason.includes("NetworkUnavailable")))
      hints.push("the nodes report NetworkUnavailable: fix the node network (CNI) first");
    return {
      situation: "no-eligible-node",
      verdict: `not served: no node may carry ${list}`,
      hints,
    };
  }
  // The fence of rule 2 found a host that is no agent answering for the address (address-executor.ts).
  const foreign = events.filter(
    (event) => event.reason === EVENT_REASONS.conflict && event.message.includes("which is no vipd agent"),
  );
  return {
    situation: "unclaimed",
    verdict: `not served yet: nobody holds ${unheld.map((each) => each.address).join(", ")}; ${claimOrder[0] ?? ""} claims first`,
    hints: [
      foreign.length > 0
        ? `another host answers for the address (${foreign.at(-1)?.message ?? ""}): remove the address from that host, or pick another`
        : "a candidate probes the address on the wire before a first claim: a host that answers (a VIPConflict Event names its MAC) keeps it from being taken",
      `read the agents' logs: kubectl -n ${ns} logs -l app.kubernetes.io/name=vipd --tail=50`,
    ],
  };
}

/** What a person needs to know about one Service's VIPs, as the agents see it now. */
export function explain(snapshot: ExplainSnapshot, settings: ExplainSettings, now: number): ExplainReport {
  const { service } = snapshot;
  const ref = refOf(service);
  const leases = new Map(snapshot.leases.map((lease) => [lease.metadata?.name ?? "", lease]));
  const liveNodes = snapshot.leases
    .filter((lease) => lease.metadata?.labels?.[LEASE_LABEL_COMPONENT] === HEARTBEAT_COMPONENT)
    .filter((lease) => heartbeatOf(lease, now)?.stale === false)
    .flatMap((lease) => (lease.spec?.holderIdentity == null ? [] : [lease.spec.holderIdentity]));
  const { addressing, options, claims } = agentReadings(snapshot, settings, liveNodes);
  const intent = serviceIntent(service, options);
  const conflict = intent.serve ? claims.conflict(serviceKey(ref)) : null;
  const vips = addressesOf(service, intent, options, addressing);
  const addresses = vips.map((vip) => addressReport(vip, intent, addressing, leases, now));
  const holder = addresses[0]?.lease?.holder ?? null;
  const nodes = nodeReports({ snapshot, settings, leases, holder, now });
  const candidates = nodes.filter((node) => node.candidate);
  const claimOrder = rankCandidates(
    candidates.map((node) => node.name),
    serviceKey(ref),
    settings.cordonHandsOver ? candidates.filter((node) => node.cordoned).map((node) => node.name) : [],
  );
  const request = requestReport(service, intent, options, conflict);
  const allocation = intent.serve
    ? { problem: null, next: undefined }
    : allocationProblem(addressing, ref, settings, now);
  const facts = serviceFacts(service, addressing);
  const poolNames = new Set(addresses.flatMap((each) => (each.pool === undefined ? [] : [each.pool])));
  if (!intent.serve && request.source === "allocation") {
    const choice = poolsToAllocateFrom(facts, addressing.pools, request.pool);
    if (choice.ok) for (const pool of choice.pools) poolNames.add(pool.name);
  }
  const pools = addressing.pools
    .filter((pool) => poolNames.has(pool.name))
    .map((pool) => poolReport(pool, addressing));
  const events = sortedEvents(snapshot)
    .slice(-EVENTS_SHOWN)
    .map((event): EventReport => ({
      type: event.type ?? "",
      reason: event.reason ?? "",
      message: event.message ?? "",
      count: event.series?.count ?? event.count ?? 1,
      agoMs: lastSeen(event, now),
      from:
        event.source?.host ??
        event.reportingInstance ??
        event.source?.component ??
        event.reportingComponent ??
        "",
    }));
  let judgement: Judgement;
  if (!intent.serve && intent.reason !== "invalid" && intent.reason !== "awaiting-address")
    judgement = notServedJudgement(service, settings, intent.reason);
  else if (!intent.serve && intent.reason === "invalid")
    judgement = {
      situation: "invalid",
      verdict: `not served: ${request.source} is refused`,
      hints: invalidHints(ref.name, request.source, intent.problems),
    };
  else if (!intent.serve) {
    const { problem, next } = allocation;
    judgement = {
      situation: "no-address",
      verdict:
        problem === null
          ? "not served yet: it has no address yet"
          : `not served: ${problem.reason}: ${problem.message}`,
      hints: addressHints(problem, ref.name, next, liveNodes.length),
    };
  } else if (conflict !== null)
    judgement = {
      situation: "conflict",
      verdict: `not served: ${conflict.address} is kept by the older Service ${conflict.heldBy}`,
      hints: [
        "pick another address, or delete the other Service; the older Service keeps an address outside the pools",
        "inside a pool, Services share an address when they carry the same vipd.io/allow-shared-ip key",
      ],
    };
  else
    judgement = electionJudgement(
      { addresses, nodes, claimOrder, events },
      settings,
      service,
      snapshot.unread.some((each) => each.startsWith(LEASES_UNREAD)),
    );
  const refused =
    intent.serve && intent.refused !== undefined
      ? invalidHints(ref.name, "spec.externalIPs", intent.refused)
      : [];
  const condition = service.status?.conditions?.find((each) => each.type === ANNOUNCED_CONDITION);
  return {
    service: serviceKey(ref),
    uid: service.metadata?.uid,
    served: judgement.situation === "served",
    situation: judgement.situation,
    verdict: judgement.verdict,
    request,
    addresses,
    pools,
    nodes,
    claimOrder,
    status: {
      ingress: (service.status?.loadBalancer?.ingress ?? []).flatMap((entry) =>
        entry.ip === undefined ? [] : [entry.ip],
      ),
      holderAnnotation: service.metadata?.annotations?.[ANNOTATION_HOLDER],
      condition:
        condition === undefined
          ? undefined
          : {
              status: condition.status,
              reason: condition.reason,
              message: condition.message,
              changedAgoMs: agoMs(condition.lastTransitionTime, now),
            },
    },
    events,
    hints: [...judgement.hints, ...refused.filter((hint) => !judgement.hints.includes(hint))],
    unread: snapshot.unread,
  };
}
