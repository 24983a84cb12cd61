#!/usr/bin/env node
import { Command } from "commander";
import { addCleanupCommand } from "../src/cli/cleanup-command.ts";
import { addConvertCommand } from "../src/cli/convert-command.ts";
import { addExplainCommand } from "../src/cli/explain-command.ts";
import { addManifestCommand } from "../src/cli/manifest-command.ts";
import { runAgent } from "../src/cli/run-agent.ts";
import { addRunCommand, EXIT_BAD_CONFIGURATION } from "../src/cli/run-command.ts";
import { VERSION } from "../src/version.ts";

const program = new Command()
  .name("vipd")
  .description("Layer-2 VIP failover agent for bare-metal Kubernetes")
  .version(VERSION, "--version", "print the version and exit")
  .showHelpAfterError("(vipd <command> --help lists the options)")
  // A usage error is bad configuration like any other: exit 2, so a crash-looping pod says why.
  .exitOverride((err) => {
    process.exit(err.exitCode === 0 ? 0 : EXIT_BAD_CONFIGURATION);
  });

program
  .command("version")
  .description("print the version and exit")
  .action(() => {
    process.stdout.write(`vipd ${VERSION} (node ${process.version})\n`);
  });

addRunCommand(program, runAgent);
addManifestCommand(program);
addConvertCommand(program);
addExplainCommand(program);
addCleanupCommand(program);

await program.parseAsync(process.argv);
