import { readFileSync } from "node:fs";

interface PackageJson {
  readonly version: string;
}

function findPackageJson(): PackageJson {
  // Works from the source tree (cmd/vipd.ts, src/version.ts) and from the bundle (dist/vipd.js).
  for (const relative of ["../package.json", "../../package.json"]) {
    try {
      return JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8")) as PackageJson;
    } catch {
      continue;
    }
  }
  throw new Error("vipd: package.json not found next to the program");
}

export const VERSION: string = findPackageJson().version;
