// One echo server per node, started by up() (see echo-server-main.ts for what it answers).
import type { LabProcess, ProcessGroup } from "./process.ts";

const ECHO_MAIN = new URL("echo-server-main.ts", import.meta.url).pathname;
const READY_TIMEOUT_MS = 10_000;

export async function startEchoServer(
  group: ProcessGroup,
  options: { netns: string; node: string; port: number },
): Promise<LabProcess> {
  const echo = group.spawn(
    options.netns,
    [process.execPath, ECHO_MAIN, `--name=${options.node}`, `--port=${options.port}`],
    { name: `echo ${options.node}` },
  );
  await echo.waitForLine(/ listening on /, READY_TIMEOUT_MS);
  return echo;
}
