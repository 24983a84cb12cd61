// Control-plane mode's static pod, for /etc/kubernetes/manifests/ on every control-plane node: kubelet
// runs it without the API server, which is what a pod providing the API server's VIP needs. It runs
// the same container as the DaemonSet, reads the node's admin kubeconfig from the host (read-only),
// and is as critical as the kubeadm static pods it sits beside.
import type { V1EnvVar, V1Pod } from "@kubernetes/client-node";
import { formatDuration } from "../config/duration.ts";
import { RUN_OPTIONS } from "../config/options.ts";
import type { RunConfigKey } from "../config/schema.ts";
import type { RunConfig } from "../config/schema.ts";
import {
  agentContainer,
  env,
  fromField,
  scrapeAnnotations,
  stateVolume,
  terminationGraceSeconds,
} from "./daemonset.ts";
import { APP_NAME, commonLabels } from "./identity.ts";
import {
  checkedAgentConfig,
  DAEMONSET_METRICS_PORT,
  DEFAULT_IMAGE,
  ManifestOptionsError,
  STATIC_POD_METRICS_PORT,
} from "./options.ts";

export interface StaticPodOptions {
  readonly image: string;
  /** As the user wrote it: one IPv4 and/or one IPv6 address, comma-separated. */
  readonly vip: string;
  /** Unset: the agent's own default (the interface of the default route). */
  readonly interface?: string;
  /** Namespace of the pod's mirror and of vipd's Leases. */
  readonly namespace: string;
  /** Path of the admin kubeconfig on the host, mounted at the same path in the container. */
  readonly kubeconfig: string;
  readonly healthUrl: string;
  readonly healthPeriod: string;
  readonly healthFailureThreshold: string;
  readonly leaseDuration: string;
  readonly renewDeadline: string;
  readonly retryPeriod: string;
  readonly addressLifetime: string;
  readonly metricsAddr: string;
}

function agentDefault(key: RunConfigKey): string {
  return RUN_OPTIONS[key].default ?? "";
}

export const DEFAULT_STATIC_POD_OPTIONS: Omit<StaticPodOptions, "vip"> = {
  image: DEFAULT_IMAGE,
  // It always exists, even before `kubeadm init` has finished, and it is where static pods' mirrors
  // live. A DaemonSet of services mode in vipd-system keeps its heartbeats apart from these.
  namespace: "kube-system",
  kubeconfig: "/etc/kubernetes/admin.conf",
  healthUrl: agentDefault("healthUrl"),
  healthPeriod: agentDefault("healthPeriod"),
  healthFailureThreshold: agentDefault("healthFailureThreshold"),
  leaseDuration: agentDefault("leaseDuration"),
  renewDeadline: agentDefault("renewDeadline"),
  retryPeriod: agentDefault("retryPeriod"),
  addressLifetime: agentDefault("addressLifetime"),
  // On the node's loopback, as the DaemonSet's, and next to its port, so that both can run on a
  // control-plane node's network.
  metricsAddr: `127.0.0.1:${STATIC_POD_METRICS_PORT}`,
};

function timingEnv(config: RunConfig, metricsAddr: string): V1EnvVar[] {
  return [
    env("leaseDuration", formatDuration(config.leaseDuration)),
    env("renewDeadline", formatDuration(config.renewDeadline)),
    env("retryPeriod", formatDuration(config.retryPeriod)),
    env("addressLifetime", formatDuration(config.addressLifetime)),
    env("metricsAddr", metricsAddr),
  ];
}

// kubelet admits static pods without the API server's priority admission, so the number that goes
// with the class is written out, as kubeadm does for its own static pods.
const SYSTEM_NODE_CRITICAL_PRIORITY = 2000001000;
const KUBECONFIG_VOLUME = "kubeconfig";

export function staticPod(options: StaticPodOptions): V1Pod {
  const config = checkedAgentConfig({
    image: options.image,
    flags: {
      controlPlane: true,
      vip: options.vip,
      namespace: options.namespace,
      kubeconfig: options.kubeconfig,
      ...(options.interface === undefined ? {} : { interface: options.interface }),
      healthUrl: options.healthUrl,
      healthPeriod: options.healthPeriod,
      healthFailureThreshold: options.healthFailureThreshold,
      leaseDuration: options.leaseDuration,
      renewDeadline: options.renewDeadline,
      retryPeriod: options.retryPeriod,
      addressLifetime: options.addressLifetime,
      metricsAddr: options.metricsAddr,
    },
  });
  // The DaemonSet runs on control-plane nodes too (--control-plane-nodes), on the same host network.
  if (config.metricsAddr.port === DAEMONSET_METRICS_PORT) {
    throw new ManifestOptionsError([
      `--metrics-addr ${options.metricsAddr}: port ${DAEMONSET_METRICS_PORT} is the services-mode DaemonSet's, which runs on control-plane nodes too`,
    ]);
  }
  const agentEnv = [
    fromField("nodeName", "spec.nodeName"),
    env("namespace", options.namespace),
    env("controlPlane", "true"),
    env("vip", (config.vip ?? []).map((vip) => vip.address).join(",")),
    env("kubeconfig", options.kubeconfig),
    ...(options.interface === undefined ? [] : [env("interface", options.interface)]),
    env("healthUrl", config.healthUrl.href),
    env("healthPeriod", formatDuration(config.healthPeriod)),
    env("healthFailureThreshold", String(config.healthFailureThreshold)),
    ...timingEnv(config, options.metricsAddr),
  ];
  const annotations = scrapeAnnotations(config.metricsAddr);
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: APP_NAME,
      namespace: options.namespace,
      labels: { ...commonLabels(), "app.kubernetes.io/component": "control-plane", tier: "control-plane" },
      ...(Object.keys(annotations).length === 0 ? {} : { annotations }),
    },
    spec: {
      // The VIP goes on the node's own interface, and the local API server is on its loopback.
      hostNetwork: true,
      priorityClassName: "system-node-critical",
      priority: SYSTEM_NODE_CRITICAL_PRIORITY,
      terminationGracePeriodSeconds: terminationGraceSeconds(config),
      securityContext: { seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        agentContainer({
          image: options.image,
          env: agentEnv,
          metrics: config.metricsAddr,
          stateDir: config.stateDir,
          volumeMounts: [{ name: KUBECONFIG_VOLUME, mountPath: options.kubeconfig, readOnly: true }],
        }),
      ],
      volumes: [
        stateVolume(config.stateDir),
        { name: KUBECONFIG_VOLUME, hostPath: { path: options.kubeconfig, type: "File" } },
      ],
    },
  };
}
