// `vipd cleanup`: takes back everything the agents wrote in a cluster, for an uninstall — the status
// (EXTERNAL-IP), the vipd.io/Announced condition and the vipd.io/holder annotation of the Services
// vipd published, and vipd's Leases (heartbeats and ownership) in the installation's namespace.
// A Service is vipd's only by what vipd put on it: its holder annotation (then its ingress is
// vipd's too) or its condition (then only the condition is). Another controller's Services have
// neither and are never touched.
//
// VIPAllocations are kept unless --allocations: each holds a Service's address, so a reinstall gives
// every Service the address its DNS names already point at; removing vipd for good deletes them with
// their CRD (`kubectl delete -f crds.yaml`), as it does the operator's pools.
//
// Running agents would write it all back at once: a heartbeat renewed while this command watches it
// for one lease duration is a live agent, and the command refuses unless --force. A heartbeat left
// by a killed agent is not renewed, and is removed like the rest.
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type V1Lease,
  type V1Service,
} from "@kubernetes/client-node";
import { Option, type Command } from "commander";
import { VIP_ALLOCATION_PLURAL, VIPD_API_GROUP, VIPD_API_VERSION } from "../addresses/api.ts";
import { HEARTBEAT_COMPONENT, LEASE_LABEL_COMPONENT } from "../election/lease-names.ts";
import { classifyApiError, describeApiError } from "../kube/errors.ts";
import { ANNOTATION_HOLDER, CONDITION_ANNOUNCED } from "../kube/names.ts";
import { REQUEST_TIMEOUT_MS, requestOptions } from "../kube/request-options.ts";
import {
  announcedCondition,
  KubeServiceStatusWriter,
  NOTHING_PUBLISHED,
  type Publication,
} from "../kube/service-status.ts";
import { systemClock, type Clock } from "../clock/clock.ts";
import { RUN_OPTIONS } from "../config/options.ts";
import { EXIT_FAILED } from "./run-command.ts";
import { userKubeConfig } from "./user-kube-config.ts";

export interface ServiceCleanup {
  readonly namespace: string;
  readonly name: string;
  readonly publication: Publication;
  /** What goes, in words: "EXTERNAL-IP 198.51.100.10", "condition vipd.io/Announced", … */
  readonly removed: readonly string[];
  readonly current: V1Service;
}

/** What vipd wrote on this Service and how to take it back, or null when it wrote nothing. */
export function serviceCleanup(service: V1Service): ServiceCleanup | null {
  const holder = service.metadata?.annotations?.[ANNOTATION_HOLDER];
  const condition = announcedCondition(service);
  if (holder === undefined && condition === undefined) return null;
  const ips = (service.status?.loadBalancer?.ingress ?? []).flatMap((entry) => entry.ip ?? []);
  const removed = [
    ...(holder !== undefined && ips.length > 0 ? [`EXTERNAL-IP ${ips.join(", ")}`] : []),
    ...(condition === undefined ? [] : [`condition ${CONDITION_ANNOUNCED}`]),
    ...(holder === undefined ? [] : [`annotation ${ANNOTATION_HOLDER}=${holder}`]),
  ];
  return {
    namespace: service.metadata?.namespace ?? "",
    name: service.metadata?.name ?? "",
    // Without vipd's annotation the ingress is not vipd's: only the condition goes.
    publication: holder === undefined ? { ...NOTHING_PUBLISHED, ips: null } : NOTHING_PUBLISHED,
    removed,
    current: service,
  };
}

/** The heartbeats renewed between two readings: live agents. */
export function renewedHeartbeats(before: readonly V1Lease[], after: readonly V1Lease[]): string[] {
  const versions = new Map(before.map((lease) => [lease.metadata?.name, lease.metadata?.resourceVersion]));
  return after
    .filter((lease) => {
      const was = versions.get(lease.metadata?.name);
      return was !== undefined && was !== lease.metadata?.resourceVersion;
    })
    .map((lease) => lease.metadata?.name ?? "");
}

interface CleanupFlags {
  readonly kubeconfig?: string;
  readonly namespace: string;
  readonly dryRun?: true;
  readonly force?: true;
  readonly allocations?: true;
}

const isHeartbeat = (lease: V1Lease): boolean =>
  lease.metadata?.labels?.[LEASE_LABEL_COMPONENT] === HEARTBEAT_COMPONENT;

async function cleanup(flags: CleanupFlags, clock: Clock, out: (line: string) => void): Promise<void> {
  const kubeConfig = userKubeConfig(flags.kubeconfig);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const coordination = kubeConfig.makeApiClient(CoordinationV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const options = requestOptions({ timeoutMs: REQUEST_TIMEOUT_MS });
  const { namespace } = flags;
  const dryRun = flags.dryRun === true;
  const listLeases = async (): Promise<V1Lease[]> =>
    (await coordination.listNamespacedLease({ namespace, labelSelector: LEASE_LABEL_COMPONENT }, options))
      .items;

  let leases = await listLeases();
  const heartbeats = leases.filter(isHeartbeat);
  if (heartbeats.length > 0 && flags.force !== true) {
    const waitSeconds = Math.max(...heartbeats.map((lease) => lease.spec?.leaseDurationSeconds ?? 1)) + 1;
    out(`watching ${heartbeats.length} heartbeat Lease(s) for ${waitSeconds}s: a live agent renews its own`);
    await clock.sleep(waitSeconds * 1000);
    leases = await listLeases();
    const live = renewedHeartbeats(heartbeats, leases.filter(isHeartbeat));
    if (live.length > 0) {
      process.stderr.write(
        `vipd: agents are running (renewed: ${live.join(", ")}); they would write it all back. ` +
          `Stop them first (kubectl delete daemonset -n ${namespace} vipd), or pass --force\n`,
      );
      process.exit(EXIT_FAILED);
    }
  }

  const would = dryRun ? "would " : "";
  const services = (await core.listServiceForAllNamespaces({}, options)).items.flatMap(
    (service) => serviceCleanup(service) ?? [],
  );
  const writer = new KubeServiceStatusWriter({
    api: core,
    timeoutMs: REQUEST_TIMEOUT_MS,
    wallClock: Date.now,
  });
  let failures = 0;
  const attempt = async (what: string, act: () => Promise<void>): Promise<void> => {
    if (dryRun) return;
    try {
      await act();
    } catch (error) {
      if (classifyApiError(error) === "not-found") return;
      failures += 1;
      out(`  failed: ${what}: ${describeApiError(error)}`);
    }
  };
  for (const each of services) {
    out(`Service ${each.namespace}/${each.name}: ${would}remove ${each.removed.join(", ")}`);
    await attempt(`Service ${each.namespace}/${each.name}`, () =>
      writer.write({ namespace: each.namespace, name: each.name }, each.publication, {
        current: each.current,
      }),
    );
  }
  for (const lease of leases) {
    const name = lease.metadata?.name ?? "";
    const role = lease.metadata?.labels?.[LEASE_LABEL_COMPONENT] ?? "";
    const holder = lease.spec?.holderIdentity ?? "";
    out(`Lease ${namespace}/${name} (${role}${holder === "" ? "" : `, holder ${holder}`}): ${would}delete`);
    await attempt(`Lease ${namespace}/${name}`, async () => {
      await coordination.deleteNamespacedLease({ namespace, name }, options);
    });
  }
  const allocations = await listAllocations(custom, options);
  if (allocations === null) out("VIPAllocations: none (vipd's CRDs are not installed)");
  else if (flags.allocations === true)
    for (const name of allocations) {
      out(`VIPAllocation ${name}: ${would}delete`);
      await attempt(`VIPAllocation ${name}`, async () => {
        await custom.deleteClusterCustomObject(
          { group: VIPD_API_GROUP, version: VIPD_API_VERSION, plural: VIP_ALLOCATION_PLURAL, name },
          options,
        );
      });
    }
  else if (allocations.length > 0)
    out(
      `VIPAllocations: ${allocations.length} kept: they keep each Service's address for a reinstall, ` +
        "and go with vipd's CRDs (or pass --allocations)",
    );
  const summary = `${services.length} Service(s), ${leases.length} Lease(s)`;
  out(dryRun ? `dry run: ${summary} to clean up; nothing changed` : `cleaned up ${summary}`);
  if (failures > 0) {
    process.stderr.write(`vipd: ${failures} change(s) failed (above); run vipd cleanup again\n`);
    process.exit(EXIT_FAILED);
  }
}

async function listAllocations(
  custom: CustomObjectsApi,
  options: ReturnType<typeof requestOptions>,
): Promise<string[] | null> {
  try {
    const list = (await custom.listClusterCustomObject(
      { group: VIPD_API_GROUP, version: VIPD_API_VERSION, plural: VIP_ALLOCATION_PLURAL },
      options,
    )) as { items?: { metadata?: { name?: string } }[] };
    return (list.items ?? []).map((item) => item.metadata?.name ?? "");
  } catch (error) {
    if (classifyApiError(error) === "not-found") return null;
    throw error;
  }
}

export function addCleanupCommand(program: Command): void {
  program
    .command("cleanup")
    .description(
      "remove what vipd wrote in the cluster, for an uninstall: Service status, condition and holder annotation, and vipd's Leases (after the agents stopped)",
    )
    .addOption(
      new Option("--kubeconfig <path>", "kubeconfig to use (default: $KUBECONFIG or ~/.kube/config)"),
    )
    .addOption(
      new Option("--namespace <namespace>", "namespace of the installation: its Leases are removed").default(
        RUN_OPTIONS.namespace.default,
      ),
    )
    .addOption(new Option("--dry-run", "list what would be removed, and change nothing"))
    .addOption(new Option("--force", "do not wait for the heartbeats, and clean up even while agents run"))
    .addOption(
      new Option("--allocations", "delete the VIPAllocations too (the addresses Services were given)"),
    )
    .action(async (flags: CleanupFlags) => {
      try {
        await cleanup(flags, systemClock, (line) => process.stdout.write(`${line}\n`));
      } catch (error) {
        process.stderr.write(`vipd: cleanup failed: ${describeApiError(error)}\n`);
        process.exit(EXIT_FAILED);
      }
    });
}
