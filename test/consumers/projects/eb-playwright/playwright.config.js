// ephemeral-broker's Playwright example (examples/playwright-basic/playwright.config.js), minus its
// globalSetup, which started ephemeral-broker's Broker with requireTTL: false and a secret: the
// daemon now comes from the command, `hush run --default-ttl 30m -- npx playwright test` (or, to
// check this port against ephemeral-broker itself, `ephemeral-broker start --no-require-ttl -- …`).
// No `use.headless`: no test here opens a browser (see tests/parallel.spec.js).
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "./tests",
  // Not *.spec.js, as the example names it: `bun test` would run the file as its own.
  testMatch: "*.js",
  fullyParallel: true,
  workers: 5,
  reporter: "list",
});
