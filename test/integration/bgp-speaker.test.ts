// The BGP speaker against real BIRD 2 daemons: in two throwaway namespaces joined by a veth, a "node"
// BIRD started with a bare config is given vipd's config by the speaker, as the agent does it, and a
// "router" BIRD receives the node's host route with the community of the VIPPool it lies in; when the
// pool's spec.bgp changes, the speaker re-applies and the router sees the new community. Needs root.
// The BIRDs are lab processes killed by their PIDs on teardown; no route is written anywhere but
// the node namespace's table 198, by this test.
import test from "ava";
import type { V1Node } from "@kubernetes/client-node";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { birdPaths, bootstrapBirdConfig, startBird, type Bird } from "../../lab/bird.ts";
import { eventually } from "../../lab/eventually.ts";
import { ProcessGroup } from "../../lab/process.ts";
import type { VipPoolSpec } from "../../src/addresses/api.ts";
import { resolvePools, type Pool } from "../../src/addresses/pools.ts";
import { systemClock } from "../../src/clock/clock.ts";
import { loadRunConfig } from "../../src/config/load.ts";
import type { Logger } from "../../src/log/logger.ts";
import { BgpSpeaker } from "../../src/routing/bgp-speaker.ts";
import { BirdControl, execBirdc } from "../../src/routing/bird-control.ts";
import { createPair, ip, PAIR, requireRoot, type NamespacePair } from "./fixtures/namespace-pair.ts";

const BIRDC = "/usr/sbin/birdc";
const VIP = "203.0.113.5";

const ROUTER_CONFIG = `router id ${PAIR.ipv4B};
protocol device {}
protocol bgp node {
  local as 65001;
  neighbor ${PAIR.ipv4A} as 65000;
  hold time 9;
  keepalive time 3;
  connect retry time 1;
  ipv4 { import all; export none; };
}
`;

let pair: NamespacePair;
let directory: string;
const group = new ProcessGroup();

test.before(() => {
  requireRoot();
  directory = mkdtempSync(join(tmpdir(), "vipd-bgp-speaker-"));
  process.once("exit", () => {
    group.killAll();
  });
  pair = createPair("spk");
});

test.after.always(async () => {
  await group.stopAll();
  pair.remove();
  rmSync(directory, { recursive: true, force: true });
});

function edge(communities: string[]): Pool[] {
  const spec: VipPoolSpec = { addresses: ["203.0.113.0/28"], mode: "bgp", bgp: { communities } };
  return resolvePools([{ name: "edge", origin: "VIPPool", createdAt: 0, spec }]);
}

async function routeAtRouter(router: Bird): Promise<string> {
  return (await router.birdc(["show", "route", "all", `${VIP}/32`])).stdout;
}

test("the speaker applies a pool's policy to the node's BIRD, and applies it again when the pool changes", async (t) => {
  const router = await startBird(group, {
    netns: pair.b,
    name: "router",
    configText: ROUTER_CONFIG,
    ...birdPaths(directory, "router"),
  });
  const node = await startBird(group, {
    netns: pair.a,
    name: "node",
    configText: bootstrapBirdConfig(PAIR.ipv4A),
    ...birdPaths(directory, "node"),
  });
  const bgp = loadRunConfig({
    flags: {
      nodeName: "node1",
      bgpLocalAsn: "65000",
      bgpPeers: `${PAIR.ipv4B}:65001`,
      bgpHoldTime: "9s",
      bgpKeepaliveTime: "3s",
      birdSocket: node.socketPath,
      birdConfig: node.configPath,
    },
    env: {},
  }).bgp;
  let pools = edge(["65000:100"]);
  const self: V1Node = {
    metadata: { name: "node1" },
    status: { addresses: [{ type: "InternalIP", address: PAIR.ipv4A }] },
  };
  const said: string[] = [];
  const log: Logger = {
    error: (message) => said.push(message),
    warn: (message) => said.push(message),
    info: (message) => said.push(message),
    debug: () => undefined,
  };
  const events: string[] = [];
  const speaker = new BgpSpeaker({
    bgp,
    fallbackMode: "l2",
    bird: new BirdControl({
      configFile: bgp.birdConfig,
      birdc: execBirdc({ socket: bgp.birdSocket, birdcPath: BIRDC }),
    }),
    pools: () => pools,
    node: () => self,
    ready: () => true,
    events: {
      pool: (name, event) => events.push(`VIPPool ${name}: ${event.message}`),
      node: (event) => events.push(`Node: ${event.message}`),
    },
    clock: systemClock,
    log,
  });
  t.teardown(() => {
    speaker.stop();
  });
  const context = () =>
    `said: ${said.join("\n")}\nevents: ${events.join("\n")}\nnode BIRD: ${node.process.output()}`;

  ip("-n", pair.a, "route", "add", `${VIP}/32`, "dev", "lo", "table", "198", "proto", "248");
  speaker.start();
  const first = await eventually(
    () => routeAtRouter(router),
    (output) => output.includes("BGP.community"),
    { what: "the router's route to the VIP, with communities", timeoutMs: 60_000, context },
  );
  t.regex(first, /BGP\.community: \(65000,100\)/);
  t.regex(readFileSync(bgp.birdConfig, "utf8"), /bgp_community\.add\(\(65000, 100\)\);/);

  pools = edge(["65000:200"]);
  speaker.poke();
  const second = await eventually(
    () => routeAtRouter(router),
    (output) => output.includes("(65000,200)"),
    { what: "the router's route with the pool's new community", timeoutMs: 60_000, context },
  );
  t.notRegex(second, /\(65000,100\)/);
  t.deepEqual(events, []);
  t.is(said.filter((line) => line === "BIRD runs vipd's BGP config").length, 2);
});

test("birdc without a BIRD behind the socket is unreachable, not a refusal", async (t) => {
  const control = new BirdControl({
    configFile: join(directory, "nobody.conf"),
    birdc: execBirdc({ socket: join(directory, "nobody.ctl"), birdcPath: BIRDC }),
  });
  const status = await control.apply("router id 192.0.2.1;\n");
  t.is(status.outcome, "unreachable");
  t.regex(
    status.outcome === "unreachable" ? status.message : "",
    /Unable to connect to server control socket/,
  );
});
