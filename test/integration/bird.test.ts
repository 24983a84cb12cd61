// vipd's bird.conf in a real BIRD 2: every rendered config parses (bird -p), and in two throwaway
// namespaces joined by a veth a "node" BIRD, started bare and then given vipd's config through
// BirdControl as the agent does, announces the host routes of kernel table 198 / protocol 248 to a
// "router" BIRD with a hand-written config. Needs root. The BIRDs are started here under their own
// PIDs and killed by those PIDs on teardown; neither has a kernel export, so no route is written
// anywhere but the node namespace's table 198, by this test.
import test from "ava";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { bgpSettingsSchema } from "../../src/routing/bgp-settings.ts";
import { BirdControl, execBirdc } from "../../src/routing/bird-control.ts";
import { renderBirdConfig } from "../../src/routing/bird-config.ts";
import { createPair, ip, PAIR, requireRoot, type NamespacePair } from "./fixtures/namespace-pair.ts";

const BIRD = "/usr/sbin/bird";
const BIRDC = "/usr/sbin/birdc";
const PASSWORD = "s3cr3t'\\x";
// How long a wait for BIRD may take before the test gives up and shows what BIRD said last.
const WAIT_LIMIT_MS = 60_000;

const NODE_SETTINGS = {
  localAsn: 65000,
  routerId: PAIR.ipv4A,
  peers: [
    { address: PAIR.ipv4B, asn: 65001, password: PASSWORD },
    { address: PAIR.ipv6B, asn: 65001, bfd: false },
  ],
  holdTime: 9,
  keepaliveTime: 3,
  bfd: { enabled: true, intervalMs: 100, multiplier: 3 },
  gracefulRestart: { enabled: true, restartTime: 30 },
  policies: [
    { prefixes: ["203.0.113.0/24"], communities: ["65000:100", "1:2:3"] },
    { prefixes: ["2001:db8:2::/64"], communities: ["65000:600"], localPreference: 150 },
  ],
};

const ROUTER_CONFIG = `router id ${PAIR.ipv4B};
protocol device {}
protocol bfd { interface "*" { interval 100 ms; multiplier 3; }; }
protocol bgp node4 {
  local as 65001;
  neighbor ${PAIR.ipv4A} as 65000;
  password "${PASSWORD}";
  hold time 9;
  keepalive time 3;
  bfd on;
  ipv4 { import all; export none; };
}
protocol bgp node6 {
  local as 65001;
  neighbor ${PAIR.ipv6A} as 65000;
  hold time 9;
  keepalive time 3;
  ipv6 { import all; export none; };
}
`;

const BOOTSTRAP_CONFIG = `router id ${PAIR.ipv4A};\nprotocol device {}\n`;

let pair: NamespacePair;
let directory: string;
const birds: ChildProcess[] = [];

function killBirds(): void {
  for (const bird of birds) if (bird.exitCode === null && bird.signalCode === null) bird.kill("SIGTERM");
}

test.before(() => {
  requireRoot();
  directory = mkdtempSync(join(tmpdir(), "vipd-bird-"));
  process.once("exit", killBirds);
  pair = createPair("bird");
});

test.after.always(async () => {
  killBirds();
  await Promise.all(
    birds.map((bird) =>
      bird.exitCode === null && bird.signalCode === null
        ? new Promise((resolve) => bird.once("exit", resolve))
        : Promise.resolve(),
    ),
  );
  pair.remove();
  rmSync(directory, { recursive: true, force: true });
});

function birdc(socket: string, ...words: string[]): string {
  try {
    return execFileSync(BIRDC, ["-s", socket, ...words], {
      encoding: "utf8",
      timeout: 10_000,
      stdio: "pipe",
    });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    return `${failed.stdout ?? ""}${failed.stderr ?? ""}` || failed.message;
  }
}

// Polls BIRD until `done` holds for its answer; fails with the last answer when it never does.
async function waitFor(socket: string, words: string[], done: (output: string) => boolean): Promise<string> {
  const deadline = Date.now() + WAIT_LIMIT_MS;
  let output = birdc(socket, ...words);
  while (!done(output)) {
    if (Date.now() > deadline)
      throw new Error(`birdc ${words.join(" ")} never showed what was expected:\n${output}`);
    await sleep(200);
    output = birdc(socket, ...words);
  }
  return output;
}

async function startBird(namespace: string, name: string, config: string): Promise<string> {
  const file = join(directory, `${name}-start.conf`);
  const socket = join(directory, `${name}.ctl`);
  writeFileSync(file, config);
  // ip netns exec execs BIRD itself, so the child's PID is BIRD's.
  const bird = spawn("ip", ["netns", "exec", namespace, BIRD, "-f", "-c", file, "-s", socket], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  birds.push(bird);
  await waitFor(socket, ["show", "status"], (output) => output.includes("Daemon is up and running"));
  return socket;
}

function parseOnly(text: string): string {
  const file = join(directory, "parse.conf");
  writeFileSync(file, text);
  try {
    execFileSync(BIRD, ["-p", "-c", file], { encoding: "utf8", stdio: "pipe" });
    return "";
  } catch (error) {
    return String((error as { stderr?: string }).stderr);
  }
}

const RENDERED: readonly [string, object][] = [
  ["the lab node's settings", NODE_SETTINGS],
  [
    "one peer, defaults",
    { localAsn: 65000, routerId: "192.0.2.1", peers: [{ address: "192.0.2.2", asn: 65000 }] },
  ],
  [
    "IPv6 only, multihop TTL, other table and protocol, no BFD",
    {
      localAsn: 4200000000,
      routerId: "192.0.2.1",
      sourceAddress: "2001:db8::1",
      peers: [{ address: "2001:db8::2", asn: 4200000001, multihop: 4, port: 1179 }],
      routeTable: 1000,
      routeProtocol: 250,
      policies: [
        { prefixes: ["2001:db8:5::/48", "192.0.2.0/24"], communities: ["1:2:3"], localPreference: 0 },
      ],
    },
  ],
  [
    "a policy with only a local preference, BFD with multihop peers",
    {
      localAsn: 65000,
      routerId: "192.0.2.1",
      sourceAddress: "192.0.2.1",
      peers: [
        { address: "192.0.2.2", asn: 65000, multihop: true },
        { address: "192.0.2.3", asn: 65010 },
      ],
      bfd: { enabled: true },
      policies: [{ prefixes: ["198.51.100.0/24"], localPreference: 300 }],
    },
  ],
];

for (const [name, settings] of RENDERED) {
  test(`bird -p accepts the rendered config: ${name}`, (t) => {
    t.is(parseOnly(renderBirdConfig(bgpSettingsSchema.parse(settings))), "");
  });
}

test("the node's BIRD announces table 198's protocol-248 routes to the router, with communities", async (t) => {
  const router = await startBird(pair.b, "router", ROUTER_CONFIG);
  const node = await startBird(pair.a, "node", BOOTSTRAP_CONFIG);
  const control = new BirdControl({
    configFile: join(directory, "node.conf"),
    birdc: execBirdc({ socket: node, birdcPath: BIRDC }),
  });
  const text = renderBirdConfig(bgpSettingsSchema.parse(NODE_SETTINGS));
  t.deepEqual(await control.apply(text), { outcome: "applied" });

  // Another protocol's route in the same table first, so that by the time vipd's arrives at the
  // router the other one has been seen (and refused) by the node's kernel protocol.
  ip("-n", pair.a, "route", "add", "203.0.113.6/32", "dev", "lo", "table", "198", "proto", "249");
  ip("-n", pair.a, "route", "add", "203.0.113.5/32", "dev", "lo", "table", "198", "proto", "248");
  ip("-n", pair.a, "-6", "route", "add", "2001:db8:2::5/128", "dev", "lo", "table", "198", "proto", "248");

  const ipv4 = await waitFor(router, ["show", "route", "all", "203.0.113.5/32"], (output) =>
    output.includes("BGP.community"),
  );
  t.regex(ipv4, /BGP\.community: \(65000,100\)/);
  t.regex(ipv4, /BGP\.large_community: \(1, 2, 3\)/);
  t.regex(ipv4, new RegExp(`BGP\\.next_hop: ${PAIR.ipv4A.replaceAll(".", "\\.")}`));
  const ipv6 = await waitFor(router, ["show", "route", "all", "2001:db8:2::5/128"], (output) =>
    output.includes("BGP.community"),
  );
  t.regex(ipv6, /BGP\.community: \(65000,600\)/);
  t.regex(birdc(router, "show", "route", "203.0.113.6/32"), /Network not found/);
  t.regex(birdc(node, "show", "route", "203.0.113.6/32"), /Network not found/);

  // BIRD never writes into the kernel: table 198 holds exactly the routes put there above.
  t.is(ip("-n", pair.a, "route", "show", "table", "198").trim().split("\n").length, 2);

  const bfd = await waitFor(router, ["show", "bfd", "sessions"], (output) =>
    new RegExp(`${PAIR.ipv4A.replaceAll(".", "\\.")}\\s+\\S+\\s+Up`).test(output),
  );
  t.regex(bfd, /Up/);

  // A config BIRD refuses leaves the running one: the session stays and so does the route.
  const refused = await control.apply(
    `${text}\nprotocol bgp broken { local as 1; neighbor 198.51.100.300 as 2; }\n`,
  );
  t.is(refused.outcome, "rejected");
  t.regex(refused.outcome === "rejected" ? refused.message : "", /Invalid IPv4 address 198\.51\.100\.300/);
  t.regex(birdc(node, "show", "protocols", "vipd_peer1"), /Established/);
  t.regex(birdc(router, "show", "route", "203.0.113.5/32"), /203\.0\.113\.5\/32/);

  // The text that runs already, again: BIRD is not asked.
  t.deepEqual(await control.apply(text), { outcome: "unchanged" });

  // A policy change is a reconfiguration the router sees without the route being touched.
  const changed = renderBirdConfig(
    bgpSettingsSchema.parse({
      ...NODE_SETTINGS,
      policies: [{ prefixes: ["203.0.113.0/24"], communities: ["65000:200"] }],
    }),
  );
  t.deepEqual(await control.apply(changed), { outcome: "applied" });
  const updated = await waitFor(router, ["show", "route", "all", "203.0.113.5/32"], (output) =>
    output.includes("(65000,200)"),
  );
  t.notRegex(updated, /\(65000,100\)/);

  // A route vipd removes is withdrawn at the router.
  ip("-n", pair.a, "route", "del", "203.0.113.5/32", "dev", "lo", "table", "198", "proto", "248");
  await waitFor(router, ["show", "route", "203.0.113.5/32"], (output) =>
    output.includes("Network not found"),
  );
  t.pass();
});
