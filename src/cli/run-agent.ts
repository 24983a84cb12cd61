// `vipd run`: checks what can only be checked on the node, builds the agent from the one validated
// configuration, and hands everything over on SIGTERM before exiting. Nothing the API server answers
// ends it (the agent waits and retries) except a refusal that lasts --sync-timeout at start-up (exit
// status 3, sync-wait.ts); what does end it — that, the metrics address taken, the data plane
// failing, a bug — is logged as an error first, so a crash-looping pod says why.
import type { KubeConfig } from "@kubernetes/client-node";
import { existsSync, readFileSync } from "node:fs";
import { systemClock } from "../clock/clock.ts";
import type { RunConfig } from "../config/schema.ts";
import { useLocalApiServer } from "../controlplane/kube-config.ts";
import { PooledKubeConfig } from "../kube/kube-config.ts";
import { SyncTimeoutError } from "../kube/sync-wait.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { AgentMetrics } from "../metrics/metrics.ts";
import {
  chooseAddressOwnership,
  recordFileOf,
  type AddressOwnership,
  type AgentMode,
} from "../net/address-ownership.ts";
import { AUTO_INTERFACE } from "../net/interface-name.ts";
import { NativeDataPlane } from "../net/native-data-plane.ts";
import { Netlink } from "../net/netlink.ts";
import { KernelHostRoutes } from "../routing/kernel-host-routes.ts";
import { readStrictArpFacts, strictArpProblem } from "../net/strict-arp.ts";
import { VERSION } from "../version.ts";
import { composeAgent } from "./compose-agent.ts";
import { EXIT_BAD_CONFIGURATION, EXIT_FAILED, EXIT_SYNC_TIMEOUT } from "./run-command.ts";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";
// The host's, also inside a container: it changes with every boot, and so does the address table.
const BOOT_ID = "/proc/sys/kernel/random/boot_id";

/**
 * client-node's in-cluster loader does not fail outside a cluster: it builds a config for
 * "https://undefined:undefined" and the agent would retry it forever. Say so at start-up instead.
 */
function loadKubeConfig(path: string | undefined, metrics: AgentMetrics): KubeConfig {
  const kubeConfig = new PooledKubeConfig({
    onFailedRequest: (failed) => {
      metrics.apiErrors.inc({ ...failed });
    },
  });
  if (path !== undefined) {
    kubeConfig.loadFromFile(path);
    return kubeConfig;
  }
  const missing = [
    ...(["KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"] as const).filter((name) => !process.env[name]),
    ...(existsSync(SERVICE_ACCOUNT_TOKEN) ? [] : [SERVICE_ACCOUNT_TOKEN]),
  ];
  if (missing.length > 0)
    throw new Error(`no --kubeconfig given and not inside a cluster (missing ${missing.join(", ")})`);
  kubeConfig.loadFromCluster();
  return kubeConfig;
}

function refuse(message: string): never {
  process.stderr.write(`vipd: ${message}\n`);
  process.exit(EXIT_BAD_CONFIGURATION);
}

function describeFailure(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

export async function runAgent(config: RunConfig): Promise<void> {
  const log = createLogger({ level: config.logLevel, format: config.logFormat, node: config.nodeName });
  const fail = (what: string, error: unknown): never => {
    log.error(what, { error: describeFailure(error) });
    process.exit(EXIT_FAILED);
  };
  process.on("uncaughtException", (error) => fail("vipd failed: uncaught exception", error));
  process.on("unhandledRejection", (error) => fail("vipd failed: unhandled rejection", error));
  try {
    await startAgent(config, log);
  } catch (error) {
    if (error instanceof SyncTimeoutError) {
      log.error(`vipd could not start: ${error.message}`);
      process.exit(EXIT_SYNC_TIMEOUT);
    }
    fail("vipd could not start", error);
  }
}

async function startAgent(config: RunConfig, log: Logger): Promise<void> {
  const netlink = Netlink.open();
  if (
    config.interface !== undefined &&
    config.interface !== AUTO_INTERFACE &&
    !netlink.listLinks().some((link) => link.name === config.interface)
  ) {
    refuse(`--interface ${config.interface}: no such interface on this node`);
  }
  let ownership: AddressOwnership;
  const mode: AgentMode = config.controlPlane ? "control-plane" : "services";
  try {
    const chosen = chooseAddressOwnership({
      marking: config.addressMarking,
      // A control-plane agent and a services agent may share a node: each owns only its own.
      mode,
      netlink,
      recordFile: recordFileOf(config.stateDir, mode),
      bootId: readFileSync(BOOT_ID, "utf8").trim(),
    });
    ownership = chosen.ownership;
    log.info("vipd's own addresses are told apart by", {
      method: ownership.method,
      ...(ownership.method === "kernel" ? { protocol: ownership.protocol } : {}),
      reason: chosen.reason,
      ...(ownership.method === "record" ? { stateDir: config.stateDir } : {}),
    });
  } catch (error) {
    refuse(`cannot tell vipd's addresses from anyone else's: ${(error as Error).message}`);
  }
  const strictArp = strictArpProblem(readStrictArpFacts());
  if (strictArp !== null) log.error(strictArp);

  const metrics = new AgentMetrics({ node: config.nodeName, version: VERSION });
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = loadKubeConfig(config.kubeconfig, metrics);
    if (config.controlPlane) useLocalApiServer(kubeConfig, config.healthUrl);
  } catch (error) {
    refuse(`cannot load the kubeconfig: ${(error as Error).message}`);
  }

  const dataPlane = new NativeDataPlane({
    netlink,
    ownership,
    // vipd's table and protocol for routed VIPs (--bgp-route-table, --bgp-route-protocol), on lo.
    hostRoutes: new KernelHostRoutes({
      netlink,
      table: config.bgp.routeTable,
      protocol: config.bgp.routeProtocol,
    }),
    configuredInterface: config.interface,
    allowOffSubnetVips: config.allowOffSubnetVips,
    addressLifetimeMs: config.addressLifetime,
    clock: systemClock,
    announce: {
      burstCount: config.announceCount,
      burstIntervalMs: config.announceInterval,
      refreshMs: config.announceRefresh,
      fenceProbes: config.fenceProbes,
      fenceIntervalMs: config.fenceInterval,
      firstClaimFenceIntervalMs: config.firstClaimFenceInterval,
    },
    onSent: (kind) => {
      metrics.announcementsSent.inc({ kind });
    },
    onError: (message) => {
      log.warn(message);
    },
  });
  const agent = composeAgent({ config, kubeConfig, dataPlane, metrics, clock: systemClock, log });

  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log.info(`${signal}: handing over`);
      agent
        .stop()
        .then(() => process.exit(0))
        .catch((error: unknown) => {
          log.error("shutdown failed", { error: describeFailure(error) });
          process.exit(EXIT_FAILED);
        });
    });
  }
  await agent.start();
}
