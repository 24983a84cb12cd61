// No Docker engine runs here, so this test does what `docker build` would: it reads the Dockerfile,
// copies what each COPY names (minus .dockerignore) into a scratch directory, runs the builder's RUN
// steps there with Node 24 and a clean npm configuration, lays the runtime stage's files out as the
// image would, and starts vipd from them with nothing on PATH but node.
import test from "ava";
import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { NODE_FLAGS } from "../../src/cli/node-flags.ts";

const root = path.resolve(import.meta.dirname, "../..");
const packageJson = JSON.parse(readFileSync(path.join(root, "package.json"), "utf8")) as {
  version: string;
  devDependencies: Record<string, string>;
};

interface Instruction {
  readonly keyword: string;
  readonly text: string;
}

interface Stage {
  readonly base: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

interface Dockerfile {
  readonly args: Map<string, string>;
  readonly stages: Stage[];
}

function parseDockerfile(text: string): Dockerfile {
  const lines = text
    .replace(/\\\n\s*/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  const substitute = (value: string) =>
    value.replace(/\$\{(\w+)\}/g, (_, name: string) => args.get(name) ?? "");
  for (const line of lines) {
    const [keyword = "", ...rest] = line.split(/\s+/);
    const body = rest.join(" ");
    if (keyword === "ARG") {
      const [name = "", value = ""] = body.split("=");
      args.set(name, value);
      stages.at(-1)?.instructions.push({ keyword, text: body });
    } else if (keyword === "FROM") {
      const [base = "", as, name] = substitute(body).split(/\s+/);
      stages.push({ base, name: as?.toUpperCase() === "AS" ? name : undefined, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (stage === undefined) throw new Error(`${keyword} before FROM`);
      stage.instructions.push({ keyword, text: substitute(body) });
    }
  }
  return { args, stages };
}

const dockerfile = parseDockerfile(readFileSync(path.join(root, "Dockerfile"), "utf8"));
const ignorePatterns = readFileSync(path.join(root, ".dockerignore"), "utf8")
  .split("\n")
  .map((line) => line.trim())
  .filter((line) => line !== "" && !line.startsWith("#"));

/** Docker's rule: a path is left out when it, or a directory above it, matches a pattern. */
function ignored(relative: string): boolean {
  const parts = relative.split("/");
  return parts.some((_, index) => {
    const prefix = parts.slice(0, index + 1).join("/");
    return ignorePatterns.some((pattern) => path.matchesGlob(prefix, pattern));
  });
}

interface Copy {
  readonly from: string | undefined;
  readonly sources: string[];
  readonly destination: string;
}

function copyOf(instruction: Instruction): Copy {
  const words = instruction.text.split(/\s+/);
  const from = words.find((word) => word.startsWith("--from="))?.slice("--from=".length);
  const paths = words.filter((word) => !word.startsWith("--"));
  const destination = paths.pop() ?? "";
  return { from, sources: paths, destination };
}

function copies(stage: Stage): Copy[] {
  return stage.instructions.filter((each) => each.keyword === "COPY").map(copyOf);
}

function workdir(stage: Stage): string {
  const last = stage.instructions.filter((each) => each.keyword === "WORKDIR").at(-1);
  if (last === undefined) throw new Error(`stage ${stage.name ?? stage.base} has no WORKDIR`);
  return last.text;
}

/**
 * Copies like COPY: a directory's contents into the destination, a file into a destination ending in
 * "/" under its own name or else to the destination itself; paths the filter refuses stay behind.
 */
function copyInto(
  from: string,
  fromRoot: string,
  destination: string,
  filter: (relative: string) => boolean,
) {
  const source = path.join(fromRoot, from);
  const target =
    statSync(source).isFile() && destination.endsWith("/")
      ? path.join(destination, path.basename(from))
      : destination;
  cpSync(source, target, {
    recursive: true,
    filter: (each) => filter(path.relative(fromRoot, each)),
  });
}

const [builder, runtime] = dockerfile.stages;

test("two stages on the official Node image, the Node version the tests run on", (t) => {
  t.is(dockerfile.stages.length, 2);
  if (builder === undefined || runtime === undefined) return;
  const nodeVersion = dockerfile.args.get("NODE_VERSION");
  t.is(nodeVersion, packageJson.devDependencies["node"]);
  t.regex(builder.base, /^node:24\.\d+\.\d+-\w+$/);
  t.is(runtime.base, `${builder.base}-slim`);
  t.is(builder.name, "builder");
});

test("OCI labels, the version of package.json, and vipd as the entry point", (t) => {
  if (runtime === undefined) return t.fail("no runtime stage");
  const labels = runtime.instructions
    .filter((each) => each.keyword === "LABEL")
    .map((each) => each.text)
    .join(" ");
  for (const key of ["title", "description", "version", "revision", "licenses", "base.name"]) {
    t.true(labels.includes(`org.opencontainers.image.${key}=`), key);
  }
  const version = runtime.instructions.find(
    (each) => each.keyword === "ARG" && each.text.startsWith("VERSION="),
  );
  t.is(version?.text, `VERSION=${packageJson.version}`);
  const entrypoint = runtime.instructions.find((each) => each.keyword === "ENTRYPOINT");
  t.deepEqual(JSON.parse(entrypoint?.text ?? "null"), ["node", ...NODE_FLAGS, "/opt/vipd/dist/vipd.js"]);
  t.deepEqual(
    runtime.instructions.filter((each) => each.keyword === "USER").map((each) => each.text),
    ["root"],
  );
});

test("every COPY from the build context names files that exist and are not ignored", (t) => {
  t.false(
    ignorePatterns.some((pattern) => pattern.startsWith("!")),
    "negations are not emulated here",
  );
  const sources = dockerfile.stages.flatMap((stage) =>
    copies(stage)
      .filter((copy) => copy.from === undefined)
      .flatMap((copy) => copy.sources),
  );
  t.true(sources.length > 0);
  for (const source of sources) {
    t.true(existsSync(path.join(root, source)), source);
    t.false(ignored(source.replace(/\/$/, "")), source);
  }
  t.true(
    ignored("src/net/native/build/Release/vipd_net.node"),
    "the host's native build never enters the image",
  );
  t.true(ignored("node_modules/typescript"));
});

test.serial("the builder's steps produce a runtime tree that runs vipd with nothing but node", (t) => {
  if (builder === undefined || runtime === undefined) return t.fail("missing stages");
  const scratch = mkdtempSync(path.join(tmpdir(), "vipd-image-"));
  t.teardown(() => {
    rmSync(scratch, { recursive: true, force: true });
  });
  const buildRoot = path.join(scratch, "builder");
  const imageRoot = path.join(scratch, "image");
  const inBuilder = (absolute: string) => path.join(buildRoot, absolute);
  const inImage = (absolute: string) => path.join(imageRoot, absolute);
  const nodeDirectory = path.dirname(process.execPath);
  writeFileSync(path.join(scratch, "npmrc"), "");
  // As in the image: Node 24 first on PATH and npm's defaults, without the npm_* variables of the
  // npm that started this test or the user's npmrc. The rest of the environment stays: it is how this
  // machine reaches the registry (proxies, CA certificates).
  const builderEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name))),
    PATH: `${nodeDirectory}:/usr/local/bin:/usr/bin:/bin`,
    npm_config_userconfig: path.join(scratch, "npmrc"),
  };

  const builderDir = inBuilder(workdir(builder));
  mkdirSync(builderDir, { recursive: true });
  for (const instruction of builder.instructions) {
    if (instruction.keyword === "COPY") {
      const copy = copyOf(instruction);
      for (const source of copy.sources) {
        copyInto(source, root, path.join(builderDir, copy.destination), (relative) => !ignored(relative));
      }
    } else if (instruction.keyword === "RUN") {
      const run = spawnSync("sh", ["-c", instruction.text], {
        cwd: builderDir,
        env: builderEnv,
        encoding: "utf8",
      });
      t.is(run.status, 0, `RUN ${instruction.text}\n${run.stdout}\n${run.stderr}`);
      if (run.status !== 0) return;
    }
  }

  // The runtime stage's RUNs install Debian's bird2 alone (the machines that run the tests have the
  // same package, from the same release), then remove the base image's package managers, which the
  // test environment stands in for by putting nothing but node on PATH.
  const runs = runtime.instructions.filter((each) => each.keyword === "RUN").map((each) => each.text);
  t.is(runs.length, 2);
  t.is(
    runs[0],
    "apt-get update && apt-get install -y --no-install-recommends bird2 && rm -rf /var/lib/apt/lists/*",
  );
  t.regex(runs[1] ?? "", /^rm -rf( \/usr\/local\/(lib\/node_modules|bin\/\w+)| \/opt\/yarn-v\*)+$/);
  const appDir = workdir(runtime);
  for (const copy of copies(runtime)) {
    t.is(copy.from, "builder");
    for (const source of copy.sources) {
      copyInto(source, buildRoot, path.join(inImage(appDir), copy.destination), () => true);
    }
  }

  const image = inImage(appDir);
  // The bundle holds every dependency vipd uses; the image needs no node_modules, and no sources.
  t.false(existsSync(path.join(image, "node_modules")));
  t.deepEqual(readdirSync(path.join(image, "dist")), ["vipd.js"]);
  t.true(existsSync(path.join(image, "src/net/native/build/Release/vipd_net.node")));
  t.deepEqual(
    readdirSync(path.join(image, "src"), { recursive: true }).filter((name) => String(name).endsWith(".ts")),
    [],
  );

  const entrypoint = JSON.parse(
    runtime.instructions.find((each) => each.keyword === "ENTRYPOINT")?.text ?? "[]",
  ) as string[];
  const program = entrypoint.at(-1) ?? "";
  const vipd = (...args: string[]) =>
    spawnSync(process.execPath, [...entrypoint.slice(1, -1), inImage(program), ...args], {
      cwd: "/",
      env: { PATH: nodeDirectory },
      encoding: "utf8",
    });

  const version = vipd("version");
  t.is(version.status, 0, version.stderr);
  t.is(version.stdout, `vipd ${packageJson.version} (node ${process.version})\n`);
  const help = vipd("--help");
  t.is(help.status, 0, help.stderr);
  t.regex(help.stdout, /^\s+run\b/m);
  t.regex(help.stdout, /^\s+manifest\b/m);
  const manifest = vipd("manifest", "rbac");
  t.is(manifest.stdout, readFileSync(path.join(root, "manifests/rbac.yaml"), "utf8"), manifest.stderr);
  // Opening netlink loads the native module; the missing kubeconfig then stops the agent before it
  // touches anything.
  const run = vipd("run", "--node-name", "image-test", "--kubeconfig", path.join(scratch, "missing"));
  t.is(run.status, 2, run.stderr);
  t.regex(run.stderr, /cannot load the kubeconfig/);
  t.notRegex(run.stderr, /native module/);
});
