// The parent side of vip-sweep-main.ts: starts it in the client namespace with the VIPs to ask
// for, and collects when each first answered.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Lab, LabProcess } from "../../lab/index.ts";

const SWEEP_MAIN = new URL("vip-sweep-main.ts", import.meta.url).pathname;

export interface VipSweep {
  /** CLOCK_MONOTONIC ns at which each VIP first answered. */
  answers(): ReadonlyMap<string, number>;
  /** Resolves true once every VIP has answered, false on timeout. */
  allAnswered(timeoutMs: number): Promise<boolean>;
  stop(): Promise<void>;
}

export async function startVipSweep(
  lab: Lab,
  options: { vips: readonly string[]; workDir: string; framesPerSecond?: number },
): Promise<VipSweep> {
  const targets = join(options.workDir, "sweep-targets.txt");
  await writeFile(targets, `${options.vips.join("\n")}\n`);
  const { stdout } = await lab.exec(lab.client.netns, ["ip", "-json", "link", "show", lab.client.ifname]);
  const [link] = JSON.parse(stdout) as { ifindex: number }[];
  if (link === undefined) throw new Error(`no ${lab.client.ifname} in the client namespace`);
  const child: LabProcess = lab.spawn(
    lab.client.netns,
    [
      process.execPath,
      SWEEP_MAIN,
      `--ifindex=${link.ifindex}`,
      `--mac=${lab.client.mac}`,
      `--ipv4=${lab.client.ipv4}`,
      `--ipv6=${lab.client.ipv6}`,
      `--targets=${targets}`,
      `--frames-per-second=${options.framesPerSecond ?? 10_000}`,
    ],
    { name: "vip sweep" },
  );
  const answers = new Map<string, number>();
  // Kept here rather than asked of waitForLine, which remembers only a process's first lines.
  let allDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allDone = resolve));
  child.onLine((line) => {
    if (line === "all answered") allDone();
    if (!line.startsWith("{")) return;
    const { ip, atNs } = JSON.parse(line) as { ip: string; atNs: number };
    answers.set(ip, atNs);
  });
  await child.waitForLine(/^sweep started$/, 10_000);
  return {
    answers: () => answers,
    allAnswered: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(resolve, timeoutMs, false)));
      const outcome = await Promise.race([done.then(() => true), timedOut]);
      clearTimeout(timer);
      return outcome;
    },
    stop: async () => {
      child.endInput();
      await child.exited;
    },
  };
}
