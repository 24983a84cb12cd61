// Builds the native data-path module (src/net/native) with node-gyp. It is package.json's "install"
// script, so `npm ci` builds it, with or without dev dependencies. The module uses N-API only, so
// one build loads on every Node version from 20 on, and the headers never have to match exactly;
// they are always given to node-gyp (--nodedir) because there is nothing to download them from.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");
const nativeDirectory = path.join(root, "src", "net", "native");
const builtModule = path.join(nativeDirectory, "build", "Release", "vipd_net.node");
const require = createRequire(import.meta.url);

function fail(message: string): never {
  process.stderr.write(`build-native: ${message}\n`);
  process.exit(1);
}

function resolves(request: string, from: NodeJS.Require = require): string | undefined {
  try {
    return from.resolve(request);
  } catch {
    return undefined;
  }
}

// The node@24 devDependency keeps its headers in its platform package (its bin/node is a copy
// with no include/ beside it); an installed Node, such as the official image's, has them at
// <prefix>/include/node.
function nodeDirectory(): string {
  const candidates: string[] = [];
  const nodePackage = resolves("node/package.json");
  if (nodePackage !== undefined) {
    const platformPackage = resolves(
      `node-${process.platform}-${process.arch}/package.json`,
      createRequire(nodePackage),
    );
    if (platformPackage !== undefined) candidates.push(path.dirname(platformPackage));
  }
  candidates.push(path.resolve(path.dirname(process.execPath), ".."));
  const found = candidates.find((candidate) =>
    existsSync(path.join(candidate, "include", "node", "node_api.h")),
  );
  return found ?? fail(`no Node headers (include/node/node_api.h) in ${candidates.join(" or ")}`);
}

// The pinned devDependency when it is installed; under `npm ci --omit=dev`, the node-gyp that npm
// bundles and names for every install script, which is how npm builds any native package.
function nodeGyp(): string {
  const pinned = resolves("node-gyp/bin/node-gyp.js");
  if (pinned !== undefined) return pinned;
  const bundled = process.env["npm_config_node_gyp"];
  if (bundled !== undefined && existsSync(bundled)) return bundled;
  return fail("node-gyp not found: install the dev dependencies, or run this through npm (npm ci)");
}

const started = performance.now();
const build = spawnSync(
  process.execPath,
  [nodeGyp(), "rebuild", `--nodedir=${nodeDirectory()}`, `--directory=${nativeDirectory}`, "--jobs=max"],
  {
    stdio: "inherit",
    // binding.gyp asks `node` where node-addon-api is; that must be this Node, not another on PATH.
    // npm hands its own config to scripts as npm_config_* variables, and node-gyp lets a nodedir
    // from there (a user's ~/.npmrc, say) win over --nodedir: it must not choose the headers.
    env: {
      ...Object.fromEntries(
        Object.entries(process.env).filter(([name]) => name.toLowerCase() !== "npm_config_nodedir"),
      ),
      PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env["PATH"] ?? ""}`,
    },
  },
);
if (build.error !== undefined) fail(`could not run node-gyp: ${build.error.message}`);
if (build.status !== 0) {
  fail(
    `node-gyp exited with ${build.status ?? build.signal ?? "?"}; building needs python3, make and a C++17 compiler ` +
      "(Debian: apt-get install python3 make g++)",
  );
}
// A module that does not load is a failed build, whatever the compiler said.
require(builtModule);
process.stdout.write(
  `build-native: ${builtModule} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
);
