import test from "ava";
import type { V1Node } from "@kubernetes/client-node";
import type { VipPoolSpec } from "../../src/addresses/api.ts";
import { resolvePools, type Pool } from "../../src/addresses/pools.ts";
import type { BgpConfig } from "../../src/config/bgp-config.ts";
import { loadRunConfig } from "../../src/config/load.ts";
import type { RunConfigKey } from "../../src/config/schema.ts";
import type { ServiceEvent } from "../../src/kube/events.ts";
import type { Logger } from "../../src/log/logger.ts";
import type { AnnouncementMode } from "../../src/routing/announcement-mode.ts";
import { BgpSpeaker, desiredBirdConfig, firstIpv4Address } from "../../src/routing/bgp-speaker.ts";
import type { ApplyStatus, CheckStatus } from "../../src/routing/bird-control.ts";
import { FakeClock, flushEventLoop } from "./fakes/clock.ts";

const PEERS = "192.0.2.1:64513";

function bgpOf(flags: Partial<Record<RunConfigKey, string>> = {}): BgpConfig {
  return loadRunConfig({ flags: { nodeName: "node1", ...flags }, env: {} }).bgp;
}

const FULL = bgpOf({ bgpLocalAsn: "64512", bgpPeers: PEERS });

function pools(...specs: [string, Partial<VipPoolSpec>][]): Pool[] {
  return resolvePools(
    specs.map(([name, spec]) => ({
      name,
      origin: "VIPPool",
      createdAt: 0,
      spec: { addresses: [], ...spec },
    })),
  );
}

function nodeWith(addresses: string[], annotations: Record<string, string> = {}): V1Node {
  return {
    metadata: { name: "node1", annotations },
    status: { addresses: addresses.map((address) => ({ type: "InternalIP", address })) },
  };
}

const NODE = nodeWith(["2001:db8::10", "198.51.100.10"]);

function desired(
  options: {
    bgp?: BgpConfig;
    fallback?: AnnouncementMode;
    pools?: Pool[];
    node?: V1Node | undefined;
  } = {},
) {
  return desiredBirdConfig({
    bgp: options.bgp ?? FULL,
    fallbackMode: options.fallback ?? "l2",
    pools: options.pools ?? [],
    node: "node" in options ? options.node : NODE,
  });
}

test("desired: nothing routed, nothing for BIRD", (t) => {
  t.deepEqual(desired({ pools: pools(["a", { addresses: ["198.51.100.0/28"], mode: "l2" }]) }), {
    kind: "idle",
  });
  t.deepEqual(desired({ bgp: bgpOf(), pools: pools(["a", { addresses: ["198.51.100.0/28"] }]) }), {
    kind: "idle",
  });
});

test("desired: a routed fallback renders the flags' peers, the router ID from the node's first IPv4", (t) => {
  const result = desired({ fallback: "ecmp" });
  if (result.kind !== "config") return t.fail(result.kind);
  t.is(result.settings.routerId, "198.51.100.10");
  t.regex(result.text, /^router id 198\.51\.100\.10;$/m);
  t.regex(result.text, /neighbor 192\.0\.2\.1 port 179 as 64513;/);
  t.regex(result.text, /local as 64512;/);
  t.deepEqual(result.policies, []);
});

test("desired: --bgp-router-id wins over the node's address", (t) => {
  const result = desired({
    bgp: bgpOf({ bgpLocalAsn: "1", bgpPeers: PEERS, bgpRouterId: "192.0.2.9" }),
    fallback: "bgp",
  });
  t.is(result.kind === "config" ? result.settings.routerId : "", "192.0.2.9");
});

test("desired: a routed pool's spec.bgp becomes a policy over its ranges as CIDRs", (t) => {
  const result = desired({
    pools: pools(
      [
        "edge",
        {
          addresses: ["198.51.100.10-198.51.100.13", "2001:db8:1::/120"],
          mode: "bgp",
          bgp: { communities: ["65000:100", "1:2:3"], localPreference: 150 },
        },
      ],
      ["plain", { addresses: ["203.0.113.0/28"], mode: "ecmp" }],
    ),
  });
  if (result.kind !== "config") return t.fail(result.kind);
  t.deepEqual(result.policies, [
    {
      pool: "edge",
      policy: {
        prefixes: ["198.51.100.10/31", "198.51.100.12/31", "2001:db8:1::/120"],
        communities: ["65000:100", "1:2:3"],
        localPreference: 150,
      },
    },
  ]);
  t.regex(result.text, /if net ~ \[ 198\.51\.100\.10\/31\+, 198\.51\.100\.12\/31\+ \] then/);
  t.regex(result.text, /bgp_community\.add\(\(65000, 100\)\);/);
  t.regex(result.text, /bgp_local_pref = 150;/);
});

test("desired: a pool's spec.bgp that cannot be a policy is left out and named", (t) => {
  const result = desired({
    fallback: "bgp",
    pools: pools(["bad", { addresses: ["198.51.100.0/28"], bgp: { communities: ["70000:1"] } }]),
  });
  if (result.kind !== "config") return t.fail(result.kind);
  t.deepEqual(result.policies, []);
  t.is(result.invalidPolicies.length, 1);
  t.is(result.invalidPolicies[0]?.pool, "bad");
  t.regex(
    result.invalidPolicies[0]?.problem ?? "",
    /^spec\.bgp\.communities\.0: "70000:1" is not a community/,
  );
});

test("desired: routed pools without BGP settings are incomplete, naming the pools", (t) => {
  const result = desired({
    bgp: bgpOf(),
    pools: pools(
      ["routed", { addresses: ["198.51.100.0/28"], mode: "ecmp" }],
      ["segment", { addresses: ["198.51.100.16/28"] }],
    ),
  });
  t.like(result, {
    kind: "incomplete",
    problem: "no local AS number: set --bgp-local-asn (or --bgp-peer-annotations)",
    routedPools: ["routed"],
  });
});

test("desired: no IPv4 address on the node and no --bgp-router-id is incomplete", (t) => {
  t.like(desired({ fallback: "bgp", node: nodeWith(["2001:db8::10"]) }), {
    kind: "incomplete",
    problem:
      "this node's Node has no IPv4 address in status.addresses to take the router ID from: set --bgp-router-id",
  });
  t.is(firstIpv4Address(undefined), undefined);
});

const ANNOTATED = nodeWith(["198.51.100.10"], {
  "metal.equinix.com/bgp-peers-0-node-asn": "65000",
  "metal.equinix.com/bgp-peers-0-peer-asn": "65530",
  "metal.equinix.com/bgp-peers-0-peer-ip": "192.0.2.1,192.0.2.2",
  "metal.equinix.com/bgp-peers-0-src-ip": "192.0.2.50",
});

test("desired: the node's kube-vip annotations give the AS, the peers and the router ID", (t) => {
  const result = desired({
    bgp: bgpOf({ bgpPeerAnnotations: "metal.equinix.com" }),
    fallback: "bgp",
    node: ANNOTATED,
  });
  if (result.kind !== "config") return t.fail(result.kind);
  t.like(result.settings, { localAsn: 65000, routerId: "192.0.2.50", sourceAddress: "192.0.2.50" });
  t.deepEqual(
    result.settings.peers.map((peer) => [peer.address, peer.asn]),
    [
      ["192.0.2.1", 65530],
      ["192.0.2.2", 65530],
    ],
  );
});

test("desired: flags win over the annotations, and a peer named by both is the flag's", (t) => {
  const result = desired({
    bgp: bgpOf({
      bgpPeerAnnotations: "metal.equinix.com",
      bgpLocalAsn: "64512",
      bgpPeers: "192.0.2.1:64999",
    }),
    fallback: "bgp",
    node: ANNOTATED,
  });
  if (result.kind !== "config") return t.fail(result.kind);
  t.is(result.settings.localAsn, 64512);
  t.deepEqual(
    result.settings.peers.map((peer) => [peer.address, peer.asn]),
    [
      ["192.0.2.1", 64999],
      ["192.0.2.2", 65530],
    ],
  );
});

test("desired: annotations the node lacks are incomplete, naming the flag", (t) => {
  const bgp = bgpOf({ bgpPeerAnnotations: "metal.equinix.com" });
  t.like(desired({ bgp, fallback: "bgp" }), { kind: "incomplete" });
  const result = desired({ bgp, fallback: "bgp" });
  t.regex(result.kind === "incomplete" ? result.problem : "", /^--bgp-peer-annotations: the node has no/);
  t.like(desired({ bgp, fallback: "bgp", node: undefined }), {
    kind: "incomplete",
    problem: "this node's Node is not known yet, and its annotations name the peers",
  });
});

// The loop, against a BirdControl whose answers the test scripts.
class FakeBird {
  readonly applied: string[] = [];
  readonly checked: string[] = [];
  answer: (text: string) => ApplyStatus = () => ({ outcome: "applied" });
  checks: (text: string) => CheckStatus = () => ({ outcome: "accepted" });
  #last: string | undefined;

  apply(text: string): Promise<ApplyStatus> {
    if (text === this.#last) return Promise.resolve({ outcome: "unchanged" });
    const status = this.answer(text);
    this.applied.push(text);
    if (status.outcome === "applied") this.#last = text;
    return Promise.resolve(status);
  }

  check(text: string): Promise<CheckStatus> {
    this.checked.push(text);
    return Promise.resolve(this.checks(text));
  }
}

function loop(options: { fallback?: AnnouncementMode; pools?: Pool[]; ready?: () => boolean } = {}) {
  const clock = new FakeClock();
  const bird = new FakeBird();
  const state = { pools: options.pools ?? [], node: NODE as V1Node | undefined };
  const events: { on: string; event: ServiceEvent }[] = [];
  const warnings: string[] = [];
  const log: Logger = {
    error: (message) => warnings.push(`error: ${message}`),
    warn: (message) => warnings.push(message),
    info: () => undefined,
    debug: () => undefined,
  };
  const speaker = new BgpSpeaker({
    bgp: FULL,
    fallbackMode: options.fallback ?? "bgp",
    bird,
    pools: () => state.pools,
    node: () => state.node,
    ready: options.ready ?? (() => true),
    events: {
      pool: (name, event) => events.push({ on: `VIPPool ${name}`, event }),
      node: (event) => events.push({ on: "Node", event }),
    },
    clock,
    log,
    retry: { initialMs: 100, maxMs: 400 },
    debounceMs: 10,
  });
  return { clock, bird, state, events, warnings, speaker };
}

test("speaker: applies at start, and again after a pool change, once the debounce has passed", async (t) => {
  const { clock, bird, state, speaker } = loop();
  speaker.start();
  await flushEventLoop();
  t.is(bird.applied.length, 1);
  state.pools = pools(["edge", { addresses: ["198.51.100.0/28"], bgp: { communities: ["65000:7"] } }]);
  speaker.poke();
  speaker.poke();
  await flushEventLoop();
  t.is(bird.applied.length, 1, "not before the debounce");
  await clock.tick(10);
  t.is(bird.applied.length, 2);
  t.regex(bird.applied[1] ?? "", /65000, 7/);
  // A poke that changes nothing costs a render, not a reconfiguration.
  speaker.poke();
  await clock.tick(10);
  t.is(bird.applied.length, 2);
  speaker.stop();
});

test("speaker: waits for the caches before the first config", async (t) => {
  let ready = false;
  const { clock, bird, speaker } = loop({ ready: () => ready });
  speaker.start();
  await clock.tick(5000);
  t.is(bird.applied.length, 0);
  ready = true;
  await clock.tick(1000);
  t.is(bird.applied.length, 1);
  speaker.stop();
});

test("speaker: nothing routed, BIRD is never asked", async (t) => {
  const { clock, bird, speaker } = loop({ fallback: "l2" });
  speaker.start();
  speaker.poke();
  await clock.tick(1000);
  t.deepEqual([bird.applied, bird.checked], [[], []]);
  speaker.stop();
});

test("speaker: BIRD not answering is retried with backoff and said once", async (t) => {
  const { clock, bird, warnings, speaker } = loop();
  bird.answer = () => ({ outcome: "unreachable", message: "BIRD did not answer: no socket" });
  speaker.start();
  await flushEventLoop();
  t.is(bird.applied.length, 1);
  await clock.tick(100);
  t.is(bird.applied.length, 2);
  await clock.tick(199);
  t.is(bird.applied.length, 2, "the second wait is twice the first");
  await clock.tick(1);
  t.is(bird.applied.length, 3);
  t.true(
    clock.pending().every((timer) => !timer.keepAlive),
    "its timers keep no process alive",
  );
  bird.answer = () => ({ outcome: "applied" });
  await clock.tick(400);
  t.is(bird.applied.length, 4);
  t.deepEqual(warnings, ["BIRD did not take vipd's BGP config; retrying"]);
  speaker.stop();
});

test("speaker: a refusal caused by a pool's policy goes on that pool, once per text", async (t) => {
  const { clock, bird, state, events, warnings, speaker } = loop({
    pools: pools(
      ["good", { addresses: ["198.51.100.0/28"], bgp: { communities: ["65000:1"] } }],
      ["broken", { addresses: ["203.0.113.0/28"], bgp: { localPreference: 5 } }],
    ),
  });
  const refuses = (text: string): boolean => text.includes("bgp_local_pref = 5;");
  bird.answer = (text) =>
    refuses(text)
      ? { outcome: "rejected", message: "BIRD refused the new config: F:3 nope" }
      : { outcome: "applied" };
  bird.checks = (text) =>
    refuses(text) ? { outcome: "rejected", message: "nope" } : { outcome: "accepted" };
  speaker.start();
  await flushEventLoop();
  t.deepEqual(
    events.map(({ on, event }) => [on, event.reason]),
    [["VIPPool broken", "BGPConfigRejected"]],
  );
  t.regex(events[0]?.event.message ?? "", /with this pool's spec\.bgp.*F:3 nope/);
  t.deepEqual(warnings, ["BIRD refused vipd's BGP config; it keeps running the one before"]);
  speaker.poke();
  await clock.tick(10);
  t.is(events.length, 1, "the same text is not reported again");
  // Fixed: applied, and a later refusal is reported anew.
  state.pools = pools(["good", { addresses: ["198.51.100.0/28"], bgp: { communities: ["65000:1"] } }]);
  speaker.poke();
  await clock.tick(10);
  t.is(bird.applied.at(-1)?.includes("65000, 1"), true);
  speaker.stop();
});

test("speaker: a refusal no pool causes goes on the Node", async (t) => {
  const { bird, events, speaker } = loop({
    pools: pools(["good", { addresses: ["198.51.100.0/28"], bgp: { communities: ["65000:1"] } }]),
  });
  bird.answer = () => ({ outcome: "rejected", message: "BIRD refused the new config: router id" });
  bird.checks = () => ({ outcome: "rejected", message: "router id" });
  speaker.start();
  await flushEventLoop();
  t.deepEqual(
    events.map(({ on, event }) => [on, event.reason]),
    [["Node", "BGPConfigRejected"]],
  );
  t.is(bird.checked.length, 1, "only the config without policies is checked");
  speaker.stop();
});

test("speaker: routed pools without BGP settings are warned about once; the invalid policy too", async (t) => {
  const clock = new FakeClock();
  const events: string[] = [];
  const warnings: string[] = [];
  const bird = new FakeBird();
  const speaker = new BgpSpeaker({
    bgp: bgpOf(),
    fallbackMode: "l2",
    bird,
    pools: () =>
      pools(
        ["routed", { addresses: ["198.51.100.0/28"], mode: "ecmp", bgp: { communities: ["1:99999"] } }],
        ["segment", { addresses: ["198.51.100.16/28"] }],
      ),
    node: () => NODE,
    ready: () => true,
    events: {
      pool: (name, event) => events.push(`VIPPool ${name} ${event.reason}`),
      node: (event) => events.push(`Node ${event.reason}`),
    },
    clock,
    log: { ...silent, warn: (message) => warnings.push(message) },
    debounceMs: 10,
  });
  speaker.start();
  await flushEventLoop();
  speaker.poke();
  await clock.tick(10);
  t.deepEqual(events, ["VIPPool routed BGPPolicyInvalid", "VIPPool routed BGPSettingsMissing"]);
  t.is(warnings.length, 2);
  t.deepEqual(bird.applied, []);
  speaker.stop();
});

const silent: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
};
