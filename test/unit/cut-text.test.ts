import test from "ava";
import { cutText, TEXT_LIMIT_BYTES } from "../../src/log/cut-text.ts";
import { cutLongTexts } from "../../src/log/logger.ts";

const cases: readonly { name: string; text: string; limit: number; cut: string }[] = [
  { name: "a text that fits is whole", text: "0123456789", limit: 10, cut: "0123456789" },
  { name: "an empty text is whole", text: "", limit: 10, cut: "" },
  {
    name: "a text one byte too long is cut, and says by how much",
    text: "a".repeat(41),
    limit: 40,
    // The note takes 25 of the 40 bytes.
    cut: `${"a".repeat(15)} … (26 more characters)`,
  },
  {
    name: "thousands are grouped",
    text: "b".repeat(10_298),
    limit: 40,
    cut: `${"b".repeat(11)} … (10,287 more characters)`,
  },
  {
    name: "a surrogate pair is never split, and counts as one character",
    text: "😀".repeat(20),
    limit: 40,
    cut: `${"😀".repeat(3)} … (17 more characters)`,
  },
  {
    name: "multi-byte characters are counted in UTF-8 bytes",
    text: "é".repeat(40),
    limit: 40,
    cut: `${"é".repeat(7)} … (33 more characters)`,
  },
];

for (const each of cases)
  test(`cutText: ${each.name}`, (t) => {
    const cut = cutText(each.text, each.limit);
    t.is(cut, each.cut);
    t.true(Buffer.byteLength(cut) <= each.limit);
  });

test("cutText: no lone surrogate is left at the cut, whatever the limit", (t) => {
  const text = `a${"😀".repeat(100)}`;
  for (let limit = 30; limit < 60; limit += 1) {
    const kept = cutText(text, limit).split(" … ")[0] ?? "";
    t.false(/[\uD800-\uDBFF]$/.test(kept), `limit ${limit}`);
    t.true(Buffer.byteLength(cutText(text, limit)) <= limit, `limit ${limit}`);
  }
});

test("cutText: 700 addresses' worth of text fits in about 1 kB", (t) => {
  const addresses = Array.from({ length: 700 }, (_, i) => `198.51.100.${i % 256}`).join(", ");
  const cut = cutText(`spec.loadBalancerIPs: ${addresses} are not in any pool`);
  t.true(Buffer.byteLength(cut) <= TEXT_LIMIT_BYTES);
  t.true(Buffer.byteLength(cut) > TEXT_LIMIT_BYTES - 40, "and uses most of it");
  t.regex(cut, /… \(\d{1,3},\d{3} more characters\)$/);
});

test("log lines: the message and every text field are cut; other fields are left alone", (t) => {
  const long = "p".repeat(5000);
  const info = cutLongTexts().transform({ level: "warn", message: long, problems: long, count: 5000 });
  if (typeof info !== "object") {
    t.fail("the format dropped the line");
    return;
  }
  t.true(Buffer.byteLength(String(info.message)) <= TEXT_LIMIT_BYTES);
  t.true(Buffer.byteLength(String(info.problems)) <= TEXT_LIMIT_BYTES);
  t.regex(String(info.problems), /… \(4,0\d\d more characters\)$/);
  t.is(info.count, 5000);
  t.is(info.level, "warn");
});
