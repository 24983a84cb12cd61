// BirdControl against a fake birdc that answers as BIRD 2.0.12 does with -v (the replies were
// taken from the real birdc), writing into a throwaway directory.
import test, { type ExecutionContext } from "ava";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BirdControl, type Birdc, type BirdcReply } from "../../src/routing/bird-control.ts";

const CONFIGURED = "0001 BIRD 2.0.12 ready.\n0002-Reading configuration from F\n0003 Reconfigured\n";
const CHECKED = "0001 BIRD 2.0.12 ready.\n0002-Reading configuration from F\n0020 Configuration OK\n";
const SYNTAX =
  "0001 BIRD 2.0.12 ready.\n0002-Reading configuration from F\n8002 F:3:44 Invalid IPv4 address 198.51.100.300\n";

// Each call records the words and what the config file held at that moment.
class FakeBirdc implements Birdc {
  readonly calls: { words: readonly string[]; fileThen: string | undefined }[] = [];
  readonly #file: string;
  readonly #answer: (words: readonly string[]) => BirdcReply;

  constructor(file: string, answer: (words: readonly string[]) => BirdcReply) {
    this.#file = file;
    this.#answer = answer;
  }

  run(words: readonly string[]): Promise<BirdcReply> {
    this.calls.push({
      words,
      fileThen: existsSync(this.#file) ? readFileSync(this.#file, "utf8") : undefined,
    });
    return Promise.resolve(this.#answer(words));
  }
}

function setup(
  t: ExecutionContext,
  answer: (words: readonly string[]) => BirdcReply = (words) => ({
    ok: true,
    output: words[1] === "check" ? CHECKED : CONFIGURED,
  }),
) {
  const directory = mkdtempSync(join(tmpdir(), "vipd-bird-control-"));
  t.teardown(() => {
    rmSync(directory, { recursive: true });
  });
  const configFile = join(directory, "bird.conf");
  const birdc = new FakeBirdc(configFile, answer);
  return { configFile, birdc, control: new BirdControl({ configFile, birdc }) };
}

test("a new config is checked as a candidate, then moved into place and loaded", async (t) => {
  const { configFile, birdc, control } = setup(t);
  writeFileSync(configFile, "old\n");
  t.is(control.status(), undefined);
  t.deepEqual(await control.apply("new\n"), { outcome: "applied" });
  t.deepEqual(birdc.calls, [
    { words: ["configure", "check", `"${configFile}.candidate"`], fileThen: "old\n" },
    { words: ["configure", `"${configFile}"`], fileThen: "new\n" },
  ]);
  t.false(existsSync(`${configFile}.candidate`));
  t.deepEqual(control.status(), { outcome: "applied" });
});

test("the same text again asks BIRD nothing; a different one is applied", async (t) => {
  const { birdc, control } = setup(t);
  await control.apply("one\n");
  t.deepEqual(await control.apply("one\n"), { outcome: "unchanged" });
  t.is(birdc.calls.length, 2);
  t.deepEqual(await control.apply("two\n"), { outcome: "applied" });
  t.is(birdc.calls.length, 4);
});

test("a config BIRD refuses leaves the file as it was and reports BIRD's reason", async (t) => {
  const { configFile, birdc, control } = setup(t, (words) =>
    words[1] === "check" ? { ok: false, output: SYNTAX } : { ok: true, output: CONFIGURED },
  );
  writeFileSync(configFile, "running\n");
  const status = await control.apply("bad\n");
  t.deepEqual(status, {
    outcome: "rejected",
    message: "BIRD refused the new config: F:3:44 Invalid IPv4 address 198.51.100.300",
  });
  t.is(birdc.calls.length, 1);
  t.is(readFileSync(configFile, "utf8"), "running\n");
  t.false(existsSync(`${configFile}.candidate`));
  t.deepEqual(control.status(), status);
});

test("after a refusal the last good text is still the one that counts as applied", async (t) => {
  let refuse = false;
  const { birdc, control } = setup(t, (words) =>
    refuse && words[1] === "check" ? { ok: false, output: SYNTAX } : { ok: true, output: CONFIGURED },
  );
  await control.apply("good\n");
  refuse = true;
  t.is((await control.apply("bad\n")).outcome, "rejected");
  // Back to the running text: nothing to do, BIRD never loaded the refused one.
  t.deepEqual(await control.apply("good\n"), { outcome: "unchanged" });
  t.is(birdc.calls.length, 3);
});

test("a failed configure after a good check is reported and retried next time", async (t) => {
  let fail = true;
  const { birdc, control } = setup(t, (words) =>
    fail && words[1] !== "check"
      ? {
          ok: false,
          output: "Unable to connect to server control socket (/run/bird/bird.ctl): Connection refused",
        }
      : { ok: true, output: words[1] === "check" ? CHECKED : CONFIGURED },
  );
  t.deepEqual(await control.apply("text\n"), {
    outcome: "failed",
    message:
      "BIRD did not load the checked config: Unable to connect to server control socket (/run/bird/bird.ctl): Connection refused",
  });
  fail = false;
  t.deepEqual(await control.apply("text\n"), { outcome: "applied" });
  t.is(birdc.calls.length, 4);
});

test("applies run one after another in the order they were asked for", async (t) => {
  const { configFile, birdc, control } = setup(t);
  const outcomes = await Promise.all([control.apply("a\n"), control.apply("b\n"), control.apply("b\n")]);
  t.deepEqual(
    outcomes.map((status) => status.outcome),
    ["applied", "applied", "unchanged"],
  );
  t.is(birdc.calls.length, 4);
  t.is(readFileSync(configFile, "utf8"), "b\n");
});

test("a config path BIRD's CLI cannot quote is refused at once", (t) => {
  const birdc = new FakeBirdc("", () => ({ ok: true, output: CONFIGURED }));
  t.throws(() => new BirdControl({ configFile: '/etc/bird/bird".conf', birdc }), {
    message: /cannot be quoted/,
  });
  t.is(birdc.calls.length, 0);
});

const NO_SOCKET =
  "Unable to connect to server control socket (/run/bird/bird.ctl): No such file or directory";

test("a BIRD that does not answer is unreachable, not a refusal, and nothing is written", async (t) => {
  const { configFile, control } = setup(t, () => ({ ok: false, output: NO_SOCKET, unreachable: true }));
  t.deepEqual(await control.apply("text\n"), {
    outcome: "unreachable",
    message: `BIRD did not answer: ${NO_SOCKET}`,
  });
  t.false(existsSync(configFile));
  t.false(existsSync(`${configFile}.candidate`));
});

test("check asks BIRD about a text without loading it or touching the file", async (t) => {
  let refuse = false;
  const { configFile, birdc, control } = setup(t, (words) =>
    words[1] === "check" && words[2]?.includes("candidate") === true
      ? { ok: !refuse, output: refuse ? SYNTAX : CHECKED }
      : { ok: true, output: CONFIGURED },
  );
  writeFileSync(configFile, "running\n");
  t.deepEqual(await control.check("fine\n"), { outcome: "accepted" });
  refuse = true;
  t.deepEqual(await control.check("bad\n"), {
    outcome: "rejected",
    message: "BIRD refused the new config: F:3:44 Invalid IPv4 address 198.51.100.300",
  });
  t.deepEqual(
    birdc.calls.map((call) => call.words[1]),
    ["check", "check"],
  );
  t.is(readFileSync(configFile, "utf8"), "running\n");
  t.false(existsSync(`${configFile}.candidate`));
  t.is(control.status(), undefined, "a check is no apply");
});
