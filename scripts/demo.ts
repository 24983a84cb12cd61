// `npm run demo`: the lab with a real API server, shown step by step, then torn down. The agent issue
// turns this into the failover demo; for now it proves the pieces the agent will stand on.
import { up, type Lab } from "../test/lab/index.ts";

function say(line: string): void {
  process.stdout.write(`demo: ${line}\n`);
}

async function show(title: string, run: () => Promise<string>): Promise<void> {
  say(title);
  const output = await run();
  process.stdout.write(output.replace(/^/gm, "    ") + "\n");
}

async function demo(lab: Lab): Promise<void> {
  const api = lab.api;
  if (api === undefined) throw new Error("the lab came up without its API server");
  say(
    `lab ${lab.prefix}: ${lab.nodes.map((node) => `${node.name} ${node.ipv4}`).join(", ")}; client ${lab.client.ipv4}`,
  );
  await show(`kubectl get ns (API server ${api.internalUrl} in namespace ${lab.apiNetns})`, async () => {
    const result = await api.kubectl(["get", "ns"]);
    if (result.code !== 0) throw new Error(`kubectl get ns failed: ${result.stderr}`);
    return result.stdout.trimEnd();
  });
  const [node] = lab.nodes;
  if (node === undefined) throw new Error("the lab has no nodes");
  const probe = await lab.probe({ target: node.ipv4, intervalMs: 10 });
  await probe.waitFor((sample) => sample.node === node.name, 5000);
  const samples = await probe.stop();
  const answered = samples.filter((sample) => sample.node === node.name).length;
  say(
    `client ${lab.client.ipv4} → ${node.ipv4}:8080/udp: ${answered} of ${samples.length} probes answered by ${node.name}`,
  );
}

// The lab passes on the API server's own log too; the demo shows only what the lab itself says.
const SERVER_LOG = /^(kube-apiserver|etcd|uds-proxy): /;
const lab = await up({
  nodes: 3,
  apiServer: true,
  log: (line) => {
    if (!SERVER_LOG.test(line)) say(line);
  },
});
try {
  await demo(lab);
} finally {
  await lab.down();
  say("lab torn down");
}
