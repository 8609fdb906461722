#!/usr/bin/env node
/**
 * npm's `prepare` script (plain Node, no dependencies): builds dist/sdk and
 * dist/hush when hush's development dependencies (Bun, tsdown) are
 * installed — after `npm ci` in a clone, and when npm installs hush as a git
 * dependency (npm installs them in its temporary clone first).
 *
 * `npm install /path/to/checkout` links the checkout and runs this script
 * there without installing anything. Then a checkout that was already built
 * is used as it is, and an unbuilt one stops the install with an error that
 * says what to run, instead of "bun: not found".
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bun = join(root, "node_modules", ".bin", "bun");
const tsdown = existsSync(join(root, "node_modules", "tsdown", "package.json"));

if (!existsSync(bun) || !tsdown) {
  const built = existsSync(join(root, "dist", "sdk", "index.mjs")) && existsSync(join(root, "dist", process.platform === "win32" ? "hush.exe" : "hush"));
  if (built) process.exit(0);
  process.stderr.write(
    `hush: error: cannot build hush in ${root}: its development dependencies (Bun, tsdown) are not installed\n` +
      `hush: hint: run \`npm ci && npm run build\` in ${root} first, then install it again;\n` +
      `hush: hint: or install a release's npm tarballs instead (README, "SDK")\n`,
  );
  process.exit(1);
}
const r = spawnSync(bun, [join(root, "release", "build.ts"), "--quiet"], { cwd: root, stdio: "inherit" });
process.exit(r.status ?? 1);
