/**
 * The SDK build (tsdown, run by release/build.ts): ESM (`.mjs`) and
 * CommonJS (`.cjs`) with their own declaration files (`.d.mts`, `.d.cts`)
 * in dist/sdk, plus the `hush` launcher (CommonJS, no types). Every
 * dependency is bundled, so the published package depends on nothing but
 * its platform binary: @noble/*, @scure/base and `ws` (the WebSocket
 * transport in Node) at the versions of package-lock.json, one copy shared
 * by both builds' chunks. `ws`'s optional native add-ons stay outside: it
 * requires them at run time, in a try, and uses them when the consumer
 * installed them (README "SDK"). Declarations are emitted with tsconfig.sdk.json: Node
 * types only, exactOptionalPropertyTypes and noUncheckedIndexedAccess.
 * @module
 */
import { defineConfig } from "tsdown";
import pkg from "./package.json" with { type: "json" };

const shared = {
  platform: "node",
  target: "node20",
  outDir: "dist/sdk",
  tsconfig: "tsconfig.sdk.json",
  define: { HUSH_VERSION: JSON.stringify(pkg.version) },
  deps: { alwaysBundle: [/./], onlyBundle: false, neverBundle: ["bufferutil", "utf-8-validate"] },
  shims: true,
  logLevel: "warn",
  checks: { pluginTimings: false },
} as const;

export default defineConfig([
  {
    ...shared,
    entry: {
      index: "src/client/index.ts",
      "global-setup": "src/client/global-setup.ts",
      "global-teardown": "src/client/global-teardown.ts",
      playwright: "src/client/playwright.ts",
      "ephemeral-broker": "src/client/compat-eb.ts",
    },
    format: ["esm", "cjs"],
    dts: true,
    clean: true,
  },
  {
    ...shared,
    entry: { launcher: "src/client/launcher.ts" },
    format: ["cjs"],
    dts: false,
    clean: false,
  },
]);
