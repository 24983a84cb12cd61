// `npm run bench:data-path`: what vipd's data path costs per operation, in two throwaway network
// namespaces joined by a veth pair (removed on exit). It prints figures; nothing is asserted.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createPair, PAIR, requireRoot } from "../../test/integration/fixtures/namespace-pair.ts";

requireRoot();
const pair = createPair("bench");
try {
  const input = {
    interfaceName: PAIR.interfaceA,
    mac: PAIR.macA,
    rounds: 2000,
    ipv6Among: [10, 100, 1000, 2000],
  };
  const run = spawnSync(
    "ip",
    [
      "netns",
      "exec",
      pair.a,
      process.execPath,
      fileURLToPath(new URL("data-path-cost.ts", import.meta.url)),
      JSON.stringify(input),
    ],
    { encoding: "utf8" },
  );
  if (run.status !== 0) throw new Error(`the measurement failed: ${run.stderr}`);
  const cost = JSON.parse(run.stdout) as Record<string, number> & {
    ipv6RefreshAmong: Record<string, number>;
  };
  const micros = (value: number | undefined) => `${(value ?? NaN).toFixed(1)} µs`;
  process.stdout.write(
    [
      `send() on the kept-open packet socket     ${micros(cost.send)}`,
      `open, send, close a socket per frame      ${micros(cost.openSendClose)}`,
      `add an IPv4 address                       ${micros(cost.addAddress)}`,
      `replace it (a lifetime refresh)           ${micros(cost.replaceAddress)}`,
      `delete it                                 ${micros(cost.deleteAddress)}`,
      ...Object.entries(cost.ipv6RefreshAmong).map(
        ([among, value]) => `refresh one IPv6 VIP among ${among.padEnd(5)}         ${micros(value)}`,
      ),
      "",
    ].join("\n"),
  );
} finally {
  pair.remove();
}
