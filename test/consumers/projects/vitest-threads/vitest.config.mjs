import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    globalSetup: ["hush-broker/global-setup"],
    pool: "threads",
    maxWorkers: 4,
    include: ["__tests__/*.mjs"],
    testTimeout: 60_000,
  },
});
