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
import { fileURLToPath } from "node:url";

export const BUNDLE = fileURLToPath(new URL("../dist/vipd.js", import.meta.url));

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
}

if (import.meta.url === `file://${process.argv[1] ?? ""}`) await buildBundle();
