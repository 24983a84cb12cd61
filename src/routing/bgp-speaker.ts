// vipd driving BIRD (--bgp-speaker bird): a level-triggered loop that renders the whole bird.conf
// from what it knows now, the BGP flags, this node's kube-vip annotations (--bgp-peer-annotations)
// and the VIPPools' spec.bgp, and hands it to BirdControl, which loads it only when it changed and
// BIRD accepts it. It runs at start-up and again whenever a pool or this node's Node changes; a
// route coming or going never needs it (BIRD learns vipd's kernel table itself).
//
// What goes wrong is said once per distinct problem, and never stops the agent: the routes are
// written whatever BIRD does, so an external speaker, or this BIRD once it is fixed, exports them.
// - Nothing routed (every address is l2): BIRD is not needed and not asked anything.
// - Routed addresses but no complete BGP settings (no peers or AS, from the flags or the node's
//   annotations; no router ID): a log line and a Warning Event on the routed VIPPools (or the Node).
// - A pool's spec.bgp that cannot be a policy (a community out of range): that pool's routes go out
//   without its attributes, with a Warning Event on the pool.
// - BIRD refuses the config: it keeps the previous one. The refusal is put on the pools whose
//   policies BIRD refuses when checked alone, else on this node's Node.
// - BIRD does not answer (not started yet, restarting): retried with backoff, said once per outage.
import type { V1Node } from "@kubernetes/client-node";
import ipaddr from "ipaddr.js";
import type { Pool } from "../addresses/pools.ts";
import { addressText, prefixesOf } from "../addresses/ranges.ts";
import type { Cancel, Clock } from "../clock/clock.ts";
import type { BgpConfig } from "../config/bgp-config.ts";
import type { ServiceEvent } from "../kube/events.ts";
import { EVENT_REASONS } from "../kube/names.ts";
import type { Logger } from "../log/logger.ts";
import { isRouted, type AnnouncementMode } from "./announcement-mode.ts";
import {
  bgpSettingsSchema,
  routePolicySchema,
  type BgpPeer,
  type BgpSettings,
  type RoutePolicy,
} from "./bgp-settings.ts";
import { renderBirdConfig } from "./bird-config.ts";
import type { BirdControl } from "./bird-control.ts";
import { parseKubeVipAnnotations } from "./kube-vip-peers.ts";

/** What the speaker reads of a pool. */
export type SpeakerPool = Pick<Pool, "name" | "origin" | "mode" | "bgp" | "ranges">;

export interface SpeakerInputs {
  readonly bgp: BgpConfig;
  /** --announce-mode: the mode of addresses outside pools and of pools without spec.mode. */
  readonly fallbackMode: AnnouncementMode;
  readonly pools: readonly SpeakerPool[];
  /** This node's Node as the informer has it; undefined before it has been seen. */
  readonly node: V1Node | undefined;
}

export interface PoolPolicy {
  readonly pool: string;
  readonly policy: RoutePolicy;
}

export interface PoolProblem {
  readonly pool: string;
  readonly problem: string;
}

export type DesiredBird =
  | { readonly kind: "idle" }
  | {
      readonly kind: "incomplete";
      readonly problem: string;
      /** VIPPools whose spec.mode is bgp or ecmp: they are the ones left unannounced. */
      readonly routedPools: readonly string[];
      readonly invalidPolicies: readonly PoolProblem[];
    }
  | {
      readonly kind: "config";
      readonly text: string;
      /** The settings the text is rendered from, and which pool each of their policies is of. */
      readonly settings: BgpSettings;
      readonly policies: readonly PoolPolicy[];
      readonly invalidPolicies: readonly PoolProblem[];
    };

function modeOf(pool: SpeakerPool, fallback: AnnouncementMode): AnnouncementMode {
  return pool.mode ?? fallback;
}

function cidrsOf(pool: SpeakerPool): string[] {
  return pool.ranges.flatMap((range) =>
    prefixesOf(range).map((prefix) => `${addressText(range.family, prefix.range.first)}/${prefix.bits}`),
  );
}

// A pool's spec.bgp as an export policy for its ranges. The CRD checks the attributes too; these
// checks are the ones BIRD's config is written under, so a pool that got past the first is caught here.
function policiesOf(pools: readonly SpeakerPool[]): { policies: PoolPolicy[]; invalid: PoolProblem[] } {
  const policies: PoolPolicy[] = [];
  const invalid: PoolProblem[] = [];
  for (const pool of pools) {
    const { bgp } = pool;
    if (bgp === undefined || pool.ranges.length === 0) continue;
    if ((bgp.communities ?? []).length === 0 && bgp.localPreference === undefined) continue;
    const parsed = routePolicySchema.safeParse({
      prefixes: cidrsOf(pool),
      communities: bgp.communities ?? [],
      localPreference: bgp.localPreference,
    });
    if (parsed.success) policies.push({ pool: pool.name, policy: parsed.data });
    else
      invalid.push({
        pool: pool.name,
        problem: parsed.error.issues
          .map((issue) => `spec.bgp.${issue.path.map(String).join(".")}: ${issue.message}`)
          .join("; "),
      });
  }
  return { policies, invalid };
}

/** The node's first IPv4 address in its status, kube-vip's and BIRD's usual router ID. */
export function firstIpv4Address(node: V1Node | undefined): string | undefined {
  return node?.status?.addresses
    ?.map((each) => each.address)
    .find((text) => ipaddr.IPv4.isValidFourPartDecimal(text));
}

type Assembled =
  | {
      readonly ok: true;
      readonly settings: Omit<BgpSettings, "policies">;
    }
  | { readonly ok: false; readonly problem: string };

// The flags first; the node's annotations fill in what they leave out and add their peers.
function assemble(bgp: BgpConfig, node: V1Node | undefined): Assembled {
  const flags = bgp.settings;
  let fromNode: { localAsn: number; sourceAddress: string; peers: BgpPeer[] } | undefined;
  if (bgp.peerAnnotations !== undefined) {
    if (node === undefined)
      return { ok: false, problem: "this node's Node is not known yet, and its annotations name the peers" };
    const reading = parseKubeVipAnnotations(node.metadata?.annotations ?? {}, bgp.peerAnnotations);
    if (!reading.ok) return { ok: false, problem: `--bgp-peer-annotations: ${reading.problem}` };
    fromNode = reading;
  }
  const named = new Set(flags.peers.map((peer) => peer.address));
  const peers = [...flags.peers, ...(fromNode?.peers ?? []).filter((peer) => !named.has(peer.address))];
  const localAsn = flags.localAsn ?? fromNode?.localAsn;
  const sourceAddress = flags.sourceAddress ?? fromNode?.sourceAddress;
  const routerId =
    flags.routerId ??
    [fromNode?.sourceAddress].find(
      (text) => text !== undefined && ipaddr.IPv4.isValidFourPartDecimal(text),
    ) ??
    firstIpv4Address(node);
  if (localAsn === undefined)
    return { ok: false, problem: "no local AS number: set --bgp-local-asn (or --bgp-peer-annotations)" };
  if (peers.length === 0)
    return { ok: false, problem: "no BGP peer: set --bgp-peers (or --bgp-peer-annotations)" };
  if (routerId === undefined)
    return {
      ok: false,
      problem:
        node === undefined
          ? "this node's Node is not known yet, and its first IPv4 address is the router ID"
          : "this node's Node has no IPv4 address in status.addresses to take the router ID from: set --bgp-router-id",
    };
  return {
    ok: true,
    settings: {
      ...flags,
      localAsn,
      routerId,
      peers,
      ...(sourceAddress === undefined ? {} : { sourceAddress }),
    },
  };
}

/** The config BIRD should run now, or why there is none. Pure. */
export function desiredBirdConfig(inputs: SpeakerInputs): DesiredBird {
  const { bgp, fallbackMode, pools } = inputs;
  if (!isRouted(fallbackMode) && !pools.some((pool) => isRouted(modeOf(pool, fallbackMode))))
    return { kind: "idle" };
  const { policies, invalid } = policiesOf(pools);
  const routedPools = pools
    .filter((pool) => pool.origin === "VIPPool" && pool.mode !== undefined && isRouted(pool.mode))
    .map((pool) => pool.name);
  const assembled = assemble(bgp, inputs.node);
  if (!assembled.ok)
    return { kind: "incomplete", problem: assembled.problem, routedPools, invalidPolicies: invalid };
  // The values from the node's annotations have not been through the flags' checks yet.
  const parsed = bgpSettingsSchema.safeParse({
    ...assembled.settings,
    policies: policies.map((each) => each.policy),
  });
  if (!parsed.success)
    return {
      kind: "incomplete",
      problem: parsed.error.issues
        .map((issue) => `${issue.path.map(String).join(".")}: ${issue.message}`)
        .join("; "),
      routedPools,
      invalidPolicies: invalid,
    };
  return {
    kind: "config",
    text: renderBirdConfig(parsed.data),
    settings: parsed.data,
    policies,
    invalidPolicies: invalid,
  };
}

export interface SpeakerEvents {
  /** A Warning on the VIPPool of that name. */
  pool(name: string, event: ServiceEvent): void;
  /** A Warning on this node's Node. */
  node(event: ServiceEvent): void;
}

export interface BgpSpeakerOptions {
  readonly bgp: BgpConfig;
  readonly fallbackMode: AnnouncementMode;
  readonly bird: Pick<BirdControl, "apply" | "check">;
  readonly pools: () => readonly SpeakerPool[];
  readonly node: () => V1Node | undefined;
  /** Whether the caches it reads are filled: before, it would render a config without the pools. */
  readonly ready: () => boolean;
  readonly events: SpeakerEvents;
  readonly clock: Clock;
  readonly log: Logger;
  /** Between two tries while BIRD does not answer: doubling from initialMs to maxMs. */
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
  /** How long a change waits for the rest of its burst (an informer's list is a burst of adds). */
  readonly debounceMs?: number;
}

// BIRD runs beside the agent, so asking again costs next to nothing, and a BIRD that restarted
// (its container, or a node's reboot) should get vipd's config within seconds.
const DEFAULT_RETRY = { initialMs: 500, maxMs: 5_000 };
const DEFAULT_DEBOUNCE_MS = 100;
const READY_POLL_MS = 1000;

type PassResult = "done" | "retry" | "not-ready";

export class BgpSpeaker {
  readonly #options: BgpSpeakerOptions;
  #started = false;
  #stopped = false;
  #dirty = false;
  // The timer and the resolver of the wait the loop is in, if any.
  #cancelWait: Cancel = () => undefined;
  #wake: (() => void) | undefined;
  #wakeOnPoke = false;
  // What has been said already, so that each problem is said once while it lasts.
  #incomplete: string | undefined;
  #unreachable: string | undefined;
  #rejected: string | undefined;
  readonly #poolWarnings = new Map<string, string>();

  constructor(options: BgpSpeakerOptions) {
    this.#options = options;
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#loop().catch((error: unknown) => {
      this.#options.log.error("the BGP speaker stopped", { error: (error as Error).message });
    });
  }

  /** Something it renders from changed: a pool, or this node's Node. */
  poke(): void {
    this.#dirty = true;
    if (!this.#wakeOnPoke) return;
    this.#wakeOnPoke = false;
    this.#cancelWait();
    this.#wait(this.#options.debounceMs ?? DEFAULT_DEBOUNCE_MS);
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelWait();
    this.#wake?.();
  }

  async #loop(): Promise<void> {
    const retry = this.#options.retry ?? DEFAULT_RETRY;
    let delayMs = retry.initialMs;
    while (!this.#isStopped()) {
      this.#dirty = false;
      const result = await this.#pass();
      if (this.#isStopped()) return;
      if (result === "done") {
        delayMs = retry.initialMs;
        // A change during the pass: at once, since its render may have missed it.
        if (!this.#isDirty()) await this.#sleep(undefined, true);
      } else if (result === "not-ready") {
        await this.#sleep(READY_POLL_MS, true);
      } else {
        // A change does not cut a retry short: the next try renders the latest anyway.
        await this.#sleep(delayMs, false);
        delayMs = Math.min(delayMs * 2, retry.maxMs);
      }
    }
  }

  // Read through methods: they change while the loop awaits, which narrowing cannot see.
  #isStopped(): boolean {
    return this.#stopped;
  }

  #isDirty(): boolean {
    return this.#dirty;
  }

  // Until the timer (if any), a poke (when wakeOnPoke, after the debounce) or stop().
  #sleep(delayMs: number | undefined, wakeOnPoke: boolean): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#wake = undefined;
        this.#wakeOnPoke = false;
        resolve();
      };
      this.#wakeOnPoke = wakeOnPoke;
      if (delayMs !== undefined) this.#wait(delayMs);
    });
  }

  // Not keeping the process alive: the agent's own shutdown decides when it ends.
  #wait(delayMs: number): void {
    this.#cancelWait = this.#options.clock.after(delayMs, () => this.#wake?.(), { keepAlive: false });
  }

  async #pass(): Promise<PassResult> {
    const o = this.#options;
    if (!o.ready()) return "not-ready";
    const desired = desiredBirdConfig({
      bgp: o.bgp,
      fallbackMode: o.fallbackMode,
      pools: o.pools(),
      node: o.node(),
    });
    if (desired.kind === "idle") return "done";
    this.#reportInvalidPolicies(desired.invalidPolicies);
    if (desired.kind === "incomplete") {
      this.#reportIncomplete(desired.problem, desired.routedPools);
      return "done";
    }
    this.#incomplete = undefined;
    const status = await o.bird.apply(desired.text);
    switch (status.outcome) {
      case "applied":
        o.log.info("BIRD runs vipd's BGP config", {
          file: o.bgp.birdConfig,
          peers: desired.settings.peers.length,
          policies: desired.policies.map((each) => each.pool),
        });
        this.#unreachable = undefined;
        this.#rejected = undefined;
        return "done";
      case "unchanged":
        return "done";
      case "unreachable":
      case "failed":
        if (this.#unreachable !== status.message)
          o.log.warn("BIRD did not take vipd's BGP config; retrying", {
            socket: o.bgp.birdSocket,
            error: status.message,
          });
        this.#unreachable = status.message;
        return "retry";
      case "rejected":
        this.#unreachable = undefined;
        if (this.#rejected !== desired.text) {
          this.#rejected = desired.text;
          await this.#reportRejected(desired, status.message);
        }
        return "done";
    }
  }

  #reportInvalidPolicies(invalid: readonly PoolProblem[]): void {
    // A pool fixed is forgotten, so that breaking it again is said again.
    for (const pool of this.#poolWarnings.keys())
      if (!invalid.some((each) => each.pool === pool)) this.#poolWarnings.delete(pool);
    for (const { pool, problem } of invalid) {
      if (this.#poolWarnings.get(pool) === problem) continue;
      this.#poolWarnings.set(pool, problem);
      this.#options.log.warn("a VIPPool's spec.bgp is left out of BIRD's config", { pool, problem });
      this.#options.events.pool(pool, {
        type: "Warning",
        reason: EVENT_REASONS.bgpPolicyInvalid,
        message: `its routes are exported without its BGP attributes: ${problem}`,
      });
    }
  }

  #reportIncomplete(problem: string, routedPools: readonly string[]): void {
    if (this.#incomplete === problem) return;
    this.#incomplete = problem;
    const o = this.#options;
    o.log.warn(
      "routed addresses, but BIRD cannot be configured to export them; their routes are written all the same",
      {
        problem,
        pools: routedPools,
      },
    );
    const message = `vipd cannot configure BIRD to export this node's routes: ${problem}`;
    const event = { type: "Warning", reason: EVENT_REASONS.bgpSettingsMissing, message } as const;
    for (const pool of routedPools) o.events.pool(pool, event);
    if (isRouted(o.fallbackMode) || routedPools.length === 0) o.events.node(event);
  }

  async #reportRejected(desired: Extract<DesiredBird, { kind: "config" }>, message: string): Promise<void> {
    const o = this.#options;
    const blamed = await this.#blame(desired);
    o.log.warn("BIRD refused vipd's BGP config; it keeps running the one before", {
      error: message,
      ...(blamed.length > 0 ? { pools: blamed } : {}),
    });
    const event = {
      type: "Warning",
      reason: EVENT_REASONS.bgpConfigRejected,
      message: `BIRD refused the BGP config vipd rendered${blamed.length > 0 ? " with this pool's spec.bgp" : ""} and keeps the one before: ${message}`,
    } as const;
    if (blamed.length === 0) o.events.node(event);
    for (const pool of blamed) o.events.pool(pool, event);
  }

  // The pools whose policies make BIRD refuse the config: when the config without any policy passes,
  // those whose policy alone fails (or all of them, when only their combination does).
  async #blame(desired: Extract<DesiredBird, { kind: "config" }>): Promise<string[]> {
    if (desired.policies.length === 0) return [];
    const { bird } = this.#options;
    const without = (policies: readonly RoutePolicy[]) =>
      renderBirdConfig({ ...desired.settings, policies: [...policies] });
    if ((await bird.check(without([]))).outcome !== "accepted") return [];
    const blamed: string[] = [];
    for (const { pool, policy } of desired.policies)
      if ((await bird.check(without([policy]))).outcome === "rejected") blamed.push(pool);
    return blamed.length > 0 ? blamed : desired.policies.map((each) => each.pool);
  }
}
