/**
 * The SDK's source compiles under the settings its strictest users turn on
 * (tsconfig.sdk.json: Node types only, exactOptionalPropertyTypes,
 * noUncheckedIndexedAccess): the declaration files are emitted from it, and
 * anything the SDK imports — transport, keys, crypto, os — must stay clean.
 */
import { expect, test } from "bun:test";
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");

test("tsc -p tsconfig.sdk.json reports nothing", () => {
  const r = Bun.spawnSync(["node", resolve(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.sdk.json"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  expect(r.stdout.toString() + r.stderr.toString()).toBe("");
  expect(r.exitCode).toBe(0);
}, 120_000);
