import test from "ava";
import { Announcer, claimIn, type AnnouncedVip, type FrameChannel } from "../../src/net/announcer.ts";
import {
  arpProbe,
  buildArp,
  duplicateAddressProbe,
  gratuitousArpReply,
  gratuitousArpRequest,
  parseArp,
  parseNeighbourMessage,
  unsolicitedNeighbourAdvertisement,
} from "../../src/net/packets.ts";
import { FakeClock } from "./fakes/clock.ts";

const OWN = "02:00:00:00:00:0b";
/** Another interface of this node, on the same LAN. */
const OWN_SECOND = "02:00:00:00:01:0b";
const OTHER = "02:00:00:00:00:0c";
const THIRD = "02:00:00:00:00:0d";
const vip4: AnnouncedVip = { ip: "198.51.100.200", family: 4, ifindex: 2, mac: OWN };
const vip6: AnnouncedVip = { ip: "2001:db8:1::200", family: 6, ifindex: 2, mac: OWN };

class FakeChannel implements FrameChannel {
  readonly sent: Uint8Array[] = [];
  closed = false;
  onSend: (frame: Uint8Array) => void = () => undefined;
  #deliver: (frame: Buffer, details: { outgoing: boolean }) => void = () => undefined;
  #fail: (error: Error) => void = () => undefined;

  send(frame: Uint8Array): void {
    this.sent.push(frame);
    this.onSend(frame);
  }

  receive(listeners: {
    onFrame: (frame: Buffer, details: { outgoing: boolean }) => void;
    onError: (error: Error) => void;
  }): void {
    this.#deliver = listeners.onFrame;
    this.#fail = listeners.onError;
  }

  hear(frame: Buffer, outgoing = false): void {
    this.#deliver(frame, { outgoing });
  }

  /** The kernel's receive error, as when the interface goes down (ENETDOWN). */
  fail(error: Error): void {
    this.#fail(error);
  }

  close(): void {
    this.sent.length = 0;
    this.closed = true;
  }
}

type LinkState = "up" | "down" | "gone";

function setup(
  options: {
    intervalMs?: number;
    installed?: () => boolean;
    fenceIntervalsMs?: [number, number];
    linkState?: () => LinkState;
  } = {},
) {
  const channel = new FakeChannel();
  const opened: FakeChannel[] = [];
  const claims: string[] = [];
  const sent: string[] = [];
  const errors: string[] = [];
  const clock = new FakeClock();
  const announcer = new Announcer({
    clock,
    openChannel: () => {
      const next = opened.length === 0 ? channel : new FakeChannel();
      opened.push(next);
      return next;
    },
    burstCount: 3,
    burstIntervalMs: options.intervalMs ?? 60_000,
    refreshMs: options.intervalMs ?? 60_000,
    stillInstalled: options.installed ?? (() => true),
    ownMacs: () => new Set([OWN, OWN_SECOND]),
    fenceProbes: 3,
    fenceIntervalMs: options.fenceIntervalsMs?.[0] ?? 100,
    firstClaimFenceIntervalMs: options.fenceIntervalsMs?.[1] ?? 30,
    onForeignClaim: (ip, mac) => claims.push(`${ip} ${mac}`),
    linkState: options.linkState ?? (() => "up"),
    onSent: (kind) => sent.push(kind),
    onError: (message) => {
      if (options.linkState === undefined) throw new Error(message);
      errors.push(message);
    },
  });
  /** A fence run to its end on the fake clock. */
  const fence = async (fenceOptions: Parameters<Announcer["fence"]>[0]) => {
    const answer = announcer.fence(fenceOptions);
    await clock.tick(3 * Math.max(...(options.fenceIntervalsMs ?? [100, 30])));
    return answer;
  };
  return { channel, opened, claims, sent, errors, announcer, clock, fence };
}

/** An ARP reply to a probe: what a Linux host that has the address sends back (sender = the address). */
function probeReply(options: { mac: string; ip: string; to: string }): Buffer {
  return buildArp({
    destinationMac: options.to,
    sourceMac: options.mac,
    operation: "reply",
    senderMac: options.mac,
    senderIp: options.ip,
    targetMac: options.to,
    targetIp: "0.0.0.0",
  });
}

test("an IPv4 takeover round sends a gratuitous request and reply at once, then a probe", (t) => {
  const { channel, sent, announcer } = setup();
  announcer.start(vip4);
  t.teardown(() => {
    announcer.close();
  });
  const frames = channel.sent.map((frame) => parseArp(frame));
  t.deepEqual(
    frames.map((frame) => frame?.operation),
    ["request", "reply", "request"],
  );
  t.true(frames.slice(0, 2).every((frame) => frame?.senderIp === vip4.ip && frame.senderMac === OWN));
  t.like(frames[2], { senderIp: "0.0.0.0", targetIp: vip4.ip, senderMac: OWN });
  t.deepEqual(sent, ["garp"]);
});

test("an IPv6 takeover round sends an unsolicited advertisement with override, then a DAD probe", (t) => {
  const { channel, announcer } = setup();
  announcer.start(vip6);
  t.teardown(() => {
    announcer.close();
  });
  const [advertisement, probe] = channel.sent.map((frame) => parseNeighbourMessage(frame));
  t.like(advertisement, { type: "advertisement", target: vip6.ip, override: true, solicited: false });
  t.like(probe, { type: "solicitation", target: vip6.ip, sourceIp: "::" });
});

test("a host that answers a held VIP's round probe is reported: that is how a holder finds one", (t) => {
  const { channel, claims, announcer } = setup();
  channel.onSend = (frame) => {
    if (parseArp(frame)?.senderIp === "0.0.0.0")
      channel.hear(probeReply({ mac: OTHER, ip: vip4.ip, to: OWN }));
  };
  announcer.start(vip4);
  t.teardown(() => {
    announcer.close();
  });
  t.deepEqual(claims, [`${vip4.ip} ${OTHER}`]);
});

test("frames from another interface of this node are no one else's claims, held or fenced", async (t) => {
  const { channel, claims, announcer, fence } = setup();
  announcer.start(vip4);
  t.teardown(() => {
    announcer.close();
  });
  channel.hear(probeReply({ mac: OWN_SECOND, ip: vip4.ip, to: OWN }));
  channel.hear(unsolicitedNeighbourAdvertisement({ mac: OWN_SECOND, ip: vip6.ip }));
  t.deepEqual(claims, []);
  channel.onSend = (frame) => {
    if (parseNeighbourMessage(frame)?.type === "solicitation")
      channel.hear(unsolicitedNeighbourAdvertisement({ mac: OWN_SECOND, ip: vip6.ip }));
  };
  t.deepEqual(await fence({ vips: [vip6], purpose: "takeover" }), { outcome: "quiet" });
});

test("another MAC announcing a held VIP is reported; its probes and our own frames are not", (t) => {
  const { channel, claims, announcer } = setup();
  announcer.start(vip4);
  announcer.start(vip6);
  t.teardown(() => {
    announcer.close();
  });
  channel.hear(arpProbe({ mac: OTHER, ip: vip4.ip }));
  channel.hear(duplicateAddressProbe({ mac: OTHER, ip: vip6.ip }));
  channel.hear(gratuitousArpRequest({ mac: OWN, ip: vip4.ip }));
  channel.hear(gratuitousArpReply({ mac: OTHER, ip: vip4.ip }), true);
  t.deepEqual(claims, []);
  channel.hear(gratuitousArpReply({ mac: OTHER, ip: vip4.ip }));
  channel.hear(unsolicitedNeighbourAdvertisement({ mac: OTHER, ip: vip6.ip }));
  t.deepEqual(claims, [`${vip4.ip} ${OTHER}`, `${vip6.ip} ${OTHER}`]);
});

test("a stopped VIP is no longer defended", (t) => {
  const { channel, claims, announcer } = setup();
  announcer.start(vip4);
  announcer.stop(vip4.ip);
  channel.hear(gratuitousArpReply({ mac: OTHER, ip: vip4.ip }));
  t.deepEqual(claims, []);
  announcer.close();
});

test("the fence is quiet when nobody answers its probes, after the last probe's interval", async (t) => {
  const { channel, announcer, clock } = setup();
  let answer: unknown;
  const fenced = announcer
    .fence({ vips: [vip4, vip6], purpose: "takeover" })
    .then((quiet) => (answer = quiet));
  await clock.tick(299);
  t.is(answer, undefined, "still listening after the third probe");
  await clock.tick(1);
  await fenced;
  t.deepEqual(answer, { outcome: "quiet" });
  t.is(channel.sent.length, 6, "three rounds of one probe per VIP");
  t.is(parseArp(channel.sent[0] ?? new Uint8Array())?.senderIp, "0.0.0.0");
  t.like(parseNeighbourMessage(channel.sent[1] ?? new Uint8Array()), {
    type: "solicitation",
    sourceIp: "::",
  });
  announcer.close();
});

test("the fence reports the MAC that still answers, and stops probing", async (t) => {
  const { channel, announcer, fence } = setup();
  channel.onSend = (frame) => {
    if (parseArp(frame)?.senderIp === "0.0.0.0")
      channel.hear(gratuitousArpReply({ mac: OTHER, ip: vip4.ip }));
  };
  t.deepEqual(await fence({ vips: [vip4], purpose: "takeover" }), {
    outcome: "answered",
    answeredBy: [{ ip: vip4.ip, mac: OTHER }],
  });
  t.is(channel.sent.length, 1);
  announcer.close();
});

test("the fence reports every address and MAC heard in the interval of the first answer, once each", async (t) => {
  const { channel, announcer, fence } = setup();
  channel.onSend = (frame) => {
    if (parseArp(frame)?.senderIp === "0.0.0.0") {
      channel.hear(probeReply({ mac: OTHER, ip: vip4.ip, to: OWN }));
      channel.hear(probeReply({ mac: OTHER, ip: vip4.ip, to: OWN }));
      channel.hear(probeReply({ mac: THIRD, ip: vip4.ip, to: OWN }));
    }
    if (parseNeighbourMessage(frame)?.type === "solicitation")
      channel.hear(unsolicitedNeighbourAdvertisement({ mac: OTHER, ip: "2001:db8:1:0::200" }));
  };
  t.deepEqual(await fence({ vips: [vip4, vip6], purpose: "takeover" }), {
    outcome: "answered",
    answeredBy: [
      { ip: vip4.ip, mac: OTHER },
      { ip: vip4.ip, mac: THIRD },
      { ip: vip6.ip, mac: OTHER },
    ],
  });
  t.is(channel.sent.length, 2, "one round of probes");
  announcer.close();
});

test("a first claim's fence is spaced by its own, shorter interval", async (t) => {
  const { announcer, clock } = setup({ fenceIntervalsMs: [50, 1] });
  const finished: string[] = [];
  const fences = Promise.all(
    (["takeover", "first-claim"] as const).map(async (purpose) => {
      await announcer.fence({ vips: [vip4], purpose });
      finished.push(`${purpose}@${clock.now()}`);
    }),
  );
  await clock.tick(150);
  await fences;
  t.deepEqual(finished, ["first-claim@3", "takeover@150"]);
  announcer.close();
});

test("claimIn reads who claims an address from a frame", (t) => {
  t.deepEqual(claimIn(gratuitousArpRequest({ mac: OTHER, ip: vip4.ip })), { ip: vip4.ip, mac: OTHER });
  t.is(claimIn(arpProbe({ mac: OTHER, ip: vip4.ip })), undefined);
  t.deepEqual(claimIn(unsolicitedNeighbourAdvertisement({ mac: OTHER, ip: vip6.ip })), {
    ip: vip6.ip,
    mac: OTHER,
  });
  t.is(claimIn(duplicateAddressProbe({ mac: OTHER, ip: vip6.ip })), undefined);
});

test("later rounds go out only while the VIP is still on its interface", (t) => {
  const installed = { now: true, asked: 0 };
  const { sent, announcer, clock } = setup({
    intervalMs: 1000,
    installed: () => {
      installed.asked += 1;
      return installed.now;
    },
  });
  t.teardown(() => {
    announcer.close();
  });
  announcer.start(vip4);
  clock.advance(2000);
  t.true(sent.length >= 3, "the burst went out");
  installed.now = false;
  const before = { sent: sent.length, asked: installed.asked };
  clock.advance(5000);
  t.true(installed.asked >= before.asked + 2, "later rounds were due and asked about");
  t.is(sent.length, before.sent, "nothing announced for an address that expired or was removed");
});

test("every held VIP is refreshed from the one refresh timer, and a stopped one no longer", (t) => {
  const { channel, announcer, clock } = setup({ intervalMs: 1000 });
  t.teardown(() => {
    announcer.close();
  });
  const vips = [vip4, vip6, { ...vip6, ip: "2001:db8:1::201" }];
  const roundsAt = new Map<string, number[]>(vips.map((vip) => [vip.ip, []]));
  // One announcement per round: the gratuitous request (not its reply) or the advertisement.
  channel.onSend = (frame) => {
    const ip = claimIn(Buffer.from(frame))?.ip;
    if (ip !== undefined && parseArp(frame)?.operation !== "reply") roundsAt.get(ip)?.push(clock.now());
  };
  for (const vip of vips) announcer.start(vip);
  clock.advance(2000);
  t.is(clock.pending().length, 1, "once the bursts are over, one timer for all of them");
  clock.advance(8000);
  for (const vip of vips) {
    const refreshes = (roundsAt.get(vip.ip) ?? []).filter((at) => at > 2000);
    const gaps = refreshes.slice(1).map((at, index) => at - (refreshes[index] ?? 0));
    t.true(refreshes.length >= 8, `${vip.ip} refreshed ${refreshes.length} times in 8 s`);
    // At least every refresh period, and at most one of its five ticks sooner.
    t.true(
      gaps.every((gap) => gap >= 800 && gap <= 1000),
      `${vip.ip}: ${gaps.join(", ")}`,
    );
  }
  announcer.stop(vip4.ip);
  const stoppedAt = roundsAt.get(vip4.ip)?.length;
  const othersAt = roundsAt.get(vip6.ip)?.length ?? 0;
  clock.advance(3000);
  t.is(roundsAt.get(vip4.ip)?.length, stoppedAt);
  t.true((roundsAt.get(vip6.ip)?.length ?? 0) >= othersAt + 3);
  for (const vip of vips) announcer.stop(vip.ip);
  t.deepEqual(clock.pending(), [], "no timer once nothing is held");
});

test("a claim is recognised whatever the spelling, and reported in the held VIP's", (t) => {
  const { channel, claims, announcer } = setup();
  announcer.start({ ...vip6, ip: "2001:db8:1:0:0::200" });
  t.teardown(() => {
    announcer.close();
  });
  channel.hear(unsolicitedNeighbourAdvertisement({ mac: OTHER, ip: "2001:db8:1::200" }));
  t.deepEqual(claims, [`2001:db8:1:0:0::200 ${OTHER}`]);
});

const netDown = Object.assign(new Error("poll(AF_PACKET) failed: ENETDOWN"), { code: "ENETDOWN" });
const otherClaim = () => gratuitousArpReply({ mac: OTHER, ip: vip4.ip });

test("a socket that stops receiving while its interface is up again is reopened at once", (t) => {
  const { channel, opened, claims, errors, announcer } = setup({ linkState: () => "up" });
  t.teardown(() => {
    announcer.close();
  });
  announcer.start(vip4);
  channel.fail(netDown);
  t.true(channel.closed, "the socket that failed is closed");
  t.is(opened.length, 2, "and another one opened");
  t.is(announcer.lost().size, 0);
  t.is(errors.length, 1);
  opened[1]?.hear(otherClaim());
  t.deepEqual(claims, [`${vip4.ip} ${OTHER}`], "the new socket hears the wire");
});

test("a socket lost while its interface is down stays lost until the interface is up", (t) => {
  let state: LinkState = "down";
  const { channel, opened, claims, announcer } = setup({ linkState: () => state });
  t.teardown(() => {
    announcer.close();
  });
  announcer.start(vip4);
  channel.fail(netDown);
  t.is(opened.length, 1, "nothing reopened on a down interface");
  t.deepEqual([...announcer.lost().keys()], [vip4.ifindex]);
  announcer.recover();
  t.is(opened.length, 1, "still down");
  state = "up";
  announcer.recover();
  t.is(opened.length, 2);
  t.is(announcer.lost().size, 0);
  opened[1]?.hear(otherClaim());
  t.deepEqual(claims, [`${vip4.ip} ${OTHER}`]);
});

test("a socket whose interface is gone is closed and forgotten, not reported as broken", (t) => {
  const { channel, opened, announcer } = setup({ linkState: () => "gone" });
  t.teardown(() => {
    announcer.close();
  });
  announcer.start(vip4);
  channel.fail(netDown);
  t.true(channel.closed);
  t.is(opened.length, 1);
  t.is(announcer.lost().size, 0);
});
