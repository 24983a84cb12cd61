// `vipd run`: its flags come from the option table, so help, flags, VIPD_* variables and the
// configuration reference all say the same thing.
import { Option, type Command } from "commander";
import { ConfigError, loadRunConfig } from "../config/load.ts";
import { envName, RUN_OPTIONS } from "../config/options.ts";
import type { RunConfig, RunConfigKey } from "../config/schema.ts";

/** Exit status for a configuration the agent refuses to start with. */
export const EXIT_BAD_CONFIGURATION = 2;

/** Exit status when the agent cannot go on (see the error it logs last): not a configuration it refused. */
export const EXIT_FAILED = 1;

/** Exit status when the API server refused the agent's lists for --sync-timeout at start-up. */
export const EXIT_SYNC_TIMEOUT = 3;

function helpText(key: RunConfigKey): string {
  const option = RUN_OPTIONS[key];
  const fallback = option.default ?? option.whenUnset ?? "unset";
  return `${option.description} [${envName(option.flag)}] (default: ${fallback})`;
}

export function addRunCommand(program: Command, run: (config: RunConfig) => Promise<void>): void {
  const command = program
    .command("run")
    .description("run the agent on this node: elect, bind and announce the VIPs of LoadBalancer Services");
  for (const key of Object.keys(RUN_OPTIONS) as RunConfigKey[]) {
    const option = RUN_OPTIONS[key];
    command.addOption(
      new Option(`--${option.flag}${option.placeholder ? ` ${option.placeholder}` : ""}`, helpText(key)),
    );
  }
  command.action(async (flags: Partial<Record<RunConfigKey, string | boolean>>) => {
    let config: RunConfig;
    try {
      config = loadRunConfig({ flags, env: process.env });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      process.stderr.write(`vipd: ${error.message}\n`);
      process.exit(EXIT_BAD_CONFIGURATION);
    }
    await run(config);
  });
}
