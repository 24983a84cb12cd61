// Many flows to one address from a client namespace (flows-main.ts): which node answered each, so a
// test can see how a router's ECMP spread them.
import type { ProcessGroup } from "./process.ts";

const FLOWS_MAIN = new URL("flows-main.ts", import.meta.url).pathname;
const DONE_TIMEOUT_MS = 30_000;

export interface FlowsOptions {
  readonly target: string;
  /** The lab's echo port unless given. */
  readonly port?: number;
  /** How many flows, each from a source port of its own; 64 unless given. */
  readonly flows?: number;
}

export interface FlowAnswer {
  readonly sourcePort: number;
  /** The node whose echo server answered the flow, or null when none did. */
  readonly node: string | null;
}

export async function sendFlows(
  group: ProcessGroup,
  netns: string,
  options: FlowsOptions & { defaultPort: number },
): Promise<FlowAnswer[]> {
  const child = group.spawn(
    netns,
    [
      process.execPath,
      FLOWS_MAIN,
      `--target=${options.target}`,
      `--port=${options.port ?? options.defaultPort}`,
      `--flows=${options.flows ?? 64}`,
    ],
    { name: `flows ${options.target}` },
  );
  const answers: FlowAnswer[] = [];
  child.onLine((line) => {
    if (line.startsWith("{")) answers.push(JSON.parse(line) as FlowAnswer);
  });
  await child.waitForLine(/^flows done$/, DONE_TIMEOUT_MS);
  const exit = await child.exited;
  if (exit.code !== 0)
    throw new Error(`${child.name} failed (${exit.code ?? exit.signal ?? ""}):\n${child.output()}`);
  return answers;
}

/** How many flows each node answered (null: unanswered). */
export function answersByNode(answers: readonly FlowAnswer[]): Map<string | null, number> {
  const counts = new Map<string | null, number>();
  for (const { node } of answers) counts.set(node, (counts.get(node) ?? 0) + 1);
  return counts;
}
