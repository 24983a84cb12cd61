// Builds the program vipd ships: one minified ES module, dist/vipd.js, holding vipd and the parts of
// its dependencies it uses. The container image runs it, and so do the lab's agents, so the tests
// and the benchmarks measure what users run.
//
// Why a bundle and not the compiled tree: @kubernetes/client-node's entry point loads the generated
// client for every Kubernetes API, and V8 keeps each loaded module's source text for lazy
// compilation. An agent holding a thousand VIPs carried 24 MB of that source and 12 MB of its code;
// tree-shaken and minified, the whole program is under 3 MB of source and that agent's live heap
// went from 55 MB to 26 MB.
import { build } from "esbuild";
import { chmod, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

export const BUNDLE = fileURLToPath(new URL("../dist/vipd.js", import.meta.url));

/**
 * kubectl's plugin: an executable named kubectl-vipd on PATH makes `kubectl vipd explain ns/svc`
 * run `vipd explain ns/svc` (kubectl passes the words after "vipd"). It is the same program, so
 * the two can never differ; only its name is kubectl's convention.
 */
export const KUBECTL_PLUGIN = fileURLToPath(new URL("../dist/kubectl-vipd.js", import.meta.url));

const KUBECTL_PLUGIN_SOURCE = `#!/usr/bin/env node
// kubectl vipd <command>: the vipd CLI (vipd.js, next to this file) as a kubectl plugin.
import "./vipd.js";
`;

export async function buildBundle(): Promise<void> {
  await build({
    entryPoints: [fileURLToPath(new URL("../cmd/vipd.ts", import.meta.url))],
    outfile: BUNDLE,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    minify: true,
    // Class and function names appear in logs and error messages.
    keepNames: true,
    sourcemap: "linked",
    // The CommonJS dependencies (winston, prom-client, …) call require(); an ES module has none of
    // its own.
    banner: {
      js: "import { createRequire as createRequireForBundle } from 'node:module'; const require = createRequireForBundle(import.meta.url);",
    },
    logLevel: "warning",
  });
  await writeFile(KUBECTL_PLUGIN, KUBECTL_PLUGIN_SOURCE);
  await Promise.all([chmod(BUNDLE, 0o755), chmod(KUBECTL_PLUGIN, 0o755)]);
}

if (import.meta.url === `file://${process.argv[1] ?? ""}`) await buildBundle();
