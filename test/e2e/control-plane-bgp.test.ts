// The control-plane VIP in bgp mode (issue 16 §2): three control-plane nodes, each with its own
// kube-apiserver and a `vipd run --control-plane --announce-mode=bgp` agent that writes its node's
// BIRD configuration itself. The API server's VIP lies on no node's subnet (the lab's routed range),
// so the far client reaches it only through the router, over the one next hop the holder's BIRD
// announces. When the holder's kube-apiserver dies (its agent lives on), the holder withdraws and
// the route moves to a healthy node; at no sample does the router have two next hops for it.
import test from "ava";
import { startControlPlane, type ControlPlane } from "../../lab/control-plane.ts";
import { eventually } from "../../lab/eventually.ts";
import {
  NODE_ASN,
  ROUTER_ASN,
  ROUTER_LAN_IPV4,
  up,
  type Bird,
  type Lab,
  type LabNode,
  type LabProcess,
  type Router,
} from "../../lab/index.ts";

// From the routed range ROUTED_VIPS_IPV4 (203.0.113.192/26), on no link's subnet.
const VIP = "203.0.113.210";
const MOVE_TIMEOUT_MS = 90_000;

let lab: Lab;
let router: Router;
let farNetns: string;
let controlPlane: ControlPlane;
const birds = new Map<string, Bird>();
const agents = new Map<string, LabProcess>();

function agentLogs(characters = 4000): string {
  return [...agents.values()]
    .map((agent) => `--- ${agent.name}\n${agent.output().slice(-characters)}`)
    .join("\n");
}

function nodeByAddress(address: string): LabNode | undefined {
  return lab.nodes.find((each) => each.ipv4 === address);
}

/** The router's next hops for the VIP, sampled until stop(): how many there were at each sample. */
function sampleNextHops(): { stop(): Promise<number[]> } {
  const counts: number[] = [];
  const state = { running: true };
  const loop = (async () => {
    while (state.running) {
      counts.push((await router.nextHops(VIP)).length);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  return {
    stop: async () => {
      state.running = false;
      await loop;
      return counts;
    },
  };
}

/** The one node the router sends the VIP's traffic to, once there is exactly one. */
function singleNextHop(what: string, unlike?: string): Promise<string[]> {
  return eventually(
    () => router.nextHops(VIP),
    (hops) => hops.length === 1 && hops[0] !== unlike && nodeByAddress(hops[0] ?? "") !== undefined,
    { what, timeoutMs: MOVE_TIMEOUT_MS },
  ).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}\n${agentLogs()}`);
  });
}

function kubectlFromFar(args: readonly string[]) {
  return controlPlane.kubectlViaVip(args, { netns: farNetns });
}

test.before(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab needs root");
  lab = await up({ nodes: 3, router: true });
  if (lab.router === undefined || lab.farClient === undefined) throw new Error("no router in the lab");
  router = lab.router;
  farNetns = lab.farClient.netns;
  controlPlane = await startControlPlane(lab, { vip: VIP });
  for (const node of lab.nodes) birds.set(node.name, await lab.startNodeBird(node));
});

test.after.always(async () => {
  await lab.down();
  await controlPlane.cleanUp();
});

test.serial(
  "one node announces the API server's VIP to the router, and kubectl through it works",
  async (t) => {
    for (const node of lab.nodes) {
      const bird = birds.get(node.name);
      if (bird === undefined) throw new Error(`${node.name} has no BIRD`);
      agents.set(
        node.name,
        controlPlane.startAgent(node, [
          "--announce-mode=bgp",
          "--bgp-speaker=bird",
          `--bird-socket=${bird.socketPath}`,
          `--bird-config=${bird.configPath}`,
          `--bgp-local-asn=${NODE_ASN}`,
          `--bgp-peers=${ROUTER_LAN_IPV4}:${ROUTER_ASN}`,
          "--bgp-bfd=true",
          "--bgp-bfd-interval=100ms",
        ]),
      );
    }
    const [hop = ""] = await singleNextHop("one next hop for the control-plane VIP");
    const holder = nodeByAddress(hop);
    if (holder === undefined) throw new Error(`${hop} is no node`);
    t.is(await controlPlane.leaseHolder(holder), holder.name, "the next hop is the Lease's holder");
    const livez = await eventually(
      () => kubectlFromFar(["get", "--raw", "/livez", "--request-timeout=2s"]),
      (result) => result.code === 0,
      { what: "kubectl from the far client through the VIP", timeoutMs: MOVE_TIMEOUT_MS },
    );
    t.is(livez.stdout.trim(), "ok");
    const shown = await lab.exec(holder.netns, ["ip", "-o", "addr", "show", "dev", "lo"]);
    t.true(shown.stdout.includes(` ${VIP}/32`), "the holder has the VIP on lo");
  },
);

test.serial(
  "the holder's kube-apiserver dies, its agent stays: the route moves to a healthy node",
  async (t) => {
    const [hop = ""] = await router.nextHops(VIP);
    const holder = nodeByAddress(hop);
    if (holder === undefined) throw new Error(`nobody is the VIP's next hop (${hop})`);
    const apiserver = controlPlane.apiservers.get(holder.name);
    if (apiserver === undefined) throw new Error(`no kube-apiserver on ${holder.name}`);
    const sampler = sampleNextHops();
    lab.signal(apiserver, "SIGKILL");
    const [next = ""] = await singleNextHop("the VIP's route on another node", hop);
    const counts = await sampler.stop();
    t.not(next, hop);
    t.true(
      counts.every((count) => count <= 1),
      `never two next hops at once (samples: ${counts.length})`,
    );
    const livez = await eventually(
      () => kubectlFromFar(["get", "--raw", "/livez", "--request-timeout=2s"]),
      (result) => result.code === 0,
      { what: "kubectl through the VIP after the move", timeoutMs: MOVE_TIMEOUT_MS },
    );
    t.is(livez.stdout.trim(), "ok");
    const left = await lab.exec(holder.netns, ["ip", "-o", "addr", "show", "dev", "lo"]);
    t.false(left.stdout.includes(` ${VIP}/32`), "the old holder took the VIP off lo");
    const routes = await lab.exec(holder.netns, ["ip", "route", "show", "table", "198"]);
    t.false(routes.stdout.includes(VIP), "and its route out of table 198");
  },
);
