import test from "ava";
import {
  claimantOf,
  foreignHostAnswered,
  QUARANTINE,
  quarantinedUntil,
  remembered,
  type ClaimantInput,
  type Quarantine,
} from "../../src/election/foreign-hosts.ts";

const AGENT = "02:00:00:00:00:0c";
const HOST = "02:00:00:00:00:fe";
const base: ClaimantInput = {
  mac: HOST,
  agents: { published: new Set([AGENT]), withoutMacs: [] },
  liveNodes: ["node2", "node3"],
  holder: null,
};

const claimants: [string, Partial<ClaimantInput>, "agent" | "foreign-host"][] = [
  ["a MAC another agent publishes is that agent", { mac: AGENT }, "agent"],
  ["whatever its spelling", { mac: AGENT.toUpperCase() }, "agent"],
  ["a MAC no agent publishes is a foreign host", {}, "foreign-host"],
  [
    "while a live agent publishes no MACs (0.1.0, a rolling upgrade), an unknown MAC may be its",
    { agents: { published: new Set([AGENT]), withoutMacs: ["node3"] } },
    "agent",
  ],
  [
    "so may one while the holder being taken over publishes none, dead as it is",
    { agents: { published: new Set([AGENT]), withoutMacs: ["node9"] }, holder: "node9" },
    "agent",
  ],
  [
    "a dead 0.1.0 agent that holds nothing here does not shield an unknown MAC",
    { agents: { published: new Set([AGENT]), withoutMacs: ["node9"] } },
    "foreign-host",
  ],
];

for (const [rule, overrides, expected] of claimants) {
  test(`claimant: ${rule}`, (t) => {
    t.is(claimantOf({ ...base, ...overrides }), expected);
  });
}

const VIP = "198.51.100.240";
const answer = { ip: VIP, mac: HOST };
const T = 1_000_000;
const known = (parts: Partial<Quarantine>): Quarantine => ({
  ip: VIP,
  mac: HOST,
  lastAnsweredAt: T - 1000,
  waitMs: 4000,
  until: T + 3000,
  ...parts,
});

const answers: [string, Quarantine | null, { ip: string; mac: string }, number, Quarantine, boolean][] = [
  [
    "a first answer starts the first wait, and is reported",
    null,
    answer,
    T,
    { ip: VIP, mac: HOST, lastAnsweredAt: T, waitMs: 2000, until: T + 2000 },
    true,
  ],
  [
    "an answer while the wait runs (more replies to one probe) changes only when, not how long",
    known({}),
    answer,
    T,
    known({ lastAnsweredAt: T }),
    false,
  ],
  [
    "an answer at a retry doubles the wait, unreported: the same host, the same address",
    known({ until: T - 1 }),
    answer,
    T,
    known({ lastAnsweredAt: T, waitMs: 8000, until: T + 8000 }),
    false,
  ],
  [
    "the wait grows to a minute and no longer",
    known({ waitMs: 32_000, until: T }),
    answer,
    T,
    known({ lastAnsweredAt: T, waitMs: 60_000, until: T + 60_000 }),
    false,
  ],
  [
    "another MAC answering is news, reported",
    known({ until: T }),
    { ip: VIP, mac: "02:00:00:00:00:fd" },
    T,
    known({ mac: "02:00:00:00:00:fd", lastAnsweredAt: T, waitMs: 8000, until: T + 8000 }),
    true,
  ],
  [
    "after five quiet minutes the address counts as free: the next answer starts afresh, reported",
    known({ lastAnsweredAt: T - QUARANTINE.forgetAfterMs, waitMs: 60_000, until: T - 200_000 }),
    answer,
    T,
    { ip: VIP, mac: HOST, lastAnsweredAt: T, waitMs: 2000, until: T + 2000 },
    true,
  ],
];

for (const [rule, previous, heard, now, expected, report] of answers) {
  test(`quarantine: ${rule}`, (t) => {
    t.deepEqual(foreignHostAnswered(previous, heard, now), { quarantine: expected, report });
  });
}

test("quarantine: it holds claims back until its end, and is forgotten after five quiet minutes", (t) => {
  const quarantine = known({ until: T + 3000, lastAnsweredAt: T });
  t.is(quarantinedUntil(quarantine, T), T + 3000);
  t.is(quarantinedUntil(quarantine, T + 3000), null);
  t.is(quarantinedUntil(null, T), null);
  t.is(remembered(quarantine, T + QUARANTINE.forgetAfterMs - 1), quarantine);
  t.is(remembered(quarantine, T + QUARANTINE.forgetAfterMs), null);
});

test("quarantine: a host that keeps the address is probed at 2, 4, 8, 16, 32, then every 60 s", (t) => {
  let quarantine: Quarantine | null = null;
  let now = T;
  const waits: number[] = [];
  for (let retry = 0; retry < 8; retry++) {
    quarantine = foreignHostAnswered(quarantine, answer, now).quarantine;
    waits.push(quarantine.waitMs / 1000);
    now = quarantine.until;
  }
  t.deepEqual(waits, [2, 4, 8, 16, 32, 60, 60, 60]);
});
