// docs/configuration.md is generated from the option table; any difference from what the generator
// writes now fails here. Its rules between values are checked against the loader that enforces them.
import test from "ava";
import { readFileSync } from "node:fs";
import path from "node:path";
import { format, resolveConfig } from "prettier";
import { configurationReference, generatedFiles, REPOSITORY_ROOT } from "../../scripts/generate.ts";
import { loadRunConfig } from "../../src/config/load.ts";
import { envName, RUN_OPTIONS } from "../../src/config/options.ts";

const target = path.join(REPOSITORY_ROOT, "docs/configuration.md");

test("docs/configuration.md is what npm run generate writes", (t) => {
  const expected = generatedFiles().get("docs/configuration.md");
  t.is(readFileSync(target, "utf8"), expected ?? "(not generated)", "stale: run npm run generate");
});

test("every flag, its variable and its default are in the reference", (t) => {
  const text = configurationReference();
  for (const option of Object.values(RUN_OPTIONS)) {
    const row = text.split("\n").find((line) => line.startsWith(`| \`--${option.flag}`));
    if (row === undefined) return t.fail(`--${option.flag} is missing`);
    t.true(row.includes(`\`${envName(option.flag)}\``), option.flag);
    t.true(row.includes(option.default ?? option.whenUnset ?? ""), option.flag);
    t.true(row.includes(option.description.replaceAll("|", "\\|")), option.flag);
  }
});

test("the reference is as Prettier writes it, so npm run format leaves it alone", async (t) => {
  const text = configurationReference();
  const options = await resolveConfig(target);
  t.is(await format(text, { ...options, filepath: target }), text);
});

function accepts(flags: Record<string, string>): boolean {
  try {
    loadRunConfig({ flags: { nodeName: "node1", ...flags }, env: {} });
    return true;
  } catch {
    return false;
  }
}

test("the rules the reference states are the ones the loader enforces", (t) => {
  const text = configurationReference();
  t.regex(text, /`--address-lifetime` must be at least 3 × `--retry-period`/);
  t.true(accepts({ retryPeriod: "2s", addressLifetime: "6s" }));
  t.false(accepts({ retryPeriod: "2s", addressLifetime: "5999ms" }));
  t.regex(text, /`--renew-deadline` must be longer than 1\.2 × `--retry-period`/);
  t.true(accepts({ retryPeriod: "1s", renewDeadline: "1201ms" }));
  t.false(accepts({ retryPeriod: "1s", renewDeadline: "1200ms" }));
  t.regex(text, /`--lease-duration` \(D\) must be longer than `--renew-deadline`/);
  t.false(accepts({ leaseDuration: "3s", renewDeadline: "3s" }));
  t.regex(text, /`--announce-interval` must be at least 1100ms/);
  t.true(accepts({ announceInterval: "1100ms" }));
  t.false(accepts({ announceInterval: "1099ms" }));
});
