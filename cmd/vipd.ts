#!/usr/bin/env node
import { Command } from "commander";
import { addManifestCommand } from "../src/cli/manifest-command.ts";
import { runAgent } from "../src/cli/run-agent.ts";
import { addRunCommand } from "../src/cli/run-command.ts";
import { VERSION } from "../src/version.ts";

const program = new Command()
  .name("vipd")
  .description("Layer-2 VIP failover agent for bare-metal Kubernetes")
  .version(VERSION, "--version", "print the version and exit")
  .showHelpAfterError()
  .exitOverride((err) => {
    process.exit(err.exitCode);
  });

program
  .command("version")
  .description("print the version and exit")
  .action(() => {
    process.stdout.write(`vipd ${VERSION} (node ${process.version})\n`);
  });

addRunCommand(program, runAgent);
addManifestCommand(program);

await program.parseAsync(process.argv);
