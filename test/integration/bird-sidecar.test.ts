// The BIRD container of `vipd manifest daemonset --bgp` with the real BIRD 2 of Debian's bird2, in a
// throwaway network namespace: its command starts BIRD on its bootstrap config, its probe answers
// once BIRD does, and the agent's config then goes in through the socket as the agent applies it. The container's own command and probe are run as printed, with the
// shared directory /run/bird moved to a scratch directory. Needs root; the BIRD is started here under
// its own PID and stopped by it; its config has no kernel export, so it writes no route.
import test from "ava";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { birdContainer } from "../../src/manifest/daemonset.ts";
import { BIRD_CONFIG_FILE, BIRD_SOCKET_FILE } from "../../src/manifest/options.ts";
import { renderBirdConfig } from "../../src/routing/bird-config.ts";
import { BirdControl, execBirdc } from "../../src/routing/bird-control.ts";
import { bgpSettingsSchema } from "../../src/routing/bgp-settings.ts";
import { createPair, PAIR, requireRoot, type NamespacePair } from "./fixtures/namespace-pair.ts";

// The image's PATH (Debian's), where bird2 puts bird and birdc.
const IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// How long the wait for BIRD may take before the test gives up and shows the probe's last answer.
const WAIT_LIMIT_MS = 60_000;

let pair: NamespacePair;
let directory: string;
let sidecar: ChildProcess | undefined;

test.before(() => {
  requireRoot();
  directory = mkdtempSync(join(tmpdir(), "vipd-bird-sidecar-"));
  pair = createPair("side");
});

test.after.always(async () => {
  if (sidecar !== undefined && sidecar.exitCode === null && sidecar.signalCode === null) {
    const exited = new Promise((resolve) => sidecar?.once("exit", resolve));
    sidecar.kill("SIGTERM");
    await exited;
  }
  pair.remove();
  rmSync(directory, { recursive: true, force: true });
});

/** A path of the pod's shared directory, moved to the scratch directory. */
function moved(argument: string): string {
  return argument.replace(/^\/run\/bird\//, `${directory}/`);
}

const container = birdContainer("vipd");

function probe(): Promise<{ ok: boolean; output: string }> {
  const [file = "", ...args] = (container.readinessProbe?.exec?.command ?? []).map(moved);
  return new Promise((resolve) => {
    execFile(
      "ip",
      ["netns", "exec", pair.a, file, ...args],
      { env: { PATH: IMAGE_PATH }, encoding: "utf8", timeout: 10_000 },
      (error, stdout, stderr) => {
        resolve({ ok: error === null, output: stdout + stderr });
      },
    );
  });
}

test.serial(
  "the BIRD container starts BIRD on its bootstrap, answers its probe, and takes the agent's config through the socket",
  async (t) => {
    const command = (container.command ?? []).map(moved);
    t.deepEqual(command.slice(4, 6), [moved(BIRD_CONFIG_FILE), moved(BIRD_SOCKET_FILE)]);
    // ip netns exec, then the shell, exec what follows: the child's PID ends up BIRD's.
    const started = spawn("ip", ["netns", "exec", pair.a, ...command], {
      env: { PATH: IMAGE_PATH },
      stdio: ["ignore", "inherit", "inherit"],
    });
    sidecar = started;
    const exited = new Promise<number | null>((resolve) => {
      started.once("exit", resolve);
    });

    const deadline = Date.now() + WAIT_LIMIT_MS;
    let answer = await probe();
    while (!answer.ok) {
      if (Date.now() > deadline) return t.fail(`the probe never succeeded:\n${answer.output}`);
      await sleep(200);
      answer = await probe();
    }
    t.regex(answer.output, /Daemon is up and running/);

    // What the agent renders for a node, applied as the agent applies it.
    const settings = bgpSettingsSchema.parse({
      localAsn: 64497,
      routerId: PAIR.ipv4A,
      peers: [{ address: PAIR.ipv4B, asn: 64496 }],
    });
    const socket = moved(BIRD_SOCKET_FILE);
    const control = new BirdControl({ configFile: moved(BIRD_CONFIG_FILE), birdc: execBirdc({ socket }) });
    t.deepEqual(await control.apply(renderBirdConfig(settings)), { outcome: "applied" });
    const status = await execBirdc({ socket }).run(["show", "status"]);
    t.regex(status.output, new RegExp(`Router ID is ${PAIR.ipv4A.replaceAll(".", "\\.")}`));

    // The kubelet's stop: BIRD ends at once, closing its sessions.
    started.kill("SIGTERM");
    t.is(await exited, 0);
  },
);
