// The services-mode DaemonSet: one agent per node, on the node's own network, with the two
// capabilities the data path needs and nothing else.
import ipaddr from "ipaddr.js";
import type { V1Container, V1DaemonSet, V1EnvVar, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { envName, RUN_OPTIONS } from "../config/options.ts";
import type { ListenAddress, RunConfigKey } from "../config/schema.ts";
import { REQUEST_TIMEOUT_MS } from "../kube/request-options.ts";
import { agentSelectorLabels, APP_NAME, commonLabels, SERVICE_ACCOUNT_NAME } from "./identity.ts";
import {
  agentConfigOf,
  agentSettingsOf,
  BIRD_CONFIG_FILE,
  BIRD_RUN_DIR,
  BIRD_SOCKET_FILE,
  CONTROL_PLANE_TOLERATIONS,
  type ManifestOptions,
} from "./options.ts";

const METRICS_PORT_NAME = "metrics";

// Netlink address changes need CAP_NET_ADMIN; the AF_PACKET socket that sends gratuitous ARP,
// neighbour advertisements and fence probes needs CAP_NET_RAW.
export const AGENT_CAPABILITIES = ["NET_ADMIN", "NET_RAW"] as const;

// A polite handover (rule 5 of docs/design.md, Agent.shutdown) withdraws the addresses, clears the holder of
// every ownership Lease in parallel, each write with the agent's request deadline of 10 s, then
// deletes the heartbeat with the renewal's deadline of R − P; one more P covers the rest (closing the
// watches and the sockets). Waiting behind the request limit is not counted: a node holding more
// Leases than --kube-api-burst waits about one second per --kube-api-qps Leases beyond it, and a
// Lease still held when the kubelet kills the agent expires with its heartbeat after D. Below
// Kubernetes' default there is nothing to gain, so that is the floor.
const KUBERNETES_DEFAULT_GRACE_SECONDS = 30;

export function terminationGraceSeconds(timings: {
  readonly renewDeadline: number;
  readonly retryPeriod: number;
}): number {
  const handoverMs = REQUEST_TIMEOUT_MS + (timings.renewDeadline - timings.retryPeriod) + timings.retryPeriod;
  return Math.max(KUBERNETES_DEFAULT_GRACE_SECONDS, Math.ceil(handoverMs / 1000));
}

// The record of vipd's addresses (--address-marking record, or auto on a kernel before 6.1) must
// outlive the container, so that a restarted agent still knows which addresses are its own, and
// must not outlive the node's boot, as the addresses do not: the node's /run, a tmpfs (--state-dir).
const STATE_VOLUME = "state";

export function stateVolume(stateDir: string): V1Volume {
  return { name: STATE_VOLUME, hostPath: { path: stateDir, type: "DirectoryOrCreate" } };
}

// Measured in the lab (docs/benchmarks.md, bench/results/*.md: "agent RSS (max)" and "agent CPU"):
// an agent is 126–128 MB resident with no Service, 140–144 MB with 1000 Services and 169 MB with
// 5000, and uses 1.5–3.2 % of a core (15–32m) idle with 1000 Services. The request is what a node
// with up to 1000 Services needs; the limit is more than twice the largest figure, because at the
// limit the kernel kills the agent, which moves every VIP it holds: it is there to stop a leak, not
// to size the agent.
export const AGENT_RESOURCES = {
  requests: { cpu: "50m", memory: "160Mi" },
  // No CPU limit: throttling a holder past its renew deadline would turn load into failovers.
  limits: { memory: "384Mi" },
} as const;

// The kubelet probes a host-network pod at the node's address unless told otherwise; an agent that
// listens on the loopback (the default) or on every address answers on 127.0.0.1.
export function probeHost(listen: ListenAddress): string {
  return ipaddr.parse(listen.host).range() === "unspecified" ? "127.0.0.1" : listen.host;
}

/**
 * prometheus.io/* annotations tell annotation-based discovery where to scrape: only worth printing
 * when a scraper can reach the address, which a loopback address it cannot.
 */
export function scrapeAnnotations(listen: ListenAddress): Record<string, string> {
  if (ipaddr.parse(listen.host).range() === "loopback") return {};
  return {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": String(listen.port),
    "prometheus.io/path": "/metrics",
  };
}

export function env(key: RunConfigKey, value: string): V1EnvVar {
  return { name: envName(RUN_OPTIONS[key].flag), value };
}

export function fromField(key: RunConfigKey, fieldPath: string): V1EnvVar {
  return { name: envName(RUN_OPTIONS[key].flag), valueFrom: { fieldRef: { fieldPath } } };
}

// BIRD's config and control socket, shared by the agent (which writes the one and talks to the
// other) and the BIRD sidecar; the pod's own, since BIRD's state begins again with the pod.
const BIRD_VOLUME = "bird";
const BIRD_VOLUME_MOUNT: V1VolumeMount = { name: BIRD_VOLUME, mountPath: BIRD_RUN_DIR };

// What BIRD keeps of root when it drops it itself (BIRD's manual, "Privileges"), but NET_BROADCAST,
// which only RIP uses: NET_BIND_SERVICE for BGP's port 179, NET_ADMIN for the kernel protocol's
// netlink socket, NET_RAW for sockets bound to one interface (BFD's single-hop sessions; Linux
// before 5.7 asks for it there).
export const BIRD_CAPABILITIES = ["NET_ADMIN", "NET_BIND_SERVICE", "NET_RAW"] as const;

// BIRD 2.0.12 learning 750 host routes from vipd's table, with BFD and three peers configured, is
// 5 MB resident. The limit is there to stop a leak, as the agent's.
export const BIRD_RESOURCES = {
  requests: { cpu: "10m", memory: "16Mi" },
  limits: { memory: "64Mi" },
} as const;

// BIRD cannot start without a config, and the agent puts its own into effect through BIRD's socket
// (BirdControl: `configure check`, then `configure`), so the BIRD container starts on a bootstrap
// that does nothing when the agent has written none yet. `ln` creates the file only where none
// exists, at once: a config of the agent's, written by rename whenever it came, is never replaced.
// Router ID 0.0.0.1 is never seen by anyone: the bootstrap has no sessions. The paths and the
// bootstrap are the script's arguments, so that nothing in them needs quoting.
export const BIRD_BOOTSTRAP_CONFIG = `# vipd: BIRD does nothing with this until the agent applies its own config
router id 0.0.0.1;
log stderr all;
protocol device {}
`;
const BIRD_START =
  'printf %s "$3" > "$1.bootstrap"; ln "$1.bootstrap" "$1" 2>/dev/null; rm -f "$1.bootstrap"; exec bird -f -c "$1" -s "$2" -R';

const BIRD_STATUS = ["birdc", "-s", BIRD_SOCKET_FILE, "show", "status"];

/** The BIRD sidecar of --bgp: the same image, BIRD 2 from Debian's bird2 in it. */
export function birdContainer(image: string): V1Container {
  return {
    name: "bird",
    image,
    imagePullPolicy: "IfNotPresent",
    command: ["sh", "-c", BIRD_START, "bird", BIRD_CONFIG_FILE, BIRD_SOCKET_FILE, BIRD_BOOTSTRAP_CONFIG],
    livenessProbe: {
      exec: { command: BIRD_STATUS },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    // A pod whose BIRD cannot answer announces nothing, so the rolling update waits for it too.
    readinessProbe: {
      exec: { command: BIRD_STATUS },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 2,
    },
    resources: { requests: { ...BIRD_RESOURCES.requests }, limits: { ...BIRD_RESOURCES.limits } },
    securityContext: {
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsUser: 0,
      capabilities: { add: [...BIRD_CAPABILITIES], drop: ["ALL"] },
    },
    volumeMounts: [BIRD_VOLUME_MOUNT],
  };
}

export function daemonSet(options: ManifestOptions): V1DaemonSet {
  const config = agentConfigOf(options);
  const selector = agentSelectorLabels();
  // As given, in the order of their flags' names, so that the chart (charts/vipd), which ranges over
  // its agent values in that order, prints the same list.
  const settings = Object.entries(agentSettingsOf(options))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([flag, value]) => ({ name: envName(flag), value }));
  const annotations = scrapeAnnotations(config.metricsAddr);
  const tolerations = [
    ...(options.controlPlaneNodes ? CONTROL_PLANE_TOLERATIONS : []),
    ...options.tolerations,
  ];
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: APP_NAME, namespace: options.namespace, labels: { ...commonLabels(), ...selector } },
    spec: {
      selector: { matchLabels: selector },
      // One node at a time: each stopping agent hands its Services over before the next one stops.
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
      template: {
        metadata: {
          labels: { ...commonLabels(), ...selector },
          ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
        },
        spec: {
          serviceAccountName: SERVICE_ACCOUNT_NAME,
          ...(options.priorityClassName === "" ? {} : { priorityClassName: options.priorityClassName }),
          // The VIPs go on the node's own interface, and ARP for them leaves from it.
          hostNetwork: true,
          terminationGracePeriodSeconds: terminationGraceSeconds(config),
          nodeSelector: { ...options.nodeSelector },
          ...(tolerations.length === 0 ? {} : { tolerations }),
          securityContext: { seccompProfile: { type: "RuntimeDefault" } },
          containers: [
            agentContainer({
              image: options.image,
              env: [
                fromField("nodeName", "spec.nodeName"),
                fromField("namespace", "metadata.namespace"),
                ...settings,
              ],
              metrics: config.metricsAddr,
              stateDir: config.stateDir,
              ...(options.bgp ? { volumeMounts: [BIRD_VOLUME_MOUNT] } : {}),
            }),
            ...(options.bgp ? [birdContainer(options.image)] : []),
          ],
          volumes: [
            stateVolume(config.stateDir),
            ...(options.bgp ? [{ name: BIRD_VOLUME, emptyDir: {} }] : []),
          ],
        },
      },
    },
  };
}

/** The agent's container, as the DaemonSet and the control-plane static pod both run it. */
export function agentContainer(options: {
  readonly image: string;
  readonly env: readonly V1EnvVar[];
  readonly metrics: ListenAddress;
  readonly stateDir: string;
  readonly volumeMounts?: readonly V1VolumeMount[];
}): V1Container {
  const host = probeHost(options.metrics);
  return {
    name: APP_NAME,
    image: options.image,
    imagePullPolicy: "IfNotPresent",
    args: ["run"],
    env: [...options.env],
    ports: [{ name: METRICS_PORT_NAME, containerPort: options.metrics.port, protocol: "TCP" }],
    // Liveness only asks whether the process turns: an API server outage must not restart
    // the agent, or every node would drop its VIPs (degraded hold, rule 1(b)).
    livenessProbe: {
      httpGet: { host, path: "/healthz", port: METRICS_PORT_NAME },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    // Ready = caches synced and heartbeat renewed within the renew deadline, which paces the
    // rolling update: the next node stops only once this one can take Services again.
    readinessProbe: {
      httpGet: { host, path: "/readyz", port: METRICS_PORT_NAME },
      periodSeconds: 5,
      timeoutSeconds: 5,
      failureThreshold: 2,
    },
    resources: { requests: { ...AGENT_RESOURCES.requests }, limits: { ...AGENT_RESOURCES.limits } },
    securityContext: {
      privileged: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      // Root in the container, but holding only these two capabilities: the kernel checks the
      // capability, not the user id, and Kubernetes cannot give a non-root user capabilities
      // (see docs/container-image.md).
      runAsUser: 0,
      capabilities: { add: [...AGENT_CAPABILITIES], drop: ["ALL"] },
    },
    volumeMounts: [{ name: STATE_VOLUME, mountPath: options.stateDir }, ...(options.volumeMounts ?? [])],
  };
}
