import { defineConfig } from "@playwright/test";

export default defineConfig({
  globalSetup: "hush-broker/global-setup",
  workers: 4,
  testDir: "__tests__",
  testMatch: "*.ts",
  timeout: 60_000,
  reporter: "line",
});
