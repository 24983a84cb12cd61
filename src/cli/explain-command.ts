// `vipd explain <namespace>/<service>` (also `kubectl vipd explain`, through the kubectl-vipd
// plugin): one screen on why a Service's VIP answers or does not, read with the user's kubeconfig
// and judged by the agents' own code (src/explain/explain.ts). The exit status says it to scripts:
// 0 served, EXIT_NOT_SERVED not served, EXIT_FAILED when the cluster could not be read or the
// Service does not exist, EXIT_BAD_CONFIGURATION for bad flags.
import type { KubeConfig } from "@kubernetes/client-node";
import { Option, type Command } from "commander";
import { z } from "zod";
import { RUN_OPTIONS } from "../config/options.ts";
import { runConfigShape } from "../config/schema.ts";
import { explain } from "../explain/explain.ts";
import { KubeExplainGatherer } from "../explain/gather.ts";
import { renderReport } from "../explain/render.ts";
import type { ExplainGatherer, ExplainSettings } from "../explain/snapshot.ts";
import { describeApiError } from "../kube/errors.ts";
import type { ServiceRef } from "../kube/service-ref.ts";
import { EXIT_BAD_CONFIGURATION, EXIT_FAILED } from "./run-command.ts";
import { userKubeConfig } from "./user-kube-config.ts";

/** Exit status when the Service is read and not served (no live holder for its addresses). */
export const EXIT_NOT_SERVED = 3;

/** The agents' settings explain assumes, each with the flag and default of `vipd run`. */
const SETTINGS = {
  loadBalancerClass: runConfigShape.loadBalancerClass,
  classOnly: runConfigShape.classOnly,
  poolAddressesOnly: runConfigShape.poolAddressesOnly,
  externalIpCidrs: runConfigShape.externalIpCidrs,
  cordonHandsOver: runConfigShape.cordonHandsOver,
  allocationCooldown: runConfigShape.allocationCooldown,
};
type SettingKey = keyof typeof SETTINGS;
const settingsSchema = z.object({ ...SETTINGS, vipdNamespace: runConfigShape.namespace });

interface ExplainFlags extends Partial<Record<SettingKey, string>> {
  readonly kubeconfig?: string;
  readonly vipdNamespace: string;
  readonly output: "text" | "json";
}

function fail(message: string, status: number): never {
  process.stderr.write(`vipd: ${message}\n`);
  process.exit(status);
}

function settingsOf(flags: ExplainFlags): ExplainSettings {
  const values: Record<string, string | undefined> = { vipdNamespace: flags.vipdNamespace };
  for (const key of Object.keys(SETTINGS) as SettingKey[])
    values[key] = flags[key] ?? RUN_OPTIONS[key].default;
  const parsed = settingsSchema.safeParse(values);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    const key = issue.path[0] as SettingKey | "vipdNamespace";
    return `--${key === "vipdNamespace" ? "vipd-namespace" : RUN_OPTIONS[key].flag}: ${issue.message}`;
  });
  fail(problems.join("\n  "), EXIT_BAD_CONFIGURATION);
}

function kubeConfigOf(path: string | undefined): KubeConfig {
  try {
    return userKubeConfig(path);
  } catch (error) {
    fail((error as Error).message, EXIT_BAD_CONFIGURATION);
  }
}

/** "namespace/name", or a bare name in the kubeconfig context's namespace, as kubectl reads it. */
export function parseServiceArgument(
  text: string,
  contextNamespace: string | undefined,
): ServiceRef | string {
  const parts = text.split("/");
  const [namespace = "", name = ""] = parts.length === 1 ? [contextNamespace ?? "default", ...parts] : parts;
  const label = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
  if (parts.length > 2 || !label.test(namespace) || !label.test(name))
    return `"${text}" is not <namespace>/<service> (or a Service name in the context's namespace)`;
  return { namespace, name };
}

export async function runExplain(options: {
  readonly ref: ServiceRef;
  readonly gatherer: ExplainGatherer;
  readonly settings: ExplainSettings;
  readonly output: "text" | "json";
  readonly now: () => number;
  readonly write: (text: string) => void;
}): Promise<number> {
  let gathered;
  try {
    gathered = await options.gatherer.gather(options.ref);
  } catch (error) {
    fail(
      `cannot read Service ${options.ref.namespace}/${options.ref.name}: ${describeApiError(error)}`,
      EXIT_FAILED,
    );
  }
  if (!gathered.found)
    fail(`no Service ${options.ref.name} in namespace ${options.ref.namespace}`, EXIT_FAILED);
  const report = explain(gathered.snapshot, options.settings, options.now());
  options.write(options.output === "json" ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
  return report.served ? 0 : EXIT_NOT_SERVED;
}

function settingHelp(key: SettingKey): string {
  const option = RUN_OPTIONS[key];
  return `as the agents run: ${option.description} (default: ${option.default ?? option.whenUnset ?? "unset"})`;
}

export function addExplainCommand(program: Command): void {
  const command = program
    .command("explain")
    .description(
      "explain why a Service's VIP is served or not: addresses, pool, nodes, holder, Events, what to do",
    )
    .argument("<namespace/service>", "the Service (a bare name: the kubeconfig context's namespace)")
    .addOption(
      new Option(
        "--kubeconfig <path>",
        "the kubeconfig to read the cluster with (default: $KUBECONFIG, ~/.kube/config, in-cluster)",
      ),
    )
    .addOption(
      new Option(
        "--vipd-namespace <namespace>",
        "the namespace of vipd's Leases (vipd run --namespace)",
      ).default(RUN_OPTIONS.namespace.default),
    )
    .addOption(
      new Option("-o, --output <format>", "text for people, json for tools")
        .choices(["text", "json"])
        .default("text"),
    );
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const option = RUN_OPTIONS[key];
    command.addOption(
      new Option(`--${option.flag} ${option.placeholder ?? "<true|false>"}`, settingHelp(key)),
    );
  }
  command.action(async (argument: string, flags: ExplainFlags) => {
    const settings = settingsOf(flags);
    const kubeConfig = kubeConfigOf(flags.kubeconfig);
    const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
    const ref = parseServiceArgument(argument, context?.namespace);
    if (typeof ref === "string") fail(ref, EXIT_BAD_CONFIGURATION);
    const status = await runExplain({
      ref,
      gatherer: new KubeExplainGatherer({ kubeConfig, vipdNamespace: settings.vipdNamespace }),
      settings,
      output: flags.output,
      now: Date.now,
      write: (text) => process.stdout.write(text),
    });
    // At once: the API client's kept-alive connections would hold the process for their idle timeout.
    process.exit(status);
  });
}
