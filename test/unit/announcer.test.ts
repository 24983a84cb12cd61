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
  const announcer = new Announcer({
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
    fenceIntervalMs: options.fenceIntervalsMs?.[0] ?? 1,
    firstClaimFenceIntervalMs: options.fenceIntervalsMs?.[1] ?? 1,
    onForeignClaim: (ip, mac) => claims.push(`${ip} ${mac}`),
    linkState: options.linkState ?? (() => "up"),
    onSent: (kind) => sent.push(kind),
    onError: (message) => {
      if (options.linkState === undefined) throw new Error(message);
      errors.push(message);
    },
  });
  return { channel, opened, claims, sent, errors, announcer };
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
  const { channel, claims, announcer } = setup();
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
  t.deepEqual(await announcer.fence({ vips: [vip6], purpose: "takeover" }), { outcome: "quiet" });
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

test("the fence is quiet when nobody answers its probes", async (t) => {
  const { channel, announcer } = setup();
  t.deepEqual(await announcer.fence({ vips: [vip4, vip6], purpose: "takeover" }), { outcome: "quiet" });
  t.is(channel.sent.length, 6, "three rounds of one probe per VIP");
  t.is(parseArp(channel.sent[0] ?? new Uint8Array())?.senderIp, "0.0.0.0");
  t.like(parseNeighbourMessage(channel.sent[1] ?? new Uint8Array()), {
    type: "solicitation",
    sourceIp: "::",
  });
  announcer.close();
});

test("the fence reports the MAC that still answers, and stops probing", async (t) => {
  const { channel, announcer } = setup();
  channel.onSend = (frame) => {
    if (parseArp(frame)?.senderIp === "0.0.0.0")
      channel.hear(gratuitousArpReply({ mac: OTHER, ip: vip4.ip }));
  };
  t.deepEqual(await announcer.fence({ vips: [vip4], purpose: "takeover" }), {
    outcome: "answered",
    answeredBy: [{ ip: vip4.ip, mac: OTHER }],
  });
  t.is(channel.sent.length, 1);
  announcer.close();
});

test("the fence reports every address and MAC heard in the interval of the first answer, once each", async (t) => {
  const { channel, announcer } = setup();
  channel.onSend = (frame) => {
    if (parseArp(frame)?.senderIp === "0.0.0.0") {
      channel.hear(probeReply({ mac: OTHER, ip: vip4.ip, to: OWN }));
      channel.hear(probeReply({ mac: OTHER, ip: vip4.ip, to: OWN }));
      channel.hear(probeReply({ mac: THIRD, ip: vip4.ip, to: OWN }));
    }
    if (parseNeighbourMessage(frame)?.type === "solicitation")
      channel.hear(unsolicitedNeighbourAdvertisement({ mac: OTHER, ip: "2001:db8:1:0::200" }));
  };
  t.deepEqual(await announcer.fence({ vips: [vip4, vip6], purpose: "takeover" }), {
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
  const { announcer } = setup({ fenceIntervalsMs: [50, 1] });
  const finished: string[] = [];
  await Promise.all(
    (["takeover", "first-claim"] as const).map(async (purpose) => {
      await announcer.fence({ vips: [vip4], purpose });
      finished.push(purpose);
    }),
  );
  t.deepEqual(finished, ["first-claim", "takeover"]);
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

test("later rounds go out only while the VIP is still on its interface", async (t) => {
  const installed = { now: true, asked: 0 };
  const { sent, announcer } = setup({
    intervalMs: 5,
    installed: () => {
      installed.asked += 1;
      return installed.now;
    },
  });
  t.teardown(() => {
    announcer.close();
  });
  const until = async (condition: () => boolean) => {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  announcer.start(vip4);
  await until(() => sent.length >= 3);
  installed.now = false;
  const before = { sent: sent.length, asked: installed.asked };
  await until(() => installed.asked >= before.asked + 2);
  t.is(sent.length, before.sent, "nothing announced for an address that expired or was removed");
});

test("every held VIP is refreshed from the one refresh timer, and a stopped one no longer", async (t) => {
  const { channel, announcer } = setup({ intervalMs: 5 });
  t.teardown(() => {
    announcer.close();
  });
  const vips = [vip4, vip6, { ...vip6, ip: "2001:db8:1::201" }];
  const roundsOf = (ip: string) =>
    channel.sent.filter(
      (frame) => claimIn(Buffer.from(frame))?.ip === ip && parseArp(frame)?.operation !== "reply",
    ).length;
  for (const vip of vips) announcer.start(vip);
  while (!vips.every((vip) => roundsOf(vip.ip) >= 5)) await new Promise((resolve) => setTimeout(resolve, 5));
  announcer.stop(vip4.ip);
  const stoppedAt = roundsOf(vip4.ip);
  const othersAt = roundsOf(vip6.ip);
  while (roundsOf(vip6.ip) < othersAt + 3) await new Promise((resolve) => setTimeout(resolve, 5));
  t.is(roundsOf(vip4.ip), stoppedAt);
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
