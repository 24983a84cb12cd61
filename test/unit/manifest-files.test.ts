// manifests/ is generated: any difference from what the generators print now fails here, with the
// command that fixes it.
import test from "ava";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { generatedFiles, REPOSITORY_ROOT } from "../../scripts/generate.ts";

const manifests = [...generatedFiles()].filter(([relative]) => relative.startsWith("manifests/"));

for (const [relative, expected] of manifests) {
  test(`${relative} is what npm run generate writes`, (t) => {
    const actual = readFileSync(path.join(REPOSITORY_ROOT, relative), "utf8");
    t.is(actual, expected, `${relative} is stale: run npm run generate`);
  });
}

test("manifests/ holds only generated files", (t) => {
  const generated = new Set(manifests.map(([relative]) => relative));
  const present = readdirSync(path.join(REPOSITORY_ROOT, "manifests")).map((name) => `manifests/${name}`);
  t.deepEqual(
    present.filter((relative) => !generated.has(relative)),
    [],
  );
  t.true(generated.size >= 3);
});
