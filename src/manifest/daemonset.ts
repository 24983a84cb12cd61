// The services-mode DaemonSet: one agent per node, on the node's own network, with the two
// capabilities the data path needs and nothing else.
import type { V1Container, V1DaemonSet, V1EnvVar, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { formatDuration } from "../config/duration.ts";
import { envName, RUN_OPTIONS } from "../config/options.ts";
import type { RunConfig, RunConfigKey } from "../config/schema.ts";
import { REQUEST_TIMEOUT_MS } from "../kube/request-options.ts";
import { agentSelectorLabels, APP_NAME, commonLabels, SERVICE_ACCOUNT_NAME } from "./identity.ts";
import { agentConfigOf, type ManifestOptions } from "./options.ts";

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
// must not outlive the node's boot, as the addresses do not: the node's /run, a tmpfs.
const STATE_VOLUME = "state";
const STATE_DIR = RUN_OPTIONS.stateDir.default ?? "/run/vipd";

export const stateVolume: V1Volume = {
  name: STATE_VOLUME,
  hostPath: { path: STATE_DIR, type: "DirectoryOrCreate" },
};

export function env(key: RunConfigKey, value: string): V1EnvVar {
  return { name: envName(RUN_OPTIONS[key].flag), value };
}

export function fromField(key: RunConfigKey, fieldPath: string): V1EnvVar {
  return { name: envName(RUN_OPTIONS[key].flag), valueFrom: { fieldRef: { fieldPath } } };
}

/** The timings both the DaemonSet and the static pod set, and where metrics are served. */
export function timingEnv(config: RunConfig, metricsAddr: string): V1EnvVar[] {
  return [
    env("leaseDuration", formatDuration(config.leaseDuration)),
    env("renewDeadline", formatDuration(config.renewDeadline)),
    env("retryPeriod", formatDuration(config.retryPeriod)),
    env("addressLifetime", formatDuration(config.addressLifetime)),
    env("metricsAddr", metricsAddr),
  ];
}

export function daemonSet(options: ManifestOptions): V1DaemonSet {
  const config = agentConfigOf(options);
  const metricsPort = config.metricsAddr.port;
  const selector = agentSelectorLabels();
  const agentEnv = [
    fromField("nodeName", "spec.nodeName"),
    fromField("namespace", "metadata.namespace"),
    ...(options.interface === undefined ? [] : [env("interface", options.interface)]),
    env("loadBalancerClass", config.loadBalancerClass),
    env("classOnly", String(config.classOnly)),
    ...timingEnv(config, options.metricsAddr),
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
          annotations: {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": String(metricsPort),
            "prometheus.io/path": "/metrics",
          },
        },
        spec: {
          serviceAccountName: SERVICE_ACCOUNT_NAME,
          // The VIPs go on the node's own interface, and ARP for them leaves from it.
          hostNetwork: true,
          terminationGracePeriodSeconds: terminationGraceSeconds(config),
          nodeSelector: { ...options.nodeSelector },
          ...(options.tolerations.length === 0 ? {} : { tolerations: [...options.tolerations] }),
          securityContext: { seccompProfile: { type: "RuntimeDefault" } },
          containers: [agentContainer({ image: options.image, env: agentEnv, metricsPort })],
          volumes: [stateVolume],
        },
      },
    },
  };
}

/** The agent's container, as the DaemonSet and the control-plane static pod both run it. */
export function agentContainer(options: {
  readonly image: string;
  readonly env: readonly V1EnvVar[];
  readonly metricsPort: number;
  readonly volumeMounts?: readonly V1VolumeMount[];
}): V1Container {
  return {
    name: APP_NAME,
    image: options.image,
    imagePullPolicy: "IfNotPresent",
    args: ["run"],
    env: [...options.env],
    ports: [{ name: METRICS_PORT_NAME, containerPort: options.metricsPort, protocol: "TCP" }],
    // Liveness only asks whether the process turns: an API server outage must not restart
    // the agent, or every node would drop its VIPs (degraded hold, rule 1(b)).
    livenessProbe: {
      httpGet: { path: "/healthz", port: METRICS_PORT_NAME },
      periodSeconds: 10,
      timeoutSeconds: 5,
      failureThreshold: 3,
    },
    // Ready = caches synced and heartbeat renewed within the renew deadline, which paces the
    // rolling update: the next node stops only once this one can take Services again.
    readinessProbe: {
      httpGet: { path: "/readyz", port: METRICS_PORT_NAME },
      periodSeconds: 5,
      timeoutSeconds: 5,
      failureThreshold: 2,
    },
    resources: {
      requests: { cpu: "50m", memory: "64Mi" },
      // No CPU limit: throttling a holder past its renew deadline would turn load into failovers.
      limits: { memory: "256Mi" },
    },
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
    volumeMounts: [{ name: STATE_VOLUME, mountPath: STATE_DIR }, ...(options.volumeMounts ?? [])],
  };
}
